/*  Idempotent commands: a request id seen before from the same user is
    answered with the stored reply and never executed twice, within one
    batch, later, and across a clean restart or a crash of recoupd.      */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "harness.h"

static th_server_t s_server;

static int
s_setup (void **state)
{
    (void) state;
    return th_server_start (&s_server, "idempotency", NULL);
}

static int
s_teardown (void **state)
{
    (void) state;
    th_server_destroy (&s_server);
    return 0;
}

//  Posts a note with a chosen request id as `who`.
static Recoup__Reply *
s_note (const identity_t *who, const char *request_id, const char *text)
{
    Recoup__NotePostRequest post = RECOUP__NOTE_POST_REQUEST__INIT;
    post.text = (char *) text;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.request_id = (char *) request_id;
    request.command_case = RECOUP__REQUEST__COMMAND_NOTE_POST;
    request.note_post = &post;
    client_status_t status;
    Recoup__Reply *reply = th_call (who, &request, &status);
    assert_non_null (reply);
    return reply;
}

//  Number of notes with this text, from the database.
static long
s_count_notes (const char *text)
{
    return th_sql_int (&s_server, "SELECT count(*) FROM notes WHERE text = '%s'", text);
}

static long
s_count_events (void)
{
    return th_sql_int (&s_server, "SELECT count(*) FROM events");
}

static void
test_retry_returns_stored_reply (void **state)
{
    (void) state;
    Recoup__Reply *first = s_note (&s_server.admin, "retry-1", "once only");
    assert_int_equal (first->result_case, RECOUP__REPLY__RESULT_NOTE_POST);
    assert_false (first->replayed);
    long events = s_count_events ();
    Recoup__Reply *second = s_note (&s_server.admin, "retry-1", "once only");
    assert_int_equal (second->result_case, RECOUP__REPLY__RESULT_NOTE_POST);
    assert_true (second->replayed);
    assert_int_equal (second->note_post->seq, first->note_post->seq);
    assert_int_equal (second->note_post->note->id, first->note_post->note->id);
    assert_int_equal (s_count_notes ("once only"), 1);
    assert_int_equal (s_count_events (), events);
    recoup__reply__free_unpacked (first, NULL);
    recoup__reply__free_unpacked (second, NULL);
}

static void
test_same_id_other_user_is_another_request (void **state)
{
    (void) state;
    identity_t dan;
    assert_int_equal (th_user_add (&s_server, "dan", RECOUP__ROLE__COLLECTOR, &dan), 0);
    Recoup__Reply *a = s_note (&s_server.admin, "shared-id", "from admin");
    Recoup__Reply *b = s_note (&dan, "shared-id", "from dan");
    assert_int_equal (a->result_case, RECOUP__REPLY__RESULT_NOTE_POST);
    assert_int_equal (b->result_case, RECOUP__REPLY__RESULT_NOTE_POST);
    assert_false (b->replayed);
    assert_int_not_equal (a->note_post->seq, b->note_post->seq);
    recoup__reply__free_unpacked (a, NULL);
    recoup__reply__free_unpacked (b, NULL);
}

static void
test_duplicates_in_one_batch_run_once (void **state)
{
    (void) state;
    //  Two copies sent back to back land in the same batch.
    Recoup__NotePostRequest post = RECOUP__NOTE_POST_REQUEST__INIT;
    post.text = "burst";
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.protocol_version = PROTOCOL_VERSION;
    request.request_id = "burst-1";
    request.command_case = RECOUP__REQUEST__COMMAND_NOTE_POST;
    request.note_post = &post;
    size_t len;
    uint8_t *packed = wire_pack (&request.base, &len);
    char err [256];
    client_t *client = client_new (th_ctx (), &s_server.admin, err, sizeof err);
    assert_non_null (client);
    void *dealer = client_socket (client);
    for (int i = 0; i < 5; i++)
        assert_int_equal (zmq_send (dealer, packed, len, 0), (int) len);
    uint64_t seq = 0;
    int replayed = 0;
    for (int i = 0; i < 5; i++) {
        zmq_pollitem_t item = { dealer, 0, ZMQ_POLLIN, 0 };
        assert_int_equal (zmq_poll (&item, 1, 10000), 1);
        uint8_t buf [4096];
        int n = zmq_recv (dealer, buf, sizeof buf, 0);
        assert_true (n > 0);
        Recoup__Reply *reply = recoup__reply__unpack (NULL, (size_t) n, buf);
        assert_non_null (reply);
        assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_NOTE_POST);
        if (seq == 0)
            seq = reply->note_post->seq;
        assert_int_equal (reply->note_post->seq, seq);
        replayed += reply->replayed;
        recoup__reply__free_unpacked (reply, NULL);
    }
    assert_int_equal (replayed, 4);
    assert_int_equal (s_count_notes ("burst"), 1);
    free (packed);
    client_destroy (&client);
}

