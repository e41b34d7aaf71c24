/*  cmd_policy: the written collection policy from the command line:
    `policy show` prints a version (the current one by default) for
    people, or as JSON; `policy load FILE` checks the file here with the
    server's own parser (common/policy.c), so a mistake is reported as
    FILE:LINE before anything is sent, then loads it as the next version;
    `policy print` prints the payment terms for customers.              */
#include "cli.h"
#include "../common/policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
s_usage (void)
{
    cli_fail ("usage: recoup policy show [--version=N | N] [--json]\n"
              "       recoup policy load FILE\n"
              "       recoup policy print [--language en]\n"
              "the file format is described in deploy/POLICY.md");
}

//  Reads a whole file (at most POLICY_TEXT_MAX bytes). Caller frees.
//  NULL after saying what is wrong.
static char *
s_read_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        cli_fail ("%s: %s", path, strerror (errno));
        return NULL;
    }
    char *text = malloc (POLICY_TEXT_MAX + 2);
    size_t len = text ? fread (text, 1, POLICY_TEXT_MAX + 1, file) : 0;
    int failed = !text || ferror (file);
    fclose (file);
    if (failed) {
        cli_fail ("%s: cannot read", path);
        free (text);
        return NULL;
    }
    if (len > POLICY_TEXT_MAX) {
        cli_fail ("%s: larger than %d bytes", path, POLICY_TEXT_MAX);
        free (text);
        return NULL;
    }
    text [len] = '\0';
    if (strlen (text) != len || !wire_utf8_valid (text, NULL)) {
        cli_fail ("%s: not a UTF-8 text file", path);
        free (text);
        return NULL;
    }
    return text;
}

