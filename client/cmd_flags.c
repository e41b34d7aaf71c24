/*  cmd_flags: sales flags from the command line: `recoup flag list`,
    `recoup flag ack`, `recoup flag note` (PROTOCOL.md, flag_list,
    flag_ack, flag_note).

    `flag list --unacknowledged` is the collections lead's view: what
    nobody has acknowledged, oldest first, with how many days each has
    been open. With --json, list prints one object per line (a SalesFlag),
    ack and note print their reply.                                       */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define USAGE \
    "usage: recoup flag list [--unacknowledged] [--rep USER|-] [--customer REF]\n" \
    "       recoup flag ack ID [--note TEXT]\n" \
    "       recoup flag note ID TEXT\n"

//  Reads a flag id. 0 when it is not a number above zero.
static uint64_t
s_id (const char *text)
{
    if (!text || *text < '0' || *text > '9')
        return 0;
    char *end;
    unsigned long long id = strtoull (text, &end, 10);
    return *end ? 0 : (uint64_t) id;
}

//  One flag for people: a headline, its text, its notes.
static void
s_print_flag (const Recoup__SalesFlag *f)
{
    printf ("flag %" PRIu64 ": %s %s%s%s (%s), raised %s", f->id, f->kind, f->customer,
            *f->subject ? " " : "", f->subject, f->customer_name, f->raised_on);
    printf (", for %s", *f->rep ? f->rep : "the collections lead (no sales rep)");
    if (*f->acknowledged_by)
        printf (", acknowledged by %s at %s\n", f->acknowledged_by, f->acknowledged_at);
    else
        printf (", open %d day%s\n", (int) f->days_open, f->days_open == 1 ? "" : "s");
    if (*f->text)
        printf ("  %s\n", f->text);
    for (size_t i = 0; i < f->n_notes; i++)
        printf ("  note by %s at %s: %s\n", f->notes [i]->author, f->notes [i]->at,
                f->notes [i]->text);
}

static int
s_list (cli_t *cli, int argc, char **argv)
{
    Recoup__FlagListRequest list = RECOUP__FLAG_LIST_REQUEST__INIT;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv [i];
        const char **value = strcmp (arg, "--rep") == 0 ? (const char **) &list.rep
                           : strcmp (arg, "--customer") == 0
                           ? (const char **) &list.customer : NULL;
        if (strcmp (arg, "--unacknowledged") == 0)
            list.unacknowledged = 1;
        else if (value && i + 1 < argc)
            *value = argv [++i];
        else if (strncmp (arg, "--rep=", 6) == 0)
            list.rep = (char *) arg + 6;
        else if (strncmp (arg, "--customer=", 11) == 0)
            list.customer = (char *) arg + 11;
        else {
            cli_fail (value ? "%s needs a value" : "unexpected argument '%s'", arg);
            fprintf (stderr, USAGE);
            return EXIT_USAGE;
        }
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_FLAG_LIST;
    request.flag_list = &list;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_FLAG_LIST, &rc);
    if (reply) {
        const Recoup__FlagListReply *r = reply->flag_list;
        if (cli->json)
            for (size_t i = 0; i < r->n_flags; i++)
                cli_print_json (&r->flags [i]->base);
        else {
            if (r->n_flags == 0)
                printf ("no %sflags\n", list.unacknowledged ? "unacknowledged " : "");
            else if (list.unacknowledged)
                printf ("%zu unacknowledged flag%s as of %s, oldest first\n", r->n_flags,
                        r->n_flags == 1 ? "" : "s", r->as_of);
            for (size_t i = 0; i < r->n_flags; i++)
                s_print_flag (r->flags [i]);
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

//  flag ack ID [--note TEXT] and flag note ID TEXT.
static int
s_change (cli_t *cli, int argc, char **argv, int ack)
{
    const char *id_text = NULL, *text = NULL;
    int bad = 0;
    for (int i = 2; i < argc && !bad; i++) {
        if (ack && strcmp (argv [i], "--note") == 0 && i + 1 < argc && !text)
            text = argv [++i];
        else if (ack && strncmp (argv [i], "--note=", 7) == 0 && !text)
            text = argv [i] + 7;
        else if (strncmp (argv [i], "--", 2) == 0)
            bad = 1;
        else if (!id_text)
            id_text = argv [i];
        else if (!ack && !text)
            text = argv [i];
        else
            bad = 1;
    }
    uint64_t id = s_id (id_text);
    if (bad || !id_text || (!ack && !text)) {
        fprintf (stderr, USAGE);
        return EXIT_USAGE;
    }
    if (!id) {
        cli_fail ("flag id '%s' is not a number (see recoup flag list)", id_text);
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    Recoup__FlagAckRequest acking = RECOUP__FLAG_ACK_REQUEST__INIT;
    Recoup__FlagNoteRequest noting = RECOUP__FLAG_NOTE_REQUEST__INIT;
    if (ack) {
        acking.id = id;
        acking.note = (char *) (text ? text : "");
        request.command_case = RECOUP__REQUEST__COMMAND_FLAG_ACK;
        request.flag_ack = &acking;
    }
    else {
        noting.id = id;
        noting.text = (char *) text;
        request.command_case = RECOUP__REQUEST__COMMAND_FLAG_NOTE;
        request.flag_note = &noting;
    }
    Recoup__Reply *reply = cli_call (cli, &request, ack ? RECOUP__REPLY__RESULT_FLAG_ACK
                                                        : RECOUP__REPLY__RESULT_FLAG_NOTE,
                                     &rc);
    if (reply) {
        const Recoup__FlagReply *r = ack ? reply->flag_ack : reply->flag_note;
        if (cli->json)
            cli_print_json (&r->base);
        else {
            s_print_flag (r->flag);
            printf ("event %" PRIu64 "\n", r->seq);
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

int
cmd_flag (cli_t *cli, int argc, char **argv)
{
    if (argc >= 2 && strcmp (argv [1], "list") == 0)
        return s_list (cli, argc, argv);
    if (argc >= 2 && strcmp (argv [1], "ack") == 0)
        return s_change (cli, argc, argv, 1);
    if (argc >= 2 && strcmp (argv [1], "note") == 0)
        return s_change (cli, argc, argv, 0);
    fprintf (stderr, USAGE);
    return EXIT_USAGE;
}
