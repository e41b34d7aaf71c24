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
static char s_mia_file [PATH_MAX + 32];

typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), NULL, __VA_ARGS__)
#define s_run_as(who, run, ...) th_run (&s_server, (run), (who), __VA_ARGS__)

//  The id of the flag of `kind` on customer `ref` (0: none).
static long long
s_flag_id (const char *ref, const char *kind)
{
    return th_sql_int (&s_server,
                       "SELECT coalesce (max (f.id), 0) FROM flags f JOIN customers c"
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
    th_expect_run (&run, 0, NULL);
    s_run (&run, "invoice issue %s --customer %s --amount %s --issued 2026-01-01 "
                 "--due %s", number, ref, amount, due);
    th_expect_run (&run, 0, NULL);
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
    if (th_identity_file (&s_server, &s_sam, "sam", s_sam_file, sizeof s_sam_file) != 0
        || th_identity_file (&s_server, &s_sue, "sue", s_sue_file, sizeof s_sue_file) != 0
        || th_identity_file (&s_server,
                             &s_cora, "cora", s_cora_file, sizeof s_cora_file) != 0
        || th_identity_file (&s_server,
                             &s_ivan, "ivan", s_ivan_file, sizeof s_ivan_file) != 0
        || th_identity_file (&s_server, &s_mia, "mia", s_mia_file, sizeof s_mia_file) != 0)
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
    long long raised = th_events (&s_server, "flag.raised");
    s_customer ("disp-co", "sam", "FD-1", "100.00", "2026-02-01");
    s_run (&run, "dispute open FD-1 --reason 'goods damaged'");
    th_expect_run (&run, 0, NULL);
    assert_int_equal (th_events (&s_server, "flag.raised"), raised + 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM flags f JOIN customers c ON"
                                  " c.id = f.customer_id WHERE c.ref = 'disp-co' AND"
                                  " f.kind = 'dispute' AND f.subject = 'FD-1' AND"
                                  " f.rep = 'sam' AND f.raised_on = '" TODAY "' AND"
                                  " f.text LIKE '%%goods damaged%%'"), 1);
    //  Resolved and disputed again: the same flag, not a second one.
    s_run (&run, "dispute resolve %lld --outcome customer_wrong",
           th_sql_int (&s_server, "SELECT max (id) FROM disputes"));
    th_expect_run (&run, 0, NULL);
    s_run (&run, "dispute open FD-1 --reason 'still damaged'");
    th_expect_run (&run, 0, NULL);
    assert_int_equal (th_events (&s_server, "flag.raised"), raised + 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM flags f JOIN customers c ON"
                                  " c.id = f.customer_id WHERE c.ref = 'disp-co'"), 1);
}

//  A promise recorded broken and a plan recorded broken raise flags
//  about them, once.
static void
test_raise_broken (void **state)
{
    (void) state;
    run_t run;
    s_customer ("prom-co", "sam", "FP-1", "200.00", "2026-01-20");
    long long raised = th_events (&s_server, "flag.raised");
    //  Made 1 Feb for 10 Feb: broken (3 grace days) long before today.
    s_run (&run, "promise add prom-co --amount 50.00 --by 2026-02-10 --made-on 2026-02-01");
    th_expect_run (&run, 0, "broken");
    long long promise = th_sql_int (&s_server, "SELECT max (id) FROM promises");
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM flags WHERE kind = 'broken_promise'"
                                  " AND subject = '%lld' AND rep = 'sam'", promise), 1);
    //  Evaluation runs again with every write of accounts: no new flag.
    s_run (&run, "account reason prom-co avoiding");
    th_expect_run (&run, 0, NULL);
    assert_int_equal (th_events (&s_server, "flag.raised"), raised + 1);
    s_customer ("plan-co", "sam", "FL-1", "300.00", "2026-01-10");
    s_run (&run, "plan add plan-co --start 2026-01-15 --instalment 2026-01-20=100.00 "
                 "--instalment 2026-03-20=200.00");
    th_expect_run (&run, 0, "broken");
    long long plan = th_sql_int (&s_server, "SELECT max (id) FROM plans");
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM flags WHERE kind = 'broken_plan'"
                                  " AND subject = '%lld' AND text LIKE '%%2026-01-20%%'",
                                  plan), 1);
    assert_int_equal (th_events (&s_server, "flag.raised"), raised + 2);
}