//  Prints a policy for people.
static void
s_print_policy (const Recoup__Policy *policy)
{
    char when [32] = "";
    time_t at = (time_t) (policy->loaded_us / 1000000);
    struct tm tm;
    if (gmtime_r (&at, &tm))
        strftime (when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    printf ("policy version %u, loaded by %s at %s\n\n", policy->version,
            policy->loaded_by, when);
    policy_t parsed;
    int line;
    char err [POLICY_ERROR_MAX];
    if (policy_parse (policy->text, &parsed, &line, err, sizeof err) == 0) {
        printf ("terms         %s", parsed.terms_text);
        if (strcmp (parsed.late_fee_kind, "percent") == 0)
            printf (", late fee %d.%02d%% at %s", parsed.late_fee_bp / 100,
                    parsed.late_fee_bp % 100, parsed.late_fee_at);
        else if (strcmp (parsed.late_fee_kind, "fixed") == 0) {
            char fee [256];
            policy_late_fee_text (&parsed, fee, sizeof fee);
            printf (", late fee %s at %s", fee, parsed.late_fee_at);
        }
        else
            printf (", no late fee");
        printf ("\ncontact       %02d:%02d-%02d:%02d customer's time%s; "
                "%d days between attempts; no call %d days after a "
                "conversation; at most %d calls in 7 days\n",
                parsed.hours_start / 60, parsed.hours_start % 60,
                parsed.hours_end / 60, parsed.hours_end % 60,
                parsed.weekdays_only ? ", weekdays only" : "",
                parsed.attempt_gap_days, parsed.call_after_conversation_days,
                parsed.max_calls_per_7_days);
        printf ("promises      broken %d days after the promised date\n",
                parsed.promise_grace_days);
        printf ("settlement    offers below %d%% need a manager\n\n",
                parsed.settlement_floor_percent);
        printf ("%-20s %-30s %-17s %-9s %-10s %s\n", "STEP", "WHEN", "CHANNEL",
                "TONE", "WHO", "WHAT");
        for (size_t i = 0; i < parsed.n_steps; i++) {
            const policy_step_t *step = &parsed.steps [i];
            char text [64];
            int days = abs (step->offset_days);
            int used = days == 0
                ? snprintf (text, sizeof text, "on %s", step->anchor)
                : snprintf (text, sizeof text, "%d day%s %s %s", days,
                            days == 1 ? "" : "s",
                            step->offset_days < 0 ? "before" : "after", step->anchor);
            if (step->or_unanswered && used > 0 && (size_t) used < sizeof text)
                snprintf (text + used, sizeof text - (size_t) used,
                          " or %d unanswered", step->or_unanswered);
            printf ("%-20s %-30s %-17s %-9s %-10s %s\n", step->name, text,
                    step->channel, *step->tone ? step->tone : "-",
                    step->assignee, step->action);
        }
    }
    else {
        //  A server newer than this client: show what it sent.
        printf ("(this client cannot read the file: line %d: %s)\n\n", line, err);
        for (size_t i = 0; i < policy->n_steps; i++) {
            const Recoup__PolicyStep *step = policy->steps [i];
            printf ("%-20s %+d days from %-6s %-17s %-9s %s\n", step->name,
                    step->offset_days, step->anchor, step->channel,
                    *step->tone ? step->tone : "-", step->action);
        }
    }
}

static int
s_show (cli_t *cli, int argc, char **argv)
{
    uint32_t version = 0;
    for (int i = 2; i < argc; i++) {
        const char *value = NULL;
        if (strcmp (argv [i], "--version") == 0 && i + 1 < argc)
            value = argv [++i];
        else if (strncmp (argv [i], "--version=", 10) == 0)
            value = argv [i] + 10;
        else if (argv [i][0] != '-' && !version)
            value = argv [i];   //  `policy show 3`
        else {
            s_usage ();
            return EXIT_USAGE;
        }
        char *end;
        errno = 0;
        unsigned long number = strtoul (value, &end, 10);
        if (!*value || *end || errno || number == 0 || number > UINT32_MAX
            || *value == '-') {
            cli_fail ("--version wants a version number from 1, got '%s'", value);
            return EXIT_USAGE;
        }
        version = (uint32_t) number;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__PolicyShowRequest show = RECOUP__POLICY_SHOW_REQUEST__INIT;
    show.version = version;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_POLICY_SHOW;
    request.policy_show = &show;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_POLICY_SHOW,
                                     &rc);
    if (reply) {
        if (cli->json)
            cli_print_json (&reply->policy_show->policy->base);
        else
            s_print_policy (reply->policy_show->policy);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

static int
s_load (cli_t *cli, int argc, char **argv)
{
    if (argc != 3) {
        s_usage ();
        return EXIT_USAGE;
    }
    const char *path = argv [2];
    char *text = s_read_file (path);
    if (!text)
        return EXIT_USAGE;
    policy_t *policy = malloc (sizeof *policy);
    int line;
    char err [POLICY_ERROR_MAX];
    if (!policy || policy_parse (text, policy, &line, err, sizeof err) != 0) {
        fprintf (stderr, "%s:%d: %s\n", path, policy ? line : 0,
                 policy ? err : "out of memory");
        free (policy);
        free (text);
        return EXIT_USAGE;
    }
    free (policy);
    int rc = cli_connect (cli);
    if (rc != 0) {
        free (text);
        return rc;
    }
    Recoup__PolicyLoadRequest load = RECOUP__POLICY_LOAD_REQUEST__INIT;
    load.text = text;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_POLICY_LOAD;
    request.policy_load = &load;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_POLICY_LOAD,
                                     &rc);
    if (reply) {
        const Recoup__Policy *loaded = reply->policy_load->policy;
        if (cli->json)
            cli_print_json (&reply->policy_load->base);
        else
            printf ("loaded %s as policy version %u (%zu steps)\n", path,
                    loaded->version, loaded->n_steps);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    free (text);
    return rc;
}

static int
s_print (cli_t *cli, int argc, char **argv)
{
    const char *language = "";
    for (int i = 2; i < argc; i++) {
        if (strcmp (argv [i], "--language") == 0 && i + 1 < argc)
            language = argv [++i];
        else if (strncmp (argv [i], "--language=", 11) == 0)
            language = argv [i] + 11;
        else {
            s_usage ();
            return EXIT_USAGE;
        }
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__PolicyPrintRequest print = RECOUP__POLICY_PRINT_REQUEST__INIT;
    print.language = (char *) language;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_POLICY_PRINT;
    request.policy_print = &print;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_POLICY_PRINT,
                                     &rc);
    if (reply) {
        if (cli->json)
            cli_print_json (&reply->policy_print->base);
        else
            fputs (reply->policy_print->text, stdout);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

int
cmd_policy (cli_t *cli, int argc, char **argv)
{
    if (argc < 2) {
        s_usage ();
        return EXIT_USAGE;
    }
    if (strcmp (argv [1], "show") == 0)
        return s_show (cli, argc, argv);
    if (strcmp (argv [1], "load") == 0)
        return s_load (cli, argc, argv);
    if (strcmp (argv [1], "print") == 0)
        return s_print (cli, argc, argv);
    cli_fail ("unknown policy command '%s': use show, load or print", argv [1]);
    return EXIT_USAGE;
}
