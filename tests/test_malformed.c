/*  Bad input on the command socket: garbage, missing or unknown
    commands, wrong protocol versions, bad request ids, invalid text,
    oversized messages, odd framing. Each gets a clear error (or the
    connection is dropped) and the server carries on, half-writing
    nothing.                                                             */
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
static client_t *s_client;

static int
s_setup (void **state)
{
    (void) state;
    if (th_server_start (&s_server, "malformed", NULL) != 0)
        return -1;
    char err [256];
    s_client = client_new (th_ctx (), &s_server.admin, err, sizeof err);
    return s_client ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void) state;
    client_destroy (&s_client);
    th_server_destroy (&s_server);
    return 0;
}

//  Sends raw bytes as one frame; returns the reply, or NULL if none came
//  within ms.
static Recoup__Reply *
s_raw (const void *data, size_t len, int ms)
{
    void *dealer = client_socket (s_client);
    assert_int_equal (zmq_send (dealer, data, len, 0), (int) len);
    zmq_pollitem_t item = { dealer, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, ms) != 1)
        return NULL;
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    zmq_msg_recv (&msg, dealer, 0);
    Recoup__Reply *reply = recoup__reply__unpack (NULL, zmq_msg_size (&msg),
                                                  zmq_msg_data (&msg));
    zmq_msg_close (&msg);
    assert_non_null (reply);
    return reply;
}

//  Expects an error reply with code (and field, when not NULL).
static void
s_expect_error (Recoup__Reply *reply, Recoup__ErrorCode code, const char *field)
{
    assert_non_null (reply);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    if (reply->error->code != code)
        fail_msg ("expected %s, got %s: %s", wire_error_name (code),
                  wire_error_name (reply->error->code), reply->error->message);
    if (field)
        assert_string_equal (reply->error->field, field);
    assert_true (strlen (reply->error->message) > 0);
    recoup__reply__free_unpacked (reply, NULL);
}

//  Packs a request and sends it raw.
static Recoup__Reply *
s_send_request (Recoup__Request *request)
{
    size_t len;
    uint8_t *packed = wire_pack (&request->base, &len);
    Recoup__Reply *reply = s_raw (packed, len, 5000);
    free (packed);
    return reply;
}

//  The server still answers, correctly.
static void
s_assert_alive (void)
{
    Recoup__StatusRequest body = RECOUP__STATUS_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
    request.status = &body;
    client_status_t status;
    Recoup__Reply *reply = th_call (&s_server.admin, &request, &status);
    assert_non_null (reply);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_STATUS);
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_garbage_gets_bad_request (void **state)
{
    (void) state;
    const char garbage [] = "\xff\xff\xff\xff\x0f this is not protobuf";
    s_expect_error (s_raw (garbage, sizeof garbage, 5000),
                    RECOUP__ERROR_CODE__BAD_REQUEST, NULL);
    //  An empty message is an empty Request: no protocol version.
    s_expect_error (s_raw ("", 0, 5000), RECOUP__ERROR_CODE__UNSUPPORTED_VERSION,
                    "protocol_version");
    s_assert_alive ();
}

static void
test_missing_and_unknown_commands (void **state)
{
    (void) state;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.protocol_version = 1;
    request.request_id = "no-command";
    s_expect_error (s_send_request (&request), RECOUP__ERROR_CODE__BAD_REQUEST,
                    "command");
    //  A command from a newer protocol: field 99, length-delimited.
    size_t len;
    request.request_id = "from-the-future";
    uint8_t *packed = wire_pack (&request.base, &len);
    uint8_t *longer = malloc (len + 4);
    memcpy (longer, packed, len);
    longer [len] = (uint8_t) (((99 << 3 | 2) & 0x7f) | 0x80);
    longer [len + 1] = 99 >> 4;
    longer [len + 2] = 1;
    longer [len + 3] = 0;
    s_expect_error (s_raw (longer, len + 4, 5000),
                    RECOUP__ERROR_CODE__UNKNOWN_COMMAND, "command");
    free (packed);
    free (longer);
    s_assert_alive ();
}

static void
test_wrong_protocol_version (void **state)
{
    (void) state;
    Recoup__StatusRequest body = RECOUP__STATUS_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
    request.status = &body;
    request.request_id = "v2";
    request.protocol_version = 2;
    s_expect_error (s_send_request (&request), RECOUP__ERROR_CODE__UNSUPPORTED_VERSION,
                    "protocol_version");
    request.protocol_version = 0;
    s_expect_error (s_send_request (&request), RECOUP__ERROR_CODE__UNSUPPORTED_VERSION,
                    "protocol_version");
}

static void
test_bad_request_ids (void **state)
{
    (void) state;
    Recoup__StatusRequest body = RECOUP__STATUS_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.protocol_version = 1;
    request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
    request.status = &body;
    const char *bad [] = {
        "", "has space",
        "0123456789012345678901234567890123456789012345678901234567890123456789",
    };
    for (size_t i = 0; i < 3; i++) {
        request.request_id = (char *) bad [i];
        s_expect_error (s_send_request (&request), RECOUP__ERROR_CODE__BAD_REQUEST,
                        "request_id");
    }
}