//  A hold raises a hold flag; a customer without a rep sends it to the
//  collections lead (rep NULL); placed again the same day, no new flag.
static void
test_raise_hold (void **state)
{
    (void) state;
    run_t run;
    s_customer ("lead-co", "", "FH-1", "100.00", "2026-02-01");
    long long raised = th_events (&s_server, "flag.raised");
    s_run (&run, "hold place lead-co --reason 'over the limit'");
    th_expect_run (&run, 0, NULL);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM flags WHERE kind = 'hold' AND"
                                  " subject = '" TODAY "' AND rep IS NULL AND"
                                  " text LIKE '%%over the limit%%'"), 1);
    s_run (&run, "hold lift lead-co --reason checked");
    th_expect_run (&run, 0, NULL);
    s_run (&run, "hold place lead-co --reason 'again'");
    th_expect_run (&run, 0, NULL);
    assert_int_equal (th_events (&s_server, "flag.raised"), raised + 1);
}

//  A rep sees their own flags, and may not ask for another's; managers
//  and collectors see all, by rep ("-": no rep).
static void
test_list (void **state)
{
    (void) state;
    run_t run;
    s_customer ("sue-co", "sue", "FS-1", "100.00", "2026-02-01");
    s_run (&run, "dispute open FS-1 --reason wrong");
    th_expect_run (&run, 0, NULL);
    long long all = th_sql_int (&s_server, "SELECT count (*) FROM flags");
    long long sams = th_sql_int (&s_server,
                                 "SELECT count (*) FROM flags WHERE rep = 'sam'");
    assert_true (sams >= 3);
    s_run_as (s_sam_file, &run, "--json flag list");
    th_expect_run (&run, 0, "\"rep\":\"sam\"");
    assert_null (strstr (run.out, "\"rep\":\"sue\""));
    assert_null (strstr (run.out, "lead-co"));
    int lines = 0;
    for (const char *p = run.out; (p = strchr (p, '\n')); p++)
        lines++;
    assert_int_equal (lines, sams);
    s_run_as (s_sam_file, &run, "flag list --rep sue");
    th_expect_run (&run, 1, "permission denied");
    s_run_as (s_sam_file, &run, "flag list --rep sam");
    th_expect_run (&run, 0, "disp-co FD-1");
    //  The manager: everything, or one rep's, or the lead's.
    s_run_as (s_mia_file, &run, "--json flag list");
    th_expect_run (&run, 0, "\"rep\":\"sue\"");
    lines = 0;
    for (const char *p = run.out; (p = strchr (p, '\n')); p++)
        lines++;
    assert_int_equal (lines, all);
    s_run_as (s_mia_file, &run, "--json flag list --rep sue");
    th_expect_run (&run, 0, "sue-co");
    assert_null (strstr (run.out, "\"rep\":\"sam\""));
    s_run_as (s_mia_file, &run, "flag list --rep -");
    th_expect_run (&run, 0, "lead-co");
    assert_non_null (strstr (run.out, "for the collections lead"));
    assert_null (strstr (run.out, "disp-co"));
    s_run_as (s_cora_file, &run, "flag list --customer sue-co");
    th_expect_run (&run, 0, "flag ");
    assert_non_null (strstr (run.out, "sue-co FS-1 (sue-co)"));
    assert_non_null (strstr (run.out, "open 0 days"));
    assert_null (strstr (run.out, "disp-co"));
}

