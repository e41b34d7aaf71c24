/*  Reports against a small ledger with answers worked out by hand: the
    aging buckets at every boundary, DSO, best possible DSO, average days
    delinquent and CEI per currency (USD, JPY and EUR kept apart), a past
    as-of date after later payments exist, the exact `recoup report aging
    --json` output, undefined ratios left out, roles, bad input, and a
    customer statement. Real recoupd, real PostgreSQL; the ledger goes in
    by SQL with every trigger and check of the schema in force.

    The business date of the server is 2026-10-31 (RECOUP_TODAY), which
    is also the as-of date D of most checks. Then:
      month start S = 2026-10-01 (CEI counts "open at start" as of
      2026-09-30), DSO window = issued after D - 90 = 2026-08-02.       */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#ifndef RECOUP_PATH
#error "RECOUP_PATH must be defined"
#endif

static th_server_t s_server;
static identity_t s_sales, s_importer;
static char s_admin_file [PATH_MAX + 64];   //  identity files for the client
static char s_sales_file [PATH_MAX + 64];

// ---------------------------------------------------------------- the ledger
//
// USD, customer acme ("Acme Ltd") and beta; days past due as of D in [].
//
//   invoice issued      due         amount  entries (dated)             as of D
//   A0      2026-10-01  2026-10-31   10000                              10000 [0]   current
//   A1      2026-09-30  2026-10-30   20000                              20000 [1]   1-30
//   A30     2026-09-01  2026-10-01   30000  paid 30000 on 2026-11-10    30000 [30]  1-30
//                                           (after D: still open as of D)
//   A31     2026-08-31  2026-09-30   40000  paid 15000 on 2026-10-15    25000 [31]  31-60
//   A60     2026-08-02  2026-09-01   50000  credit note 5000 2026-10-12 45000 [60]  31-60
//   PAID    2026-09-05  2026-10-05   25000  paid 25000 on 2026-09-20        0       closed
//   OCT     2026-08-10  2026-09-09  200000  paid 200000 on 2026-10-20       0       closed
//   FUT     2026-11-05  2026-12-05   99999  (issued after D: nowhere)
//   B61     2026-08-01  2026-08-31   60000  credit note 10000 2026-09-15 50000 [61] 61-90
//   B90     2026-07-03  2026-08-02   70000                              70000 [90]  61-90
//   B91     2026-07-02  2026-08-01   80000  paid 80000 on 2026-09-10,   80000 [91]  91-120
//                                           reversed on 2026-10-05
//   B120    2026-06-03  2026-07-03   90000                              90000 [120] 91-120
//   B121    2026-06-02  2026-07-02  100000                             100000 [121] over-120
//   and payment P-EXTRA of 5000 from acme on 2026-10-25, not applied.
//
// JPY, customer kobe:
//   J1      2026-10-10  2026-11-09 1152000                            1152000 [-9]  current
//   J2      2026-06-01  2026-07-01  300000  paid 100000 on 2026-08-15  200000 [122] over-120
//
// EUR, customer euro:
//   E1      2026-05-01  2026-05-31    1000  paid 1000 on 2026-06-10,     1000 [153] over-120
//                                           reversed on 2026-10-20
//
// Customer idle has nothing.

