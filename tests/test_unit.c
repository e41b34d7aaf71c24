/*  Unit tests for the pieces that need no server: wire helpers, UTF-8,
    identity files, JSON output, the arena, the migration list.          */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "db.h"
#include "identity.h"
#include "json.h"
#include "wire.h"

static void
test_roles (void **state)
{
    (void) state;
    assert_int_equal (wire_role_parse ("admin"), RECOUP__ROLE__ADMIN);
    assert_int_equal (wire_role_parse ("importer"), RECOUP__ROLE__IMPORTER);
    assert_int_equal (wire_role_parse ("Admin"), RECOUP__ROLE__ROLE_UNSPECIFIED);
    assert_int_equal (wire_role_parse ("unspecified"), RECOUP__ROLE__ROLE_UNSPECIFIED);
    assert_int_equal (wire_role_parse (NULL), RECOUP__ROLE__ROLE_UNSPECIFIED);
    assert_string_equal (wire_role_name (RECOUP__ROLE__SALES), "sales");
    assert_string_equal (wire_role_name ((Recoup__Role) 99), "unspecified");
    assert_string_equal (wire_error_name (RECOUP__ERROR_CODE__PERMISSION_DENIED),
                         "PERMISSION_DENIED");
}

static void
test_request_ids (void **state)
{
    (void) state;
    char a [33], b [33];
    wire_request_id (a);
    wire_request_id (b);
    assert_int_equal (strlen (a), 32);
    assert_string_not_equal (a, b);
    assert_true (wire_request_id_valid (a));
    assert_false (wire_request_id_valid (""));
    assert_false (wire_request_id_valid (NULL));
    assert_false (wire_request_id_valid ("has space"));
    assert_false (wire_request_id_valid ("tab\there"));
    char long_id [66];
    memset (long_id, 'x', 65);
    long_id [65] = 0;
    assert_false (wire_request_id_valid (long_id));
    long_id [64] = 0;
    assert_true (wire_request_id_valid (long_id));
}

static void
test_utf8 (void **state)
{
    (void) state;
    size_t chars;
    assert_true (wire_utf8_valid ("plain", &chars));
    assert_int_equal (chars, 5);
    assert_true (wire_utf8_valid ("Gr\xc3\xbc\xc3\x9f" "e", &chars));   //  Grüße
    assert_int_equal (chars, 5);
    assert_true (wire_utf8_valid ("\xe6\x97\xa5\xe6\x9c\xac", &chars)); //  日本
    assert_int_equal (chars, 2);
    assert_true (wire_utf8_valid ("\xf0\x9f\x92\xb0", &chars));         //  U+1F4B0
    assert_int_equal (chars, 1);
    assert_false (wire_utf8_valid ("\xc0\xaf", NULL));          //  overlong
    assert_false (wire_utf8_valid ("\xed\xa0\x80", NULL));      //  surrogate
    assert_false (wire_utf8_valid ("\xff", NULL));
    assert_false (wire_utf8_valid ("abc\xe6\x97", NULL));       //  truncated
    assert_false (wire_utf8_valid ("\xf4\x90\x80\x80", NULL));  //  > U+10FFFF
}

static void
test_time_format (void **state)
{
    (void) state;
    char buf [40];
    assert_string_equal (wire_format_time (0, buf, sizeof buf),
                         "1970-01-01T00:00:00.000Z");
    assert_string_equal (wire_format_time (1795334744072907LL, buf, sizeof buf),
                         "2026-11-22T08:05:44.072Z");
}

//  A temp file path for identity tests.
static void
s_temp_path (char *path, size_t len)
{
    snprintf (path, len, "/tmp/recoup-unit-%d-XXXXXX", (int) getpid ());
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    close (fd);
    unlink (path);
}

