/*  Resolution against a real recoupd: settlement offers (the policy's
    floor, manager approval, completion when payments cover the amount,
    exactly once), agency referrals and recoveries net of the fee,
    write-offs (request, approval, recovery of later money), credit
    checks and references, the events, and bad input, through the
    protocol and through the `recoup` client.

    The server runs with RECOUP_TODAY=2026-03-01. Every settlement,
    agency and write-off command evaluates settlements, write-offs and
    agency recoveries as of that day (resolution_evaluate); s_tick runs
    one such command on a customer of its own, the way the daily engine
    would run the evaluation.                                            */
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
static identity_t s_collector;          //  role collector
static identity_t s_manager;            //  role manager

static int
s_setup (void **state)
{
    (void) state;
    setenv ("RECOUP_TODAY", TODAY, 1);
    if (th_server_start (&s_server, "resolution", NULL) != 0)
        return -1;
    if (th_user_add (&s_server, "cora", RECOUP__ROLE__COLLECTOR, &s_collector) != 0
        || th_user_add (&s_server, "mia", RECOUP__ROLE__MANAGER, &s_manager) != 0)
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

// ---------------------------------------------------------------- helpers

#define expect_error(reply, code, field) \
    s_expect_error (reply, code, field, __FILE__, __LINE__)

static void
s_expect_error (Recoup__Reply *reply, Recoup__ErrorCode code, const char *field,
                const char *file, int line)
{
    if (reply->result_case != RECOUP__REPLY__RESULT_ERROR) {
        print_error ("expected %s, got a result (case %d)\n", wire_error_name (code),
                     (int) reply->result_case);
        recoup__reply__free_unpacked (reply, NULL);
        _fail (file, line);
    }
    const Recoup__Error *error = reply->error;
    if (error->code != code || (field && strcmp (error->field, field) != 0)) {
        print_error ("expected %s on '%s', got %s on '%s': %s\n",
                     wire_error_name (code), field ? field : "(any)",
                     wire_error_name (error->code), error->field, error->message);
        recoup__reply__free_unpacked (reply, NULL);
        _fail (file, line);
    }
    recoup__reply__free_unpacked (reply, NULL);
}

#define expect_result(reply, want) s_expect_result (reply, want, __FILE__, __LINE__)

static void
s_expect_result (Recoup__Reply *reply, Recoup__Reply__ResultCase want,
                 const char *file, int line)
{
    if (reply->result_case == want)
        return;
    if (reply->result_case == RECOUP__REPLY__RESULT_ERROR)
        print_error ("expected result %d, got %s on '%s': %s\n", (int) want,
                     wire_error_name (reply->error->code), reply->error->field,
                     reply->error->message);
    else
        print_error ("expected result %d, got %d\n", (int) want,
                     (int) reply->result_case);
    _fail (file, line);
}

static int64_t
s_balance (const char *number)
{
    return th_sql_int (&s_server,
                       "SELECT recoup_invoice_balance (id) FROM invoices "
                       "WHERE number = '%s'", number);
}

static void
s_customer (const char *ref, int64_t credit_limit)
{
    Recoup__Customer c = RECOUP__CUSTOMER__INIT;
    c.ref = (char *) ref;
    c.name = (char *) ref;
    c.currency = "USD";
    c.credit_limit_minor = credit_limit;
    Recoup__CustomerCreateRequest create = RECOUP__CUSTOMER_CREATE_REQUEST__INIT;
    create.customer = &c;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_CREATE;
    request.customer_create = &create;
    Recoup__Reply *reply = th_request (&s_server.admin, &request);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_CREATE);
    recoup__reply__free_unpacked (reply, NULL);
}