static const char *s_ledger_sql =
    "INSERT INTO customers (ref, name, currency) VALUES "
    " ('acme', 'Acme Ltd', 'USD'), ('beta', 'Beta \"Zwei\" GmbH', 'USD'),"
    " ('kobe', 'Kobe KK', 'JPY'), ('euro', 'Euro SA', 'EUR'),"
    " ('idle', 'Idle Co', 'USD');"
    //  Dates written as D - days past due, due - 30: the table above.
    "INSERT INTO invoices (number, customer_id, issued, due, amount_minor, currency)"
    " SELECT v.number, c.id, v.due - v.terms, v.due, v.amount, c.currency"
    " FROM (VALUES"
    "  ('A0', 'acme', date '2026-10-31' - 0, 30, 10000),"
    "  ('A1', 'acme', date '2026-10-31' - 1, 30, 20000),"
    "  ('A30', 'acme', date '2026-10-31' - 30, 30, 30000),"
    "  ('A31', 'acme', date '2026-10-31' - 31, 30, 40000),"
    "  ('A60', 'acme', date '2026-10-31' - 60, 30, 50000),"
    "  ('PAID', 'acme', date '2026-10-05', 30, 25000),"
    "  ('OCT', 'acme', date '2026-09-09', 30, 200000),"
    "  ('FUT', 'acme', date '2026-12-05', 30, 99999),"
    "  ('B61', 'beta', date '2026-10-31' - 61, 30, 60000),"
    "  ('B90', 'beta', date '2026-10-31' - 90, 30, 70000),"
    "  ('B91', 'beta', date '2026-10-31' - 91, 30, 80000),"
    "  ('B120', 'beta', date '2026-10-31' - 120, 30, 90000),"
    "  ('B121', 'beta', date '2026-10-31' - 121, 30, 100000),"
    "  ('J1', 'kobe', date '2026-11-09', 30, 1152000),"
    "  ('J2', 'kobe', date '2026-07-01', 30, 300000),"
    "  ('E1', 'euro', date '2026-05-31', 30, 1000)"
    " ) AS v (number, customer, due, terms, amount)"
    " JOIN customers c ON c.ref = v.customer;"
    "INSERT INTO payments (customer_id, reference, received, method, amount_minor, currency)"
    " SELECT c.id, v.reference, v.received, 'bank transfer', v.amount, c.currency"
    " FROM (VALUES"
    "  ('acme', 'P-A30', date '2026-11-10', 30000),"
    "  ('acme', 'P-A31', date '2026-10-15', 15000),"
    "  ('acme', 'P-PAID', date '2026-09-20', 25000),"
    "  ('acme', 'P-OCT', date '2026-10-20', 200000),"
    "  ('acme', 'P-EXTRA', date '2026-10-25', 5000),"
    "  ('beta', 'P-B91', date '2026-09-10', 80000),"
    "  ('kobe', 'P-J2', date '2026-08-15', 100000),"
    "  ('euro', 'P-E1', date '2026-06-10', 1000)"
    " ) AS v (customer, reference, received, amount)"
    " JOIN customers c ON c.ref = v.customer;"
    //  Allocations, dated when the payment came in.
    "INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor,"
    "                     currency, payment_id)"
    " SELECT i.id, i.customer_id, 'allocation', p.received, -v.amount, i.currency, p.id"
    " FROM (VALUES ('A30', 'P-A30', 30000), ('A31', 'P-A31', 15000),"
    "              ('PAID', 'P-PAID', 25000), ('OCT', 'P-OCT', 200000),"
    "              ('B91', 'P-B91', 80000), ('J2', 'P-J2', 100000),"
    "              ('E1', 'P-E1', 1000)) AS v (number, reference, amount)"
    " JOIN invoices i ON i.number = v.number"
    " JOIN payments p ON p.reference = v.reference;"
    "INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor,"
    "                     currency, memo)"
    " SELECT i.id, i.customer_id, 'credit_note', v.on_date, -v.amount, i.currency, v.memo"
    " FROM (VALUES ('A60', date '2026-10-12', 5000, 'damaged goods'),"
    "              ('B61', date '2026-09-15', 10000, 'price agreed')"
    "      ) AS v (number, on_date, amount, memo)"
    " JOIN invoices i ON i.number = v.number;"
    //  Reversals of the B91 and E1 payments' allocations: the cash comes
    //  back to the payment, the invoice opens again.
    "INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor,"
    "                     currency, payment_id, reverses, memo)"
    " SELECT e.invoice_id, e.customer_id, 'reversal', v.on_date, -e.amount_minor,"
    "        e.currency, e.payment_id, e.id, 'cheque bounced'"
    " FROM (VALUES ('B91', date '2026-10-05'), ('E1', date '2026-10-20'))"
    "      AS v (number, on_date)"
    " JOIN invoices i ON i.number = v.number"
    " JOIN entries e ON e.invoice_id = i.id AND e.kind = 'allocation'";

// ---------------------------------------------------------------- helpers

static int
s_setup (void **state)
{
    (void) state;
    //  recoupd inherits it: the server's business date.
    setenv ("RECOUP_TODAY", "2026-10-31", 1);
    if (th_server_start (&s_server, "reports", NULL) != 0)
        return -1;
    if (th_user_add (&s_server, "sam", RECOUP__ROLE__SALES, &s_sales) != 0
        || th_user_add (&s_server, "ivan", RECOUP__ROLE__IMPORTER, &s_importer) != 0)
        return -1;
    char err [256];
    snprintf (s_admin_file, sizeof s_admin_file, "%s/admin.identity", s_server.data);
    snprintf (s_sales_file, sizeof s_sales_file, "%s/sam.identity", s_server.dir);
    if (identity_save (&s_sales, s_sales_file, 0, 0, err, sizeof err) != 0)
        return -1;
    char *done = th_sql (&s_server, s_ledger_sql);
    if (!done)
        return -1;
    free (done);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    identity_wipe (&s_sales);
    identity_wipe (&s_importer);
    th_server_destroy (&s_server);
    return 0;
}

//  Sends a report_aging request as `who`; returns the reply (caller frees).
static Recoup__Reply *
s_aging (const identity_t *who, const char *as_of, const char *customer,
         int by_customer)
{
    Recoup__ReportAgingRequest aging = RECOUP__REPORT_AGING_REQUEST__INIT;
    aging.as_of = (char *) as_of;
    aging.customer = (char *) customer;
    aging.by_customer = by_customer;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_REPORT_AGING;
    request.report_aging = &aging;
    client_status_t status;
    Recoup__Reply *reply = th_call (who, &request, &status);
    assert_non_null (reply);
    return reply;
}

