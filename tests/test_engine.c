/*  The daily engine against a real recoupd: the default cadence of one
    invoice day by day, a second run adding nothing, catch-up after 20
    missed days, the worklist's blocked_by for quiet hours (Tokyo vs Los
    Angeles) and the 7-day rule after a conversation, a promise pausing
    and its break resuming, a dispute pausing and its resolution resuming,
    the outbox's text, and bad input.

    The tests share one server and run in order along one calendar (each
    uses its own customers and later dates): the server starts with
    RECOUP_TODAY=2026-12-31; the dispute test restarts it with later
    business dates, because a dispute opens on the business date.      */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "harness.h"

static th_server_t s_server;
static identity_t s_sales, s_collector, s_manager, s_importer;

typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), NULL, __VA_ARGS__)

static int
s_setup (void **state)
{
    (void) state;
    setenv ("RECOUP_TODAY", "2026-12-31", 1);
    setenv ("RECOUP_ENGINE_DAILY", "off", 1);
    if (th_server_start (&s_server, "engine", NULL) != 0)
        return -1;
    if (th_user_add (&s_server, "sam", RECOUP__ROLE__SALES, &s_sales) != 0
        || th_user_add (&s_server, "cora", RECOUP__ROLE__COLLECTOR, &s_collector) != 0
        || th_user_add (&s_server, "mia", RECOUP__ROLE__MANAGER, &s_manager) != 0
        || th_user_add (&s_server, "ivan", RECOUP__ROLE__IMPORTER, &s_importer) != 0)
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

//  Runs the engine as of `as_of` as `who`; the reply (caller frees).
static Recoup__Reply *
s_engine (const identity_t *who, const char *as_of)
{
    Recoup__EngineRunRequest run = RECOUP__ENGINE_RUN_REQUEST__INIT;
    run.as_of = (char *) as_of;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_ENGINE_RUN;
    request.engine_run = &run;
    client_status_t status;
    Recoup__Reply *reply = th_call (who, &request, &status);
    if (!reply)
        fail_msg ("no reply (client status %d)", (int) status);
    if (reply->result_case != RECOUP__REPLY__RESULT_ENGINE_RUN)
        fail_msg ("engine_run %s: %s", as_of, reply->result_case
                  == RECOUP__REPLY__RESULT_ERROR ? reply->error->message : "?");
    return reply;
}

//  The action of `customer` at `step` in a reply, or NULL.
static const Recoup__EngineAction *
s_find (const Recoup__EngineRunReply *r, const char *customer, const char *step)
{
    for (size_t i = 0; i < r->n_actions; i++)
        if (strcmp (r->actions [i]->customer, customer) == 0
            && strcmp (r->actions [i]->step, step) == 0)
            return r->actions [i];
    return NULL;
}

static void
s_customer (const char *ref, const char *extra)
{
    run_t run;
    s_run (&run, "customer add %s --name 'Customer %s' --email %s@example.com "
                 "--sales-rep sam --collector cora %s", ref, ref, ref, extra);
    th_expect_run (&run, 0, NULL);
}

static void
s_invoice (const char *number, const char *ref, const char *issued, const char *due)
{
    run_t run;
    s_run (&run, "invoice issue %s --customer %s --amount 1200.00 --issued %s --due %s",
           number, ref, issued, due);
    th_expect_run (&run, 0, NULL);
}

//  A copy of the worklist JSON item of `customer` at `step` (caller
//  frees); fails the test when there is none.
static char *
s_item (const char *json, const char *customer, const char *step)
{
    char head [128], at [64];
    snprintf (head, sizeof head, "{\"customer\":\"%s\"", customer);
    snprintf (at, sizeof at, "\"step\":\"%s\"", step);
    for (const char *p = strstr (json, head); p; p = strstr (p + 1, head)) {
        const char *end = strstr (p, "},{");
        size_t len = end ? (size_t) (end - p) + 1 : strlen (p);
        char *item = strndup (p, len);
        if (strstr (item, at))
            return item;
        free (item);
    }
    fail_msg ("no worklist item for %s at %s in %s", customer, step, json);
    return NULL;
}

static const char *
s_day (int32_t base, int offset)
{
    static char buf [DATE_ISO_LEN + 1];
    date_format_iso (base + offset, buf);
    return buf;
}

//  The default policy, one invoice, day by day from its issue to 155 days
//  after: each step appears on exactly its day, once, and nothing else.
static void
test_cadence (void **state)
{
    (void) state;
    s_customer ("cad", "");
    s_invoice ("C-1", "cad", "2026-01-01", "2026-01-31");
    static const struct { const char *step; int day; const char *channel; } want [] = {
        { "confirm_receipt", 3, "email" }, { "friendly_reminder", 27, "email" },
        { "past_due_notice", 31, "email" }, { "first_call", 37, "phone" },
        { "sales_flag", 38, "sales_flag" }, { "second_notice", 44, "email" },
        { "second_call", 44, "phone" }, { "direct_notice", 60, "email" },
        { "direct_letter", 60, "letter" }, { "credit_hold", 60, "credit_hold" },
        { "final_demand", 75, "certified_letter" }, { "agency_review", 90, "review" },
        { "settlement_review", 120, "review" }, { "write_off_review", 150, "review" },
    };
    size_t n_want = sizeof want / sizeof *want;
    int32_t issued;
    char err [100];
    assert_int_equal (date_parse_iso ("2026-01-01", &issued, err, sizeof err), 0);
    size_t seen = 0;
    for (int d = 0; d <= 155; d++) {
        const char *day = s_day (issued, d);
        Recoup__Reply *reply = s_engine (&s_collector, day);
        const Recoup__EngineRunReply *r = reply->engine_run;
        assert_int_equal (r->summary->dates, 1);
        for (size_t i = 0; i < r->n_actions; i++) {
            const Recoup__EngineAction *a = r->actions [i];
            size_t k;
            for (k = 0; k < n_want; k++)
                if (strcmp (want [k].step, a->step) == 0)
                    break;
            if (k == n_want || want [k].day != d || strcmp (a->status, "due") != 0
                || strcmp (a->due, day) != 0 || strcmp (a->channel, want [k].channel) != 0)
                fail_msg ("day %d (%s): unexpected action %s %s (due %s, %s)", d, day,
                          a->step, a->status, a->due, a->why);
            assert_string_equal (a->customer, "cad");
            assert_int_equal (a->n_invoices, 1);
            assert_string_equal (a->invoices [0], "C-1");
            assert_int_equal (a->policy_version, 1);
            if (strcmp (a->channel, "phone") == 0 || strcmp (a->channel, "letter") == 0
                || strcmp (a->channel, "certified_letter") == 0)
                assert_string_equal (a->assignee, "cora");
            if (strcmp (a->channel, "sales_flag") == 0)
                assert_string_equal (a->assignee, "sam");
            if (strcmp (a->channel, "review") == 0)
                assert_string_equal (a->assignee, "mia");
            seen++;
        }
        for (size_t k = 0; k < n_want; k++)
            if (want [k].day == d && !s_find (r, "cad", want [k].step))
                fail_msg ("day %d: %s missing", d, want [k].step);
        recoup__reply__free_unpacked (reply, NULL);
        if (d == 31) {
            //  A second run for the same date adds nothing, no event.
            long long events = th_sql_int (&s_server, "SELECT count (*) FROM events");
            reply = s_engine (&s_manager, day);
            assert_int_equal (reply->engine_run->summary->dates, 0);
            assert_int_equal (reply->engine_run->n_actions, 0);
            assert_int_equal (reply->engine_run->seq, 0);
            recoup__reply__free_unpacked (reply, NULL);
            assert_int_equal (th_sql_int (&s_server,
                                          "SELECT count (*) FROM events"), events);
        }
    }
    assert_int_equal (seen, n_want);
    assert_int_equal (th_events (&s_server, "action.due"),
                      (long long) n_want);
    //  Seven messages: five emails, a letter and a certified letter, once each.
    assert_int_equal (th_sql_int (&s_server, "SELECT count (*) FROM outbox"), 7);
    assert_int_equal (th_events (&s_server, "outbox.queued"), 7);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM flags WHERE kind = 'late'"), 1);
    //  The credit_hold step (day 60) placed the hold and cash-only itself,
    //  once, with the policy's reason, and flagged the rep.
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM account_state s JOIN customers c "
                                  "ON c.id = s.customer_id WHERE c.ref = 'cad' AND s.on_hold "
                                  "AND s.cash_only AND s.hold_reason = 'policy version 1, "
                                  "step credit_hold: invoice C-1 unpaid 30 days after due'"),
                      1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM flags f JOIN customers c "
                                  "ON c.id = f.customer_id WHERE c.ref = 'cad' "
                                  "AND f.kind = 'hold' AND f.subject = '2026-03-02'"), 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM engine_actions WHERE step = "
                                  "'credit_hold' AND why = 'credit hold placed, cash only'"),
                      1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM events WHERE kind = "
                                  "'account.state_changed'"), 1);
    run_t run;
    s_run (&run, "outbox list --customer cad");
    th_expect_run (&run, 0, "Dear Customer cad,");
    assert_non_null (strstr (run.out, "1200.00 USD"));
    assert_non_null (strstr (run.out, "Final demand"));
    assert_non_null (strstr (run.out, "C-1"));
    //  past_due_notice on day 31: one day late.
    char *body = th_sql (&s_server, "SELECT body FROM outbox WHERE step = 'past_due_notice'");
    assert_non_null (body);
    assert_non_null (strstr (body, "friendly reminder"));
    assert_non_null (strstr (body, "2026-01-31"));
    free (body);
}

