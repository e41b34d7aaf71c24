/*  The `recoup` client as a user meets it: keygen, user add/list/revoke,
    status, note, tail; --json output; exit statuses and messages for
    unreachable servers, refused keys, denied commands and bad usage.    */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#ifndef RECOUP_PATH
#error "RECOUP_PATH must be defined"
#endif

static th_server_t s_server;
static char s_admin [PATH_MAX + 64];   //  admin identity path

typedef struct {
    int status;                 //  exit status
    char out [65536];           //  stdout
    char err [8192];            //  stderr
} run_t;

static int
s_setup (void **state)
{
    (void) state;
    if (th_server_start (&s_server, "cli", NULL) != 0)
        return -1;
    snprintf (s_admin, sizeof s_admin, "%s/admin.identity", s_server.data);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    th_server_destroy (&s_server);
    return 0;
}

static void
s_slurp (const char *path, char *buf, size_t len)
{
    buf [0] = 0;
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    size_t n = fread (buf, 1, len - 1, file);
    buf [n] = 0;
    fclose (file);
}

//  Runs `recoup ARGS` through the shell (env assignments may precede
//  with `env`), capturing output and status.
static void
s_run (run_t *run, const char *format, ...)
{
    char args [4096], command [16384], out [PATH_MAX + 64], err [PATH_MAX + 64];
    va_list ap;
    va_start (ap, format);
    vsnprintf (args, sizeof args, format, ap);
    va_end (ap);
    snprintf (out, sizeof out, "%s/cli.out", s_server.dir);
    snprintf (err, sizeof err, "%s/cli.err", s_server.dir);
    int len = snprintf (command, sizeof command, "%s %s >%s 2>%s </dev/null",
                        RECOUP_PATH, args, out, err);
    assert_true (len > 0 && len < (int) sizeof command);
    int status = system (command);
    run->status = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
    s_slurp (out, run->out, sizeof run->out);
    s_slurp (err, run->err, sizeof run->err);
}

static void
test_status_json_contract (void **state)
{
    (void) state;
    run_t run;
    s_run (&run, "--identity '%s' status --json", s_admin);
    assert_int_equal (run.status, 0);
    const char *fields [] = { "\"server_version\":\"", "\"protocol_version\":1",
                              "\"seq\":", "\"user\":\"admin\"", "\"role\":\"admin\"" };
    for (size_t i = 0; i < 5; i++)
        if (!strstr (run.out, fields [i]))
            fail_msg ("status --json lacks %s: %s", fields [i], run.out);
    //  The environment variable works as well as the flag.
    const char *home = getenv ("HOME");
    char *saved_home = home ? strdup (home) : NULL;
    setenv ("HOME", s_server.dir, 1);
    unsetenv ("RECOUP_IDENTITY");
    s_run (&run, "status");
    if (saved_home)
        setenv ("HOME", saved_home, 1);
    free (saved_home);
    assert_int_equal (run.status, 2);                   //  no identity at all
    assert_non_null (strstr (run.err, "no identity"));
    char command [PATH_MAX + 64];
    snprintf (command, sizeof command, "status");
    setenv ("RECOUP_IDENTITY", s_admin, 1);
    s_run (&run, "%s", command);
    unsetenv ("RECOUP_IDENTITY");
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "admin (admin)"));
}

