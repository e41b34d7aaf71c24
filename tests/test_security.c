/*  Identity and permissions: unknown keys refused on both sockets,
    importers kept off the event stream, revoked keys shut out within a
    second (open connections included), every role denied what it may
    not do, secret files mode 0600.                                      */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "harness.h"

static th_server_t s_server;

static int
s_setup (void **state)
{
    (void) state;
    return th_server_start (&s_server, "security", NULL);
}

static int
s_teardown (void **state)
{
    (void) state;
    th_server_destroy (&s_server);
    return 0;
}

//  A raw SUB socket on the event endpoint with a monitor.
typedef struct {
    void *sub;
    void *monitor;
    int connected, ready, refused, disconnected;
} raw_sub_t;

static void
s_sub_open (raw_sub_t *self, const identity_t *who)
{
    memset (self, 0, sizeof *self);
    self->sub = zmq_socket (th_ctx (), ZMQ_SUB);
    int linger = 0, reconnect = 100;
    zmq_setsockopt (self->sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->sub, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    zmq_setsockopt (self->sub, ZMQ_CURVE_SERVERKEY, who->server_public, 40);
    zmq_setsockopt (self->sub, ZMQ_CURVE_PUBLICKEY, who->public_key, 40);
    zmq_setsockopt (self->sub, ZMQ_CURVE_SECRETKEY, who->secret_key, 40);
    zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, "", 0);
    self->monitor = client_monitor_new (th_ctx (), self->sub, "test");
    assert_non_null (self->monitor);
    assert_int_equal (zmq_connect (self->sub, who->events), 0);
}

static void
s_sub_close (raw_sub_t *self)
{
    zmq_socket_monitor (self->sub, NULL, 0);
    zmq_close (self->sub);
    zmq_close (self->monitor);
}

//  Waits up to ms for the monitor to report something; returns when
//  `ready` or `refused` is set.
static void
s_sub_wait_handshake (raw_sub_t *self, int ms)
{
    long long deadline = th_now_ms () + ms;
    while (th_now_ms () < deadline && !self->ready && !self->refused) {
        zmq_pollitem_t item = { self->monitor, 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 50);
        client_monitor_read (self->monitor, &self->connected, &self->ready,
                             &self->refused, &self->disconnected);
    }
}

//  Heartbeats sent before this time are not counted by s_sub_drain.
static int64_t s_beats_after_us = 0;

//  Receives publications for up to ms; returns the highest event seq
//  seen (0 if none) and counts heartbeats in *beats.
static uint64_t
s_sub_drain (raw_sub_t *self, int ms, int *beats)
{
    uint64_t highest = 0;
    long long deadline = th_now_ms () + ms;
    while (th_now_ms () < deadline) {
        zmq_pollitem_t item = { self->sub, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 50) <= 0)
            continue;
        char topic [64];
        uint8_t body [4096];
        int n = zmq_recv (self->sub, topic, sizeof topic - 1, 0);
        int m = zmq_recv (self->sub, body, sizeof body, 0);
        if (n < 0 || m < 0)
            continue;
        topic [n < 63 ? n : 63] = 0;
        if (strcmp (topic, "heartbeat") == 0) {
            Recoup__Heartbeat *beat = recoup__heartbeat__unpack (NULL, (size_t) m, body);
            //  Count only heartbeats sent after the caller's threshold.
            if (beats && beat && beat->at_us > s_beats_after_us)
                (*beats)++;
            if (beat)
                recoup__heartbeat__free_unpacked (beat, NULL);
            continue;
        }
        Recoup__Event *event = recoup__event__unpack (NULL, (size_t) m, body);
        if (event) {
            if (event->seq > highest)
                highest = event->seq;
            recoup__event__free_unpacked (event, NULL);
        }
    }
    return highest;
}

static Recoup__Reply *
s_status (const identity_t *who, client_status_t *status)
{
    Recoup__StatusRequest body = RECOUP__STATUS_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
    request.status = &body;
    return th_call (who, &request, status);
}

