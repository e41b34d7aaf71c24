/*  cmd_engine: `recoup engine run` and `recoup worklist`: the daily
    engine and the actions due on a date (the queued messages are
    cmd_outbox.c's). The worklist's --json is the documented array
    (PROTOCOL.md, worklist), written here by hand rather than from the
    message.                                                            */
#include "cli.h"
#include "../common/date.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Options a subcommand takes, each with a value.
typedef struct {
    const char *names [4];      //  option names ("--as-of")
    const char *values [4];     //  their values, NULL when absent
    int count;                  //  options known
} s_opts_t;

//  Reads argv[first..] as "--name value" pairs of the known names (and
//  --json, also accepted after the subcommand).
//  Returns 0, or -1 (after printing what was wrong).
static int
s_opts (cli_t *cli, s_opts_t *opts, int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++) {
        if (strcmp (argv [i], "--json") == 0) {
            cli->json = 1;
            continue;
        }
        int k;
        for (k = 0; k < opts->count; k++)
            if (strcmp (argv [i], opts->names [k]) == 0)
                break;
        if (k == opts->count) {
            cli_fail ("unknown argument '%s'", argv [i]);
            return -1;
        }
        if (i + 1 >= argc) {
            cli_fail ("%s needs a value", argv [i]);
            return -1;
        }
        opts->values [k] = argv [++i];
    }
    return 0;
}

static int
s_date_ok (const char *name, const char *value)
{
    int32_t days;
    char err [120];
    if (value && date_parse_iso (value, &days, err, sizeof err) != 0) {
        cli_fail ("%s %s: %s", name, value, err);
        return 0;
    }
    return 1;
}

static void
s_action_text (const Recoup__EngineAction *a)
{
    printf ("%-8s %-10s %-18s %-16s %-8s %-10s", a->status, a->due, a->step,
            a->channel, *a->tone ? a->tone : "-", a->customer);
    for (size_t i = 0; i < a->n_invoices; i++)
        printf ("%s%s", i ? "," : " ", a->invoices [i]);
    if (*a->assignee)
        printf ("  for %s", a->assignee);
    if (*a->why)
        printf ("  (%s)", a->why);
    if (a->blocked_by && *a->blocked_by)
        printf ("\n         blocked: %s", a->blocked_by);
    printf ("\n");
}

int
cmd_engine (cli_t *cli, int argc, char **argv)
{
    s_opts_t opts = { .names = { "--as-of" }, .count = 1 };
    if (argc < 2 || strcmp (argv [1], "run") != 0 || s_opts (cli, &opts, argc, argv, 2) != 0
        || !s_date_ok ("--as-of", opts.values [0])) {
        fprintf (stderr, "usage: recoup engine run [--as-of YYYY-MM-DD]\n");
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__EngineRunRequest req = RECOUP__ENGINE_RUN_REQUEST__INIT;
    req.as_of = opts.values [0] ? (char *) opts.values [0] : "";
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_ENGINE_RUN;
    request.engine_run = &req;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_ENGINE_RUN, &rc);
    if (reply) {
        const Recoup__EngineRunReply *r = reply->engine_run;
        if (cli->json)
            cli_print_json (&r->base);
        else {
            const Recoup__EngineRunSummary *s = r->summary;
            if (s->dates == 0)
                printf ("engine: %s was run already; nothing new\n", s->as_of);
            else
                printf ("engine: ran %u date%s from %s to %s: %u due, %u skipped, "
                        "%u queued\n", s->dates, s->dates == 1 ? "" : "s", s->first,
                        s->as_of, s->due, s->skipped, s->queued);
            for (size_t i = 0; i < r->n_actions; i++)
                s_action_text (r->actions [i]);
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

//  The worklist as the documented JSON array.
static void
s_worklist_json (const Recoup__WorklistReply *w)
{
    strbuf_t out;
    strbuf_init (&out);
    strbuf_puts (&out, "[");
    for (size_t i = 0; i < w->n_items; i++) {
        const Recoup__EngineAction *a = w->items [i];
        strbuf_puts (&out, i ? ",{\"customer\":" : "{\"customer\":");
        json_string (&out, a->customer);
        strbuf_puts (&out, ",\"name\":");
        json_string (&out, a->customer_name);
        strbuf_puts (&out, ",\"invoices\":[");
        for (size_t k = 0; k < a->n_invoices; k++) {
            if (k)
                strbuf_puts (&out, ",");
            json_string (&out, a->invoices [k]);
        }
        strbuf_puts (&out, "],\"step\":");
        json_string (&out, a->step);
        strbuf_puts (&out, ",\"channel\":");
        json_string (&out, a->channel);
        strbuf_puts (&out, ",\"tone\":");
        if (*a->tone)
            json_string (&out, a->tone);
        else
            strbuf_puts (&out, "null");
        strbuf_puts (&out, ",\"assignee\":");
        json_string (&out, a->assignee);
        strbuf_puts (&out, ",\"due\":");
        json_string (&out, a->due);
        strbuf_puts (&out, ",\"blocked_by\":");
        if (*a->blocked_by)
            json_string (&out, a->blocked_by);
        else
            strbuf_puts (&out, "null");
        strbuf_puts (&out, ",\"action\":");
        json_string (&out, a->action);
        strbuf_puts (&out, ",\"note\":");
        json_string (&out, a->why);
        strbuf_printf (&out, ",\"policy_version\":%u,\"outbox_id\":%" PRIu64 "}",
                       a->policy_version, a->outbox_id);
    }
    strbuf_puts (&out, "]");
    printf ("%s\n", out.data);
    strbuf_free (&out);
}

int
cmd_worklist (cli_t *cli, int argc, char **argv)
{
    s_opts_t opts = { .names = { "--as-of", "--at", "--customer" }, .count = 3 };
    if (s_opts (cli, &opts, argc, argv, 1) != 0 || !s_date_ok ("--as-of", opts.values [0])) {
        fprintf (stderr, "usage: recoup worklist [--as-of YYYY-MM-DD] "
                 "[--at YYYY-MM-DDTHH:MM(Z|+HH:MM)] [--customer REF] [--json]\n");
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__WorklistRequest req = RECOUP__WORKLIST_REQUEST__INIT;
    req.as_of = opts.values [0] ? (char *) opts.values [0] : "";
    req.at = opts.values [1] ? (char *) opts.values [1] : "";
    req.customer = opts.values [2] ? (char *) opts.values [2] : "";
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_WORKLIST;
    request.worklist = &req;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_WORKLIST, &rc);
    if (reply) {
        const Recoup__WorklistReply *w = reply->worklist;
        if (cli->json)
            s_worklist_json (w);
        else {
            printf ("worklist for %s: %zu item%s\n", w->as_of, w->n_items,
                    w->n_items == 1 ? "" : "s");
            for (size_t i = 0; i < w->n_items; i++)
                s_action_text (w->items [i]);
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}