//  20 days without a run: the next run runs each missed date, and every
//  step that fell in the gap is recorded due on its own date.
static void
test_catch_up (void **state)
{
    (void) state;
    s_customer ("gap", "");
    s_invoice ("G-1", "gap", "2026-07-01", "2026-07-31");
    Recoup__Reply *reply = s_engine (&s_collector, "2026-08-05");
    assert_non_null (s_find (reply->engine_run, "gap", "past_due_notice"));
    recoup__reply__free_unpacked (reply, NULL);
    reply = s_engine (&s_collector, "2026-08-26");
    const Recoup__EngineRunReply *r = reply->engine_run;
    assert_int_equal (r->summary->dates, 21);
    assert_string_equal (r->summary->first, "2026-08-06");
    static const char *const steps [][2] = {
        { "first_call", "2026-08-07" }, { "sales_flag", "2026-08-08" },
        { "second_notice", "2026-08-14" }, { "second_call", "2026-08-14" },
    };
    for (size_t i = 0; i < 4; i++) {
        const Recoup__EngineAction *a = s_find (r, "gap", steps [i][0]);
        if (!a)
            fail_msg ("%s not recorded in catch-up", steps [i][0]);
        assert_string_equal (a->status, "due");
        assert_string_equal (a->due, steps [i][1]);
        assert_string_equal (a->recorded_on, "2026-08-26");
    }
    recoup__reply__free_unpacked (reply, NULL);
    //  They are on the catching-up day's worklist, but of two calls the
    //  days missed would have made, only the later is left to make.
    run_t run;
    s_run (&run, "worklist --as-of 2026-08-26 --customer gap --json");
    th_expect_run (&run, 0, "\"step\":\"second_call\"");
    assert_null (strstr (run.out, "\"step\":\"first_call\""));
    assert_non_null (strstr (run.out, "\"due\":\"2026-08-14\""));
    assert_non_null (strstr (run.out, "\"invoices\":[\"G-1\"]"));
    assert_non_null (strstr (run.out, "\"channel\":\"sales_flag\",\"tone\":null,"
                                      "\"assignee\":\"sam\""));
    assert_non_null (strstr (run.out, "\"step\":\"second_call\""));
    //  Nothing lost: every step up to the date is recorded for G-1.
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM engine_actions a JOIN invoices i "
                                  "ON i.id = a.invoice_id WHERE i.number = 'G-1' "
                                  "AND a.status = 'due'"), 7);
}