static void
test_keygen_user_lifecycle (void **state)
{
    (void) state;
    run_t run;
    char zoe [PATH_MAX + 64];
    snprintf (zoe, sizeof zoe, "%s/zoe.identity", s_server.dir);
    s_run (&run, "keygen --out '%s' --server-from '%s' --user zoe", zoe, s_admin);
    assert_int_equal (run.status, 0);
    char key [64];
    snprintf (key, sizeof key, "%.40s", run.out);
    assert_true (identity_key_valid (key));
    struct stat st;
    assert_int_equal (stat (zoe, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    //  The server's public details (no secret) are enough to start from.
    char details [PATH_MAX + 64], yan [PATH_MAX + 64];
    snprintf (details, sizeof details, "%s/server.identity", s_server.data);
    snprintf (yan, sizeof yan, "%s/yan.identity", s_server.dir);
    assert_int_equal (stat (details, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0644);
    char text [2048];
    s_slurp (details, text, sizeof text);
    assert_null (strstr (text, "secret_key"));
    s_run (&run, "keygen --out '%s' --server-from '%s' --json", yan, details);
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "{\"public_key\":\""));
    //  keygen never overwrites.
    s_run (&run, "keygen --out '%s' --server-from '%s'", zoe, s_admin);
    assert_int_equal (run.status, 2);
    assert_non_null (strstr (run.err, "already exists"));
    //  Not yet added: refused.
    s_run (&run, "--identity '%s' status", zoe);
    assert_int_equal (run.status, 3);
    assert_non_null (strstr (run.err, "refused this key"));

    s_run (&run, "--identity '%s' user add zoe --role sales --key '%s'", s_admin, key);
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "added zoe (sales)"));
    s_run (&run, "--identity '%s' status --json", zoe);
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "\"user\":\"zoe\",\"role\":\"sales\""));
    s_run (&run, "--identity '%s' user list --json", s_admin);
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "\"name\":\"zoe\",\"role\":\"sales\""));
    s_run (&run, "--identity '%s' user list", zoe);
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "zoe"));
    assert_non_null (strstr (run.out, "active"));

    //  Sales may not add users: exit 1 with the reason.
    s_run (&run, "--identity '%s' user add mallory --role admin --key '%s'", zoe, key);
    assert_int_equal (run.status, 1);
    assert_non_null (strstr (run.err, "permission denied"));
    //  Duplicate name: conflict.
    s_run (&run, "--identity '%s' user add zoe --role sales --key '%s'", s_admin,
           s_server.admin.public_key);
    assert_int_equal (run.status, 1);
    assert_non_null (strstr (run.err, "conflict"));

    s_run (&run, "--identity '%s' user revoke zoe", s_admin);
    assert_int_equal (run.status, 0);
    s_run (&run, "--identity '%s' status", zoe);
    assert_int_equal (run.status, 3);
    s_run (&run, "--identity '%s' user revoke zoe", s_admin);
    assert_int_equal (run.status, 1);
    assert_non_null (strstr (run.err, "already revoked"));
    s_run (&run, "--identity '%s' user revoke admin", s_admin);
    assert_int_equal (run.status, 1);
    assert_non_null (strstr (run.err, "last active admin"));
}

static void
test_bad_usage (void **state)
{
    (void) state;
    run_t run;
    s_run (&run, "frobnicate");
    assert_int_equal (run.status, 2);
    assert_non_null (strstr (run.err, "unknown command"));
    s_run (&run, "--identity '%s' user add onlyname", s_admin);
    assert_int_equal (run.status, 2);
    s_run (&run, "--identity '%s' user add x --role wizard --key k", s_admin);
    assert_int_equal (run.status, 2);
    assert_non_null (strstr (run.err, "unknown role 'wizard'"));
    s_run (&run, "--identity '%s' tail --from zero", s_admin);
    assert_int_equal (run.status, 2);
    s_run (&run, "--identity /nonexistent/identity status");
    assert_int_equal (run.status, 2);
    assert_non_null (strstr (run.err, "cannot open identity file"));
    s_run (&run, "--help");
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "usage: recoup"));
}

static void
test_unreachable_server (void **state)
{
    (void) state;
    //  The admin identity, pointed at a port nobody listens on.
    identity_t moved = s_server.admin;
    snprintf (moved.commands, sizeof moved.commands, "tcp://127.0.0.1:1");
    snprintf (moved.events, sizeof moved.events, "tcp://127.0.0.1:1");
    char path [PATH_MAX + 64], err [256];
    snprintf (path, sizeof path, "%s/moved.identity", s_server.dir);
    assert_int_equal (identity_save (&moved, path, 0, 0, err, sizeof err), 0);
    run_t run;
    s_run (&run, "--identity '%s' --timeout 1500 status", path);
    assert_int_equal (run.status, 3);
    assert_non_null (strstr (run.err, "cannot reach the server"));
    identity_wipe (&moved);
}

static void
test_note_and_tail (void **state)
{
    (void) state;
    run_t run;
    s_run (&run, "--identity '%s' note post --subject acme 'call Friday'", s_admin);
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "posted"));
    s_run (&run, "--identity '%s' tail --from 1 --count 3 --json", s_admin);
    assert_int_equal (run.status, 0);
    int lines = 0;
    for (char *line = strtok (run.out, "\n"); line; line = strtok (NULL, "\n")) {
        lines++;
        char expect [32];
        snprintf (expect, sizeof expect, "{\"seq\":%d,", lines);
        if (strncmp (line, expect, strlen (expect)) != 0)
            fail_msg ("line %d: %s", lines, line);
    }
    assert_int_equal (lines, 3);
    s_run (&run, "--identity '%s' tail --from 1 --count 1", s_admin);
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "#1 "));
    assert_non_null (strstr (run.out, "user.added"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_status_json_contract),
        cmocka_unit_test (test_keygen_user_lifecycle),
        cmocka_unit_test (test_bad_usage),
        cmocka_unit_test (test_unreachable_server),
        cmocka_unit_test (test_note_and_tail),
    };
    return cmocka_run_group_tests_name ("cli", tests, s_setup, s_teardown);
}