static void
s_invoice (const char *number, const char *customer, const char *issued,
           int64_t amount)
{
    Recoup__Invoice invoice = RECOUP__INVOICE__INIT;
    invoice.number = (char *) number;
    invoice.customer = (char *) customer;
    invoice.issued = (char *) issued;
    invoice.amount_minor = amount;
    Recoup__InvoiceIssueRequest issue = RECOUP__INVOICE_ISSUE_REQUEST__INIT;
    issue.invoice = &invoice;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_INVOICE_ISSUE;
    request.invoice_issue = &issue;
    Recoup__Reply *reply = th_request (&s_server.admin, &request);
    expect_result (reply, RECOUP__REPLY__RESULT_INVOICE_ISSUE);
    recoup__reply__free_unpacked (reply, NULL);
}

//  payment_post received today; `invoice` (may be NULL) named for the
//  whole amount. Returns the unapplied cash left.
static int64_t
s_pay (const char *customer, const char *reference, int64_t amount,
       const char *invoice)
{
    Recoup__Allocation allocation = RECOUP__ALLOCATION__INIT;
    Recoup__Allocation *allocations [1] = { &allocation };
    allocation.invoice = (char *) invoice;
    allocation.amount_minor = amount;
    Recoup__Payment payment = RECOUP__PAYMENT__INIT;
    payment.customer = (char *) customer;
    payment.reference = (char *) reference;
    payment.amount_minor = amount;
    payment.allocations = allocations;
    payment.n_allocations = invoice ? 1 : 0;
    Recoup__PaymentPostRequest post = RECOUP__PAYMENT_POST_REQUEST__INIT;
    post.payment = &payment;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_PAYMENT_POST;
    request.payment_post = &post;
    Recoup__Reply *reply = th_request (&s_server.admin, &request);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    int64_t unapplied = reply->payment_post->payment->unapplied_minor;
    recoup__reply__free_unpacked (reply, NULL);
    return unapplied;
}

static Recoup__Reply *
s_offer (const identity_t *who, const char *customer, int64_t amount,
         const char *invoice, const char *expires)
{
    char *invoices [1] = { (char *) invoice };
    Recoup__SettlementOfferRequest offer = RECOUP__SETTLEMENT_OFFER_REQUEST__INIT;
    offer.customer = (char *) customer;
    offer.amount_minor = amount;
    offer.invoices = invoices;
    offer.n_invoices = invoice ? 1 : 0;
    offer.expires = (char *) (expires ? expires : "");
    offer.note = "best we can get";
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_SETTLEMENT_OFFER;
    request.settlement_offer = &offer;
    return th_request (who, &request);
}

static Recoup__Reply *
s_approve (const identity_t *who, uint64_t id)
{
    Recoup__SettlementApproveRequest approve = RECOUP__SETTLEMENT_APPROVE_REQUEST__INIT;
    approve.id = id;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_SETTLEMENT_APPROVE;
    request.settlement_approve = &approve;
    return th_request (who, &request);
}

static Recoup__Reply *
s_writeoff (const identity_t *who, const char *invoice, const char *reason)
{
    Recoup__WriteOffRequest req = RECOUP__WRITE_OFF_REQUEST__INIT;
    req.invoice = (char *) invoice;
    req.reason = (char *) reason;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_WRITEOFF_REQUEST;
    request.writeoff_request = &req;
    return th_request (who, &request);
}

static Recoup__Reply *
s_writeoff_approve (const identity_t *who, uint64_t id)
{
    Recoup__WriteOffApproveRequest req = RECOUP__WRITE_OFF_APPROVE_REQUEST__INIT;
    req.id = id;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_WRITEOFF_APPROVE;
    request.writeoff_approve = &req;
    return th_request (who, &request);
}

static Recoup__Reply *
s_refer (const identity_t *who, const char *customer, uint32_t fee_bp)
{
    Recoup__AgencyReferRequest req = RECOUP__AGENCY_REFER_REQUEST__INIT;
    req.customer = (char *) customer;
    req.agency = "Nordic Collect AB";
    req.fee_bp = fee_bp;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_AGENCY_REFER;
    request.agency_refer = &req;
    return th_request (who, &request);
}