//  The worklist at a fixed instant: 17:00 UTC is 02:00 in Tokyo (quiet
//  hours) and 10:00 in Los Angeles; a conversation two days before holds
//  a call back for 7 days.
static void
test_worklist_rules (void **state)
{
    (void) state;
    s_customer ("tky", "--timezone Asia/Tokyo");
    s_customer ("lax", "--timezone America/Los_Angeles");
    s_customer ("lat", "--timezone America/Los_Angeles");
    s_invoice ("T-1", "tky", "2026-08-01", "2026-08-31");
    s_invoice ("L-1", "lax", "2026-08-01", "2026-08-31");
    s_invoice ("L-2", "lat", "2026-08-01", "2026-08-31");
    run_t run;
    s_run (&run, "contact log lat --channel phone --direction out --outcome spoke "
                 "--at 2026-09-05T18:00:00Z");
    th_expect_run (&run, 0, NULL);
    Recoup__Reply *reply = s_engine (&s_collector, "2026-09-07");
    assert_non_null (s_find (reply->engine_run, "tky", "first_call"));
    recoup__reply__free_unpacked (reply, NULL);
    s_run (&run, "worklist --as-of 2026-09-07 --at 2026-09-07T17:00:00Z --json");
    th_expect_run (&run, 0, NULL);
    char *t = s_item (run.out, "tky", "first_call");
    char *x = s_item (run.out, "lax", "first_call");
    char *l = s_item (run.out, "lat", "first_call");
    assert_non_null (strstr (t, "\"blocked_by\":\"quiet_hours: it is 02:00 in Asia/Tokyo"));
    assert_non_null (strstr (t, "2026-09-08T08:00+09:00"));
    assert_non_null (strstr (t, "\"assignee\":\"cora\""));
    assert_non_null (strstr (x, "\"blocked_by\":null"));
    //  The first rule it breaks is named (attempt_gap: the same 7 days).
    if (!strstr (l, "\"blocked_by\":\"attempt_gap") && !strstr (l, "\"blocked_by\":\"call_after"))
        fail_msg ("lat first_call not held by the 7-day rules: %s", l);
    assert_non_null (strstr (l, "2026-09-12T18:00"));
    free (t);
    free (x);
    free (l);
    //  Without --at: 09:00 in each customer's zone, inside the hours.
    s_run (&run, "worklist --as-of 2026-09-07 --customer tky --json");
    th_expect_run (&run, 0, "\"blocked_by\":null");
    //  Role and input checks.
    s_run (&run, "worklist --at yesterday");
    th_expect_run (&run, 1, "worklist.at");
    s_run (&run, "worklist --customer nobody");
    th_expect_run (&run, 1, "no customer");
    Recoup__WorklistRequest w = RECOUP__WORKLIST_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_WORKLIST;
    request.worklist = &w;
    client_status_t status;
    Recoup__Reply *denied = th_call (&s_importer, &request, &status);
    assert_non_null (denied);
    assert_int_equal (denied->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (denied->error->code, RECOUP__ERROR_CODE__PERMISSION_DENIED);
    recoup__reply__free_unpacked (denied, NULL);
    denied = th_call (&s_sales, &request, &status);
    assert_non_null (denied);
    assert_int_equal (denied->result_case, RECOUP__REPLY__RESULT_WORKLIST);
    recoup__reply__free_unpacked (denied, NULL);
}

//  A pending promise pauses the steps (recorded skipped with why); once
//  it is broken (its date + 3 grace days passed unpaid) they resume.
static void
test_promise (void **state)
{
    (void) state;
    s_customer ("prom", "");
    s_invoice ("P-1", "prom", "2026-09-01", "2026-10-01");
    Recoup__Reply *reply = s_engine (&s_collector, "2026-10-02");
    assert_non_null (s_find (reply->engine_run, "prom", "past_due_notice"));
    recoup__reply__free_unpacked (reply, NULL);
    run_t run;
    s_run (&run, "promise add prom --amount 500.00 --by 2026-10-10 --made-on 2026-10-03");
    th_expect_run (&run, 0, NULL);
    reply = s_engine (&s_collector, "2026-10-14");
    const Recoup__EngineAction *a = s_find (reply->engine_run, "prom", "first_call");
    assert_non_null (a);
    assert_string_equal (a->status, "skipped");
    assert_string_equal (a->why, "paused: promise to pay pending");
    assert_string_equal (a->due, "2026-10-08");
    a = s_find (reply->engine_run, "prom", "sales_flag");
    assert_non_null (a);
    assert_string_equal (a->status, "skipped");
    recoup__reply__free_unpacked (reply, NULL);
    reply = s_engine (&s_collector, "2026-10-15");
    a = s_find (reply->engine_run, "prom", "second_notice");
    assert_non_null (a);
    assert_string_equal (a->status, "due");
    assert_non_null (s_find (reply->engine_run, "prom", "second_call"));
    recoup__reply__free_unpacked (reply, NULL);
}

//  Restarts the server with another business date.
static void
s_today (const char *date)
{
    setenv ("RECOUP_TODAY", date, 1);
    th_server_stop (&s_server);
    assert_int_equal (th_server_restart (&s_server), 0);
}

//  An open dispute pauses the invoice; after its resolution it resumes.
static void
test_dispute (void **state)
{
    (void) state;
    s_today ("2027-01-05");
    s_customer ("disp", "");
    s_invoice ("D-1", "disp", "2026-12-01", "2026-12-31");
    Recoup__Reply *reply = s_engine (&s_collector, "2027-01-05");
    assert_non_null (s_find (reply->engine_run, "disp", "past_due_notice"));
    recoup__reply__free_unpacked (reply, NULL);
    run_t run;
    s_run (&run, "dispute open D-1 --reason 'wrong quantity'");
    th_expect_run (&run, 0, NULL);
    s_today ("2027-01-25");
    reply = s_engine (&s_collector, "");
    const Recoup__EngineAction *a = s_find (reply->engine_run, "disp", "second_call");
    assert_non_null (a);
    assert_string_equal (a->status, "skipped");
    assert_string_equal (a->why, "paused: dispute open");
    assert_string_equal (reply->engine_run->summary->as_of, "2027-01-25");
    recoup__reply__free_unpacked (reply, NULL);
    char *id = th_sql (&s_server, "SELECT d.id FROM disputes d JOIN invoices i "
                                  "ON i.id = d.invoice_id WHERE i.number = 'D-1'");
    assert_non_null (id);
    s_run (&run, "dispute resolve %s --outcome customer_wrong", id);
    free (id);
    th_expect_run (&run, 0, NULL);
    s_today ("2027-02-05");
    reply = s_engine (&s_collector, "");
    a = s_find (reply->engine_run, "disp", "direct_notice");
    assert_non_null (a);
    assert_string_equal (a->status, "due");
    assert_string_equal (a->due, "2027-01-30");
    a = s_find (reply->engine_run, "disp", "credit_hold");
    assert_non_null (a);
    assert_string_equal (a->status, "due");
    recoup__reply__free_unpacked (reply, NULL);
    //  No run ahead of the business date; bad dates.
    s_run (&run, "engine run --as-of 2027-02-06");
    th_expect_run (&run, 1, "after the business date");
    s_run (&run, "engine run --as-of 2027-02-30");
    th_expect_run (&run, 2, NULL);
    s_run (&run, "engine run");
    th_expect_run (&run, 0, "nothing new");
}

//  Running the engine again for a date it has run picks up what arrived
//  since (an invoice entered late) and nothing else; a third run adds
//  nothing at all, not even an event.
static void
test_rerun_same_date (void **state)
{
    (void) state;
    s_customer ("rerun1", "");
    s_invoice ("RR-1", "rerun1", "2026-11-01", "2026-12-01");
    Recoup__Reply *reply = s_engine (&s_collector, "2026-12-30");
    recoup__reply__free_unpacked (reply, NULL);
    s_customer ("rerun2", "");
    s_invoice ("RR-2", "rerun2", "2026-11-01", "2026-12-01");
    reply = s_engine (&s_collector, "2026-12-30");
    assert_true (reply->engine_run->summary->dates == 1);
    int found = 0;
    for (size_t i = 0; i < reply->engine_run->n_actions; i++) {
        assert_string_equal (reply->engine_run->actions [i]->customer, "rerun2");
        found++;
    }
    assert_true (found > 0);
    recoup__reply__free_unpacked (reply, NULL);
    long long events = th_sql_int (&s_server, "SELECT max (seq) FROM events");
    reply = s_engine (&s_collector, "2026-12-30");
    assert_int_equal (reply->engine_run->summary->dates, 0);
    assert_int_equal (reply->engine_run->n_actions, 0);
    assert_int_equal (reply->engine_run->seq, 0);
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (th_sql_int (&s_server, "SELECT max (seq) FROM events"), events);
}

//  A discount taken after its window: the remainder stays open and the
//  rep gets one flag, however often the engine runs.
static void
test_discount_after_window (void **state)
{
    (void) state;
    s_customer ("disc", "--terms '2/10 net 30'");
    run_t run;
    s_run (&run, "invoice issue DW-1 --customer disc --amount 1000.00 --issued 2026-09-01");
    th_expect_run (&run, 0, NULL);
    s_run (&run, "payment post --customer disc --reference DW-P1 --amount 980.00 "
                 "--received 2026-09-20 --invoice DW-1");
    th_expect_run (&run, 0, NULL);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT recoup_invoice_balance (id) FROM invoices "
                                  "WHERE number = 'DW-1'"), 2000);
    Recoup__Reply *reply = s_engine (&s_collector, "2026-12-30");
    recoup__reply__free_unpacked (reply, NULL);
    reply = s_engine (&s_collector, "2026-12-30");
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM flags f JOIN customers c "
                                  "ON c.id = f.customer_id WHERE c.ref = 'disc' "
                                  "AND f.kind = 'other' AND f.subject = 'DW-1' "
                                  "AND f.text LIKE '%%after the discount window%%'"), 1);
}

//  recoupd runs the engine for the business date by itself at start-up.
static void
test_daily_run_by_itself (void **state)
{
    (void) state;
    th_server_t server;
    memset (&server, 0, sizeof server);
    setenv ("RECOUP_ENGINE_DAILY", "on", 1);
    setenv ("RECOUP_TODAY", "2026-12-31", 1);
    int rc = th_server_start (&server, "engine-daily", NULL);
    setenv ("RECOUP_ENGINE_DAILY", "off", 1);
    assert_int_equal (rc, 0);
    char *ran = th_sql (&server, "SELECT ran_by || ' ' || business_date FROM engine_runs");
    assert_non_null (ran);
    assert_string_equal (ran, "recoupd 2026-12-31");
    free (ran);
    th_server_destroy (&server);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_cadence),
        cmocka_unit_test (test_catch_up),
        cmocka_unit_test (test_worklist_rules),
        cmocka_unit_test (test_promise),
        cmocka_unit_test (test_dispute),
        cmocka_unit_test (test_rerun_same_date),
        cmocka_unit_test (test_discount_after_window),
        cmocka_unit_test (test_daily_run_by_itself),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