static Recoup__Reply *
s_statement (const identity_t *who, const char *customer, const char *as_of,
             const char *from)
{
    Recoup__ReportStatementRequest statement = RECOUP__REPORT_STATEMENT_REQUEST__INIT;
    statement.customer = (char *) customer;
    statement.as_of = (char *) as_of;
    statement.from = (char *) from;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_REPORT_STATEMENT;
    request.report_statement = &statement;
    client_status_t status;
    Recoup__Reply *reply = th_call (who, &request, &status);
    assert_non_null (reply);
    return reply;
}

//  Checks a reply is an error with this code and field.
static void
s_expect_error (Recoup__Reply *reply, Recoup__ErrorCode code, const char *field)
{
    if (reply->result_case != RECOUP__REPLY__RESULT_ERROR)
        fail_msg ("expected error %s, got result %d", wire_error_name (code),
                  reply->result_case);
    if (reply->error->code != code)
        fail_msg ("expected %s, got %s: %s", wire_error_name (code),
                  wire_error_name (reply->error->code), reply->error->message);
    assert_string_equal (reply->error->field, field);
    recoup__reply__free_unpacked (reply, NULL);
}

//  The report of a currency in an aging reply (fails when absent).
static const Recoup__CurrencyReport *
s_currency (const Recoup__ReportAgingReply *report, const char *code)
{
    for (size_t i = 0; i < report->n_currencies; i++)
        if (strcmp (report->currencies [i]->aging->currency, code) == 0)
            return report->currencies [i];
    fail_msg ("no %s in the aging report", code);
    return NULL;
}

//  Checks an Aging: counts and amounts of the six buckets, open count
//  and total (the sums of the buckets).
static void
s_check_aging (const Recoup__Aging *aging, const int counts [6],
               const int64_t amounts [6])
{
    const Recoup__AgingBucket *buckets [6] = {
        aging->current, aging->d1_30, aging->d31_60, aging->d61_90,
        aging->d91_120, aging->over_120 };
    uint32_t open = 0;
    int64_t total = 0;
    for (int b = 0; b < 6; b++) {
        assert_non_null (buckets [b]);
        if (buckets [b]->count != (uint32_t) counts [b]
            || buckets [b]->amount_minor != amounts [b])
            fail_msg ("%s bucket %d: expected %d invoices of %lld, got %u of %lld",
                      aging->currency, b, counts [b], (long long) amounts [b],
                      buckets [b]->count, (long long) buckets [b]->amount_minor);
        open += (uint32_t) counts [b];
        total += amounts [b];
    }
    assert_int_equal (aging->open_count, open);
    assert_int_equal (aging->total_minor, total);
}

//  Checks a ratio: `has` and, when defined, its hundredths.
#define CHECK_RATIO(report, name, defined, centi) do { \
    if ((report)->has_##name != (defined)) \
        fail_msg (#name ": expected %s, got %s", (defined) ? "defined" : "undefined", \
                  (report)->has_##name ? "defined" : "undefined"); \
    if ((defined)) \
        assert_int_equal ((report)->name##_centi, (centi)); \
} while (0)

//  The built client, through the harness (its own --identity, when the
//  arguments give one, wins over the admin's).
typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), NULL, __VA_ARGS__)

// ---------------------------------------------------------------- aging