static void
test_invalid_arguments_name_their_field (void **state)
{
    (void) state;
    char *before = th_sql (&s_server, "SELECT count(*) FROM notes");
    Recoup__NotePostRequest post = RECOUP__NOTE_POST_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.protocol_version = 1;
    request.command_case = RECOUP__REQUEST__COMMAND_NOTE_POST;
    request.note_post = &post;
    post.text = "";
    request.request_id = "empty-note";
    s_expect_error (s_send_request (&request), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                    "note_post.text");
    post.text = "bad \xc3\x28 utf-8";
    request.request_id = "bad-utf8";
    s_expect_error (s_send_request (&request), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                    "note_post.text");
    char *huge = malloc (4002);
    memset (huge, 'a', 4001);
    huge [4001] = 0;
    post.text = huge;
    request.request_id = "long-note";
    s_expect_error (s_send_request (&request), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                    "note_post.text");
    free (huge);
    post.text = "fine";
    post.subject = "\xff";
    request.request_id = "bad-subject";
    s_expect_error (s_send_request (&request), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                    "note_post.subject");
    //  Any string field, of any command, is checked.
    Recoup__UserRevokeRequest revoke = RECOUP__USER_REVOKE_REQUEST__INIT;
    revoke.name = "\xc3";
    request.command_case = RECOUP__REQUEST__COMMAND_USER_REVOKE;
    request.user_revoke = &revoke;
    request.request_id = "bad-revoke";
    s_expect_error (s_send_request (&request), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                    "user_revoke.name");
    Recoup__UserAddRequest add = RECOUP__USER_ADD_REQUEST__INIT;
    add.name = "eve";
    add.role = (Recoup__Role) 42;
    add.public_key = s_server.admin.public_key;
    request.command_case = RECOUP__REQUEST__COMMAND_USER_ADD;
    request.user_add = &add;
    request.request_id = "bad-role";
    s_expect_error (s_send_request (&request), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                    "user_add.role");
    add.role = RECOUP__ROLE__SALES;
    request.request_id = "key-taken";
    s_expect_error (s_send_request (&request), RECOUP__ERROR_CODE__CONFLICT,
                    "user_add.public_key");
    //  Nothing was written by any of them.
    char *after = th_sql (&s_server, "SELECT count(*) FROM notes");
    assert_string_equal (before, after);
    free (before);
    free (after);
}

static void
test_oversized_requests (void **state)
{
    (void) state;
    //  Above the request limit: a TOO_LARGE reply.
    size_t size = WIRE_MAX_REQUEST + 1000;
    uint8_t *big = calloc (1, size);
    s_expect_error (s_raw (big, size, 10000), RECOUP__ERROR_CODE__TOO_LARGE, NULL);
    //  Above the socket's limit: libzmq drops the connection. No reply,
    //  and the server carries on.
    free (big);
    size = WIRE_MAX_FRAME + 1000;
    big = calloc (1, size);
    assert_null (s_raw (big, size, 2000));
    free (big);
    s_assert_alive ();
}

static void
test_odd_framing_is_dropped (void **state)
{
    (void) state;
    void *dealer = client_socket (s_client);
    //  Three frames of payload: no reply.
    zmq_send (dealer, "a", 1, ZMQ_SNDMORE);
    zmq_send (dealer, "b", 1, ZMQ_SNDMORE);
    zmq_send (dealer, "c", 1, 0);
    zmq_pollitem_t item = { dealer, 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, 1000), 0);
    s_assert_alive ();
}

static void
test_req_socket_with_delimiter_works (void **state)
{
    (void) state;
    void *req = zmq_socket (th_ctx (), ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt (req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (req, ZMQ_CURVE_SERVERKEY, s_server.admin.server_public, 40);
    zmq_setsockopt (req, ZMQ_CURVE_PUBLICKEY, s_server.admin.public_key, 40);
    zmq_setsockopt (req, ZMQ_CURVE_SECRETKEY, s_server.admin.secret_key, 40);
    assert_int_equal (zmq_connect (req, s_server.commands), 0);
    Recoup__StatusRequest body = RECOUP__STATUS_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.protocol_version = 1;
    request.request_id = "from-req";
    request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
    request.status = &body;
    size_t len;
    uint8_t *packed = wire_pack (&request.base, &len);
    assert_int_equal (zmq_send (req, packed, len, 0), (int) len);
    free (packed);
    zmq_pollitem_t item = { req, 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, 5000), 1);
    uint8_t buf [1024];
    int n = zmq_recv (req, buf, sizeof buf, 0);
    Recoup__Reply *reply = recoup__reply__unpack (NULL, (size_t) n, buf);
    assert_non_null (reply);
    assert_string_equal (reply->request_id, "from-req");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_STATUS);
    recoup__reply__free_unpacked (reply, NULL);
    zmq_close (req);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_garbage_gets_bad_request),
        cmocka_unit_test (test_missing_and_unknown_commands),
        cmocka_unit_test (test_wrong_protocol_version),
        cmocka_unit_test (test_bad_request_ids),
        cmocka_unit_test (test_invalid_arguments_name_their_field),
        cmocka_unit_test (test_oversized_requests),
        cmocka_unit_test (test_odd_framing_is_dropped),
        cmocka_unit_test (test_req_socket_with_delimiter_works),
    };
    return cmocka_run_group_tests_name ("malformed", tests, s_setup, s_teardown);
}