//  A command that evaluates (a write-off request on an invoice of a
//  customer of its own), as the daily engine would.
static void
s_tick (void)
{
    static int ticks = 0;
    if (ticks++ == 0)
        s_customer ("tick", 0);
    char number [32];
    snprintf (number, sizeof number, "TICK-%d", ticks);
    s_invoice (number, "tick", "2026-02-01", 100);
    Recoup__Reply *reply = s_writeoff (&s_collector, number, "tick");
    expect_result (reply, RECOUP__REPLY__RESULT_WRITEOFF_REQUEST);
    recoup__reply__free_unpacked (reply, NULL);
}

// ---------------------------------------------------------------- settlement

static void
test_settlement_floor_and_approval (void **state)
{
    (void) state;
    s_customer ("st-a", 0);
    s_customer ("st-b", 0);
    s_invoice ("SA-1", "st-a", "2026-01-01", 100000);
    s_invoice ("SB-1", "st-b", "2026-01-01", 100000);

    //  70% of the balance: the default floor; approved at once.
    Recoup__Reply *reply = s_offer (&s_collector, "st-a", 70000, "SA-1", NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_SETTLEMENT_OFFER);
    const Recoup__Settlement *s = reply->settlement_offer->settlement;
    assert_string_equal (s->status, "approved");
    assert_int_equal (s->balance_minor, 100000);
    assert_int_equal (s->floor_percent, 70);
    assert_string_equal (s->expires, "2026-03-31");
    assert_string_equal (s->approved_by, "cora");
    assert_int_equal (s->n_invoices, 1);
    assert_string_equal (s->invoices [0], "SA-1");
    recoup__reply__free_unpacked (reply, NULL);
    //  An invoice is in one open settlement at a time.
    expect_error (s_offer (&s_collector, "st-a", 80000, NULL, NULL),
                  RECOUP__ERROR_CODE__CONFLICT, "settlement_offer.customer");

    //  Below the floor: pending until a manager approves.
    reply = s_offer (&s_collector, "st-b", 69999, NULL, NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_SETTLEMENT_OFFER);
    uint64_t id = reply->settlement_offer->settlement->id;
    assert_string_equal (reply->settlement_offer->settlement->status, "pending_approval");
    assert_string_equal (reply->settlement_offer->settlement->approved_by, "");
    recoup__reply__free_unpacked (reply, NULL);
    expect_error (s_approve (&s_collector, id), RECOUP__ERROR_CODE__PERMISSION_DENIED,
                  NULL);
    char *status = th_sql_text (&s_server,
                                "SELECT status FROM settlements s JOIN customers c "
                                "ON c.id = s.customer_id WHERE c.ref = 'st-b'");
    assert_string_equal (status, "pending_approval");
    free (status);
    reply = s_approve (&s_manager, id);
    expect_result (reply, RECOUP__REPLY__RESULT_SETTLEMENT_APPROVE);
    assert_string_equal (reply->settlement_approve->settlement->status, "approved");
    assert_string_equal (reply->settlement_approve->settlement->approved_by, "mia");
    recoup__reply__free_unpacked (reply, NULL);
    expect_error (s_approve (&s_manager, id), RECOUP__ERROR_CODE__CONFLICT,
                  "settlement_approve.id");
    assert_int_equal (th_events (&s_server, "settlement.offered"), 2);
    assert_int_equal (th_events (&s_server, "settlement.approved"), 1);
}