static void
test_aging_buckets_and_ratios (void **state)
{
    (void) state;
    Recoup__Reply *reply = s_aging (&s_server.admin, "2026-10-31", "", 0);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPORT_AGING);
    const Recoup__ReportAgingReply *report = reply->report_aging;
    assert_string_equal (report->as_of, "2026-10-31");
    //  One report per currency, never summed together, by code.
    assert_int_equal (report->n_currencies, 3);
    assert_string_equal (report->currencies [0]->aging->currency, "EUR");
    assert_string_equal (report->currencies [1]->aging->currency, "JPY");
    assert_string_equal (report->currencies [2]->aging->currency, "USD");
    assert_int_equal (report->n_customers, 0);

    //  USD, every boundary: current A0; 1-30 A1 + A30 (its payment is
    //  dated after D); 31-60 A31 (40000 - 15000) + A60 (50000 - 5000);
    //  61-90 B61 (60000 - 10000) + B90; 91-120 B91 (reversed payment)
    //  + B120; over-120 B121. PAID and OCT are closed, FUT not issued.
    const Recoup__CurrencyReport *usd = s_currency (report, "USD");
    s_check_aging (usd->aging, (int []) { 1, 2, 2, 2, 2, 1 },
                   (int64_t []) { 10000, 20000 + 30000, 25000 + 45000,
                                  50000 + 70000, 80000 + 90000, 100000 });
    //  Invoiced after 2026-08-02 up to D: A0 10000 + A1 20000 + A30 30000
    //  + A31 40000 + PAID 25000 + OCT 200000 = 325000 (A60, issued on
    //  2026-08-02 itself, is outside the window).
    assert_int_equal (usd->invoiced_90d_minor, 325000);
    //  DSO = 520000 / 325000 x 90 = 144.00 days.
    CHECK_RATIO (usd, dso, 1, 14400);
    //  Best possible DSO = 10000 / 325000 x 90 = 2.769.. -> 2.77.
    CHECK_RATIO (usd, best_dso, 1, 277);
    //  ADD = (520000 - 10000) / 325000 x 90 = 141.230.. -> 141.23.
    CHECK_RATIO (usd, add, 1, 14123);
    //  CEI for October. Open as of 2026-09-30: A1 20000 + A30 30000
    //  + A31 40000 + A60 50000 + OCT 200000 + B61 50000 + B90 70000
    //  + B120 90000 + B121 100000 = 650000 (PAID and B91 were paid);
    //  invoiced 2026-10-01..31: A0 10000. (650000 + 10000 - 520000)
    //  / (650000 + 10000 - 10000) x 100 = 140000 / 650000 x 100
    //  = 21.538..% -> 21.54.
    CHECK_RATIO (usd, cei, 1, 2154);

    //  JPY: J1 current, J2 over 120 days (300000 - 100000).
    const Recoup__CurrencyReport *jpy = s_currency (report, "JPY");
    s_check_aging (jpy->aging, (int []) { 1, 0, 0, 0, 0, 1 },
                   (int64_t []) { 1152000, 0, 0, 0, 0, 200000 });
    assert_int_equal (jpy->invoiced_90d_minor, 1152000);
    //  DSO = 1352000 / 1152000 x 90 = 105.625 -> 105.63 (half: away
    //  from zero); best = 90.00; ADD = 200000 / 1152000 x 90 = 15.625
    //  -> 15.63.
    CHECK_RATIO (jpy, dso, 1, 10563);
    CHECK_RATIO (jpy, best_dso, 1, 9000);
    CHECK_RATIO (jpy, add, 1, 1563);
    //  CEI: open at start J2 200000, invoiced in October J1 1152000:
    //  (200000 + 1152000 - 1352000) / (200000 + 1152000 - 1152000)
    //  = 0 / 200000 = 0.00%: defined, and zero.
    CHECK_RATIO (jpy, cei, 1, 0);

    //  EUR: E1 open again after its payment was reversed, 153 days late.
    //  Nothing invoiced in 90 days: no DSO, best DSO or ADD; nothing
    //  open at the start of October, nothing invoiced in it, nothing
    //  current: CEI's denominator is 0, undefined too.
    const Recoup__CurrencyReport *eur = s_currency (report, "EUR");
    s_check_aging (eur->aging, (int []) { 0, 0, 0, 0, 0, 1 },
                   (int64_t []) { 0, 0, 0, 0, 0, 1000 });
    CHECK_RATIO (eur, dso, 0, 0);
    CHECK_RATIO (eur, best_dso, 0, 0);
    CHECK_RATIO (eur, add, 0, 0);
    CHECK_RATIO (eur, cei, 0, 0);
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_aging_by_customer (void **state)
{
    (void) state;
    Recoup__Reply *reply = s_aging (&s_sales, "2026-10-31", "", 1);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPORT_AGING);
    const Recoup__ReportAgingReply *report = reply->report_aging;
    //  Customers with open invoices, by ref; idle has none.
    assert_int_equal (report->n_customers, 4);
    const char *refs [] = { "acme", "beta", "euro", "kobe" };
    for (int i = 0; i < 4; i++) {
        assert_string_equal (report->customers [i]->customer, refs [i]);
        assert_int_equal (report->customers [i]->n_aging, 1);
    }
    assert_string_equal (report->customers [0]->name, "Acme Ltd");
    s_check_aging (report->customers [0]->aging [0], (int []) { 1, 2, 2, 0, 0, 0 },
                   (int64_t []) { 10000, 50000, 70000, 0, 0, 0 });
    s_check_aging (report->customers [1]->aging [0], (int []) { 0, 0, 0, 2, 2, 1 },
                   (int64_t []) { 0, 0, 0, 120000, 170000, 100000 });
    assert_string_equal (report->customers [3]->aging [0]->currency, "JPY");
    //  The currency totals are the same as without --by-customer.
    s_check_aging (s_currency (report, "USD")->aging, (int []) { 1, 2, 2, 2, 2, 1 },
                   (int64_t []) { 10000, 50000, 70000, 120000, 170000, 100000 });
    CHECK_RATIO (s_currency (report, "USD"), cei, 1, 2154);
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_aging_one_customer (void **state)
{
    (void) state;
    Recoup__Reply *reply = s_aging (&s_server.admin, "2026-10-31", "beta", 0);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPORT_AGING);
    const Recoup__ReportAgingReply *report = reply->report_aging;
    assert_int_equal (report->n_currencies, 1);
    const Recoup__CurrencyReport *usd = s_currency (report, "USD");
    s_check_aging (usd->aging, (int []) { 0, 0, 0, 2, 2, 1 },
                   (int64_t []) { 0, 0, 0, 120000, 170000, 100000 });
    //  beta invoiced nothing after 2026-08-02: no DSO, best DSO, ADD.
    CHECK_RATIO (usd, dso, 0, 0);
    CHECK_RATIO (usd, best_dso, 0, 0);
    CHECK_RATIO (usd, add, 0, 0);
    //  Open as of 2026-09-30: B61 50000 + B90 70000 + B120 90000
    //  + B121 100000 = 310000 (B91 paid then). The reversal reopened
    //  80000: (310000 + 0 - 390000) / (310000 + 0 - 0) x 100
    //  = -25.806..% -> -25.81 (rounded away from zero).
    CHECK_RATIO (usd, cei, 1, -2581);
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_aging_past_date_after_later_payments (void **state)
{
    (void) state;
    //  As of 2026-09-30 the October payments (A31, OCT) and the credit
    //  note on A60 had not happened, though they are in the ledger now.
    Recoup__Reply *reply = s_aging (&s_server.admin, "2026-09-30", "acme", 1);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPORT_AGING);
    const Recoup__ReportAgingReply *report = reply->report_aging;
    assert_string_equal (report->as_of, "2026-09-30");
    const Recoup__CurrencyReport *usd = s_currency (report, "USD");
    //  current: A1 20000 (due 10-30), A30 30000 (10-01), A31 40000
    //  (due 09-30: 0 days); 1-30: A60 50000 (29 days), OCT 200000 (21).
    //  PAID was paid on 09-20; A0 was not issued yet.
    s_check_aging (usd->aging, (int []) { 3, 2, 0, 0, 0, 0 },
                   (int64_t []) { 90000, 250000, 0, 0, 0, 0 });
    //  Invoiced after 2026-07-02: A1 + A30 + A31 + A60 + PAID + OCT
    //  = 20000 + 30000 + 40000 + 50000 + 25000 + 200000 = 365000.
    assert_int_equal (usd->invoiced_90d_minor, 365000);
    //  DSO = 340000 / 365000 x 90 = 83.835.. -> 83.84; best = 90000
    //  / 365000 x 90 = 22.191.. -> 22.19; ADD = 250000 / 365000 x 90
    //  = 61.643.. -> 61.64, each rounded once from its exact value (so
    //  not 83.84 - 22.19 = 61.65).
    CHECK_RATIO (usd, dso, 1, 8384);
    CHECK_RATIO (usd, best_dso, 1, 2219);
    CHECK_RATIO (usd, add, 1, 6164);
    //  CEI for September: open as of 08-31 A31 40000 + A60 50000
    //  + OCT 200000 = 290000; invoiced 09-01..30 A30 + PAID + A1
    //  = 75000: (290000 + 75000 - 340000) / (290000 + 75000 - 90000)
    //  x 100 = 25000 / 275000 x 100 = 9.0909.. -> 9.09.
    CHECK_RATIO (usd, cei, 1, 909);
    assert_int_equal (report->n_customers, 1);
    assert_string_equal (report->customers [0]->customer, "acme");
    recoup__reply__free_unpacked (reply, NULL);

    //  Before anything was issued: nothing at all.
    reply = s_aging (&s_server.admin, "2026-01-31", "", 1);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPORT_AGING);
    assert_int_equal (reply->report_aging->n_currencies, 0);
    assert_int_equal (reply->report_aging->n_customers, 0);
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_aging_business_date_default (void **state)
{
    (void) state;
    //  "" = the server's business date (RECOUP_TODAY of recoupd).
    Recoup__Reply *reply = s_aging (&s_server.admin, "", "", 0);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPORT_AGING);
    assert_string_equal (reply->report_aging->as_of, "2026-10-31");
    CHECK_RATIO (s_currency (reply->report_aging, "USD"), dso, 1, 14400);
    recoup__reply__free_unpacked (reply, NULL);
}