static void
test_unknown_key_refused_on_both_sockets (void **state)
{
    (void) state;
    identity_t stranger;
    th_identity_new (&s_server, &stranger, "stranger");
    client_status_t status;
    Recoup__Reply *reply = s_status (&stranger, &status);
    assert_null (reply);
    assert_int_equal (status, CLIENT_REFUSED);

    raw_sub_t sub;
    s_sub_open (&sub, &stranger);
    s_sub_wait_handshake (&sub, 3000);
    assert_true (sub.refused);
    assert_false (sub.ready);
    int beats = 0;
    s_sub_drain (&sub, 1500, &beats);
    assert_int_equal (beats, 0);
    s_sub_close (&sub);

    //  The admin, for contrast, gets in on both.
    reply = s_status (&s_server.admin, &status);
    assert_non_null (reply);
    assert_string_equal (reply->status->user, "admin");
    recoup__reply__free_unpacked (reply, NULL);
    s_sub_open (&sub, &s_server.admin);
    s_sub_wait_handshake (&sub, 3000);
    assert_true (sub.ready);
    s_sub_drain (&sub, 1500, &beats);
    assert_true (beats >= 1);
    s_sub_close (&sub);
}

static void
test_wrong_server_key_is_reported (void **state)
{
    (void) state;
    identity_t confused = s_server.admin;
    identity_t other;
    identity_generate (&other);
    memcpy (confused.server_public, other.public_key, sizeof confused.server_public);
    client_status_t status;
    long long start = th_now_ms ();
    Recoup__Reply *reply = s_status (&confused, &status);
    assert_null (reply);
    assert_int_equal (status, CLIENT_REFUSED);
    assert_true (th_now_ms () - start < 9000);     //  not the full timeout
    identity_wipe (&confused);
    identity_wipe (&other);
}

static void
test_importer_may_command_but_not_read_events (void **state)
{
    (void) state;
    identity_t importer;
    assert_int_equal (th_user_add (&s_server, "loader", RECOUP__ROLE__IMPORTER,
                                   &importer), 0);
    client_status_t status;
    Recoup__Reply *reply = s_status (&importer, &status);
    assert_non_null (reply);
    assert_int_equal (reply->status->role, RECOUP__ROLE__IMPORTER);
    recoup__reply__free_unpacked (reply, NULL);
    raw_sub_t sub;
    s_sub_open (&sub, &importer);
    s_sub_wait_handshake (&sub, 3000);
    assert_true (sub.refused);
    assert_false (sub.ready);
    s_sub_close (&sub);
}

