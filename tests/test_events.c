/*  The event stream: gapless and in order under concurrent writers, on
    the wire and through the sync agent; a late joiner's snapshot plus
    the stream equals the state.                                         */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "harness.h"
#include "json.h"

#define WRITERS 8
#define NOTES_EACH 50

static th_server_t s_server;

static int
s_setup (void **state)
{
    (void) state;
    return th_server_start (&s_server, "events", NULL);
}

static int
s_teardown (void **state)
{
    (void) state;
    th_server_destroy (&s_server);
    return 0;
}

//  A local view built from a snapshot and events: users and notes as
//  canonical text lines, so two views compare with strcmp.
#define VIEW_MAX 2048
typedef struct {
    char *users [VIEW_MAX];     //  "name role active"
    size_t n_users;
    char *notes [VIEW_MAX];     //  "id author subject text"
    size_t n_notes;
    uint64_t *seqs;             //  every event seq applied, in order
    size_t n_seqs;
    size_t cap_seqs;
} view_t;

static void
s_view_free (view_t *view)
{
    for (size_t i = 0; i < view->n_users; i++)
        free (view->users [i]);
    for (size_t i = 0; i < view->n_notes; i++)
        free (view->notes [i]);
    free (view->seqs);
    memset (view, 0, sizeof *view);
}

static void
s_view_user (view_t *view, const Recoup__User *user)
{
    char line [256];
    snprintf (line, sizeof line, "%s %s %d", user->name,
              wire_role_name (user->role), user->active);
    size_t len = strlen (user->name);
    for (size_t i = 0; i < view->n_users; i++)
        if (strncmp (view->users [i], user->name, len) == 0
            && view->users [i][len] == ' ') {
            free (view->users [i]);
            view->users [i] = strdup (line);
            return;
        }
    view->users [view->n_users++] = strdup (line);
}

static void
s_view_note (view_t *view, const Recoup__Note *note)
{
    char line [4200];
    snprintf (line, sizeof line, "%llu %s %s %s", (unsigned long long) note->id,
              note->author, note->subject, note->text);
    view->notes [view->n_notes++] = strdup (line);
}

static void
s_on_snapshot (void *arg, const Recoup__SnapshotReply *snapshot)
{
    view_t *view = arg;
    for (size_t i = 0; i < snapshot->n_users; i++)
        s_view_user (view, snapshot->users [i]);
    for (size_t i = 0; i < snapshot->n_notes; i++)
        s_view_note (view, snapshot->notes [i]);
}

static void
s_on_event (void *arg, const Recoup__Event *event)
{
    view_t *view = arg;
    if (event->body_case == RECOUP__EVENT__BODY_USER)
        s_view_user (view, event->user->user);
    else if (event->body_case == RECOUP__EVENT__BODY_NOTE)
        s_view_note (view, event->note);
    if (view->n_seqs == view->cap_seqs) {
        view->cap_seqs = view->cap_seqs ? view->cap_seqs * 2 : 256;
        view->seqs = realloc (view->seqs, view->cap_seqs * sizeof *view->seqs);
    }
    view->seqs [view->n_seqs++] = event->seq;
}