//  An empty bucket and a bucket in the JSON of the aging.
#define B0 "{\"count\":0,\"amount_minor\":0}"
#define B(n, a) "{\"count\":" #n ",\"amount_minor\":" #a "}"
#define BUCKETS(c, d1, d31, d61, d91, o) "\"buckets\":{\"current\":" c \
    ",\"1-30\":" d1 ",\"31-60\":" d31 ",\"61-90\":" d61 ",\"91-120\":" d91 \
    ",\"over-120\":" o "}"

static void
test_aging_json_contract (void **state)
{
    (void) state;
    run_t run;
    s_run (&run, "--identity '%s' report aging --as-of 2026-10-31 --json",
           s_admin_file);
    assert_int_equal (run.status, 0);
    //  Exactly one object; ratios with two decimals; EUR has none.
    const char *expect =
        "{\"as_of\":\"2026-10-31\",\"currencies\":["
        "{\"currency\":\"EUR\",\"open_count\":1,\"total_minor\":1000,"
        BUCKETS (B0, B0, B0, B0, B0, B (1, 1000)) "},"
        "{\"currency\":\"JPY\",\"open_count\":2,\"total_minor\":1352000,"
        BUCKETS (B (1, 1152000), B0, B0, B0, B0, B (1, 200000)) ","
        "\"dso_days\":105.63,\"best_possible_dso_days\":90.00,"
        "\"add_days\":15.63,\"cei_percent\":0.00},"
        "{\"currency\":\"USD\",\"open_count\":10,\"total_minor\":520000,"
        BUCKETS (B (1, 10000), B (2, 50000), B (2, 70000), B (2, 120000),
                 B (2, 170000), B (1, 100000)) ","
        "\"dso_days\":144.00,\"best_possible_dso_days\":2.77,"
        "\"add_days\":141.23,\"cei_percent\":21.54}]}\n";
    assert_string_equal (run.out, expect);

    //  --by-customer adds the customers (names escaped), --customer
    //  narrows everything to one; a negative ratio keeps its sign.
    s_run (&run, "--identity '%s' report aging --as-of 2026-10-31 --customer beta "
           "--by-customer --json", s_sales_file);
    assert_int_equal (run.status, 0);
    expect =
        "{\"as_of\":\"2026-10-31\",\"currencies\":["
        "{\"currency\":\"USD\",\"open_count\":5,\"total_minor\":390000,"
        BUCKETS (B0, B0, B0, B (2, 120000), B (2, 170000), B (1, 100000)) ","
        "\"cei_percent\":-25.81}],"
        "\"customers\":[{\"customer\":\"beta\",\"name\":\"Beta \\\"Zwei\\\" GmbH\","
        "\"currencies\":[{\"currency\":\"USD\",\"open_count\":5,\"total_minor\":390000,"
        BUCKETS (B0, B0, B0, B (2, 120000), B (2, 170000), B (1, 100000)) "}]}]}\n";
    assert_string_equal (run.out, expect);

    //  The default as-of date comes from the server.
    s_run (&run, "--identity '%s' --json report aging --by-customer", s_admin_file);
    assert_int_equal (run.status, 0);
    const char *head = "{\"as_of\":\"2026-10-31\",\"currencies\":[";
    assert_int_equal (strncmp (run.out, head, strlen (head)), 0);
    assert_non_null (strstr (run.out, "],\"customers\":[{\"customer\":\"acme\",\"name\":"
                                      "\"Acme Ltd\",\"currencies\":[{\"currency\":\"USD\","
                                      "\"open_count\":5,\"total_minor\":130000,"));
    assert_non_null (strstr (run.out, "{\"customer\":\"kobe\",\"name\":\"Kobe KK\","));
    assert_null (strstr (run.out, "idle"));
    assert_int_equal (strchr (run.out, '\n') - run.out, (long) strlen (run.out) - 1);
}