//  Revokes `name` (by command, or by SQL when by_hand) and checks that
//  the user's open connections are gone within a second.
static void
s_check_revocation (const char *name, int by_hand)
{
    identity_t bob, watcher;
    assert_int_equal (th_user_add (&s_server, name, RECOUP__ROLE__COLLECTOR, &bob), 0);
    th_identity_new (&s_server, &watcher, "w");
    char watcher_name [64];
    snprintf (watcher_name, sizeof watcher_name, "%s-watch", name);
    assert_int_equal (th_user_add (&s_server, watcher_name, RECOUP__ROLE__MANAGER,
                                   &watcher), 0);
    //  bob holds a command connection and an event subscription open.
    char err [256];
    client_t *client = client_new (th_ctx (), &bob, err, sizeof err);
    assert_non_null (client);
    Recoup__StatusRequest body = RECOUP__STATUS_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
    request.status = &body;
    client_status_t status;
    Recoup__Reply *reply = client_call (client, &request, 5000, &status, err, sizeof err);
    assert_non_null (reply);
    recoup__reply__free_unpacked (reply, NULL);
    raw_sub_t sub, control;
    s_sub_open (&sub, &bob);
    s_sub_open (&control, &watcher);
    s_sub_wait_handshake (&sub, 3000);
    s_sub_wait_handshake (&control, 3000);
    assert_true (sub.ready);
    assert_true (control.ready);
    assert_true (s_sub_drain (&sub, 300, NULL) == 0 || 1);

    long long start = th_now_ms ();
    if (by_hand) {
        char sql [256];
        snprintf (sql, sizeof sql,
                  "UPDATE users SET active = false, revoked_at = now() "
                  "WHERE name = '%s'", name);
        char *done = th_sql (&s_server, sql);
        assert_non_null (done);
        free (done);
    }
    else {
        Recoup__UserRevokeRequest revoke = RECOUP__USER_REVOKE_REQUEST__INIT;
        revoke.name = (char *) name;
        Recoup__Request rq = RECOUP__REQUEST__INIT;
        rq.command_case = RECOUP__REQUEST__COMMAND_USER_REVOKE;
        rq.user_revoke = &revoke;
        reply = th_call (&s_server.admin, &rq, &status);
        assert_non_null (reply);
        assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_USER_REVOKE);
        recoup__reply__free_unpacked (reply, NULL);
    }
    //  bob's subscription is cut within a second.
    long long deadline = start + 1000;
    while (th_now_ms () < deadline && !sub.disconnected) {
        zmq_pollitem_t item = { sub.monitor, 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 20);
        client_monitor_read (sub.monitor, NULL, NULL, NULL, &sub.disconnected);
    }
    long long elapsed = th_now_ms () - start;
    print_message ("revocation (%s): subscription cut after %lld ms\n",
                   by_hand ? "by hand" : "by command", elapsed);
    assert_true (sub.disconnected);
    assert_true (elapsed <= 1000);
    //  Events after the revocation reach the watcher, never bob. The
    //  watcher was dropped too and reconnects by itself: a heartbeat says
    //  it is subscribed again. (libzmq resends a SUB's subscriptions only
    //  when the application touches the socket, hence both are polled.)
    int beats = 0;
    long long until = th_now_ms () + 3000;
    while (!control.disconnected && th_now_ms () < until) {
        zmq_pollitem_t item = { control.monitor, 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 20);
        client_monitor_read (control.monitor, NULL, NULL, NULL, &control.disconnected);
    }
    assert_true (control.disconnected);
    control.ready = 0;
    s_sub_wait_handshake (&control, 3000);
    assert_true (control.ready);
    //  A heartbeat sent after the new handshake proves the subscription
    //  is in place (older ones may still sit in the queue).
    s_beats_after_us = wire_now_us ();
    while (beats == 0 && th_now_ms () < until) {
        s_sub_drain (&sub, 50, NULL);
        s_sub_drain (&control, 50, &beats);
    }
    assert_true (beats > 0);
    uint64_t seq = th_note (&s_server.admin, "after the revocation");
    assert_true (seq > 0);
    uint64_t bob_saw = 0, watcher_saw = 0;
    until = th_now_ms () + 1500;
    while (th_now_ms () < until) {
        uint64_t got = s_sub_drain (&sub, 20, NULL);
        if (got > bob_saw)
            bob_saw = got;
        got = s_sub_drain (&control, 20, NULL);
        if (got > watcher_saw)
            watcher_saw = got;
    }
    assert_true (bob_saw < seq);
    assert_int_equal (watcher_saw, seq);
    //  bob's command connection is refused too.
    reply = client_call (client, &request, 3000, &status, err, sizeof err);
    if (reply) {
        assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
        assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__PERMISSION_DENIED);
        recoup__reply__free_unpacked (reply, NULL);
    }
    else
        assert_int_equal (status, CLIENT_REFUSED);
    s_beats_after_us = 0;
    client_destroy (&client);
    s_sub_close (&sub);
    s_sub_close (&control);
}

static void
test_revoked_key_shut_out_within_one_second (void **state)
{
    (void) state;
    s_check_revocation ("bob", 0);
}

static void
test_revoked_by_hand_shut_out_within_one_second (void **state)
{
    (void) state;
    s_check_revocation ("carol", 1);
}