static int
s_compare (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

//  The view as one sorted text.
static char *
s_view_text (view_t *view)
{
    qsort (view->users, view->n_users, sizeof (char *), s_compare);
    qsort (view->notes, view->n_notes, sizeof (char *), s_compare);
    strbuf_t out;
    strbuf_init (&out);
    for (size_t i = 0; i < view->n_users; i++)
        strbuf_printf (&out, "U %s\n", view->users [i]);
    for (size_t i = 0; i < view->n_notes; i++)
        strbuf_printf (&out, "N %s\n", view->notes [i]);
    return out.data ? out.data : strdup ("");
}

typedef struct {
    identity_t who;             //  writer's identity
    int index;                  //  writer number
    int failures;               //  commands that failed
} writer_arg_t;

static void *
s_writer (void *arg)
{
    writer_arg_t *self = arg;
    char err [256];
    client_t *client = client_new (th_ctx (), &self->who, err, sizeof err);
    for (int i = 0; client && i < NOTES_EACH; i++) {
        char text [64];
        snprintf (text, sizeof text, "writer %d note %d", self->index, i);
        Recoup__NotePostRequest post = RECOUP__NOTE_POST_REQUEST__INIT;
        post.text = text;
        post.subject = "load";
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.command_case = RECOUP__REQUEST__COMMAND_NOTE_POST;
        request.note_post = &post;
        client_status_t status;
        Recoup__Reply *reply = client_call (client, &request, 10000, &status, err,
                                            sizeof err);
        if (!reply || reply->result_case != RECOUP__REPLY__RESULT_NOTE_POST)
            self->failures++;
        if (reply)
            recoup__reply__free_unpacked (reply, NULL);
    }
    if (!client)
        self->failures = NOTES_EACH;
    client_destroy (&client);
    return NULL;
}

//  Starts the writers; returns after they finish.
static void
s_run_writers (writer_arg_t *args, pthread_t *threads)
{
    for (int i = 0; i < WRITERS; i++)
        pthread_create (&threads [i], NULL, s_writer, &args [i]);
}

static void
test_gapless_in_order_with_concurrent_clients (void **state)
{
    (void) state;
    writer_arg_t args [WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        char name [32];
        snprintf (name, sizeof name, "writer%d", i);
        args [i].index = i;
        args [i].failures = 0;
        assert_int_equal (th_user_add (&s_server, name, RECOUP__ROLE__COLLECTOR,
                                       &args [i].who), 0);
    }
    //  A sync agent, and a raw subscriber to see the wire order itself.
    char err [512];
    view_t view;
    memset (&view, 0, sizeof view);
    sync_t *sync = sync_new (th_ctx (), &s_server.admin, err, sizeof err);
    assert_non_null (sync);
    sync_set_handlers (sync, NULL, s_on_event, &view);
    assert_int_equal (sync_start (sync, SYNC_FROM_NOW, 0, err, sizeof err), 0);
    uint64_t start = sync_last_seq (sync);
    void *sub = zmq_socket (th_ctx (), ZMQ_SUB);
    int hwm = 0;
    zmq_setsockopt (sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (sub, ZMQ_CURVE_SERVERKEY, s_server.admin.server_public, 40);
    zmq_setsockopt (sub, ZMQ_CURVE_PUBLICKEY, s_server.admin.public_key, 40);
    zmq_setsockopt (sub, ZMQ_CURVE_SECRETKEY, s_server.admin.secret_key, 40);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "event.", 6);
    zmq_connect (sub, s_server.events);
    //  Make sure the raw subscriber is in before the load starts.
    th_sleep_ms (500);
    sync_poll (sync, 100, err, sizeof err);

    pthread_t threads [WRITERS];
    s_run_writers (args, threads);
    uint64_t wire_last = start;
    int wire_disorder = 0, wire_count = 0;
    long long deadline = th_now_ms () + 60000;
    size_t expected = WRITERS * NOTES_EACH;
    while (th_now_ms () < deadline
           && (view.n_seqs < expected || wire_count < (int) expected)) {
        assert_true (sync_poll (sync, 50, err, sizeof err) >= 0);
        zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
        while (zmq_poll (&item, 1, 0) == 1) {
            char topic [64];
            uint8_t body [8192];
            zmq_recv (sub, topic, sizeof topic, 0);
            int n = zmq_recv (sub, body, sizeof body, 0);
            Recoup__Event *event = recoup__event__unpack (NULL, (size_t) n, body);
            assert_non_null (event);
            if (event->seq != wire_last + 1)
                wire_disorder++;
            wire_last = event->seq;
            wire_count++;
            recoup__event__free_unpacked (event, NULL);
        }
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join (threads [i], NULL);
        assert_int_equal (args [i].failures, 0);
    }
    //  The agent saw every event exactly once, in order, without holes.
    assert_int_equal (view.n_seqs, expected);
    for (size_t i = 0; i < view.n_seqs; i++)
        assert_int_equal (view.seqs [i], start + 1 + i);
    //  On the wire, too, the server published them strictly in order.
    assert_int_equal (wire_count, (int) expected);
    assert_int_equal (wire_disorder, 0);
    //  And the database holds the same numbers with no gap.
    char *check = th_sql (&s_server,
                          "SELECT count(*) = max(seq) AND min(seq) = 1 FROM events");
    assert_string_equal (check, "t");
    free (check);
    print_message ("%zu events from %d concurrent writers, no gap; agent "
                   "repaired %llu gaps\n", expected, WRITERS,
                   (unsigned long long) sync_gaps (sync));
    zmq_close (sub);
    sync_destroy (&sync);
    s_view_free (&view);
}

//  A fresh snapshot as view text.
static char *
s_snapshot_text (void)
{
    view_t view;
    memset (&view, 0, sizeof view);
    Recoup__SnapshotRequest body = RECOUP__SNAPSHOT_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_SNAPSHOT;
    request.snapshot = &body;
    client_status_t status;
    Recoup__Reply *reply = th_call (&s_server.admin, &request, &status);
    assert_non_null (reply);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_SNAPSHOT);
    s_on_snapshot (&view, reply->snapshot);
    recoup__reply__free_unpacked (reply, NULL);
    char *text = s_view_text (&view);
    s_view_free (&view);
    return text;
}