static void
test_settlement_completes_once (void **state)
{
    (void) state;
    s_customer ("st-c", 0);
    s_invoice ("SC-1", "st-c", "2026-01-01", 60000);
    s_invoice ("SC-2", "st-c", "2026-01-15", 40000);
    Recoup__Reply *reply = s_offer (&s_collector, "st-c", 80000, NULL, "2026-03-15");
    expect_result (reply, RECOUP__REPLY__RESULT_SETTLEMENT_OFFER);
    uint64_t id = reply->settlement_offer->settlement->id;
    assert_string_equal (reply->settlement_offer->settlement->status, "approved");
    assert_int_equal (reply->settlement_offer->settlement->n_invoices, 2);
    recoup__reply__free_unpacked (reply, NULL);

    //  Part of the amount: nothing happens yet.
    s_pay ("st-c", "SC-P1", 50000, NULL);
    s_tick ();
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM entries WHERE kind = 'settlement'"), 0);
    assert_int_equal (s_balance ("SC-1"), 10000);

    //  The rest of the amount: the remainder is written off, on the day.
    s_pay ("st-c", "SC-P2", 30000, NULL);
    s_tick ();
    assert_int_equal (s_balance ("SC-1"), 0);
    assert_int_equal (s_balance ("SC-2"), 0);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT -sum(amount_minor) FROM entries "
                                  "WHERE kind = 'settlement' AND on_date = '" TODAY "'"),
                      20000);
    char *row = th_sql_text (&s_server,
                             "SELECT status || ' ' || completed_on || ' ' || "
                             "written_off_minor FROM settlements WHERE id = "
                             "(SELECT max(id) FROM settlements)");
    assert_string_equal (row, "completed " TODAY " 20000");
    free (row);
    assert_int_equal (th_events (&s_server, "settlement.completed"), 1);

    //  Evaluated again, through a command and directly: nothing more.
    s_tick ();
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM recoup_settlements_evaluate "
                                  "('" TODAY "', 'test')"), 0);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM entries WHERE kind = 'settlement'"), 1);
    assert_int_equal (th_events (&s_server, "settlement.completed"), 1);
    expect_error (s_approve (&s_manager, id), RECOUP__ERROR_CODE__CONFLICT,
                  "settlement_approve.id");
}

// ---------------------------------------------------------------- agency

static void
test_agency_referral_and_recovery (void **state)
{
    (void) state;
    s_customer ("ag-a", 0);
    s_invoice ("AG-1", "ag-a", "2026-01-01", 100200);
    expect_error (s_refer (&s_collector, "ag-a", 2500),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL);
    expect_error (s_refer (&s_manager, "ag-a", 10001),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "agency_refer.fee_bp");
    expect_error (s_refer (&s_manager, "nobody", 2500),
                  RECOUP__ERROR_CODE__NOT_FOUND, "agency_refer.customer");
    Recoup__Reply *reply = s_refer (&s_manager, "ag-a", 2500);
    expect_result (reply, RECOUP__REPLY__RESULT_AGENCY_REFER);
    const Recoup__AgencyReferral *r = reply->agency_refer->referral;
    assert_int_equal (r->fee_bp, 2500);
    assert_int_equal (r->n_invoices, 1);
    assert_string_equal (r->invoices [0], "AG-1");
    assert_string_equal (r->referred_on, TODAY);
    recoup__reply__free_unpacked (reply, NULL);
    //  Our dunning skips it: the engine reads agency_invoices.
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM agency_invoices a JOIN invoices i "
                                  "ON i.id = a.invoice_id WHERE i.number = 'AG-1'"), 1);
    expect_error (s_refer (&s_manager, "ag-a", 2500), RECOUP__ERROR_CODE__CONFLICT,
                  "agency_refer.customer");

    //  The agency collects 10.02: a fee of 25% is 2.505, rounded half up.
    s_pay ("ag-a", "AGENCY-1", 1002, "AG-1");
    char *row = th_sql_text (&s_server,
                             "SELECT gross_minor || ' ' || fee_minor || ' ' || "
                             "net_minor FROM agency_recoveries");
    assert_string_equal (row, "1002 251 751");
    free (row);
    s_tick ();
    assert_int_equal (th_events (&s_server, "agency.recovered"), 1);
    s_tick ();
    assert_int_equal (th_events (&s_server, "agency.recovered"), 1);
    assert_int_equal (th_events (&s_server, "agency.referred"), 1);
}

// ---------------------------------------------------------------- write-off

