/*  cmd_contacts: the contact log from the command line: `recoup contact
    log` (record a call, email, letter, visit or meeting; the server
    checks the contact rules and refuses, exit 1 with the broken rule on
    stderr, unless --override gives a reason), `recoup contact prefs`
    (cease-contact and per-channel opt-outs) and `recoup audit verify`
    (the contact log's hash chain).                                      */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPEATS 16

//  One option of a subcommand.
typedef struct {
    const char *name;           //  "--channel"
    int repeat;                 //  may come more than once
    const char *value;          //  the value (the last one for a repeat)
    const char *values [MAX_REPEATS];   //  every value of a repeat
    int count;                  //  how many times given
} s_option_t;

//  Parses argv [first..] against options (ended by a NULL name), either
//  "--opt VALUE" or "--opt=VALUE"; at most one positional argument, into
//  *positional. Returns 0, or -1 after saying what is wrong.
static int
s_parse (int argc, char **argv, int first, s_option_t *options,
         const char **positional)
{
    *positional = NULL;
    for (int i = first; i < argc; i++) {
        const char *arg = argv [i];
        if (strncmp (arg, "--", 2) != 0) {
            if (*positional) {
                cli_fail ("unexpected argument '%s'", arg);
                return -1;
            }
            *positional = arg;
            continue;
        }
        const char *eq = strchr (arg, '=');
        size_t len = eq ? (size_t) (eq - arg) : strlen (arg);
        s_option_t *option = NULL;
        for (s_option_t *o = options; o->name; o++)
            if (strlen (o->name) == len && strncmp (o->name, arg, len) == 0)
                option = o;
        if (!option) {
            cli_fail ("unknown option %.*s", (int) len, arg);
            return -1;
        }
        const char *value;
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv [++i];
        else {
            cli_fail ("%s needs a value", arg);
            return -1;
        }
        if (option->count > 0 && !option->repeat) {
            cli_fail ("%s is given twice", option->name);
            return -1;
        }
        if (option->count >= MAX_REPEATS) {
            cli_fail ("%s: at most %d of them", option->name, MAX_REPEATS);
            return -1;
        }
        option->values [option->count++] = value;
        option->value = value;
    }
    return 0;
}

//  Prints a contact record for a person.
static void
s_print_contact (const Recoup__Contact *c)
{
    printf ("logged contact %" PRIu64 ": %s %s %s at %s: %s\n", c->id, c->channel,
            strcmp (c->direction, "in") == 0 ? "from" : "to", c->customer, c->at,
            c->outcome);
    if (*c->note)
        printf ("  note: %s\n", c->note);
    if (*c->rule_overridden)
        printf ("  rule overridden: %s, because: %s\n", c->rule_overridden,
                c->override_reason);
    printf ("  logged by %s; hash %s\n", c->logged_by, c->hash);
}