static void
test_identity_round_trip (void **state)
{
    (void) state;
    identity_t out, in;
    memset (&out, 0, sizeof out);
    assert_int_equal (identity_generate (&out), 0);
    snprintf (out.user, sizeof out.user, "alice");
    snprintf (out.commands, sizeof out.commands, "tcp://127.0.0.1:7650");
    snprintf (out.events, sizeof out.events, "tcp://127.0.0.1:7651");
    identity_t server;
    identity_generate (&server);
    memcpy (out.server_public, server.public_key, 41);
    char path [128], err [256];
    s_temp_path (path, sizeof path);
    assert_int_equal (identity_save (&out, path, 0, 1, err, sizeof err), 0);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    //  Exclusive save refuses to replace.
    assert_int_equal (identity_save (&out, path, 0, 1, err, sizeof err), -1);
    assert_non_null (strstr (err, "already exists"));
    assert_int_equal (identity_load (&in, path, 0, err, sizeof err), 0);
    assert_string_equal (in.user, "alice");
    assert_string_equal (in.public_key, out.public_key);
    assert_string_equal (in.secret_key, out.secret_key);
    assert_string_equal (in.server_public, server.public_key);
    //  Readable by others: refused.
    chmod (path, 0644);
    assert_int_equal (identity_load (&in, path, 0, err, sizeof err), -1);
    assert_non_null (strstr (err, "readable by others"));
    unlink (path);
    identity_wipe (&out);
    identity_wipe (&in);
}

//  Writes text to a new 0600 file and tries to load it as an identity.
static int
s_load_text (const char *text, char *err, size_t errlen)
{
    char path [128];
    s_temp_path (path, sizeof path);
    FILE *file = fopen (path, "w");
    fputs (text, file);
    fclose (file);
    chmod (path, 0600);
    identity_t id;
    int rc = identity_load (&id, path, 0, err, errlen);
    unlink (path);
    return rc;
}

static void
test_identity_errors (void **state)
{
    (void) state;
    identity_t a, b;
    identity_generate (&a);
    identity_generate (&b);
    char text [1024], err [512];
    //  Mismatched public and secret key.
    snprintf (text, sizeof text,
              "commands = tcp://x:1\nevents = tcp://x:2\nserver_public_key = %s\n"
              "public_key = %s\nsecret_key = %s\n", a.public_key, a.public_key,
              b.secret_key);
    assert_int_equal (s_load_text (text, err, sizeof err), -1);
    assert_non_null (strstr (err, "does not match"));
    //  Unknown key, with its line number.
    snprintf (text, sizeof text, "# comment\ncolour = blue\n");
    assert_int_equal (s_load_text (text, err, sizeof err), -1);
    assert_non_null (strstr (err, ":2: unknown key 'colour'"));
    //  Bad Z85.
    snprintf (text, sizeof text, "public_key = short\n");
    assert_int_equal (s_load_text (text, err, sizeof err), -1);
    assert_non_null (strstr (err, "invalid value for 'public_key'"));
    //  Missing endpoint.
    snprintf (text, sizeof text, "server_public_key = %s\npublic_key = %s\n"
              "secret_key = %s\n", a.public_key, a.public_key, a.secret_key);
    assert_int_equal (s_load_text (text, err, sizeof err), -1);
    assert_non_null (strstr (err, "missing 'commands'"));
    //  Server details alone are enough for IDENTITY_SERVER (keygen's
    //  --server-from), and such a file may be world-readable.
    char path [128];
    s_temp_path (path, sizeof path);
    FILE *file = fopen (path, "w");
    fprintf (file, "commands = tcp://x:1\nevents = tcp://x:2\n"
                   "server_public_key = %s\n", a.public_key);
    fclose (file);
    chmod (path, 0644);
    identity_t server_only;
    assert_int_equal (identity_load (&server_only, path, IDENTITY_SERVER, err, sizeof err), 0);
    assert_string_equal (server_only.server_public, a.public_key);
    assert_int_equal (identity_load (&server_only, path, IDENTITY_FULL, err, sizeof err), -1);
    assert_non_null (strstr (err, "missing 'public_key'"));
    unlink (path);
    //  Missing file.
    identity_t id;
    assert_int_equal (identity_load (&id, "/nonexistent/x", 0, err, sizeof err), -1);
    assert_non_null (strstr (err, "cannot open"));
    assert_false (identity_key_valid ("0123456789012345678901234567890123456789x"));
    assert_true (identity_key_valid (a.public_key));
}

