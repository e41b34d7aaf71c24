/*  Recovery: a client keeps (or resumes) a complete, gapless view across
    a restart and a crash of recoupd, a restart of its own, a restart of
    an external PostgreSQL (recoupd reconnects by itself), and a crash of
    the embedded PostgreSQL (recoupd restarts it).                       */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

typedef struct {
    uint64_t seqs [4096];       //  applied, in order
    size_t count;
} seen_t;

static void
s_on_event (void *arg, const Recoup__Event *event)
{
    seen_t *seen = arg;
    if (seen->count < 4096)
        seen->seqs [seen->count++] = event->seq;
}

//  Polls until the agent has applied `target`, up to 30 s.
static void
s_wait_for (sync_t *sync, uint64_t target)
{
    char err [512];
    long long deadline = th_now_ms () + 30000;
    while (sync_last_seq (sync) < target && th_now_ms () < deadline)
        if (sync_poll (sync, 50, err, sizeof err) < 0)
            print_message ("sync: %s\n", err);
    assert_int_equal (sync_last_seq (sync), target);
}

//  Every seq from first to first + count - 1, once, in order.
static void
s_assert_contiguous (const seen_t *seen, uint64_t first)
{
    for (size_t i = 0; i < seen->count; i++)
        if (seen->seqs [i] != first + i)
            fail_msg ("event %zu has seq %llu, expected %llu", i,
                      (unsigned long long) seen->seqs [i],
                      (unsigned long long) (first + i));
}

//  Posts n notes; returns the last seq.
static uint64_t
s_post (th_server_t *server, int n, const char *what)
{
    uint64_t seq = 0;
    for (int i = 0; i < n; i++) {
        char text [64];
        snprintf (text, sizeof text, "%s %d", what, i);
        seq = th_note (&server->admin, text);
        assert_true (seq > 0);
    }
    return seq;
}

//  The agent stays up while recoupd goes down and comes back.
static void
s_server_bounce (int crash)
{
    th_server_t server;
    memset (&server, 0, sizeof server);
    assert_int_equal (th_server_start (&server, crash ? "crash" : "restart", NULL), 0);
    char err [512];
    seen_t seen = { .count = 0 };
    sync_t *sync = sync_new (th_ctx (), &server.admin, err, sizeof err);
    assert_non_null (sync);
    sync_set_handlers (sync, NULL, s_on_event, &seen);
    assert_int_equal (sync_start (sync, SYNC_FROM_SEQ, 0, err, sizeof err), 0);
    uint64_t seq = s_post (&server, 10, "before");
    s_wait_for (sync, seq);
    if (crash)
        th_server_kill (&server);
    else
        assert_int_equal (th_server_stop (&server), 0);
    //  The agent notices nothing but silence.
    assert_true (sync_poll (sync, 300, err, sizeof err) >= 0);
    assert_int_equal (th_server_restart (&server), 0);
    seq = s_post (&server, 10, "after");
    s_wait_for (sync, seq);
    s_assert_contiguous (&seen, 1);
    assert_int_equal (seen.count, seq);
    sync_destroy (&sync);
    th_server_destroy (&server);
}

static void
test_client_keeps_up_across_recoupd_restart (void **state)
{
    (void) state;
    s_server_bounce (0);
}

static void
test_client_keeps_up_across_recoupd_crash (void **state)
{
    (void) state;
    s_server_bounce (1);
}

static void
test_client_resumes_from_saved_sequence (void **state)
{
    (void) state;
    th_server_t server;
    memset (&server, 0, sizeof server);
    assert_int_equal (th_server_start (&server, "resume", NULL), 0);
    char state_file [PATH_MAX + 32], err [512];
    snprintf (state_file, sizeof state_file, "%s/client.state", server.dir);
    seen_t seen = { .count = 0 };
    sync_t *sync = sync_new (th_ctx (), &server.admin, err, sizeof err);
    sync_set_handlers (sync, NULL, s_on_event, &seen);
    sync_set_state_file (sync, state_file);
    assert_int_equal (sync_start (sync, SYNC_FROM_SEQ, 0, err, sizeof err), 0);
    uint64_t seq = s_post (&server, 5, "first");
    s_wait_for (sync, seq);
    sync_destroy (&sync);       //  the client stops

    //  While it is away, the server restarts and more happens.
    uint64_t missed_from = seq + 1;
    s_post (&server, 5, "while away");
    assert_int_equal (th_server_stop (&server), 0);
    assert_int_equal (th_server_restart (&server), 0);
    seq = s_post (&server, 5, "after restart");

    //  The client comes back and picks up exactly what it missed.
    seen_t again = { .count = 0 };
    sync = sync_new (th_ctx (), &server.admin, err, sizeof err);
    sync_set_handlers (sync, NULL, s_on_event, &again);
    sync_set_state_file (sync, state_file);
    assert_int_equal (sync_start (sync, SYNC_FROM_NOW, 0, err, sizeof err), 0);
    s_wait_for (sync, seq);
    s_assert_contiguous (&again, missed_from);
    assert_int_equal (again.count, seq - missed_from + 1);
    sync_destroy (&sync);
    th_server_destroy (&server);
}