static int
s_contact_log (cli_t *cli, int argc, char **argv)
{
    s_option_t options [] = {
        { .name = "--channel" }, { .name = "--direction" }, { .name = "--outcome" },
        { .name = "--note" }, { .name = "--at" }, { .name = "--override" },
        { .name = NULL }
    };
    const char *customer;
    if (s_parse (argc, argv, 2, options, &customer) != 0 || !customer
        || !options [0].value || !options [1].value || !options [2].value) {
        cli_fail ("usage: recoup contact log CUSTOMER --channel C --direction in|out "
                  "--outcome O [--note TEXT] [--at ISO8601] [--override REASON]\n"
                  "channels: phone, email, letter, certified_letter, sms, visit, "
                  "meeting\noutcomes: no_answer, left_message, spoke, promised, "
                  "disputed, refused, wrong_number, sent, delivered, returned");
        return EXIT_USAGE;
    }
    if (options [5].value && !*options [5].value) {
        cli_fail ("--override needs a reason (1 to 500 characters)");
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__ContactLogRequest log = RECOUP__CONTACT_LOG_REQUEST__INIT;
    log.customer = (char *) customer;
    log.channel = (char *) options [0].value;
    log.direction = (char *) options [1].value;
    log.outcome = (char *) options [2].value;
    if (options [3].value)
        log.note = (char *) options [3].value;
    if (options [4].value)
        log.at = (char *) options [4].value;
    if (options [5].value)
        log.override_reason = (char *) options [5].value;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CONTACT_LOG;
    request.contact_log = &log;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_CONTACT_LOG,
                                     &rc);
    if (reply) {
        if (cli->json)
            cli_print_json (&reply->contact_log->base);
        else
            s_print_contact (reply->contact_log->contact);
        if (*reply->contact_log->warning)
            fprintf (stderr, "recoup: warning: %s\n", reply->contact_log->warning);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

static int
s_contact_prefs (cli_t *cli, int argc, char **argv)
{
    s_option_t options [] = {
        { .name = "--cease-contact" }, { .name = "--opt-out", .repeat = 1 },
        { .name = "--opt-in", .repeat = 1 }, { .name = NULL }
    };
    const char *customer;
    if (s_parse (argc, argv, 2, options, &customer) != 0 || !customer) {
        cli_fail ("usage: recoup contact prefs CUSTOMER [--cease-contact yes|no] "
                  "[--opt-out CHANNEL]... [--opt-in CHANNEL]...");
        return EXIT_USAGE;
    }
    const char *cease = options [0].value;
    if (cease && strcmp (cease, "yes") != 0 && strcmp (cease, "no") != 0) {
        cli_fail ("--cease-contact is yes or no, got '%s'", cease);
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__ContactPrefsRequest prefs = RECOUP__CONTACT_PREFS_REQUEST__INIT;
    prefs.customer = (char *) customer;
    if (cease) {
        prefs.set_cease_contact = 1;
        prefs.cease_contact = strcmp (cease, "yes") == 0;
    }
    prefs.opt_out = (char **) options [1].values;
    prefs.n_opt_out = (size_t) options [1].count;
    prefs.opt_in = (char **) options [2].values;
    prefs.n_opt_in = (size_t) options [2].count;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CONTACT_PREFS;
    request.contact_prefs = &prefs;
    Recoup__Reply *reply = cli_call (cli, &request,
                                     RECOUP__REPLY__RESULT_CONTACT_PREFS, &rc);
    if (reply) {
        const Recoup__ContactPrefs *p = reply->contact_prefs->prefs;
        if (cli->json)
            cli_print_json (&reply->contact_prefs->base);
        else {
            printf ("%s: cease contact %s; opted out of: ", p->customer,
                    p->cease_contact ? "yes" : "no");
            for (size_t i = 0; i < p->n_opted_out; i++)
                printf ("%s%s", i ? ", " : "", p->opted_out [i]);
            printf ("%s\n", p->n_opted_out ? "" : "none");
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

int
cmd_contact (cli_t *cli, int argc, char **argv)
{
    if (argc >= 2 && strcmp (argv [1], "log") == 0)
        return s_contact_log (cli, argc, argv);
    if (argc >= 2 && strcmp (argv [1], "prefs") == 0)
        return s_contact_prefs (cli, argc, argv);
    cli_fail ("usage: recoup contact log CUSTOMER ... | recoup contact prefs "
              "CUSTOMER ... (see recoup --help)");
    return EXIT_USAGE;
}

int
cmd_audit (cli_t *cli, int argc, char **argv)
{
    if (argc != 2 || strcmp (argv [1], "verify") != 0) {
        cli_fail ("usage: recoup audit verify");
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__AuditVerifyRequest verify = RECOUP__AUDIT_VERIFY_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_AUDIT_VERIFY;
    request.audit_verify = &verify;
    Recoup__Reply *reply = cli_call (cli, &request,
                                     RECOUP__REPLY__RESULT_AUDIT_VERIFY, &rc);
    if (reply) {
        const Recoup__AuditVerifyReply *r = reply->audit_verify;
        if (cli->json)
            cli_print_json (&r->base);
        if (r->ok) {
            if (!cli->json)
                printf ("contact log intact: %" PRIu64 " record%s\n", r->records,
                        r->records == 1 ? "" : "s");
        }
        else {
            cli_fail ("audit: %s", r->problem);
            rc = EXIT_REFUSED;
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}