//  Only the rep (or a manager) acknowledges, once; the unacknowledged
//  view leaves it out afterwards.
static void
test_ack (void **state)
{
    (void) state;
    run_t run;
    long long id = s_flag_id ("disp-co", "dispute");
    long long lead = s_flag_id ("lead-co", "hold");
    assert_true (id > 0 && lead > 0);
    long long acked = th_events (&s_server, "flag.acknowledged");
    s_run_as (s_sue_file, &run, "flag ack %lld", id);
    th_expect_run (&run, 1, "permission denied");
    assert_non_null (strstr (run.err, "only that rep or a manager"));
    s_run_as (s_cora_file, &run, "flag ack %lld", id);
    th_expect_run (&run, 1, "permission denied");
    s_run_as (s_sam_file, &run, "flag ack %lld", lead);
    th_expect_run (&run, 1, "permission denied");
    assert_int_equal (th_events (&s_server, "flag.acknowledged"), acked);
    s_run_as (s_sam_file, &run, "flag ack %lld --note 'calling them today'", id);
    th_expect_run (&run, 0, "acknowledged by sam");
    assert_non_null (strstr (run.out, "note by sam"));
    assert_non_null (strstr (run.out, "calling them today"));
    assert_int_equal (th_events (&s_server, "flag.acknowledged"), acked + 1);
    s_run_as (s_sam_file, &run, "flag ack %lld", id);
    th_expect_run (&run, 1, "conflict");
    assert_non_null (strstr (run.err, "was acknowledged by sam"));
    s_run_as (s_mia_file, &run, "flag ack %lld", id);
    th_expect_run (&run, 1, "conflict");
    //  The lead's flag: a manager acknowledges it.
    s_run_as (s_mia_file, &run, "--json flag ack %lld", lead);
    th_expect_run (&run, 0, "\"acknowledged_by\":\"mia\"");
    assert_int_equal (th_events (&s_server, "flag.acknowledged"), acked + 2);
    //  Not in the unacknowledged view any more; still in the full list.
    s_run_as (s_mia_file, &run, "--json flag list --unacknowledged");
    th_expect_run (&run, 0, NULL);
    char needle [64];
    snprintf (needle, sizeof needle, "\"id\":\"%lld\"", id);
    char needle2 [64];
    snprintf (needle2, sizeof needle2, "\"id\":%lld,", id);
    assert_null (strstr (run.out, needle));
    assert_null (strstr (run.out, needle2));
    assert_null (strstr (run.out, "lead-co"));
    assert_non_null (strstr (run.out, "sue-co"));
    s_run_as (s_mia_file, &run, "flag list");
    th_expect_run (&run, 0, "acknowledged by mia");
    //  Not found, bad id.
    s_run_as (s_mia_file, &run, "flag ack 999999");
    th_expect_run (&run, 1, "not found");
}

//  Notes: the rep, collectors and managers; sales only on their own.
static void
test_notes (void **state)
{
    (void) state;
    run_t run;
    long long id = s_flag_id ("sue-co", "dispute");
    long long noted = th_events (&s_server, "flag.noted");
    s_run_as (s_sam_file, &run, "flag note %lld 'not mine'", id);
    th_expect_run (&run, 1, "permission denied");
    s_run_as (s_cora_file, &run, "flag note %lld 'customer says the price is wrong'", id);
    th_expect_run (&run, 0, "note by cora");
    s_run_as (s_sue_file, &run, "flag note %lld 'checking the contract'", id);
    th_expect_run (&run, 0, "note by sue");
    s_run_as (s_mia_file, &run, "--json flag note %lld 'escalate if no answer'", id);
    th_expect_run (&run, 0, "\"author\":\"mia\"");
    assert_int_equal (th_events (&s_server, "flag.noted"), noted + 3);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM flag_notes WHERE flag_id = %lld",
                                  id), 3);
    //  Oldest first, in the list too.
    s_run_as (s_sue_file, &run, "flag list");
    th_expect_run (&run, 0, NULL);
    const char *a = strstr (run.out, "note by cora");
    const char *b = strstr (run.out, "note by sue");
    const char *c = strstr (run.out, "note by mia");
    assert_true (a && b && c && a < b && b < c);
    s_run_as (s_sue_file, &run, "flag note %lld ''", id);
    th_expect_run (&run, 1, "text is required");
    //  Notes are append-only in the database too (the harness reports
    //  the refusal).
    char *denied = th_sql (&s_server, "UPDATE flag_notes SET text = 'x'");
    assert_null (denied);
    assert_int_equal (th_events (&s_server, "flag.noted"), noted + 3);
}