static void
test_writeoff_and_recovery (void **state)
{
    (void) state;
    s_customer ("wo-a", 0);
    s_invoice ("WO-1", "wo-a", "2026-01-10", 50000);
    s_pay ("wo-a", "WO-P1", 10000, NULL);
    expect_error (s_writeoff (&s_collector, "WO-1", ""),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "writeoff_request.reason");
    expect_error (s_writeoff (&s_collector, "NO-SUCH", "gone"),
                  RECOUP__ERROR_CODE__NOT_FOUND, "writeoff_request.invoice");
    Recoup__Reply *reply = s_writeoff (&s_collector, "WO-1",
                                       "owner left the country; no assets");
    expect_result (reply, RECOUP__REPLY__RESULT_WRITEOFF_REQUEST);
    uint64_t id = reply->writeoff_request->writeoff->id;
    assert_string_equal (reply->writeoff_request->writeoff->status, "requested");
    assert_string_equal (reply->writeoff_request->writeoff->requested_by, "cora");
    recoup__reply__free_unpacked (reply, NULL);
    expect_error (s_writeoff (&s_collector, "WO-1", "again"),
                  RECOUP__ERROR_CODE__CONFLICT, "writeoff_request.invoice");
    expect_error (s_writeoff_approve (&s_collector, id),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL);
    assert_int_equal (s_balance ("WO-1"), 40000);

    reply = s_writeoff_approve (&s_manager, id);
    expect_result (reply, RECOUP__REPLY__RESULT_WRITEOFF_APPROVE);
    const Recoup__WriteOff *w = reply->writeoff_approve->writeoff;
    assert_string_equal (w->status, "approved");
    assert_string_equal (w->approved_by, "mia");
    assert_string_equal (w->approved_on, TODAY);
    assert_int_equal (w->amount_minor, 40000);
    assert_string_equal (w->reason, "owner left the country; no assets");
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("WO-1"), 0);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT amount_minor FROM entries WHERE kind = "
                                  "'write_off' AND on_date = '" TODAY "'"), -40000);
    expect_error (s_writeoff_approve (&s_manager, id), RECOUP__ERROR_CODE__CONFLICT,
                  "writeoff_approve.id");
    expect_error (s_writeoff (&s_collector, "WO-1", "again"),
                  RECOUP__ERROR_CODE__CONFLICT, "writeoff_request.invoice");

    //  Money after the write-off: a recovery, then its allocation.
    assert_int_equal (s_pay ("wo-a", "WO-P2", 15000, "WO-1"), 15000);
    s_tick ();
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT sum(e.amount_minor) FROM entries e JOIN "
                                  "invoices i ON i.id = e.invoice_id WHERE i.number = "
                                  "'WO-1' AND e.kind = 'recovery'"), 15000);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT recoup_payment_unapplied (id) FROM payments "
                                  "WHERE reference = 'WO-P2'"), 0);
    assert_int_equal (s_balance ("WO-1"), 0);
    assert_int_equal (th_events (&s_server, "writeoff.recovered"), 1);
    s_tick ();
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM entries WHERE kind = 'recovery'"), 1);
    assert_int_equal (th_events (&s_server, "writeoff.recovered"), 1);
    assert_int_equal (th_events (&s_server, "writeoff.approved"), 1);
}

// ---------------------------------------------------------------- credit