static void
test_late_joiner_snapshot_plus_stream_equals_state (void **state)
{
    (void) state;
    char err [512];
    view_t early, late;
    memset (&early, 0, sizeof early);
    memset (&late, 0, sizeof late);
    sync_t *first = sync_new (th_ctx (), &s_server.admin, err, sizeof err);
    sync_set_handlers (first, s_on_snapshot, s_on_event, &early);
    assert_int_equal (sync_start (first, SYNC_FROM_SNAPSHOT, 0, err, sizeof err), 0);

    //  Writers run while the late joiner takes its snapshot.
    writer_arg_t args [WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        char name [32];
        snprintf (name, sizeof name, "late%d", i);
        args [i].index = 100 + i;
        args [i].failures = 0;
        assert_int_equal (th_user_add (&s_server, name, RECOUP__ROLE__SALES,
                                       &args [i].who), 0);
    }
    pthread_t threads [WRITERS];
    s_run_writers (args, threads);
    th_sleep_ms (100);
    sync_t *second = sync_new (th_ctx (), &s_server.admin, err, sizeof err);
    sync_set_handlers (second, s_on_snapshot, s_on_event, &late);
    assert_int_equal (sync_start (second, SYNC_FROM_SNAPSHOT, 0, err, sizeof err), 0);
    assert_true (sync_last_seq (second) > 0);
    for (int i = 0; i < WRITERS; i++) {
        pthread_join (threads [i], NULL);
        assert_int_equal (args [i].failures, 0);
    }
    //  One more change after the writers, then let both catch up.
    uint64_t last = th_note (&s_server.admin, "the last word");
    assert_true (last > 0);
    long long deadline = th_now_ms () + 30000;
    while (th_now_ms () < deadline
           && (sync_last_seq (first) < last || sync_last_seq (second) < last)) {
        assert_true (sync_poll (first, 20, err, sizeof err) >= 0);
        assert_true (sync_poll (second, 20, err, sizeof err) >= 0);
    }
    assert_int_equal (sync_last_seq (first), last);
    assert_int_equal (sync_last_seq (second), last);
    char *truth = s_snapshot_text ();
    char *a = s_view_text (&early);
    char *b = s_view_text (&late);
    assert_string_equal (a, truth);
    assert_string_equal (b, truth);
    free (truth);
    free (a);
    free (b);
    sync_destroy (&first);
    sync_destroy (&second);
    s_view_free (&early);
    s_view_free (&late);
}

static void
test_replay_pages_and_limits (void **state)
{
    (void) state;
    //  replay(after, limit) returns events in order from after + 1.
    Recoup__ReplayRequest replay = RECOUP__REPLAY_REQUEST__INIT;
    replay.after = 3;
    replay.limit = 5;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_REPLAY;
    request.replay = &replay;
    client_status_t status;
    Recoup__Reply *reply = th_call (&s_server.admin, &request, &status);
    assert_non_null (reply);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPLAY);
    assert_int_equal (reply->replay->n_events, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal (reply->replay->events [i]->seq, 4 + i);
    assert_true (reply->replay->last_seq >= 8);
    recoup__reply__free_unpacked (reply, NULL);
    //  Past the head: nothing, and the head.
    replay.after = 1000000;
    reply = th_call (&s_server.admin, &request, &status);
    assert_non_null (reply);
    assert_int_equal (reply->replay->n_events, 0);
    recoup__reply__free_unpacked (reply, NULL);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_gapless_in_order_with_concurrent_clients),
        cmocka_unit_test (test_late_joiner_snapshot_plus_stream_equals_state),
        cmocka_unit_test (test_replay_pages_and_limits),
    };
    return cmocka_run_group_tests_name ("events", tests, s_setup, s_teardown);
}