//  Sends one command of each kind as `who` and checks which are denied.
static void
s_check_role (const identity_t *who, unsigned allowed_mask)
{
    Recoup__StatusRequest status_body = RECOUP__STATUS_REQUEST__INIT;
    Recoup__SnapshotRequest snapshot = RECOUP__SNAPSHOT_REQUEST__INIT;
    Recoup__ReplayRequest replay = RECOUP__REPLAY_REQUEST__INIT;
    Recoup__UserAddRequest add = RECOUP__USER_ADD_REQUEST__INIT;
    Recoup__UserListRequest list = RECOUP__USER_LIST_REQUEST__INIT;
    Recoup__UserRevokeRequest revoke = RECOUP__USER_REVOKE_REQUEST__INIT;
    Recoup__NotePostRequest note = RECOUP__NOTE_POST_REQUEST__INIT;
    add.name = "never-made";
    add.role = RECOUP__ROLE__SALES;
    add.public_key = "bad key, so allowed callers get INVALID_ARGUMENT";
    revoke.name = "nobody-by-this-name";
    note.text = "role check";
    struct {
        Recoup__Request__CommandCase which;
        void *body;
    } commands [] = {
        { RECOUP__REQUEST__COMMAND_STATUS, &status_body },
        { RECOUP__REQUEST__COMMAND_SNAPSHOT, &snapshot },
        { RECOUP__REQUEST__COMMAND_REPLAY, &replay },
        { RECOUP__REQUEST__COMMAND_USER_ADD, &add },
        { RECOUP__REQUEST__COMMAND_USER_LIST, &list },
        { RECOUP__REQUEST__COMMAND_USER_REVOKE, &revoke },
        { RECOUP__REQUEST__COMMAND_NOTE_POST, &note },
    };
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.command_case = commands [i].which;
        request.status = commands [i].body;     //  every member is a pointer
        client_status_t status;
        Recoup__Reply *reply = th_call (who, &request, &status);
        assert_non_null (reply);
        int denied = reply->result_case == RECOUP__REPLY__RESULT_ERROR
                     && reply->error->code == RECOUP__ERROR_CODE__PERMISSION_DENIED;
        int allowed = (allowed_mask >> i) & 1;
        if (denied == allowed)
            fail_msg ("user %s, command %d: expected %s, got %s", who->user,
                      commands [i].which, allowed ? "allowed" : "denied",
                      reply->result_case == RECOUP__REPLY__RESULT_ERROR
                      ? reply->error->message : "a result");
        recoup__reply__free_unpacked (reply, NULL);
    }
}

static void
test_each_role_denied_what_it_may_not_do (void **state)
{
    (void) state;
    //  Bits: status, snapshot, replay, user_add, user_list, user_revoke, note_post.
    struct {
        const char *name;
        Recoup__Role role;
        unsigned allowed;
    } roles [] = {
        { "r-admin", RECOUP__ROLE__ADMIN, 0x7f },
        { "r-manager", RECOUP__ROLE__MANAGER, 0x01 | 0x02 | 0x04 | 0x10 | 0x40 },
        { "r-collector", RECOUP__ROLE__COLLECTOR, 0x01 | 0x02 | 0x04 | 0x10 | 0x40 },
        { "r-sales", RECOUP__ROLE__SALES, 0x01 | 0x02 | 0x04 | 0x10 | 0x40 },
        { "r-importer", RECOUP__ROLE__IMPORTER, 0x01 },
    };
    for (size_t i = 0; i < sizeof roles / sizeof *roles; i++) {
        identity_t who;
        assert_int_equal (th_user_add (&s_server, roles [i].name, roles [i].role,
                                       &who), 0);
        s_check_role (&who, roles [i].allowed);
    }
}

static void
test_secret_files_are_private (void **state)
{
    (void) state;
    const char *files [] = { "server.key", "admin.identity", "db.conninfo" };
    for (size_t i = 0; i < 3; i++) {
        char path [PATH_MAX + 64];
        snprintf (path, sizeof path, "%s/%s", s_server.data, files [i]);
        struct stat st;
        assert_int_equal (stat (path, &st), 0);
        if ((st.st_mode & 0777) != 0600)
            fail_msg ("%s has mode %03o", files [i], st.st_mode & 0777);
    }
    //  The server log never holds a secret key.
    char *secret = th_sql (&s_server, "SELECT 1");
    free (secret);
    identity_t keys;
    char path [PATH_MAX + 64], err [256];
    snprintf (path, sizeof path, "%s/server.key", s_server.data);
    assert_int_equal (identity_load (&keys, path, 1, err, sizeof err), 0);
    FILE *log = fopen (s_server.log, "r");
    assert_non_null (log);
    char line [4096];
    while (fgets (line, sizeof line, log)) {
        assert_null (strstr (line, keys.secret_key));
        assert_null (strstr (line, s_server.admin.secret_key));
    }
    fclose (log);
    identity_wipe (&keys);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_unknown_key_refused_on_both_sockets),
        cmocka_unit_test (test_wrong_server_key_is_reported),
        cmocka_unit_test (test_importer_may_command_but_not_read_events),
        cmocka_unit_test (test_revoked_key_shut_out_within_one_second),
        cmocka_unit_test (test_revoked_by_hand_shut_out_within_one_second),
        cmocka_unit_test (test_each_role_denied_what_it_may_not_do),
        cmocka_unit_test (test_secret_files_are_private),
    };
    return cmocka_run_group_tests_name ("security", tests, s_setup, s_teardown);
}