static void
test_reused_id_for_another_request_is_a_conflict (void **state)
{
    (void) state;
    Recoup__Reply *first = s_note (&s_server.admin, "reused", "the original");
    assert_int_equal (first->result_case, RECOUP__REPLY__RESULT_NOTE_POST);
    Recoup__Reply *second = s_note (&s_server.admin, "reused", "something else");
    assert_int_equal (second->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (second->error->code, RECOUP__ERROR_CODE__CONFLICT);
    assert_string_equal (second->error->field, "request_id");
    assert_false (second->replayed);
    assert_int_equal (s_count_notes ("something else"), 0);
    recoup__reply__free_unpacked (first, NULL);
    recoup__reply__free_unpacked (second, NULL);
}

static void
test_refusals_are_stored_too (void **state)
{
    (void) state;
    Recoup__UserAddRequest add = RECOUP__USER_ADD_REQUEST__INIT;
    add.name = "Bad Name";
    add.role = RECOUP__ROLE__SALES;
    add.public_key = "x";
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.request_id = "bad-add";
    request.command_case = RECOUP__REQUEST__COMMAND_USER_ADD;
    request.user_add = &add;
    client_status_t status;
    Recoup__Reply *first = th_call (&s_server.admin, &request, &status);
    assert_non_null (first);
    assert_int_equal (first->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (first->error->code, RECOUP__ERROR_CODE__INVALID_ARGUMENT);
    assert_string_equal (first->error->field, "user_add.name");
    Recoup__Reply *second = th_call (&s_server.admin, &request, &status);
    assert_non_null (second);
    assert_true (second->replayed);
    assert_string_equal (second->error->message, first->error->message);
    recoup__reply__free_unpacked (first, NULL);
    recoup__reply__free_unpacked (second, NULL);
}

//  Sends a note, stops recoupd (cleanly or not), starts it again, and
//  retries the same request id.
static void
s_across_restart (int crash)
{
    const char *id = crash ? "before-crash" : "before-restart";
    const char *text = crash ? "survives a crash" : "survives a restart";
    Recoup__Reply *first = s_note (&s_server.admin, id, text);
    assert_int_equal (first->result_case, RECOUP__REPLY__RESULT_NOTE_POST);
    if (crash)
        th_server_kill (&s_server);
    else
        assert_int_equal (th_server_stop (&s_server), 0);
    assert_int_equal (th_server_restart (&s_server), 0);
    Recoup__Reply *second = s_note (&s_server.admin, id, text);
    assert_int_equal (second->result_case, RECOUP__REPLY__RESULT_NOTE_POST);
    assert_true (second->replayed);
    assert_int_equal (second->note_post->seq, first->note_post->seq);
    assert_int_equal (s_count_notes (text), 1);
    recoup__reply__free_unpacked (first, NULL);
    recoup__reply__free_unpacked (second, NULL);
}

static void
test_retry_after_restart_not_executed_twice (void **state)
{
    (void) state;
    s_across_restart (0);
}

static void
test_retry_after_crash_not_executed_twice (void **state)
{
    (void) state;
    s_across_restart (1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_retry_returns_stored_reply),
        cmocka_unit_test (test_same_id_other_user_is_another_request),
        cmocka_unit_test (test_duplicates_in_one_batch_run_once),
        cmocka_unit_test (test_reused_id_for_another_request_is_a_conflict),
        cmocka_unit_test (test_refusals_are_stored_too),
        cmocka_unit_test (test_retry_after_restart_not_executed_twice),
        cmocka_unit_test (test_retry_after_crash_not_executed_twice),
    };
    return cmocka_run_group_tests_name ("idempotency", tests, s_setup, s_teardown);
}