//  account show --json lists the customer's open flags.
static void
test_account_show (void **state)
{
    (void) state;
    run_t run;
    s_run (&run, "--json account show sue-co");
    th_expect_run (&run, 0, "\"flags\":[{\"id\":");
    assert_non_null (strstr (run.out, "\"kind\":\"dispute\",\"subject\":\"FS-1\","
                                      "\"text\":\"invoice FS-1 disputed: wrong\","
                                      "\"raised_on\":\"" TODAY "\",\"rep\":\"sue\","
                                      "\"acknowledged\":false}]"));
    //  Acknowledged flags are not open.
    s_run (&run, "--json account show disp-co");
    th_expect_run (&run, 0, "\"flags\":[]");
    s_run (&run, "--json account show lead-co");
    th_expect_run (&run, 0, "\"flags\":[]");
    s_customer ("quiet-co", "sam", "FQ-1", "10.00", "2026-04-01");
    s_run (&run, "--json account show quiet-co");
    th_expect_run (&run, 0, "\"flags\":[]");
}

//  The importer may not see or touch flags; the client's usage errors.
static void
test_roles_and_usage (void **state)
{
    (void) state;
    run_t run;
    long long id = s_flag_id ("sue-co", "dispute");
    s_run_as (s_ivan_file, &run, "flag list");
    th_expect_run (&run, 1, "permission denied");
    s_run_as (s_ivan_file, &run, "flag ack %lld", id);
    th_expect_run (&run, 1, "permission denied");
    s_run_as (s_ivan_file, &run, "flag note %lld hello", id);
    th_expect_run (&run, 1, "permission denied");
    s_run (&run, "flag");
    th_expect_run (&run, 2, "usage: recoup flag list");
    s_run (&run, "flag ack");
    th_expect_run (&run, 2, "usage");
    s_run (&run, "flag ack abc");
    th_expect_run (&run, 2, "is not a number");
    s_run (&run, "flag note %lld", id);
    th_expect_run (&run, 2, "usage");
    s_run (&run, "flag list --rep");
    th_expect_run (&run, 2, "--rep needs a value");
    s_run (&run, "flag list --bogus");
    th_expect_run (&run, 2, "unexpected argument");
    s_run (&run, "flag ack %lld --bogus", id);
    th_expect_run (&run, 2, "usage");
}

//  Days later: the lead's view is oldest first with days open.
static void
test_days_open (void **state)
{
    (void) state;
    run_t run;
    assert_int_equal (th_server_stop (&s_server), 0);
    setenv ("RECOUP_TODAY", "2026-03-05", 1);
    assert_int_equal (th_server_restart (&s_server), 0);
    s_customer ("late-co", "sue", "FX-1", "100.00", "2026-02-01");
    s_run (&run, "dispute open FX-1 --reason late");
    th_expect_run (&run, 0, NULL);
    s_run_as (s_mia_file, &run, "flag list --unacknowledged");
    th_expect_run (&run, 0, "unacknowledged flags as of 2026-03-05, oldest first");
    const char *old = strstr (run.out, "sue-co FS-1");
    const char *young = strstr (run.out, "late-co FX-1");
    assert_true (old && young && old < young);
    assert_non_null (strstr (old, "open 4 days"));
    assert_non_null (strstr (young, "open 0 days"));
    //  Acknowledged flags count their days to the acknowledgement.
    s_run_as (s_mia_file, &run, "--json flag list --customer disp-co");
    th_expect_run (&run, 0, "\"acknowledged_by\":\"sam\"");
    assert_null (strstr (run.out, "days_open\":4"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_raise_dispute),
        cmocka_unit_test (test_raise_broken),
        cmocka_unit_test (test_raise_hold),
        cmocka_unit_test (test_list),
        cmocka_unit_test (test_ack),
        cmocka_unit_test (test_notes),
        cmocka_unit_test (test_account_show),
        cmocka_unit_test (test_roles_and_usage),
        cmocka_unit_test (test_days_open),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
