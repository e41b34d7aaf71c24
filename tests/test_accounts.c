/*  Account state against a real recoupd: promises (kept, broken: hold and
    cash-only placed once, events once), payment plans (a missed
    instalment breaks the plan), disputes (pause dunning on the invoice,
    resolution with a credit note), the reason a customer does not pay
    and the next action, credit hold lifting by role and condition,
    `recoup account show --json`, roles and bad input.

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
static identity_t s_sales;              //  role sales
static identity_t s_collector;          //  role collector
static identity_t s_manager;            //  role manager
static identity_t s_importer;           //  role importer

typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), NULL, __VA_ARGS__)

static int
s_setup (void **state)
{
    (void) state;
    setenv ("RECOUP_TODAY", TODAY, 1);
    if (th_server_start (&s_server, "accounts", NULL) != 0)
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

//  The error code of a reply (0 for a result), freeing it.
static int
s_code (Recoup__Reply *reply, const char *field)
{
    int code = reply->result_case == RECOUP__REPLY__RESULT_ERROR ? (int) reply->error->code : 0;
    if (code && field && strcmp (reply->error->field, field) != 0) {
        print_error ("error on '%s', expected '%s': %s\n", reply->error->field, field,
                     reply->error->message);
        code = -1;
    }
    if (!code && field)
        print_error ("expected an error on %s, got a result\n", field);
    recoup__reply__free_unpacked (reply, NULL);
    return code;
}

static Recoup__Reply *
s_lift (const identity_t *who, const char *customer)
{
    Recoup__HoldLiftRequest lift = RECOUP__HOLD_LIFT_REQUEST__INIT;
    lift.customer = (char *) customer;
    lift.reason = "checked";
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_HOLD_LIFT;
    request.hold_lift = &lift;
    return th_request (who, &request);
}

static Recoup__Reply *
s_promise (const identity_t *who, const char *customer, int64_t amount, const char *by)
{
    Recoup__PromiseAddRequest add = RECOUP__PROMISE_ADD_REQUEST__INIT;
    add.customer = (char *) customer;
    add.amount_minor = amount;
    add.by = (char *) by;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_PROMISE_ADD;
    request.promise_add = &add;
    return th_request (who, &request);
}

//  A customer with one invoice of `amount` due on `due`.
static void
s_customer (const char *ref, const char *number, const char *amount, const char *due)
{
    run_t run;
    s_run (&run, "customer add %s --name %s --sales-rep sam", ref, ref);
    th_expect_run (&run, 0, NULL);
    s_run (&run, "invoice issue %s --customer %s --amount %s --issued 2026-01-01 "
                 "--due %s", number, ref, amount, due);
    th_expect_run (&run, 0, NULL);
}

static void
test_promise_kept (void **state)
{
    (void) state;
    run_t run;
    s_customer ("keep-co", "K-1", "100.00", "2026-02-01");
    s_run (&run, "promise add keep-co --amount 60.00 --by 2026-03-05");
    th_expect_run (&run, 0, "pending");
    s_run (&run, "payment post --customer keep-co --reference P-K1 --amount 60.00 "
                 "--received 2026-03-01");
    th_expect_run (&run, 0, NULL);
    s_run (&run, "--json account show keep-co");
    th_expect_run (&run, 0, "\"status\":\"kept\"");
    assert_non_null (strstr (run.out, "\"on_hold\":false"));
    //  Any write of this module records the outcome, once.
    s_run (&run, "account reason keep-co forgot");
    th_expect_run (&run, 0, "resend the invoice");
    s_run (&run, "account reason keep-co forgot --note again");
    th_expect_run (&run, 0, NULL);
    assert_int_equal (th_events (&s_server, "promise.kept"), 1);
}

static void
test_promise_broken (void **state)
{
    (void) state;
    run_t run;
    s_customer ("break-co", "B-1", "200.00", "2026-01-20");
    long long broken = th_events (&s_server, "promise.broken");
    long long changed = th_events (&s_server, "account.state_changed");
    //  Made on 1 Feb for 10 Feb: with 3 grace days broken after 13 Feb.
    s_run (&run, "promise add break-co --amount 50.00 --by 2026-02-10 "
                 "--made-on 2026-02-01");
    th_expect_run (&run, 0, "broken");
    //  As of 12 Feb it was still pending.
    s_run (&run, "--json account show break-co --as-of 2026-02-12");
    th_expect_run (&run, 0, "\"status\":\"pending\"");
    s_run (&run, "--json account show break-co");
    th_expect_run (&run, 0, "\"on_hold\":true");
    assert_non_null (strstr (run.out, "\"cash_only\":true"));
    assert_non_null (strstr (run.out, "\"status\":\"broken\""));
    //  Evaluated again (every write of this module): nothing new.
    s_run (&run, "account reason break-co avoiding");
    th_expect_run (&run, 0, "phone and letter");
    s_run (&run, "account reason break-co slow");
    th_expect_run (&run, 0, NULL);
    assert_int_equal (th_events (&s_server, "promise.broken"), broken + 1);
    //  One for the hold, two for the reasons.
    assert_int_equal (th_events (&s_server, "account.state_changed"), changed + 3);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM promise_outcomes o JOIN promises p "
                                  "ON p.id = o.promise_id JOIN customers c ON c.id = "
                                  "p.customer_id WHERE c.ref = 'break-co'"), 1);
}

static void
test_plan_missed (void **state)
{
    (void) state;
    run_t run;
    s_customer ("plan-co", "PL-1", "300.00", "2026-01-10");
    s_run (&run, "plan add plan-co --start 2026-01-15 --instalment 2026-01-20=100.00 "
                 "--instalment 2026-02-20=100.00 --instalment 2026-03-20=100.00");
    //  Nothing paid by 20 Jan + 3: broken at once.
    th_expect_run (&run, 0, "broken");
    assert_non_null (strstr (run.out, "missed"));
    s_run (&run, "--json account show plan-co");
    th_expect_run (&run, 0, "\"on_hold\":true");
    assert_int_equal (th_events (&s_server, "plan.broken"), 1);
    //  A plan kept so far stays active.
    s_customer ("plan-ok", "PO-1", "300.00", "2026-01-10");
    s_run (&run, "payment post --customer plan-ok --reference P-PO --amount 100.00 "
                 "--received 2026-01-19");
    th_expect_run (&run, 0, NULL);
    s_run (&run, "plan add plan-ok --start 2026-01-15 --instalment 2026-01-20=100.00 "
                 "--instalment 2026-03-20=200.00");
    th_expect_run (&run, 0, "active");
    assert_int_equal (th_events (&s_server, "plan.broken"), 1);
}

static void
test_dispute (void **state)
{
    (void) state;
    run_t run;
    s_customer ("disp-co", "D-1", "500.00", "2026-01-25");  //  35 days late
    s_run (&run, "--json account show disp-co");
    th_expect_run (&run, 0, "\"stage\":\"credit_hold\"");
    s_run (&run, "--json dispute open D-1 --reason 'goods damaged'");
    th_expect_run (&run, 0, "\"sales_rep\":\"sam\"");
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM events WHERE kind = "
                                  "'dispute.opened'"), 1);
    s_run (&run, "--json account show disp-co");
    th_expect_run (&run, 0, "\"stage\":null");
    assert_non_null (strstr (run.out, "\"paused_invoices\":[\"D-1\"]"));
    s_run (&run, "dispute open D-1 --reason again");
    th_expect_run (&run, 1, "already has dispute");
    char *id = th_sql (&s_server, "SELECT d.id FROM disputes d JOIN invoices i ON "
                                  "i.id = d.invoice_id WHERE i.number = 'D-1'");
    assert_non_null (id);
    s_run (&run, "dispute resolve %s --outcome credit_note --amount 600.00", id);
    th_expect_run (&run, 1, "more than the balance");
    s_run (&run, "dispute resolve %s --outcome customer_wrong --amount 1.00", id);
    th_expect_run (&run, 1, "only a credit_note");
    s_run (&run, "dispute resolve %s --outcome credit_note --amount 200.00 "
                 "--note 'two boxes damaged'", id);
    th_expect_run (&run, 0, "credit note 200.00 USD");
    s_run (&run, "dispute resolve %s --outcome customer_wrong", id);
    th_expect_run (&run, 1, "already resolved");
    free (id);
    s_run (&run, "--json account show disp-co");
    th_expect_run (&run, 0, "\"stage\":\"credit_hold\"");
    assert_non_null (strstr (run.out, "\"balance_minor\":30000"));
    assert_non_null (strstr (run.out, "\"paused_invoices\":[]"));
    assert_non_null (strstr (run.out, "\"outcome\":\"credit_note\""));
}

static void
test_hold_lift (void **state)
{
    (void) state;
    run_t run;
    s_customer ("hold-co", "H-1", "100.00", "2026-02-01");
    s_run (&run, "hold place hold-co --reason 'over the limit'");
    th_expect_run (&run, 0, "credit hold: yes");
    s_run (&run, "hold place hold-co --reason again");
    th_expect_run (&run, 1, "already on credit hold");
    //  Past due: a collector may not lift it; the condition is named.
    Recoup__Reply *reply = s_lift (&s_collector, "hold-co");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__PERMISSION_DENIED);
    assert_non_null (strstr (reply->error->message, "paid in full"));
    recoup__reply__free_unpacked (reply, NULL);
    //  Paid in full: the collector may.
    s_run (&run, "payment post --customer hold-co --reference P-H1 --amount 100.00");
    th_expect_run (&run, 0, NULL);
    assert_int_equal (s_code (s_lift (&s_collector, "hold-co"), NULL), 0);
    //  A manager may lift it while past due; cash-only stays until paid.
    s_customer ("hold-mgr", "HM-1", "100.00", "2026-02-01");
    s_run (&run, "promise add hold-mgr --amount 10.00 --by 2026-02-02 "
                 "--made-on 2026-02-01");
    th_expect_run (&run, 0, "broken");
    assert_int_equal (s_code (s_lift (&s_collector, "hold-mgr"),
                              "hold_lift.customer"), RECOUP__ERROR_CODE__PERMISSION_DENIED);
    reply = s_lift (&s_manager, "hold-mgr");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_HOLD_LIFT);
    assert_false (reply->hold_lift->state->on_hold);
    assert_true (reply->hold_lift->state->cash_only);
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_code (s_lift (&s_manager, "hold-mgr"), "hold_lift.customer"),
                      RECOUP__ERROR_CODE__CONFLICT);
}

static void
test_account_show_json (void **state)
{
    (void) state;
    run_t run;
    s_customer ("show-co", "S-1", "100.00", "2026-02-20");   //  9 days late
    s_run (&run, "account reason show-co dispute --note 'says it was never delivered'");
    th_expect_run (&run, 0, "route to the sales rep (sam)");
    s_run (&run, "contact log show-co --channel phone --direction out --outcome spoke "
                 "--at 2026-02-27T10:00:00Z");
    s_run (&run, "--json account show show-co");
    th_expect_run (&run, 0, NULL);
    const char *fields [] = {
        "\"customer\":\"show-co\"", "\"balances\":[{\"currency\":\"USD\","
        "\"balance_minor\":10000,\"past_due_minor\":10000}]",
        "\"stage\":\"sales_flag\"", "\"on_hold\":false", "\"cash_only\":false",
        "\"reason\":{\"code\":\"dispute\"", "\"promises\":[]", "\"disputes\":[]",
        "\"flags\":[]", "\"last_contact\":", NULL
    };
    for (int i = 0; fields [i]; i++)
        if (!strstr (run.out, fields [i]))
            fail_msg ("no %s in %s", fields [i], run.out);
    s_run (&run, "account show show-co");
    th_expect_run (&run, 0, "stage: sales_flag");
    s_run (&run, "--json account show show-co --as-of 2026-02-01");
    th_expect_run (&run, 0, "\"stage\":null");
}

static void
test_roles_and_bad_input (void **state)
{
    (void) state;
    run_t run;
    s_customer ("bad-co", "BAD-1", "100.00", "2026-02-20");
    //  Importers may not; sales may promise but not place holds.
    assert_int_equal (s_code (s_promise (&s_importer, "bad-co", 100, "2026-03-10"),
                              NULL), RECOUP__ERROR_CODE__PERMISSION_DENIED);
    assert_int_equal (s_code (s_promise (&s_sales, "bad-co", 100, "2026-03-10"), NULL), 0);
    Recoup__HoldPlaceRequest place = RECOUP__HOLD_PLACE_REQUEST__INIT;
    place.customer = "bad-co";
    place.reason = "x";
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_HOLD_PLACE;
    request.hold_place = &place;
    assert_int_equal (s_code (th_request (&s_sales, &request), NULL),
                      RECOUP__ERROR_CODE__PERMISSION_DENIED);
    //  Server-side checks.
    assert_int_equal (s_code (s_promise (&s_collector, "nobody", 100, "2026-03-10"),
                              "promise_add.customer"), RECOUP__ERROR_CODE__NOT_FOUND);
    assert_int_equal (s_code (s_promise (&s_collector, "bad-co", 0, "2026-03-10"),
                              "promise_add.amount_minor"),
                      RECOUP__ERROR_CODE__INVALID_ARGUMENT);
    assert_int_equal (s_code (s_promise (&s_collector, "bad-co", 100, "2026-02-30"),
                              "promise_add.by"), RECOUP__ERROR_CODE__INVALID_ARGUMENT);
    assert_int_equal (s_code (s_promise (&s_collector, "bad-co", 100, "2026-02-01"),
                              "promise_add.by"), RECOUP__ERROR_CODE__INVALID_ARGUMENT);
    //  The client's checks.
    s_run (&run, "promise add bad-co --amount 12.345 --by 2026-03-10");
    th_expect_run (&run, 2, "--amount");
    s_run (&run, "promise add bad-co --amount 12.00 --by 2026-13-01");
    th_expect_run (&run, 2, "--by");
    s_run (&run, "plan add bad-co --instalment 2026-04-31=10.00");
    th_expect_run (&run, 2, "--instalment");
    s_run (&run, "dispute open NO-SUCH --reason x");
    th_expect_run (&run, 1, "no invoice NO-SUCH");
    s_run (&run, "dispute resolve 999999 --outcome customer_wrong");
    th_expect_run (&run, 1, "no dispute 999999");
    s_run (&run, "account reason bad-co lazy");
    th_expect_run (&run, 1, "reason must be");
    s_run (&run, "account show nobody");
    th_expect_run (&run, 1, "no customer");
    s_run (&run, "account show bad-co --as-of 2026-02-30");
    th_expect_run (&run, 2, "--as-of");
    s_run (&run, "hold lift bad-co --reason x");
    th_expect_run (&run, 1, "not on credit hold");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_promise_kept),
        cmocka_unit_test (test_promise_broken),
        cmocka_unit_test (test_plan_missed),
        cmocka_unit_test (test_dispute),
        cmocka_unit_test (test_hold_lift),
        cmocka_unit_test (test_account_show_json),
        cmocka_unit_test (test_roles_and_bad_input),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