static void
test_client_starts_again_when_history_was_rewound (void **state)
{
    (void) state;
    th_server_t server;
    memset (&server, 0, sizeof server);
    assert_int_equal (th_server_start (&server, "rewind", NULL), 0);
    char state_file [PATH_MAX + 32], err [512];
    snprintf (state_file, sizeof state_file, "%s/client.state", server.dir);
    seen_t seen = { .count = 0 };
    sync_t *sync = sync_new (th_ctx (), &server.admin, err, sizeof err);
    sync_set_handlers (sync, NULL, s_on_event, &seen);
    sync_set_state_file (sync, state_file);
    assert_int_equal (sync_start (sync, SYNC_FROM_SEQ, 0, err, sizeof err), 0);
    uint64_t seq = s_post (&server, 10, "before the restore");
    s_wait_for (sync, seq);
    sync_destroy (&sync);
    //  As if the database came back from a backup taken at seq 5.
    assert_int_equal (th_server_stop (&server), 0);
    assert_int_equal (th_server_restart (&server), 0);
    char *done = th_sql (&server,
        "ALTER TABLE events DISABLE TRIGGER events_append_only;"
        "DELETE FROM events WHERE seq > 5;"
        "DELETE FROM notes WHERE id > 5;"
        "ALTER TABLE events ENABLE TRIGGER events_append_only");
    assert_non_null (done);
    free (done);
    assert_int_equal (th_server_stop (&server), 0);
    assert_int_equal (th_server_restart (&server), 0);
    //  The client resumes from 10, sees the history ends at 5, starts
    //  again from the beginning, and then follows new events.
    seen_t again = { .count = 0 };
    sync = sync_new (th_ctx (), &server.admin, err, sizeof err);
    sync_set_handlers (sync, NULL, s_on_event, &again);
    sync_set_state_file (sync, state_file);
    assert_int_equal (sync_start (sync, SYNC_FROM_NOW, 0, err, sizeof err), 0);
    uint64_t last = s_post (&server, 2, "after the restore");
    assert_int_equal (last, 7);
    s_wait_for (sync, last);
    s_assert_contiguous (&again, 1);
    assert_int_equal (again.count, 7);
    sync_destroy (&sync);
    th_server_destroy (&server);
}

static void
test_recoupd_reconnects_after_postgresql_restart (void **state)
{
    (void) state;
    th_pg_t pg;
    assert_int_equal (th_pg_start (&pg, "pg"), 0);
    th_server_t server;
    memset (&server, 0, sizeof server);
    assert_int_equal (th_server_start (&server, "extdb", pg.conninfo), 0);
    char err [512];
    seen_t seen = { .count = 0 };
    sync_t *sync = sync_new (th_ctx (), &server.admin, err, sizeof err);
    sync_set_handlers (sync, NULL, s_on_event, &seen);
    assert_int_equal (sync_start (sync, SYNC_FROM_SEQ, 0, err, sizeof err), 0);
    uint64_t seq = s_post (&server, 5, "before");
    s_wait_for (sync, seq);

    assert_int_equal (th_pg_restart (&pg), 0);
    //  recoupd is still there, and gets back to work by itself: the
    //  client's retries (same request id) carry the first note through.
    assert_int_not_equal (server.pid, 0);
    assert_int_equal (kill (server.pid, 0), 0);
    seq = s_post (&server, 5, "after");
    s_wait_for (sync, seq);
    s_assert_contiguous (&seen, 1);
    assert_int_equal (seen.count, seq);
    sync_destroy (&sync);
    th_server_destroy (&server);
    th_pg_stop (&pg);
}

static void
test_embedded_postgresql_restarted_after_crash (void **state)
{
    (void) state;
    th_server_t server;
    memset (&server, 0, sizeof server);
    assert_int_equal (th_server_start (&server, "pgcrash", NULL), 0);
    uint64_t seq = s_post (&server, 3, "before");
    char path [PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/pg/postmaster.pid", server.data);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    long pid = 0;
    assert_int_equal (fscanf (file, "%ld", &pid), 1);
    fclose (file);
    assert_int_equal (kill ((pid_t) pid, SIGKILL), 0);
    uint64_t after = s_post (&server, 3, "after");
    assert_int_equal (after, seq + 3);
    th_server_destroy (&server);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_client_keeps_up_across_recoupd_restart),
        cmocka_unit_test (test_client_keeps_up_across_recoupd_crash),
        cmocka_unit_test (test_client_resumes_from_saved_sequence),
        cmocka_unit_test (test_client_starts_again_when_history_was_rewound),
        cmocka_unit_test (test_recoupd_reconnects_after_postgresql_restart),
        cmocka_unit_test (test_embedded_postgresql_restarted_after_crash),
    };
    return cmocka_run_group_tests_name ("recovery", tests, NULL, NULL);
}
