/*  recoupd's life cycle: the embedded PostgreSQL as root (run as an
    unprivileged user) and as a normal user; db.conninfo reaches it;
    migrations run once and a newer schema is refused; one writer per
    database; clean shutdown stops everything.                           */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

//  Counts lines of the server log containing `text`.
static int
s_log_count (th_server_t *server, const char *text)
{
    FILE *file = fopen (server->log, "r");
    if (!file)
        return 0;
    char line [4096];
    int count = 0;
    while (fgets (line, sizeof line, file))
        count += strstr (line, text) != NULL;
    fclose (file);
    return count;
}

//  Starts, checks the embedded database works, stops cleanly.
static void
s_start_and_check (th_server_t *server, const char *name, uid_t run_as)
{
    memset (server, 0, sizeof *server);
    server->run_as = run_as;
    assert_int_equal (th_server_start (server, name, NULL), 0);
    assert_true (th_note (&server->admin, "hello") > 0);
    //  db.conninfo reaches the embedded database.
    char *users = th_sql (server, "SELECT string_agg(name, ',') FROM users");
    assert_non_null (users);
    assert_string_equal (users, "admin");
    free (users);
    char path [PATH_MAX + 64];
    struct stat st;
    snprintf (path, sizeof path, "%s/pg/PG_VERSION", server->data);
    assert_int_equal (stat (path, &st), 0);
    if (geteuid () == 0 && run_as == 0)
        assert_int_not_equal (st.st_uid, 0);   //  never run as root
    else if (run_as)
        assert_int_equal (st.st_uid, run_as);
}

static void
test_embedded_database_as_root (void **state)
{
    (void) state;
    if (geteuid () != 0) {
        print_message ("not root: the root case is covered when the suite runs as root\n");
        skip ();
    }
    th_server_t server;
    s_start_and_check (&server, "asroot", 0);
    th_server_destroy (&server);
}

static void
test_embedded_database_as_normal_user (void **state)
{
    (void) state;
    uid_t uid = 0;
    if (geteuid () == 0) {
        struct passwd *pw = getpwnam ("nobody");
        assert_non_null (pw);
        uid = pw->pw_uid;
    }
    th_server_t server;
    s_start_and_check (&server, "asuser", uid);
    th_server_destroy (&server);
}

static void
test_migrations_once_and_newer_schema_refused (void **state)
{
    (void) state;
    th_server_t server;
    memset (&server, 0, sizeof server);
    assert_int_equal (th_server_start (&server, "schema", NULL), 0);
    int applied = s_log_count (&server, "migration applied");
    assert_true (applied >= 2);
    assert_int_equal (th_server_stop (&server), 0);
    assert_int_equal (th_server_restart (&server), 0);
    //  Every migration once, on the first start only.
    assert_int_equal (s_log_count (&server, "migration applied"), applied);
    //  A schema from the future: recoupd refuses to run on it.
    char *done = th_sql (&server, "INSERT INTO schema_version (version, name) "
                                  "VALUES (9999, '9999_future')");
    assert_non_null (done);
    free (done);
    assert_int_equal (th_server_stop (&server), 0);
    assert_int_equal (th_server_restart (&server), -1);
    assert_int_equal (s_log_count (&server, "this recoupd knows only up to"), 1);
    th_server_destroy (&server);
}

static void
test_one_writer_per_database (void **state)
{
    (void) state;
    th_server_t first, second;
    memset (&first, 0, sizeof first);
    memset (&second, 0, sizeof second);
    assert_int_equal (th_server_start (&first, "writer1", NULL), 0);
    char path [PATH_MAX + 64], conninfo [PATH_MAX + 256] = "";
    snprintf (path, sizeof path, "%s/db.conninfo", first.data);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    assert_non_null (fgets (conninfo, sizeof conninfo, file));
    fclose (file);
    conninfo [strcspn (conninfo, "\n")] = 0;
    assert_int_equal (th_server_start (&second, "writer2", conninfo), -1);
    assert_int_equal (s_log_count (&second, "another recoupd is already serving"), 1);
    th_server_destroy (&second);
    th_server_destroy (&first);
}

static void
test_clean_shutdown (void **state)
{
    (void) state;
    th_server_t server;
    memset (&server, 0, sizeof server);
    assert_int_equal (th_server_start (&server, "shutdown", NULL), 0);
    char ready [PATH_MAX + 64], pidfile [PATH_MAX + 64];
    snprintf (ready, sizeof ready, "%s/ready", server.data);
    snprintf (pidfile, sizeof pidfile, "%s/pg/postmaster.pid", server.data);
    assert_int_equal (access (ready, F_OK), 0);
    assert_int_equal (access (pidfile, F_OK), 0);
    assert_int_equal (th_server_stop (&server), 0);
    assert_int_not_equal (access (ready, F_OK), 0);
    assert_int_not_equal (access (pidfile, F_OK), 0);  //  PostgreSQL stopped too
    assert_int_equal (s_log_count (&server, "msg=stopped"), 1);
    th_server_destroy (&server);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_embedded_database_as_root),
        cmocka_unit_test (test_embedded_database_as_normal_user),
        cmocka_unit_test (test_migrations_once_and_newer_schema_refused),
        cmocka_unit_test (test_one_writer_per_database),
        cmocka_unit_test (test_clean_shutdown),
    };
    return cmocka_run_group_tests_name ("embedded", tests, NULL, NULL);
}