static void
test_aging_table (void **state)
{
    (void) state;
    run_t run;
    s_run (&run, "--identity '%s' report aging --as-of 2026-10-31 --by-customer",
           s_admin_file);
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "aging as of 2026-10-31"));
    //  Amounts in each currency's decimals: JPY none, USD two.
    assert_non_null (strstr (run.out, "1152000"));
    assert_null (strstr (run.out, "11520.00"));
    assert_non_null (strstr (run.out, "5200.00"));
    assert_non_null (strstr (run.out, "10.00"));
    assert_non_null (strstr (run.out, "DSO 144.00 days, best possible DSO 2.77 days, "
                                      "average days delinquent 141.23 days, CEI 21.54%"));
    assert_non_null (strstr (run.out, "DSO n/a, best possible DSO n/a, "
                                      "average days delinquent n/a, CEI n/a"));
    assert_non_null (strstr (run.out, "beta  Beta \"Zwei\" GmbH"));
}

// ---------------------------------------------------------------- refusals

static void
test_roles (void **state)
{
    (void) state;
    //  Importer keys load data; they do not read the books.
    s_expect_error (s_aging (&s_importer, "2026-10-31", "", 0),
                    RECOUP__ERROR_CODE__PERMISSION_DENIED, "report_aging");
    s_expect_error (s_statement (&s_importer, "acme", "", ""),
                    RECOUP__ERROR_CODE__PERMISSION_DENIED, "report_statement");
    //  Sales may read both.
    Recoup__Reply *reply = s_statement (&s_sales, "acme", "", "");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPORT_STATEMENT);
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_bad_input (void **state)
{
    (void) state;
    const char *bad [] = { "2026-02-30", "2026-13-01", "31/10/2026", "2026-10-31 ",
                           "yesterday", "1899-12-31" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        s_expect_error (s_aging (&s_server.admin, bad [i], "", 0),
                        RECOUP__ERROR_CODE__INVALID_ARGUMENT, "report_aging.as_of");
    s_expect_error (s_aging (&s_server.admin, "2026-10-31", "nobody", 0),
                    RECOUP__ERROR_CODE__NOT_FOUND, "report_aging.customer");
    s_expect_error (s_statement (&s_server.admin, "nobody", "", ""),
                    RECOUP__ERROR_CODE__NOT_FOUND, "report_statement.customer");
    s_expect_error (s_statement (&s_server.admin, "", "", ""),
                    RECOUP__ERROR_CODE__INVALID_ARGUMENT, "report_statement.customer");
    s_expect_error (s_statement (&s_server.admin, "acme", "2026-10-32", ""),
                    RECOUP__ERROR_CODE__INVALID_ARGUMENT, "report_statement.as_of");
    s_expect_error (s_statement (&s_server.admin, "acme", "", "2026-9-1"),
                    RECOUP__ERROR_CODE__INVALID_ARGUMENT, "report_statement.from");
    s_expect_error (s_statement (&s_server.admin, "acme", "2026-09-30", "2026-10-01"),
                    RECOUP__ERROR_CODE__INVALID_ARGUMENT, "report_statement.from");

    //  The client refuses a bad date itself (exit 2) and says why.
    run_t run;
    s_run (&run, "--identity '%s' report aging --as-of 2026-02-30", s_admin_file);
    assert_int_equal (run.status, 2);
    assert_non_null (strstr (run.err, "--as-of '2026-02-30' is not a date"));
    s_run (&run, "--identity '%s' report statement acme --from 20261001", s_admin_file);
    assert_int_equal (run.status, 2);
    assert_non_null (strstr (run.err, "--from '20261001' is not a date"));
    s_run (&run, "--identity '%s' report statement", s_admin_file);
    assert_int_equal (run.status, 2);
    s_run (&run, "--identity '%s' report aging --frobnicate", s_admin_file);
    assert_int_equal (run.status, 2);
    s_run (&run, "--identity '%s' report aging --customer", s_admin_file);
    assert_int_equal (run.status, 2);
    s_run (&run, "--identity '%s' report", s_admin_file);
    assert_int_equal (run.status, 2);
    //  The server's refusals: exit 1 with the reason.
    s_run (&run, "--identity '%s' report aging --customer nobody", s_admin_file);
    assert_int_equal (run.status, 1);
    assert_non_null (strstr (run.err, "not found (report_aging.customer)"));
}

// ---------------------------------------------------------------- statement

static void
test_statement (void **state)
{
    (void) state;
    //  acme as of D, from D - 90 = 2026-08-02 (the default).
    Recoup__Reply *reply = s_statement (&s_server.admin, "acme", "2026-10-31", "");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPORT_STATEMENT);
    const Recoup__ReportStatementReply *s = reply->report_statement;
    assert_string_equal (s->as_of, "2026-10-31");
    assert_string_equal (s->from, "2026-08-02");
    assert_string_equal (s->account->customer->ref, "acme");
    assert_string_equal (s->account->customer->name, "Acme Ltd");
    assert_string_equal (s->account->as_of, "2026-10-31");

    //  Open items by due date, with their balances as of D.
    const char *numbers [] = { "A60", "A31", "A30", "A1", "A0" };
    const int64_t amounts [] = { 50000, 40000, 30000, 20000, 10000 };
    const int64_t balances [] = { 45000, 25000, 30000, 20000, 10000 };
    assert_int_equal (s->n_open_invoices, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal (s->open_invoices [i]->number, numbers [i]);
        assert_int_equal (s->open_invoices [i]->amount_minor, amounts [i]);
        assert_int_equal (s->open_invoices [i]->balance_minor, balances [i]);
    }
    assert_string_equal (s->open_invoices [0]->issued, "2026-08-02");
    assert_string_equal (s->open_invoices [0]->due, "2026-09-01");
    assert_int_equal (s->account->n_aging, 1);
    s_check_aging (s->account->aging [0], (int []) { 1, 2, 2, 0, 0, 0 },
                   (int64_t []) { 10000, 50000, 70000, 0, 0, 0 });
    //  P-EXTRA's 5000 is unapplied.
    assert_int_equal (s->account->n_unapplied, 1);
    assert_string_equal (s->account->unapplied [0]->currency, "USD");
    assert_int_equal (s->account->unapplied [0]->amount_minor, 5000);

    //  Payments received 08-02..10-31 (P-A30 came on 11-10).
    const char *refs [] = { "P-PAID", "P-A31", "P-OCT", "P-EXTRA" };
    const int64_t paid [] = { 25000, 15000, 200000, 5000 };
    const int64_t left [] = { 0, 0, 0, 5000 };
    assert_int_equal (s->n_payments, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal (s->payments [i]->reference, refs [i]);
        assert_int_equal (s->payments [i]->amount_minor, paid [i]);
        assert_int_equal (s->payments [i]->unapplied_minor, left [i]);
        assert_int_equal (s->payments [i]->n_allocations, i < 3 ? 1 : 0);
    }
    assert_string_equal (s->payments [2]->allocations [0]->invoice, "OCT");
    assert_int_equal (s->payments [2]->allocations [0]->amount_minor, 200000);

    //  Everything dated 08-02..10-31, by date: the invoices issued (their
    //  own "issue" entries), payments applied, the credit note.
    struct { const char *date, *kind, *invoice; int64_t amount; } rows [] = {
        { "2026-08-02", "issue", "A60", 50000 },
        { "2026-08-10", "issue", "OCT", 200000 },
        { "2026-08-31", "issue", "A31", 40000 },
        { "2026-09-01", "issue", "A30", 30000 },
        { "2026-09-05", "issue", "PAID", 25000 },
        { "2026-09-20", "allocation", "PAID", -25000 },
        { "2026-09-30", "issue", "A1", 20000 },
        { "2026-10-01", "issue", "A0", 10000 },
        { "2026-10-12", "credit_note", "A60", -5000 },
        { "2026-10-15", "allocation", "A31", -15000 },
        { "2026-10-20", "allocation", "OCT", -200000 },
    };
    assert_int_equal (s->n_activity, 11);
    for (size_t i = 0; i < 11; i++) {
        const Recoup__Entry *e = s->activity [i];
        if (strcmp (e->on_date, rows [i].date) != 0 || strcmp (e->kind, rows [i].kind) != 0
            || strcmp (e->invoice, rows [i].invoice) != 0 || e->amount_minor != rows [i].amount)
            fail_msg ("activity %zu: expected %s %s %s %lld, got %s %s %s %lld", i,
                      rows [i].date, rows [i].kind, rows [i].invoice,
                      (long long) rows [i].amount, e->on_date, e->kind, e->invoice,
                      (long long) e->amount_minor);
    }
    assert_string_equal (s->activity [5]->payment, "P-PAID");
    assert_string_equal (s->activity [8]->memo, "damaged goods");
    recoup__reply__free_unpacked (reply, NULL);

    //  As of September's end: OCT still open, October's cash not there.
    reply = s_statement (&s_server.admin, "acme", "2026-09-30", "2026-09-01");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPORT_STATEMENT);
    s = reply->report_statement;
    assert_int_equal (s->n_open_invoices, 5);
    assert_string_equal (s->open_invoices [0]->number, "A60");
    assert_string_equal (s->open_invoices [1]->number, "OCT");
    assert_int_equal (s->open_invoices [1]->balance_minor, 200000);
    assert_int_equal (s->n_payments, 1);
    assert_string_equal (s->payments [0]->reference, "P-PAID");
    assert_int_equal (s->account->n_unapplied, 0);
    recoup__reply__free_unpacked (reply, NULL);

    //  beta: the reversal shows, with the entry it undoes.
    reply = s_statement (&s_server.admin, "beta", "2026-10-31", "2026-10-01");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPORT_STATEMENT);
    s = reply->report_statement;
    assert_int_equal (s->n_activity, 1);
    assert_string_equal (s->activity [0]->kind, "reversal");
    assert_int_equal (s->activity [0]->amount_minor, 80000);
    assert_true (s->activity [0]->reverses > 0);
    recoup__reply__free_unpacked (reply, NULL);

    //  A customer with nothing: an empty statement, not an error.
    reply = s_statement (&s_server.admin, "idle", "", "");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPORT_STATEMENT);
    assert_int_equal (reply->report_statement->n_open_invoices, 0);
    assert_int_equal (reply->report_statement->n_activity, 0);
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_statement_client (void **state)
{
    (void) state;
    run_t run;
    s_run (&run, "--identity '%s' report statement acme --as-of 2026-10-31", s_admin_file);
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "statement for acme (Acme Ltd) as of 2026-10-31"));
    assert_non_null (strstr (run.out, "payments received 2026-08-02 to 2026-10-31"));
    assert_non_null (strstr (run.out, "unapplied cash as of 2026-10-31: 50.00 USD"));
    assert_non_null (strstr (run.out, "damaged goods"));
    //  A60: issued, due, 60 days late, 500.00, balance 450.00.
    assert_non_null (strstr (run.out, "2026-08-02  2026-09-01         60         500.00"
                                      "         450.00  USD"));
    s_run (&run, "--identity '%s' report statement kobe --json", s_admin_file);
    assert_int_equal (run.status, 0);
    assert_non_null (strstr (run.out, "\"as_of\":\"2026-10-31\""));
    assert_non_null (strstr (run.out, "\"number\":\"J2\""));
    assert_non_null (strstr (run.out, "\"balance_minor\":200000"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_aging_buckets_and_ratios),
        cmocka_unit_test (test_aging_by_customer),
        cmocka_unit_test (test_aging_one_customer),
        cmocka_unit_test (test_aging_past_date_after_later_payments),
        cmocka_unit_test (test_aging_business_date_default),
        cmocka_unit_test (test_aging_json_contract),
        cmocka_unit_test (test_aging_table),
        cmocka_unit_test (test_roles),
        cmocka_unit_test (test_bad_input),
        cmocka_unit_test (test_statement),
        cmocka_unit_test (test_statement_client),
    };
    return cmocka_run_group_tests_name ("reports", tests, s_setup, s_teardown);
}