static void
test_json (void **state)
{
    (void) state;
    strbuf_t out;
    strbuf_init (&out);
    json_string (&out, "a\"b\\c\n\x01");
    assert_string_equal (out.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    strbuf_reset (&out);
    Recoup__User user = RECOUP__USER__INIT;
    user.name = "alice";
    user.role = RECOUP__ROLE__COLLECTOR;
    user.public_key = "k";
    user.active = 1;
    Recoup__UserListReply list = RECOUP__USER_LIST_REPLY__INIT;
    Recoup__User *users [] = { &user, &user };
    list.users = users;
    list.n_users = 2;
    json_message (&out, &list.base);
    assert_string_equal (out.data,
        "{\"users\":[{\"name\":\"alice\",\"role\":\"collector\",\"public_key\":\"k\","
        "\"active\":true,\"created_us\":0,\"revoked_us\":0},{\"name\":\"alice\","
        "\"role\":\"collector\",\"public_key\":\"k\",\"active\":true,"
        "\"created_us\":0,\"revoked_us\":0}]}");
    //  A oneof shows only its set member.
    strbuf_reset (&out);
    Recoup__Reply reply = RECOUP__REPLY__INIT;
    Recoup__Error error = RECOUP__ERROR__INIT;
    error.code = RECOUP__ERROR_CODE__CONFLICT;
    error.message = "taken";
    reply.result_case = RECOUP__REPLY__RESULT_ERROR;
    reply.error = &error;
    reply.request_id = "r1";
    json_message (&out, &reply.base);
    assert_string_equal (out.data,
        "{\"protocol_version\":0,\"request_id\":\"r1\",\"replayed\":false,"
        "\"error\":{\"code\":\"conflict\",\"message\":\"taken\",\"field\":\"\"}}");
    strbuf_free (&out);
}

static void
test_arena (void **state)
{
    (void) state;
    arena_t *arena = arena_new ();
    assert_non_null (arena);
    char *a = arena_strdup (arena, "hello");
    char *big = arena_alloc (arena, 200 * 1024);     //  larger than a block
    memset (big, 'x', 200 * 1024);
    char *b = arena_printf (arena, "%d-%s", 42, "x");
    assert_string_equal (a, "hello");
    assert_string_equal (b, "42-x");
    assert_int_equal ((uintptr_t) arena_alloc (arena, 3) % 16, 0);
    arena_reset (arena);
    char *c = arena_strdup (arena, NULL);
    assert_string_equal (c, "");
    arena_destroy (&arena);
    assert_null (arena);
    arena_destroy (&arena);     //  safe twice
}

static void
test_migrations_ordered (void **state)
{
    (void) state;
    assert_true (db_migrations_count >= 1);
    for (size_t i = 1; i < db_migrations_count; i++)
        assert_true (db_migrations [i].version > db_migrations [i - 1].version);
    assert_non_null (strstr (db_migrations [0].sql, "CREATE TABLE events"));
}

static void
test_pack_unpack_limits (void **state)
{
    (void) state;
    //  A truncated request does not parse.
    Recoup__Request request = RECOUP__REQUEST__INIT;
    Recoup__NotePostRequest post = RECOUP__NOTE_POST_REQUEST__INIT;
    post.text = "hello";
    request.protocol_version = 1;
    request.request_id = "abc";
    request.command_case = RECOUP__REQUEST__COMMAND_NOTE_POST;
    request.note_post = &post;
    size_t len;
    uint8_t *packed = wire_pack (&request.base, &len);
    Recoup__Request *back = recoup__request__unpack (NULL, len, packed);
    assert_non_null (back);
    assert_int_equal (back->command_case, RECOUP__REQUEST__COMMAND_NOTE_POST);
    recoup__request__free_unpacked (back, NULL);
    assert_null (recoup__request__unpack (NULL, len - 2, packed));
    free (packed);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_roles),
        cmocka_unit_test (test_request_ids),
        cmocka_unit_test (test_utf8),
        cmocka_unit_test (test_time_format),
        cmocka_unit_test (test_identity_round_trip),
        cmocka_unit_test (test_identity_errors),
        cmocka_unit_test (test_json),
        cmocka_unit_test (test_arena),
        cmocka_unit_test (test_migrations_ordered),
        cmocka_unit_test (test_pack_unpack_limits),
    };
    return cmocka_run_group_tests_name ("unit", tests, NULL, NULL);
}
