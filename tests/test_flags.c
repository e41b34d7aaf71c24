/*  Sales flags against a real recoupd: flags raised by the real commands
    (a dispute opened, a promise recorded broken, a hold placed), raised
    once however often asked, addressed to the customer's rep (or to the
    collections lead when there is none); flag list as a rep and as a
    manager, the unacknowledged view; acknowledging (only the rep or a
    manager, once), notes; `account show --json` flags; roles; the
    client's output and exit codes.

    The server runs with RECOUP_TODAY=2026-03-01.                        */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define TODAY "2026-03-01"

static th_server_t s_server;
static identity_t s_sam;                //  sales, the rep of most customers
static identity_t s_sue;                //  sales, another rep
static identity_t s_cora;               //  collector
static identity_t s_mia;                //  manager
static identity_t s_ivan;               //  importer
static char s_sam_file [PATH_MAX + 32]; //  identity files for th_run
static char s_sue_file [PATH_MAX + 32];
static char s_cora_file [PATH_MAX + 32];
static char s_ivan_file [PATH_MAX + 32];

typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), NULL, __VA_ARGS__)
#define s_run_as(who, run, ...) th_run (&s_server, (run), (who), __VA_ARGS__)

#define expect_run(run, want, needle) s_expect_run (run, want, needle, __FILE__, __LINE__)

static void
s_expect_run (const run_t *run, int want, const char *needle, const char *file,
              int line)
{
    if (run->status != want
        || (needle && !strstr (run->out, needle) && !strstr (run->err, needle))) {
        print_error ("expected exit %d%s%s, got %d\nstdout: %s\nstderr: %s\n", want,
                     needle ? " with " : "", needle ? needle : "", run->status,
                     run->out, run->err);
        _fail (file, line);
    }
}

//  The first value of a query as a number.
static long long
s_sql_int (const char *format, ...)
{
    char sql [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (sql, sizeof sql, format, args);
    va_end (args);
    char *value = th_sql (&s_server, sql);
    assert_non_null (value);
    long long number = strtoll (value, NULL, 10);
    free (value);
    return number;
}

static long long
s_events (const char *kind)
{
    return s_sql_int ("SELECT count (*) FROM events WHERE kind = '%s'", kind);
}

//  The id of the flag of `kind` on customer `ref` (0: none).
static long long s_flag_id (const char *ref, const char *kind) __attribute__ ((unused));
static long long
s_flag_id (const char *ref, const char *kind)
{
    return s_sql_int ("SELECT coalesce (max (f.id), 0) FROM flags f JOIN customers c"
                      " ON c.id = f.customer_id WHERE c.ref = '%s' AND f.kind = '%s'",
                      ref, kind);
}

//  A customer (rep `rep`, "" for none) with one invoice of `amount` due
//  on `due`.
static void
s_customer (const char *ref, const char *rep, const char *number, const char *amount,
            const char *due)
{
    run_t run;
    s_run (&run, "customer add %s --name %s%s%s", ref, ref, *rep ? " --sales-rep " : "",
           rep);
    expect_run (&run, 0, NULL);
    s_run (&run, "invoice issue %s --customer %s --amount %s --issued 2026-01-01 "
                 "--due %s", number, ref, amount, due);
    expect_run (&run, 0, NULL);
}

static int
s_identity_file (const identity_t *who, const char *name, char *path, size_t len)
{
    snprintf (path, len, "%s/%s.identity", s_server.dir, name);
    char err [256];
    return identity_save (who, path, IDENTITY_FULL, 0, err, sizeof err);
}

static int
s_setup (void **state)
{
    (void) state;
    setenv ("RECOUP_TODAY", TODAY, 1);
    if (th_server_start (&s_server, "flags", NULL) != 0)
        return -1;
    if (th_user_add (&s_server, "sam", RECOUP__ROLE__SALES, &s_sam) != 0
        || th_user_add (&s_server, "sue", RECOUP__ROLE__SALES, &s_sue) != 0
        || th_user_add (&s_server, "cora", RECOUP__ROLE__COLLECTOR, &s_cora) != 0
        || th_user_add (&s_server, "mia", RECOUP__ROLE__MANAGER, &s_mia) != 0
        || th_user_add (&s_server, "ivan", RECOUP__ROLE__IMPORTER, &s_ivan) != 0)
        return -1;
    if (s_identity_file (&s_sam, "sam", s_sam_file, sizeof s_sam_file) != 0
        || s_identity_file (&s_sue, "sue", s_sue_file, sizeof s_sue_file) != 0
        || s_identity_file (&s_cora, "cora", s_cora_file, sizeof s_cora_file) != 0
        || s_identity_file (&s_ivan, "ivan", s_ivan_file, sizeof s_ivan_file) != 0)
        return -1;
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    th_server_destroy (&s_server);
    return 0;
}

//  A dispute raises a dispute flag for the rep, about the invoice, once.
static void
test_raise_dispute (void **state)
{
    (void) state;
    run_t run;
    long long raised = s_events ("flag.raised");
    s_customer ("disp-co", "sam", "FD-1", "100.00", "2026-02-01");
    s_run (&run, "dispute open FD-1 --reason 'goods damaged'");
    expect_run (&run, 0, NULL);
    assert_int_equal (s_events ("flag.raised"), raised + 1);
    assert_int_equal (s_sql_int ("SELECT count (*) FROM flags f JOIN customers c ON"
                                 " c.id = f.customer_id WHERE c.ref = 'disp-co' AND"
                                 " f.kind = 'dispute' AND f.subject = 'FD-1' AND"
                                 " f.rep = 'sam' AND f.raised_on = '" TODAY "' AND"
                                 " f.text LIKE '%%goods damaged%%'"), 1);
    //  Resolved and disputed again: the same flag, not a second one.
    s_run (&run, "dispute resolve %lld --outcome customer_wrong",
           s_sql_int ("SELECT max (id) FROM disputes"));
    expect_run (&run, 0, NULL);
    s_run (&run, "dispute open FD-1 --reason 'still damaged'");
    expect_run (&run, 0, NULL);
    assert_int_equal (s_events ("flag.raised"), raised + 1);
    assert_int_equal (s_sql_int ("SELECT count (*) FROM flags f JOIN customers c ON"
                                 " c.id = f.customer_id WHERE c.ref = 'disp-co'"), 1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_raise_dispute),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
