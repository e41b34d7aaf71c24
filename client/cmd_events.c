/*  cmd_events: `recoup tail`, the live event stream on a terminal or in
    a pipe, one event per line, gaps recovered by the sync agent.        */
#include "cli.h"
#include "../common/sync.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_stop = 1;
}

typedef struct {
    int json;                   //  one JSON object per line
    long long printed;          //  events printed
    long long limit;            //  stop after this many (-1: never)
} tail_t;

//  One event, one line.
static void
s_print_event (void *arg, const Recoup__Event *event)
{
    tail_t *tail = arg;
    if (tail->limit >= 0 && tail->printed >= tail->limit)
        return;
    tail->printed++;
    if (tail->json) {
        cli_print_json (&event->base);
        return;
    }
    char at [40];
    wire_format_time (event->at_us, at, sizeof at);
    printf ("#%" PRIu64 " %s %s by %s", event->seq, at, event->kind,
            *event->actor ? event->actor : "recoupd");
    if (event->body_case == RECOUP__EVENT__BODY_USER && event->user->user) {
        const Recoup__User *user = event->user->user;
        printf (": %s (%s)%s", user->name, wire_role_name (user->role),
                user->active ? "" : " revoked");
    }
    else if (event->body_case == RECOUP__EVENT__BODY_NOTE) {
        const Recoup__Note *note = event->note;
        printf (": %s%s%s", note->subject, *note->subject ? ": " : "",
                note->text);
    }
    printf ("\n");
    fflush (stdout);
}

int
cmd_tail (cli_t *cli, int argc, char **argv)
{
    const char *from = NULL, *state = NULL, *count_text = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp (argv [i], "--from") == 0)
            from = argv [++i];
        else if (i + 1 < argc && strcmp (argv [i], "--state") == 0)
            state = argv [++i];
        else if (i + 1 < argc && strcmp (argv [i], "--count") == 0)
            count_text = argv [++i];
        else {
            cli_fail ("usage: recoup tail [--json] [--from SEQ] [--state FILE] "
                      "[--count N]");
            return EXIT_USAGE;
        }
    }
    uint64_t from_seq = 0;
    if (from) {
        char *end;
        from_seq = strtoull (from, &end, 10);
        if (*end || *from == '-' || from_seq == 0) {
            cli_fail ("--from wants a sequence number of 1 or more, got '%s'", from);
            return EXIT_USAGE;
        }
    }
    long long count = -1;
    if (count_text) {
        char *end;
        count = strtoll (count_text, &end, 10);
        if (*end || count <= 0) {
            cli_fail ("--count wants a positive number, got '%s'", count_text);
            return EXIT_USAGE;
        }
    }
    int rc = cli_load_identity (cli);
    if (rc != 0)
        return rc;
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);

    void *ctx = zmq_ctx_new ();
    char err [1024];
    tail_t tail = { .json = cli->json, .printed = 0, .limit = -1 };
    sync_t *sync = sync_new (ctx, &cli->identity, err, sizeof err);
    if (!sync) {
        cli_fail ("%s", err);
        rc = EXIT_UNREACHABLE;
        goto done;
    }
    tail.limit = count;
    sync_set_handlers (sync, NULL, s_print_event, &tail);
    if (state)
        sync_set_state_file (sync, state);
    if (sync_start (sync, from ? SYNC_FROM_SEQ : SYNC_FROM_NOW,
                    from ? from_seq - 1 : 0, err, sizeof err) != 0) {
        cli_fail ("%s", err);
        rc = strstr (err, "PERMISSION") ? EXIT_REFUSED : EXIT_UNREACHABLE;
        goto done;
    }
    while (!s_stop && (count < 0 || tail.printed < count)) {
        if (sync_poll (sync, 500, err, sizeof err) < 0) {
            if (s_stop)
                break;
            cli_fail ("%s", err);
            rc = EXIT_UNREACHABLE;
            break;
        }
    }
done:
    sync_destroy (&sync);
    zmq_ctx_term (ctx);
    identity_wipe (&cli->identity);
    return rc;
}