static void
test_credit_records (void **state)
{
    (void) state;
    s_customer ("cr-a", 150000);
    th_run_t *run = malloc (sizeof *run);
    assert_non_null (run);
    th_run (&s_server, run, NULL, "credit check cr-a --bureau Experian --score 720 "
            "--cost 25.00 --date 2026-02-15");
    if (run->status != 0)
        fail_msg ("credit check: %s", run->err);
    assert_non_null (strstr (run->out, "Experian score 720 on 2026-02-15, cost 25.00 USD"));
    th_run (&s_server, run, NULL, "credit reference cr-a --kind bank --name "
            "'First Bank' --result 'account in good standing since 2019'");
    if (run->status != 0)
        fail_msg ("credit reference: %s", run->err);
    assert_non_null (strstr (run->out, "bank reference"));
    th_run (&s_server, run, NULL, "credit reference cr-a --kind cousin --name X "
            "--result Y");
    assert_int_equal (run->status, 2);
    th_run (&s_server, run, NULL, "credit check cr-a --bureau B --score 700 --cost 1.005");
    assert_int_equal (run->status, 2);
    free (run);
    assert_int_equal (th_sql_int (&s_server, "SELECT cost_minor FROM credit_checks"), 2500);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM credit_references WHERE "
                                  "kind = 'bank' AND on_date = '" TODAY "'"), 1);
    assert_int_equal (th_events (&s_server, "credit.checked"), 1);
    assert_int_equal (th_events (&s_server, "credit.referenced"), 1);

    Recoup__CreditCheckAddRequest check = RECOUP__CREDIT_CHECK_ADD_REQUEST__INIT;
    check.customer = "cr-a";
    check.bureau = "Experian";
    check.score = 700;
    check.on_date = "2026-02-30";
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CREDIT_CHECK_ADD;
    request.credit_check_add = &check;
    expect_error (th_request (&s_collector, &request), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "credit_check_add.on_date");
    check.on_date = "";
    check.score = 10000;
    expect_error (th_request (&s_collector, &request), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "credit_check_add.score");
    check.score = 700;
    check.customer = "nobody";
    expect_error (th_request (&s_collector, &request), RECOUP__ERROR_CODE__NOT_FOUND,
                  "credit_check_add.customer");

    //  The limit check behind credit.limit_exceeded (resolution_credit_alert).
    int64_t alerts = th_events (&s_server, "credit.limit_exceeded");
    s_invoice ("CR-1", "cr-a", "2026-02-01", 100000);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM customers c, recoup_credit_over_limit "
                                  "(c.id, '" TODAY "') WHERE c.ref = 'cr-a'"), 0);
    assert_int_equal (th_events (&s_server, "credit.limit_exceeded"), alerts);
    //  An invoice that takes the account over its limit: the alert, with
    //  the invoice_issue that caused it.
    s_invoice ("CR-2", "cr-a", "2026-02-01", 60000);
    assert_int_equal (th_events (&s_server, "credit.limit_exceeded"), alerts + 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT o.open_minor FROM customers c, "
                                  "recoup_credit_over_limit (c.id, '" TODAY "') o "
                                  "WHERE c.ref = 'cr-a'"), 160000);
    //  ... and a `credit` flag for the rep and the collections lead.
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM flags f JOIN customers c "
                                  "ON c.id = f.customer_id WHERE c.ref = 'cr-a' AND "
                                  "f.kind = 'credit' AND f.subject = 'CR-2' AND f.text = "
                                  "'invoice CR-2 takes the account over its credit limit: "
                                  "1600.00 USD open, limit 1500.00 USD'"), 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM flags WHERE kind = 'credit'"), 1);

    //  An invoice on an account on credit hold, or cash only, alerts too.
    s_customer ("cr-h", 0);
    run = malloc (sizeof *run);
    assert_non_null (run);
    s_invoice ("CRH-1", "cr-h", "2026-02-01", 10000);
    assert_int_equal (th_events (&s_server, "credit.invoice_on_hold"), 0);
    th_run (&s_server, run, NULL, "hold place cr-h --reason 'cheque bounced'");
    assert_int_equal (run->status, 0);
    int64_t changed = th_events (&s_server, "account.changed");
    s_invoice ("CRH-2", "cr-h", "2026-02-01", 10000);
    assert_int_equal (th_events (&s_server, "credit.invoice_on_hold"), 1);
    //  One account.changed for the invoice and its flag together.
    assert_int_equal (th_events (&s_server, "account.changed"), changed + 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM flags f JOIN customers c "
                                  "ON c.id = f.customer_id WHERE c.ref = 'cr-h' AND "
                                  "f.kind = 'credit' AND f.subject = 'CRH-2' AND f.text = "
                                  "'invoice CRH-2 issued while the account is on credit "
                                  "hold (cheque bounced): new orders only against "
                                  "payment'"), 1);
    th_run (&s_server, run, NULL, "hold lift cr-h --reason 'cleared'");
    assert_int_equal (run->status, 0);
    s_invoice ("CRH-3", "cr-h", "2026-02-01", 10000);
    assert_int_equal (th_events (&s_server, "credit.invoice_on_hold"), 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM flags WHERE subject = 'CRH-3'"), 0);
    free (run);
}

// ---------------------------------------------------------------- bad input

static void
test_bad_input (void **state)
{
    (void) state;
    s_customer ("bi-a", 0);
    s_invoice ("BI-1", "bi-a", "2026-01-01", 100000);
    expect_error (s_offer (&s_collector, "nobody", 500, NULL, NULL),
                  RECOUP__ERROR_CODE__NOT_FOUND, "settlement_offer.customer");
    expect_error (s_offer (&s_collector, "bi-a", 500, "NO-SUCH", NULL),
                  RECOUP__ERROR_CODE__NOT_FOUND, "settlement_offer.invoices[0]");
    expect_error (s_offer (&s_collector, "bi-a", 100000, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "settlement_offer.amount_minor");
    expect_error (s_offer (&s_collector, "bi-a", 0, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "settlement_offer.amount_minor");
    expect_error (s_offer (&s_collector, "bi-a", 500, NULL, "2026-02-29"),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "settlement_offer.expires");
    expect_error (s_offer (&s_collector, "bi-a", 500, NULL, "2026-02-28"),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "settlement_offer.expires");
    expect_error (s_approve (&s_manager, 999999), RECOUP__ERROR_CODE__NOT_FOUND,
                  "settlement_approve.id");
    expect_error (s_writeoff_approve (&s_manager, 999999), RECOUP__ERROR_CODE__NOT_FOUND,
                  "writeoff_approve.id");
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM settlements s JOIN customers c "
                                  "ON c.id = s.customer_id WHERE c.ref = 'bi-a'"), 0);

    th_run_t *run = malloc (sizeof *run);
    assert_non_null (run);
    th_run (&s_server, run, NULL, "settlement offer bi-a --amount 800.005");
    assert_int_equal (run->status, 2);
    assert_non_null (strstr (run->err, "--amount"));
    th_run (&s_server, run, NULL, "settlement offer bi-a --amount 800 --expires 2026-13-01");
    assert_int_equal (run->status, 2);
    th_run (&s_server, run, NULL, "agency refer bi-a --agency X --fee-percent 101");
    assert_int_equal (run->status, 2);
    th_run (&s_server, run, NULL, "agency refer bi-a --agency X --fee-percent -1");
    assert_int_equal (run->status, 2);
    th_run (&s_server, run, NULL, "writeoff approve twelve");
    assert_int_equal (run->status, 2);
    th_run (&s_server, run, NULL, "settlement offer bi-a --amount 500.00 --invoice BI-1 "
            "--expires 2026-03-20 --note 'half, paid by the 20th'");
    if (run->status != 0)
        fail_msg ("settlement offer: %s", run->err);
    assert_non_null (strstr (run->out, "500.00 USD instead of 1000.00 USD, expires "
                             "2026-03-20: pending approval"));
    th_run (&s_server, run, NULL, "writeoff request BI-1 --reason 'no answer'");
    if (run->status != 0)
        fail_msg ("writeoff request: %s", run->err);
    assert_non_null (strstr (run->out, "requested by admin"));
    free (run);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_settlement_floor_and_approval),
        cmocka_unit_test (test_settlement_completes_once),
        cmocka_unit_test (test_agency_referral_and_recovery),
        cmocka_unit_test (test_writeoff_and_recovery),
        cmocka_unit_test (test_credit_records),
        cmocka_unit_test (test_bad_input),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
