/*  The receivables ledger against a real recoupd: customers (create,
    update, the checks and their errors), invoices (defaults from terms,
    dates, duplicates), payments (named invoices, oldest due first,
    partial, overpayment, duplicate references, retries), credit notes,
    reversals, the database's own guarantees (no negative balance even
    from psql), roles, the account.changed events and the snapshot's
    accounts, and the `recoup` client's ledger commands.

    The server runs with RECOUP_TODAY=2026-03-01, so every default date
    and every aging below is fixed.                                      */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#ifndef RECOUP_PATH
#error "RECOUP_PATH must be defined"
#endif

#define TODAY "2026-03-01"

static th_server_t s_server;
static char s_admin_path [PATH_MAX + 64];  //  admin identity file
static identity_t s_sales;              //  role sales
static identity_t s_collector;          //  role collector
static identity_t s_manager;            //  role manager
static identity_t s_importer;           //  role importer

static int
s_setup (void **state)
{
    (void) state;
    setenv ("RECOUP_TODAY", TODAY, 1);
    if (th_server_start (&s_server, "ledger", NULL) != 0)
        return -1;
    snprintf (s_admin_path, sizeof s_admin_path, "%s/admin.identity", s_server.data);
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

// ---------------------------------------------------------------- helpers

//  Checks that reply is an error with `code` and (unless NULL) `field`,
//  then frees it.
#define expect_error(reply, code, field) \
    s_expect_error (reply, code, field, __FILE__, __LINE__)

static void
s_expect_error (Recoup__Reply *reply, Recoup__ErrorCode code, const char *field,
                const char *file, int line)
{
    if (reply->result_case != RECOUP__REPLY__RESULT_ERROR) {
        print_error ("expected %s%s%s, got a result (case %d)\n",
                     wire_error_name (code), field ? " on " : "",
                     field ? field : "", (int) reply->result_case);
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

//  Checks that reply is the result `want` (printing the error if not).
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

//  customer_create with the given customer.
static Recoup__Reply *
s_create (const identity_t *who, Recoup__Customer *customer)
{
    Recoup__CustomerCreateRequest create = RECOUP__CUSTOMER_CREATE_REQUEST__INIT;
    create.customer = customer;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_CREATE;
    request.customer_create = &create;
    return th_request (who, &request);
}

//  A customer with a ref, a name and (when not NULL) a currency and terms.
static void
s_new_customer (const char *ref, const char *currency, const char *terms)
{
    Recoup__Customer c = RECOUP__CUSTOMER__INIT;
    c.ref = (char *) ref;
    c.name = (char *) ref;
    if (currency)
        c.currency = (char *) currency;
    if (terms)
        c.terms = (char *) terms;
    Recoup__Reply *reply = s_create (&s_server.admin, &c);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_CREATE);
    recoup__reply__free_unpacked (reply, NULL);
}

static Recoup__Reply *
s_update (const identity_t *who, Recoup__Customer *customer, char **fields,
          size_t n_fields)
{
    Recoup__CustomerUpdateRequest update = RECOUP__CUSTOMER_UPDATE_REQUEST__INIT;
    update.customer = customer;
    update.fields = fields;
    update.n_fields = n_fields;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_UPDATE;
    request.customer_update = &update;
    return th_request (who, &request);
}

//  invoice_issue; "" (or NULL) fields take the server's defaults.
static Recoup__Reply *
s_issue_as (const identity_t *who, const char *number, const char *customer,
            const char *issued, const char *due, int64_t amount,
            const char *currency, const char *terms)
{
    Recoup__Invoice invoice = RECOUP__INVOICE__INIT;
    invoice.number = (char *) number;
    invoice.customer = (char *) customer;
    invoice.issued = (char *) (issued ? issued : "");
    invoice.due = (char *) (due ? due : "");
    invoice.amount_minor = amount;
    invoice.currency = (char *) (currency ? currency : "");
    invoice.terms = (char *) (terms ? terms : "");
    Recoup__InvoiceIssueRequest issue = RECOUP__INVOICE_ISSUE_REQUEST__INIT;
    issue.invoice = &invoice;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_INVOICE_ISSUE;
    request.invoice_issue = &issue;
    return th_request (who, &request);
}

static Recoup__Reply *
s_issue (const char *number, const char *customer, const char *issued,
         const char *due, int64_t amount, const char *currency, const char *terms)
{
    return s_issue_as (&s_server.admin, number, customer, issued, due, amount,
                       currency, terms);
}

//  Issues an invoice that must be accepted.
static void
s_issue_ok (const char *number, const char *customer, const char *issued,
            const char *due, int64_t amount)
{
    Recoup__Reply *reply = s_issue (number, customer, issued, due, amount, NULL, NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_INVOICE_ISSUE);
    recoup__reply__free_unpacked (reply, NULL);
}

//  A named allocation for s_pay: invoice and amount (0: its balance).
typedef struct {
    const char *invoice;
    int64_t amount;
} alloc_t;

//  payment_post with `n` named allocations; request_id may be NULL.
static Recoup__Reply *
s_pay_as (const identity_t *who, const char *request_id, const char *customer,
          const char *reference, const char *received, int64_t amount,
          const char *currency, const alloc_t *named, size_t n)
{
    Recoup__Allocation allocation [16];
    Recoup__Allocation *allocations [16];
    assert_true (n <= 16);
    for (size_t i = 0; i < n; i++) {
        recoup__allocation__init (&allocation [i]);
        allocation [i].invoice = (char *) named [i].invoice;
        allocation [i].amount_minor = named [i].amount;
        allocations [i] = &allocation [i];
    }
    Recoup__Payment payment = RECOUP__PAYMENT__INIT;
    payment.customer = (char *) customer;
    payment.reference = (char *) reference;
    payment.received = (char *) (received ? received : "");
    payment.amount_minor = amount;
    payment.currency = (char *) (currency ? currency : "");
    payment.method = "bank transfer";
    payment.allocations = allocations;
    payment.n_allocations = n;
    Recoup__PaymentPostRequest post = RECOUP__PAYMENT_POST_REQUEST__INIT;
    post.payment = &payment;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    if (request_id)
        request.request_id = (char *) request_id;
    request.command_case = RECOUP__REQUEST__COMMAND_PAYMENT_POST;
    request.payment_post = &post;
    return th_request (who, &request);
}

static Recoup__Reply *
s_pay (const char *customer, const char *reference, const char *received,
       int64_t amount, const alloc_t *named, size_t n)
{
    return s_pay_as (&s_server.admin, NULL, customer, reference, received, amount,
                     NULL, named, n);
}

static Recoup__Reply *
s_credit (const identity_t *who, const char *invoice, int64_t amount,
          const char *on_date, const char *memo)
{
    Recoup__CreditNoteRequest note = RECOUP__CREDIT_NOTE_REQUEST__INIT;
    note.invoice = (char *) invoice;
    note.amount_minor = amount;
    note.on_date = (char *) (on_date ? on_date : "");
    note.memo = (char *) (memo ? memo : "");
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CREDIT_NOTE;
    request.credit_note = &note;
    return th_request (who, &request);
}

static Recoup__Reply *
s_reverse (const identity_t *who, uint64_t entry, const char *on_date,
           const char *memo)
{
    Recoup__EntryReverseRequest reverse = RECOUP__ENTRY_REVERSE_REQUEST__INIT;
    reverse.entry_id = entry;
    reverse.on_date = (char *) (on_date ? on_date : "");
    reverse.memo = (char *) (memo ? memo : "");
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_ENTRY_REVERSE;
    request.entry_reverse = &reverse;
    return th_request (who, &request);
}

static Recoup__Reply *
s_show (const identity_t *who, const char *ref, const char *as_of)
{
    Recoup__CustomerShowRequest show = RECOUP__CUSTOMER_SHOW_REQUEST__INIT;
    show.customer = (char *) ref;
    show.as_of = (char *) (as_of ? as_of : "");
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_SHOW;
    request.customer_show = &show;
    return th_request (who, &request);
}

//  The balance of an invoice now, from the database.
static int64_t
s_balance (const char *number)
{
    return th_sql_int (&s_server,
                       "SELECT recoup_invoice_balance (id) FROM invoices "
                       "WHERE number = '%s'", number);
}

//  Unapplied cash of a customer in a currency, from customer_show.
static int64_t
s_unapplied (const char *ref, const char *currency)
{
    Recoup__Reply *reply = s_show (&s_server.admin, ref, NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_SHOW);
    int64_t amount = 0;
    const Recoup__Account *account = reply->customer_show->account;
    for (size_t i = 0; i < account->n_unapplied; i++)
        if (strcmp (account->unapplied [i]->currency, currency) == 0)
            amount = account->unapplied [i]->amount_minor;
    recoup__reply__free_unpacked (reply, NULL);
    return amount;
}

// ---------------------------------------------------------------- customers

static void
test_customer_create_defaults_and_fields (void **state)
{
    (void) state;
    Recoup__Customer c = RECOUP__CUSTOMER__INIT;
    c.ref = "plain";
    c.name = "Plain & Simple Ltd";
    Recoup__Reply *reply = s_create (&s_collector, &c);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_CREATE);
    const Recoup__Customer *got = reply->customer_create->customer;
    assert_string_equal (got->timezone, "UTC");
    assert_string_equal (got->language, "en");
    assert_string_equal (got->currency, "USD");
    assert_string_equal (got->terms, "net 30");
    assert_int_equal (got->credit_limit_minor, 0);
    assert_string_equal (got->sales_rep, "");
    assert_true (reply->customer_create->seq > 0);
    recoup__reply__free_unpacked (reply, NULL);

    Recoup__Customer full = RECOUP__CUSTOMER__INIT;
    full.ref = "nordic";
    full.name = "Nordisk Järn AB";
    full.email = "ar@nordisk.example";
    full.phone = "+46 8 123 456";
    full.address = "Storgatan 1\n111 22 Stockholm";
    full.timezone = "europe/stockholm";     //  spelled as PostgreSQL spells it
    full.language = "sv";
    full.currency = "SEK";
    full.terms = "2% 10 Net30";
    full.credit_limit_minor = 5000000;
    full.sales_rep = "sam";
    full.collector = "cora";
    reply = s_create (&s_server.admin, &full);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_CREATE);
    got = reply->customer_create->customer;
    assert_string_equal (got->timezone, "Europe/Stockholm");
    assert_string_equal (got->terms, "2/10 net 30");
    assert_string_equal (got->currency, "SEK");
    assert_string_equal (got->address, "Storgatan 1\n111 22 Stockholm");
    assert_string_equal (got->sales_rep, "sam");
    assert_string_equal (got->collector, "cora");
    assert_int_equal (got->credit_limit_minor, 5000000);
    recoup__reply__free_unpacked (reply, NULL);
    //  The terms are stored taken apart too.
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT terms_days * 1000000 + discount_bp * 1000"
                                  " + discount_days FROM customers WHERE ref = 'nordic'"),
                      30 * 1000000 + 200 * 1000 + 10);
    //  A manager may be the sales rep and the collector.
    Recoup__Customer lead = RECOUP__CUSTOMER__INIT;
    lead.ref = "lead";
    lead.name = "Lead";
    lead.sales_rep = "mia";
    lead.collector = "mia";
    reply = s_create (&s_importer, &lead);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_CREATE);
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_customer_create_errors (void **state)
{
    (void) state;
    s_new_customer ("dup", NULL, NULL);
    Recoup__Customer c = RECOUP__CUSTOMER__INIT;
    c.ref = "dup";
    c.name = "Another";
    expect_error (s_create (&s_server.admin, &c), RECOUP__ERROR_CODE__CONFLICT,
                  "customer_create.customer.ref");

    c.ref = "errors";
    c.sales_rep = "nobody";
    expect_error (s_create (&s_server.admin, &c), RECOUP__ERROR_CODE__NOT_FOUND,
                  "customer_create.customer.sales_rep");
    c.sales_rep = "cora";                   //  a collector is no sales rep
    expect_error (s_create (&s_server.admin, &c),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "customer_create.customer.sales_rep");
    c.sales_rep = "";
    c.collector = "sam";                    //  nor a sales rep a collector
    expect_error (s_create (&s_server.admin, &c),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "customer_create.customer.collector");
    c.collector = "";

    struct {
        const char *field;
        char **slot;
        const char *value;
    } bad [] = {
        { "timezone", &c.timezone, "Mars/Olympus_Mons" },
        { "timezone", &c.timezone, "CEST" },
        { "terms", &c.terms, "net thirty" },
        { "terms", &c.terms, "2/30 net 30" },
        { "currency", &c.currency, "XYZ" },
        { "currency", &c.currency, "usd" },
        { "language", &c.language, "English" },
        { "email", &c.email, "not an address" },
        { "name", &c.name, "" },
        { "name", &c.name, "tab\there" },
        { "ref", &c.ref, "" },
        { "ref", &c.ref, "r1234567890123456789012345678901234567890123456789012345678901234" },
        { "phone", &c.phone, "12345678901234567890123456789012345678901234567890123456789012345" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        char *saved = *bad [i].slot;
        *bad [i].slot = (char *) bad [i].value;
        char field [128];
        snprintf (field, sizeof field, "customer_create.customer.%s", bad [i].field);
        expect_error (s_create (&s_server.admin, &c),
                      RECOUP__ERROR_CODE__INVALID_ARGUMENT, field);
        *bad [i].slot = saved;
    }
    c.credit_limit_minor = -1;
    expect_error (s_create (&s_server.admin, &c),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "customer_create.customer.credit_limit_minor");
    //  No customer message at all.
    Recoup__CustomerCreateRequest create = RECOUP__CUSTOMER_CREATE_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_CREATE;
    request.customer_create = &create;
    expect_error (th_request (&s_server.admin, &request),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "customer_create.customer");
    //  None of it left a trace.
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM customers WHERE ref = 'errors'"), 0);
}

static void
test_customer_update (void **state)
{
    (void) state;
    Recoup__Customer c = RECOUP__CUSTOMER__INIT;
    c.ref = "upd";
    c.name = "Before";
    c.email = "old@upd.example";
    c.sales_rep = "sam";
    Recoup__Reply *reply = s_create (&s_server.admin, &c);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_CREATE);
    recoup__reply__free_unpacked (reply, NULL);

    //  Only the named fields change, whatever else the message holds.
    Recoup__Customer change = RECOUP__CUSTOMER__INIT;
    change.ref = "upd";
    change.name = "Not applied";
    change.email = "new@upd.example";
    change.terms = "1.5/10 n45";
    change.sales_rep = "";                  //  cleared
    char *fields [] = { "email", "terms", "sales_rep" };
    reply = s_update (&s_collector, &change, fields, 3);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_UPDATE);
    const Recoup__Customer *got = reply->customer_update->customer;
    assert_string_equal (got->name, "Before");
    assert_string_equal (got->email, "new@upd.example");
    assert_string_equal (got->terms, "1.5/10 net 45");
    assert_string_equal (got->sales_rep, "");
    assert_string_equal (got->timezone, "UTC");
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT terms_days * 1000 + discount_bp FROM customers "
                                  "WHERE ref = 'upd'"), 45 * 1000 + 150);

    char *unknown [] = { "email", "colour" };
    expect_error (s_update (&s_server.admin, &change, unknown, 2),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "customer_update.fields");
    char *ref [] = { "ref" };
    expect_error (s_update (&s_server.admin, &change, ref, 1),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "customer_update.fields");
    expect_error (s_update (&s_server.admin, &change, NULL, 0),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "customer_update.fields");
    char *tz [] = { "timezone" };
    change.timezone = "Nowhere/Special";
    expect_error (s_update (&s_server.admin, &change, tz, 1),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "customer_update.customer.timezone");
    char *rep [] = { "sales_rep" };
    change.sales_rep = "ghost";
    expect_error (s_update (&s_server.admin, &change, rep, 1),
                  RECOUP__ERROR_CODE__NOT_FOUND, "customer_update.customer.sales_rep");
    change.ref = "no-such-customer";
    expect_error (s_update (&s_server.admin, &change, fields, 1),
                  RECOUP__ERROR_CODE__NOT_FOUND, "customer_update.customer.ref");
    //  The refusals changed nothing.
    reply = s_show (&s_server.admin, "upd", NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_SHOW);
    got = reply->customer_show->account->customer;
    assert_string_equal (got->timezone, "UTC");
    assert_string_equal (got->sales_rep, "");
    recoup__reply__free_unpacked (reply, NULL);
}

// ---------------------------------------------------------------- invoices

static void
test_invoice_issue_defaults (void **state)
{
    (void) state;
    s_new_customer ("terms-co", NULL, "2/10 net 30");
    //  Everything by default: issued today, the customer's terms and currency.
    Recoup__Reply *reply = s_issue ("T-1", "terms-co", NULL, NULL, 12345, NULL, NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_INVOICE_ISSUE);
    const Recoup__Invoice *inv = reply->invoice_issue->invoice;
    assert_string_equal (inv->issued, TODAY);
    assert_string_equal (inv->due, "2026-03-31");
    assert_string_equal (inv->terms, "2/10 net 30");
    assert_string_equal (inv->currency, "USD");
    assert_string_equal (inv->discount_until, "2026-03-11");
    assert_int_equal (inv->discount_bp, 200);
    assert_int_equal (inv->balance_minor, 12345);
    assert_string_equal (inv->customer, "terms-co");
    recoup__reply__free_unpacked (reply, NULL);
    //  The invoice's own terms, and its own date.
    reply = s_issue ("T-2", "terms-co", "2026-02-20", NULL, 500, NULL, "due on receipt");
    expect_result (reply, RECOUP__REPLY__RESULT_INVOICE_ISSUE);
    inv = reply->invoice_issue->invoice;
    assert_string_equal (inv->due, "2026-02-20");
    assert_string_equal (inv->terms, "due on receipt");
    assert_string_equal (inv->discount_until, "");
    assert_int_equal (inv->discount_bp, 0);
    recoup__reply__free_unpacked (reply, NULL);
    //  An explicit due date wins over the terms; another currency.
    reply = s_issue ("T-3", "terms-co", "2026-01-31", "2026-02-28", 700, "EUR",
                     "net 15");
    expect_result (reply, RECOUP__REPLY__RESULT_INVOICE_ISSUE);
    assert_string_equal (reply->invoice_issue->invoice->due, "2026-02-28");
    assert_string_equal (reply->invoice_issue->invoice->currency, "EUR");
    recoup__reply__free_unpacked (reply, NULL);
    //  A leap day, and terms across a year end.
    reply = s_issue ("T-4", "terms-co", "2024-12-15", NULL, 1, NULL, "net 90");
    expect_result (reply, RECOUP__REPLY__RESULT_INVOICE_ISSUE);
    assert_string_equal (reply->invoice_issue->invoice->due, "2025-03-15");
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_invoice_issue_errors (void **state)
{
    (void) state;
    s_new_customer ("inv-err", NULL, NULL);
    expect_error (s_issue ("E-1", "inv-err", "2026-02-10", "2026-02-09", 100, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "invoice_issue.invoice.due");
    expect_error (s_issue ("E-1", "inv-err", NULL, NULL, 0, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "invoice_issue.invoice.amount_minor");
    expect_error (s_issue ("E-1", "inv-err", NULL, NULL, -5, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "invoice_issue.invoice.amount_minor");
    expect_error (s_issue ("E-1", "inv-err", "2026-02-30", NULL, 100, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "invoice_issue.invoice.issued");
    expect_error (s_issue ("E-1", "inv-err", "01/02/2026", NULL, 100, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "invoice_issue.invoice.issued");
    expect_error (s_issue ("E-1", "inv-err", NULL, NULL, 100, "ABC", NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "invoice_issue.invoice.currency");
    expect_error (s_issue ("E-1", "inv-err", NULL, NULL, 100, NULL, "whenever"),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "invoice_issue.invoice.terms");
    expect_error (s_issue ("E-1", "nobody-here", NULL, NULL, 100, NULL, NULL),
                  RECOUP__ERROR_CODE__NOT_FOUND, "invoice_issue.invoice.customer");
    char long_number [80];
    memset (long_number, 'N', 65);
    long_number [65] = '\0';
    expect_error (s_issue (long_number, "inv-err", NULL, NULL, 100, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "invoice_issue.invoice.number");
    expect_error (s_issue ("", "inv-err", NULL, NULL, 100, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "invoice_issue.invoice.number");
    expect_error (s_issue ("E-\n1", "inv-err", NULL, NULL, 100, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "invoice_issue.invoice.number");
    expect_error (s_issue ("E-1", long_number, NULL, NULL, 100, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "invoice_issue.invoice.customer");
    //  A number once, whatever the content; the message names the invoice.
    s_issue_ok ("E-1", "inv-err", "2026-02-01", NULL, 100);
    Recoup__Reply *reply = s_issue ("E-1", "inv-err", "2026-02-01", NULL, 100, NULL, NULL);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__CONFLICT);
    assert_non_null (strstr (reply->error->message, "already issued"));
    assert_non_null (strstr (reply->error->message, "E-1"));
    recoup__reply__free_unpacked (reply, NULL);
    reply = s_issue ("E-1", "inv-err", "2026-02-01", NULL, 101, NULL, NULL);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__CONFLICT);
    assert_non_null (strstr (reply->error->message, "already used"));
    assert_non_null (strstr (reply->error->message, "1.00 USD"));
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM invoices i JOIN customers c "
                                  "ON c.id = i.customer_id WHERE c.ref = 'inv-err'"), 1);
}

// ---------------------------------------------------------------- payments

static void
test_payment_named_invoice (void **state)
{
    (void) state;
    s_new_customer ("named", NULL, NULL);
    s_issue_ok ("N-1", "named", "2026-01-01", NULL, 10000);
    s_issue_ok ("N-2", "named", "2026-01-15", NULL, 20000);
    //  N-2 by name (0 = its whole balance), though N-1 is older.
    alloc_t named [] = { { "N-2", 0 } };
    Recoup__Reply *reply = s_pay ("named", "BANK-1", "2026-02-01", 25000, named, 1);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    const Recoup__Payment *p = reply->payment_post->payment;
    assert_int_equal (p->n_allocations, 1);
    assert_string_equal (p->allocations [0]->invoice, "N-2");
    assert_int_equal (p->allocations [0]->amount_minor, 20000);
    assert_true (p->allocations [0]->entry_id > 0);
    assert_int_equal (p->unapplied_minor, 5000);
    assert_string_equal (p->received, "2026-02-01");
    assert_string_equal (p->currency, "USD");
    //  The entry is the allocation, for the payment.
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT amount_minor FROM entries WHERE id = %" PRIu64
                                  " AND kind = 'allocation'",
                                  p->allocations [0]->entry_id), -20000);
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("N-1"), 10000);
    assert_int_equal (s_balance ("N-2"), 0);
    assert_int_equal (s_unapplied ("named", "USD"), 5000);

    //  More than the balance: up to the balance, the rest unapplied.
    s_issue_ok ("N-3", "named", "2026-02-01", NULL, 3000);
    alloc_t over [] = { { "N-3", 4500 } };
    reply = s_pay ("named", "BANK-2", NULL, 5000, over, 1);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    p = reply->payment_post->payment;
    assert_int_equal (p->n_allocations, 1);
    assert_int_equal (p->allocations [0]->amount_minor, 3000);
    assert_int_equal (p->unapplied_minor, 2000);
    assert_string_equal (p->received, TODAY);
    recoup__reply__free_unpacked (reply, NULL);
    //  Part of an invoice by name.
    alloc_t part [] = { { "N-1", 2500 } };
    reply = s_pay ("named", "BANK-3", NULL, 2500, part, 1);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    assert_int_equal (reply->payment_post->payment->allocations [0]->amount_minor, 2500);
    assert_int_equal (reply->payment_post->payment->unapplied_minor, 0);
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("N-1"), 7500);
    assert_int_equal (s_unapplied ("named", "USD"), 7000);
}

static void
test_payment_oldest_first_partial_and_over (void **state)
{
    (void) state;
    s_new_customer ("oldest", NULL, NULL);
    //  Issued in another order than they fall due.
    s_issue_ok ("O-B", "oldest", "2026-01-10", "2026-02-10", 10000);
    s_issue_ok ("O-A", "oldest", "2026-01-20", "2026-01-25", 10000);
    s_issue_ok ("O-C", "oldest", "2026-01-05", "2026-02-20", 10000);
    Recoup__Reply *reply = s_pay ("oldest", "CHQ-1", "2026-02-25", 25000, NULL, 0);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    const Recoup__Payment *p = reply->payment_post->payment;
    assert_int_equal (p->n_allocations, 3);
    assert_string_equal (p->allocations [0]->invoice, "O-A");
    assert_int_equal (p->allocations [0]->amount_minor, 10000);
    assert_string_equal (p->allocations [1]->invoice, "O-B");
    assert_int_equal (p->allocations [1]->amount_minor, 10000);
    assert_string_equal (p->allocations [2]->invoice, "O-C");
    assert_int_equal (p->allocations [2]->amount_minor, 5000);    //  partial
    assert_int_equal (p->unapplied_minor, 0);
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("O-A"), 0);
    assert_int_equal (s_balance ("O-C"), 5000);

    //  Overpayment: pays O-C, the rest stays on the account.
    reply = s_pay ("oldest", "CHQ-2", "2026-02-26", 8000, NULL, 0);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    p = reply->payment_post->payment;
    assert_int_equal (p->n_allocations, 1);
    assert_string_equal (p->allocations [0]->invoice, "O-C");
    assert_int_equal (p->allocations [0]->amount_minor, 5000);
    assert_int_equal (p->unapplied_minor, 3000);
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("O-C"), 0);

    //  The account: nothing open, 30.00 unapplied; and as of a day when
    //  only the first payment had come, O-C half open, nothing unapplied.
    reply = s_show (&s_collector, "oldest", NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_SHOW);
    const Recoup__CustomerShowReply *show = reply->customer_show;
    assert_int_equal (show->account->n_aging, 0);
    assert_int_equal (show->n_open_invoices, 0);
    assert_int_equal (show->account->n_unapplied, 1);
    assert_int_equal (show->account->unapplied [0]->amount_minor, 3000);
    assert_int_equal (show->n_payments, 2);
    assert_string_equal (show->payments [0]->reference, "CHQ-2");     //  newest first
    assert_int_equal (show->payments [0]->unapplied_minor, 3000);
    assert_int_equal (show->payments [1]->n_allocations, 3);
    recoup__reply__free_unpacked (reply, NULL);
    reply = s_show (&s_collector, "oldest", "2026-02-25");
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_SHOW);
    show = reply->customer_show;
    assert_string_equal (show->account->as_of, "2026-02-25");
    assert_int_equal (show->account->n_aging, 1);
    assert_int_equal (show->account->aging [0]->open_count, 1);
    assert_int_equal (show->account->aging [0]->total_minor, 5000);
    assert_int_equal (show->account->aging [0]->d1_30->count, 1);  //  5 days late
    assert_int_equal (show->account->n_unapplied, 0);
    assert_int_equal (show->n_open_invoices, 1);
    assert_string_equal (show->open_invoices [0]->number, "O-C");
    assert_int_equal (show->open_invoices [0]->balance_minor, 5000);
    assert_int_equal (show->n_payments, 1);
    recoup__reply__free_unpacked (reply, NULL);
    //  Before anything was issued: an empty account.
    reply = s_show (&s_collector, "oldest", "2025-12-31");
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_SHOW);
    assert_int_equal (reply->customer_show->account->n_aging, 0);
    assert_int_equal (reply->customer_show->n_payments, 0);
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_payment_errors (void **state)
{
    (void) state;
    s_new_customer ("payer", NULL, NULL);
    s_new_customer ("other-payer", NULL, NULL);
    s_issue_ok ("PE-1", "payer", "2026-02-01", NULL, 1000);
    s_issue_ok ("PE-OTHER", "other-payer", "2026-02-01", NULL, 1000);
    Recoup__Reply *reply = s_issue ("PE-EUR", "payer", "2026-02-01", NULL, 1000,
                                    "EUR", NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_INVOICE_ISSUE);
    recoup__reply__free_unpacked (reply, NULL);

    reply = s_pay ("payer", "REF-1", NULL, 500, NULL, 0);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    recoup__reply__free_unpacked (reply, NULL);
    //  The same reference again: CONFLICT, and nothing allocated twice.
    reply = s_pay ("payer", "REF-1", NULL, 500, NULL, 0);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__CONFLICT);
    assert_string_equal (reply->error->field, "payment_post.payment.reference");
    assert_non_null (strstr (reply->error->message, "REF-1"));
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("PE-1"), 500);
    //  References are per customer.
    reply = s_pay ("other-payer", "REF-1", NULL, 100, NULL, 0);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    recoup__reply__free_unpacked (reply, NULL);

    alloc_t foreign [] = { { "PE-OTHER", 0 } };
    expect_error (s_pay ("payer", "REF-2", NULL, 100, foreign, 1),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "payment_post.payment.allocations[0].invoice");
    alloc_t euro [] = { { "PE-1", 0 }, { "PE-EUR", 0 } };
    expect_error (s_pay ("payer", "REF-2", NULL, 100, euro, 2),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "payment_post.payment.allocations[1].invoice");
    alloc_t missing [] = { { "PE-NONE", 0 } };
    expect_error (s_pay ("payer", "REF-2", NULL, 100, missing, 1),
                  RECOUP__ERROR_CODE__NOT_FOUND,
                  "payment_post.payment.allocations[0].invoice");
    alloc_t twice [] = { { "PE-1", 10 }, { "PE-1", 10 } };
    expect_error (s_pay ("payer", "REF-2", NULL, 100, twice, 2),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "payment_post.payment.allocations[1].invoice");
    alloc_t negative [] = { { "PE-1", -10 } };
    expect_error (s_pay ("payer", "REF-2", NULL, 100, negative, 1),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "payment_post.payment.allocations[0].amount_minor");
    expect_error (s_pay ("payer", "REF-2", NULL, 0, NULL, 0),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "payment_post.payment.amount_minor");
    expect_error (s_pay ("payer", "", NULL, 100, NULL, 0),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "payment_post.payment.reference");
    expect_error (s_pay ("payer", "REF-2", "2026-13-01", 100, NULL, 0),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "payment_post.payment.received");
    expect_error (s_pay ("nobody", "REF-2", NULL, 100, NULL, 0),
                  RECOUP__ERROR_CODE__NOT_FOUND, "payment_post.payment.customer");
    expect_error (s_pay_as (&s_server.admin, NULL, "payer", "REF-2", NULL, 100,
                            "XXX", NULL, 0),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "payment_post.payment.currency");
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM payments WHERE reference = 'REF-2'"), 0);
    //  A payment in EUR goes to the EUR invoice only.
    reply = s_pay_as (&s_server.admin, NULL, "payer", "REF-EUR", NULL, 400, "EUR",
                      NULL, 0);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    assert_int_equal (reply->payment_post->payment->n_allocations, 1);
    assert_string_equal (reply->payment_post->payment->allocations [0]->invoice, "PE-EUR");
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("PE-1"), 500);
    assert_int_equal (s_balance ("PE-EUR"), 600);
}

//  A retried payment_post (same request id, same bytes) is answered from
//  the store: one payment, one set of allocations.
static void
test_payment_retry_is_idempotent (void **state)
{
    (void) state;
    s_new_customer ("retry", NULL, NULL);
    s_issue_ok ("R-1", "retry", "2026-02-01", NULL, 10000);
    s_issue_ok ("R-2", "retry", "2026-02-02", NULL, 10000);
    Recoup__Reply *first = s_pay_as (&s_collector, "ledger-retry-0001", "retry",
                                     "WIRE-9", NULL, 15000, NULL, NULL, 0);
    expect_result (first, RECOUP__REPLY__RESULT_PAYMENT_POST);
    assert_false (first->replayed);
    Recoup__Reply *again = s_pay_as (&s_collector, "ledger-retry-0001", "retry",
                                     "WIRE-9", NULL, 15000, NULL, NULL, 0);
    expect_result (again, RECOUP__REPLY__RESULT_PAYMENT_POST);
    assert_true (again->replayed);
    const Recoup__Payment *a = first->payment_post->payment;
    const Recoup__Payment *b = again->payment_post->payment;
    assert_int_equal (a->n_allocations, 2);
    assert_int_equal (b->n_allocations, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal (a->allocations [i]->entry_id, b->allocations [i]->entry_id);
        assert_int_equal (a->allocations [i]->amount_minor, b->allocations [i]->amount_minor);
    }
    assert_int_equal (first->payment_post->seq, again->payment_post->seq);
    recoup__reply__free_unpacked (first, NULL);
    recoup__reply__free_unpacked (again, NULL);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM payments WHERE reference = 'WIRE-9'"), 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM entries e JOIN payments p "
                                  "ON p.id = e.payment_id WHERE p.reference = 'WIRE-9'"), 2);
    assert_int_equal (s_balance ("R-2"), 5000);
    //  The same id for another request is a client bug: CONFLICT.
    expect_error (s_pay_as (&s_collector, "ledger-retry-0001", "retry", "WIRE-10",
                            NULL, 100, NULL, NULL, 0),
                  RECOUP__ERROR_CODE__CONFLICT, "request_id");
}

// ---------------------------------------------------------------- entries

static void
test_credit_note (void **state)
{
    (void) state;
    s_new_customer ("credit", NULL, NULL);
    s_issue_ok ("C-1", "credit", "2026-02-01", NULL, 10000);
    //  More than the balance: refused, with the balance in the message.
    Recoup__Reply *reply = s_credit (&s_collector, "C-1", 10001, NULL, "too much");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__CONFLICT);
    assert_string_equal (reply->error->field, "credit_note.amount_minor");
    assert_non_null (strstr (reply->error->message, "100.00 USD"));
    recoup__reply__free_unpacked (reply, NULL);
    expect_error (s_credit (&s_collector, "C-1", 0, NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "credit_note.amount_minor");
    expect_error (s_credit (&s_collector, "C-1", 100, "2026-01-31", NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "credit_note.on_date");
    expect_error (s_credit (&s_collector, "C-404", 100, NULL, NULL),
                  RECOUP__ERROR_CODE__NOT_FOUND, "credit_note.invoice");
    expect_error (s_credit (&s_sales, "C-1", 100, NULL, NULL),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL);

    reply = s_credit (&s_collector, "C-1", 2500, "2026-02-10", "damaged goods");
    expect_result (reply, RECOUP__REPLY__RESULT_CREDIT_NOTE);
    const Recoup__Entry *e = reply->credit_note->entry;
    assert_string_equal (e->kind, "credit_note");
    assert_int_equal (e->amount_minor, -2500);
    assert_string_equal (e->on_date, "2026-02-10");
    assert_string_equal (e->invoice, "C-1");
    assert_string_equal (e->customer, "credit");
    assert_string_equal (e->memo, "damaged goods");
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("C-1"), 7500);

    //  Paid off on 2026-02-20: a credit note dated before that would make
    //  the balance negative as of that day, so only what stays open is
    //  available, whatever the date.
    alloc_t all [] = { { "C-1", 5000 } };
    reply = s_pay ("credit", "C-PAY", "2026-02-20", 5000, all, 1);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    recoup__reply__free_unpacked (reply, NULL);
    expect_error (s_credit (&s_collector, "C-1", 2600, "2026-02-15", NULL),
                  RECOUP__ERROR_CODE__CONFLICT, "credit_note.amount_minor");
    reply = s_credit (&s_collector, "C-1", 2500, "2026-02-15", NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_CREDIT_NOTE);
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("C-1"), 0);
    expect_error (s_credit (&s_collector, "C-1", 1, NULL, NULL),
                  RECOUP__ERROR_CODE__CONFLICT, "credit_note.amount_minor");
}

static void
test_reverse_allocation (void **state)
{
    (void) state;
    s_new_customer ("rev", NULL, NULL);
    s_issue_ok ("V-1", "rev", "2026-02-01", NULL, 10000);
    s_issue_ok ("V-2", "rev", "2026-02-05", NULL, 4000);
    Recoup__Reply *reply = s_pay ("rev", "V-PAY", "2026-02-10", 12000, NULL, 0);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    assert_int_equal (reply->payment_post->payment->n_allocations, 2);
    uint64_t to_v1 = reply->payment_post->payment->allocations [0]->entry_id;
    uint64_t to_v2 = reply->payment_post->payment->allocations [1]->entry_id;
    assert_int_equal (reply->payment_post->payment->allocations [1]->amount_minor, 2000);
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("V-1"), 0);
    assert_int_equal (s_unapplied ("rev", "USD"), 0);

    expect_error (s_reverse (&s_collector, to_v1, NULL, ""),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "entry_reverse.memo");
    expect_error (s_reverse (&s_collector, 0, NULL, "why"),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "entry_reverse.entry_id");
    expect_error (s_reverse (&s_collector, 999999999, NULL, "why"),
                  RECOUP__ERROR_CODE__NOT_FOUND, "entry_reverse.entry_id");
    expect_error (s_reverse (&s_collector, UINT64_MAX, NULL, "why"),
                  RECOUP__ERROR_CODE__NOT_FOUND, "entry_reverse.entry_id");
    expect_error (s_reverse (&s_collector, to_v1, "2026-02-09", "why"),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "entry_reverse.on_date");

    //  The money goes back to the payment: V-1 open again, unapplied back.
    reply = s_reverse (&s_collector, to_v1, NULL, "paid the wrong invoice");
    expect_result (reply, RECOUP__REPLY__RESULT_ENTRY_REVERSE);
    const Recoup__Entry *e = reply->entry_reverse->entry;
    assert_string_equal (e->kind, "reversal");
    assert_int_equal (e->amount_minor, 10000);
    assert_int_equal (e->reverses, to_v1);
    assert_string_equal (e->payment, "V-PAY");
    assert_string_equal (e->invoice, "V-1");
    assert_string_equal (e->on_date, TODAY);
    uint64_t reversal = e->id;
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("V-1"), 10000);
    assert_int_equal (s_unapplied ("rev", "USD"), 10000);
    //  As of before the reversal, the account is as it was.
    reply = s_show (&s_server.admin, "rev", "2026-02-28");
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_SHOW);
    assert_int_equal (reply->customer_show->account->n_unapplied, 0);
    assert_int_equal (reply->customer_show->payments [0]->n_allocations, 2);
    recoup__reply__free_unpacked (reply, NULL);
    //  Now the reversed allocation is no longer listed with the payment.
    reply = s_show (&s_server.admin, "rev", NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_SHOW);
    assert_int_equal (reply->customer_show->payments [0]->n_allocations, 1);
    assert_int_equal (reply->customer_show->payments [0]->allocations [0]->entry_id, to_v2);
    assert_int_equal (reply->customer_show->payments [0]->unapplied_minor, 10000);
    recoup__reply__free_unpacked (reply, NULL);

    //  Twice: refused, naming the reversal; a reversal cannot be reversed.
    reply = s_reverse (&s_collector, to_v1, NULL, "again");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__CONFLICT);
    char id [32];
    snprintf (id, sizeof id, "%" PRIu64, reversal);
    assert_non_null (strstr (reply->error->message, id));
    recoup__reply__free_unpacked (reply, NULL);
    expect_error (s_reverse (&s_collector, reversal, NULL, "undo the undo"),
                  RECOUP__ERROR_CODE__CONFLICT, "entry_reverse.entry_id");
    assert_int_equal (s_balance ("V-1"), 10000);
    reply = s_credit (&s_collector, "V-2", 2000, NULL, "goodwill");
    expect_result (reply, RECOUP__REPLY__RESULT_CREDIT_NOTE);
    uint64_t credit = reply->credit_note->entry->id;
    recoup__reply__free_unpacked (reply, NULL);
    //  Reversing a credit note reopens the invoice.
    reply = s_reverse (&s_manager, credit, NULL, "credit was a mistake");
    expect_result (reply, RECOUP__REPLY__RESULT_ENTRY_REVERSE);
    assert_int_equal (reply->entry_reverse->entry->amount_minor, 2000);
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_balance ("V-2"), 2000);
}

//  The database refuses what the commands refuse, even from psql.
static void
test_database_guarantees (void **state)
{
    (void) state;
    s_new_customer ("guard", NULL, NULL);
    s_issue_ok ("G-1", "guard", "2026-02-01", NULL, 1000);
    s_issue_ok ("G-2", "guard", "2026-02-01", NULL, 100000);
    Recoup__Reply *reply = s_pay ("guard", "G-PAY", "2026-02-02", 500,
                                  (alloc_t []) { { "G-1", 100 } }, 1);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    recoup__reply__free_unpacked (reply, NULL);
    //  A credit note beyond the balance.
    char *got = th_sql (&s_server,
        "INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor,"
        " currency) SELECT id, customer_id, 'credit_note', issued, -1000, currency "
        "FROM invoices WHERE number = 'G-1' RETURNING id");
    assert_null (got);
    //  An allocation beyond what is left of the payment.
    got = th_sql (&s_server,
        "INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor,"
        " currency, payment_id) SELECT i.id, i.customer_id, 'allocation', "
        "'2026-02-02', -401, i.currency, p.id FROM invoices i, payments p "
        "WHERE i.number = 'G-2' AND p.reference = 'G-PAY' RETURNING id");
    assert_null (got);
    //  Changing or deleting ledger rows.
    assert_null (th_sql (&s_server, "UPDATE entries SET amount_minor = -1 "
                                    "WHERE invoice_id = (SELECT id FROM invoices "
                                    "WHERE number = 'G-1') RETURNING id"));
    assert_null (th_sql (&s_server, "DELETE FROM invoices WHERE number = 'G-2' "
                                    "RETURNING id"));
    assert_null (th_sql (&s_server, "UPDATE payments SET amount_minor = 1 "
                                    "WHERE reference = 'G-PAY' RETURNING id"));
    assert_int_equal (s_balance ("G-1"), 900);
    assert_int_equal (s_balance ("G-2"), 100000);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT min (recoup_invoice_balance (id)) FROM invoices"),
                      0);
}

// ---------------------------------------------------------------- roles

static void
test_roles (void **state)
{
    (void) state;
    s_new_customer ("roles", NULL, NULL);
    s_issue_ok ("RO-1", "roles", "2026-02-01", NULL, 1000);
    expect_error (s_pay_as (&s_sales, NULL, "roles", "RO-P", NULL, 100, NULL, NULL, 0),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL);
    expect_error (s_issue_as (&s_sales, "RO-2", "roles", NULL, NULL, 100, NULL, NULL),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL);
    expect_error (s_show (&s_importer, "roles", NULL),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL);
    expect_error (s_credit (&s_importer, "RO-1", 1, NULL, NULL),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL);
    expect_error (s_reverse (&s_sales, 1, NULL, "no"),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL);
    Recoup__Customer c = RECOUP__CUSTOMER__INIT;
    c.ref = "by-sales";
    c.name = "x";
    expect_error (s_create (&s_sales, &c), RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL);
    //  What they may do.
    Recoup__Reply *reply = s_show (&s_sales, "roles", NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_SHOW);
    recoup__reply__free_unpacked (reply, NULL);
    reply = s_pay_as (&s_importer, NULL, "roles", "RO-P", NULL, 100, NULL, NULL, 0);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    recoup__reply__free_unpacked (reply, NULL);
    reply = s_issue_as (&s_importer, "RO-2", "roles", NULL, NULL, 100, NULL, NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_INVOICE_ISSUE);
    recoup__reply__free_unpacked (reply, NULL);
    expect_error (s_show (&s_sales, "nobody", NULL), RECOUP__ERROR_CODE__NOT_FOUND,
                  "customer_show.customer");
    expect_error (s_show (&s_sales, "roles", "2026-02-31"),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "customer_show.as_of");
}

// ---------------------------------------------------------------- events

//  The latest account.changed per customer, as packed bytes.
#define ACCOUNTS_MAX 512
typedef struct {
    char *ref [ACCOUNTS_MAX];
    uint8_t *bytes [ACCOUNTS_MAX];
    size_t len [ACCOUNTS_MAX];
    size_t count;
    char *kinds;                //  kinds seen, space separated (malloc)
} accounts_t;

static void
s_accounts_put (accounts_t *self, const Recoup__Account *account)
{
    size_t i = 0;
    while (i < self->count && strcmp (self->ref [i], account->customer->ref) != 0)
        i++;
    if (i == self->count) {
        assert_true (self->count < ACCOUNTS_MAX);
        self->ref [self->count++] = strdup (account->customer->ref);
    }
    else
        free (self->bytes [i]);
    self->bytes [i] = wire_pack (&account->base, &self->len [i]);
}

static void
s_accounts_free (accounts_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        free (self->ref [i]);
        free (self->bytes [i]);
    }
    free (self->kinds);
    memset (self, 0, sizeof *self);
}

//  Index of a ref, or -1.
static int
s_accounts_find (const accounts_t *self, const char *ref)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->ref [i], ref) == 0)
            return (int) i;
    return -1;
}

static void
s_on_event (void *arg, const Recoup__Event *event)
{
    accounts_t *self = arg;
    if (event->body_case == RECOUP__EVENT__BODY_ACCOUNT) {
        assert_string_equal (event->kind, "account.changed");
        s_accounts_put (self, event->account);
    }
    size_t len = self->kinds ? strlen (self->kinds) : 0;
    self->kinds = realloc (self->kinds, len + strlen (event->kind) + 2);
    sprintf (self->kinds + len, "%s%s", len ? " " : "", event->kind);
}

static void
s_on_snapshot (void *arg, const Recoup__SnapshotReply *snapshot)
{
    accounts_t *self = arg;
    assert_string_equal (snapshot->base_currency, "USD");
    for (size_t i = 0; i < snapshot->n_accounts; i++) {
        assert_string_equal (snapshot->accounts [i]->as_of, TODAY);
        s_accounts_put (self, snapshot->accounts [i]);
    }
}

//  Polls the agent until it has applied `seq`.
static void
s_sync_until (sync_t *sync, uint64_t seq)
{
    char err [256];
    long long deadline = th_now_ms () + 20000;
    while (sync_last_seq (sync) < seq && th_now_ms () < deadline)
        assert_true (sync_poll (sync, 50, err, sizeof err) >= 0);
    assert_true (sync_last_seq (sync) >= seq);
}

//  The account customer_show gives now, packed.
static uint8_t *
s_show_packed (const char *ref, size_t *len)
{
    Recoup__Reply *reply = s_show (&s_server.admin, ref, NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_SHOW);
    uint8_t *bytes = wire_pack (&reply->customer_show->account->base, len);
    recoup__reply__free_unpacked (reply, NULL);
    return bytes;
}

//  After each command, the last account.changed for the customer is the
//  account customer_show gives.
#define expect_account_current(accounts, ref) \
    s_expect_account_current (accounts, ref, __FILE__, __LINE__)

static void
s_expect_account_current (accounts_t *accounts, const char *ref,
                          const char *file, int line)
{
    int i = s_accounts_find (accounts, ref);
    size_t len;
    uint8_t *shown = s_show_packed (ref, &len);
    int same = i >= 0 && accounts->len [i] == len
               && memcmp (accounts->bytes [i], shown, len) == 0;
    free (shown);
    if (!same) {
        print_error ("the last account.changed of %s is not its account now\n", ref);
        _fail (file, line);
    }
}

static void
test_account_changed_events (void **state)
{
    (void) state;
    char err [256];
    accounts_t seen;
    memset (&seen, 0, sizeof seen);
    sync_t *sync = sync_new (th_ctx (), &s_collector, err, sizeof err);
    assert_non_null (sync);
    sync_set_handlers (sync, NULL, s_on_event, &seen);
    assert_int_equal (sync_start (sync, SYNC_FROM_NOW, 0, err, sizeof err), 0);

    Recoup__Customer c = RECOUP__CUSTOMER__INIT;
    c.ref = "evented";
    c.name = "Evented Inc";
    Recoup__Reply *reply = s_create (&s_server.admin, &c);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_CREATE);
    s_sync_until (sync, reply->customer_create->seq);
    recoup__reply__free_unpacked (reply, NULL);
    assert_string_equal (seen.kinds, "customer.created account.changed");
    expect_account_current (&seen, "evented");

    //  60 days late on the business date: bucket 31-60.
    reply = s_issue ("EV-1", "evented", "2025-12-01", "2025-12-31", 40000, NULL, NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_INVOICE_ISSUE);
    s_sync_until (sync, reply->invoice_issue->seq);
    recoup__reply__free_unpacked (reply, NULL);
    expect_account_current (&seen, "evented");
    int i = s_accounts_find (&seen, "evented");
    Recoup__Account *account = recoup__account__unpack (NULL, seen.len [i], seen.bytes [i]);
    assert_non_null (account);
    assert_string_equal (account->as_of, TODAY);
    assert_int_equal (account->n_aging, 1);
    assert_string_equal (account->aging [0]->currency, "USD");
    assert_int_equal (account->aging [0]->open_count, 1);
    assert_int_equal (account->aging [0]->total_minor, 40000);
    assert_int_equal (account->aging [0]->d31_60->count, 1);
    assert_int_equal (account->aging [0]->d31_60->amount_minor, 40000);
    assert_int_equal (account->aging [0]->current->count, 0);
    recoup__account__free_unpacked (account, NULL);

    reply = s_issue ("EV-2", "evented", "2026-02-25", NULL, 10000, NULL, NULL);
    expect_result (reply, RECOUP__REPLY__RESULT_INVOICE_ISSUE);
    recoup__reply__free_unpacked (reply, NULL);
    reply = s_pay ("evented", "EV-PAY", NULL, 45000, NULL, 0);
    expect_result (reply, RECOUP__REPLY__RESULT_PAYMENT_POST);
    uint64_t allocation = reply->payment_post->payment->allocations [0]->entry_id;
    s_sync_until (sync, reply->payment_post->seq);
    recoup__reply__free_unpacked (reply, NULL);
    expect_account_current (&seen, "evented");
    i = s_accounts_find (&seen, "evented");
    account = recoup__account__unpack (NULL, seen.len [i], seen.bytes [i]);
    assert_int_equal (account->n_aging, 1);
    assert_int_equal (account->aging [0]->total_minor, 5000);
    assert_int_equal (account->aging [0]->current->amount_minor, 5000);
    assert_int_equal (account->aging [0]->d31_60->count, 0);
    assert_int_equal (account->n_unapplied, 0);
    recoup__account__free_unpacked (account, NULL);

    reply = s_credit (&s_collector, "EV-2", 5000, NULL, "settled");
    expect_result (reply, RECOUP__REPLY__RESULT_CREDIT_NOTE);
    s_sync_until (sync, reply->credit_note->seq);
    recoup__reply__free_unpacked (reply, NULL);
    expect_account_current (&seen, "evented");
    reply = s_reverse (&s_collector, allocation, NULL, "bounced");
    expect_result (reply, RECOUP__REPLY__RESULT_ENTRY_REVERSE);
    s_sync_until (sync, reply->entry_reverse->seq);
    recoup__reply__free_unpacked (reply, NULL);
    expect_account_current (&seen, "evented");
    i = s_accounts_find (&seen, "evented");
    account = recoup__account__unpack (NULL, seen.len [i], seen.bytes [i]);
    assert_int_equal (account->aging [0]->d31_60->amount_minor, 40000);
    assert_int_equal (account->n_unapplied, 1);
    assert_int_equal (account->unapplied [0]->amount_minor, 40000);
    recoup__account__free_unpacked (account, NULL);

    char *fields [] = { "phone" };
    c.phone = "555-0100";
    reply = s_update (&s_server.admin, &c, fields, 1);
    expect_result (reply, RECOUP__REPLY__RESULT_CUSTOMER_UPDATE);
    s_sync_until (sync, reply->customer_update->seq);
    recoup__reply__free_unpacked (reply, NULL);
    expect_account_current (&seen, "evented");
    assert_non_null (strstr (seen.kinds, "invoice.issued account.changed "
                                         "invoice.issued account.changed "
                                         "payment.posted account.changed "
                                         "entry.posted account.changed "
                                         "entry.posted account.changed "
                                         "customer.updated account.changed"));
    //  A refused command emits nothing.
    uint64_t before = sync_last_seq (sync);
    expect_error (s_credit (&s_collector, "EV-2", 1, NULL, NULL),
                  RECOUP__ERROR_CODE__CONFLICT, NULL);
    uint64_t seq_now = (uint64_t) th_sql_int (&s_server, "SELECT max (seq) FROM events");
    assert_int_equal (seq_now, before);
    sync_destroy (&sync);
    s_accounts_free (&seen);
}

//  Concurrent payments on one account, in shared batches: every one is
//  allocated from what the ones before it left, nothing twice.
#define PAYERS 6
typedef struct {
    const identity_t *who;
    int index;
    int failures;
} payer_t;

static void *
s_payer (void *arg)
{
    payer_t *self = arg;
    for (int i = 0; i < 5; i++) {
        char reference [32];
        snprintf (reference, sizeof reference, "CC-%d-%d", self->index, i);
        client_status_t status;
        Recoup__Allocation *none = NULL;
        Recoup__Payment payment = RECOUP__PAYMENT__INIT;
        payment.customer = "concurrent";
        payment.reference = reference;
        payment.amount_minor = 700;
        payment.allocations = &none;
        Recoup__PaymentPostRequest post = RECOUP__PAYMENT_POST_REQUEST__INIT;
        post.payment = &payment;
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.command_case = RECOUP__REQUEST__COMMAND_PAYMENT_POST;
        request.payment_post = &post;
        Recoup__Reply *reply = th_call (self->who, &request, &status);
        if (!reply || reply->result_case != RECOUP__REPLY__RESULT_PAYMENT_POST)
            self->failures++;
        if (reply)
            recoup__reply__free_unpacked (reply, NULL);
    }
    return NULL;
}

static void
test_concurrent_payments (void **state)
{
    (void) state;
    s_new_customer ("concurrent", NULL, NULL);
    for (int i = 0; i < 10; i++) {
        char number [16];
        snprintf (number, sizeof number, "CC-INV-%d", i);
        s_issue_ok (number, "concurrent", "2026-01-01", NULL, 1000 + i);
    }
    payer_t payers [PAYERS];
    pthread_t threads [PAYERS];
    const identity_t *who [] = { &s_server.admin, &s_collector, &s_manager, &s_importer };
    for (int i = 0; i < PAYERS; i++) {
        payers [i] = (payer_t) { .who = who [i % 4], .index = i, .failures = 0 };
        pthread_create (&threads [i], NULL, s_payer, &payers [i]);
    }
    for (int i = 0; i < PAYERS; i++) {
        pthread_join (threads [i], NULL);
        assert_int_equal (payers [i].failures, 0);
    }
    //  30 payments of 7.00 = 210.00 against 10 invoices of 100.45 total
    //  = 100.45: everything paid, 109.55 unapplied.
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT sum (recoup_invoice_balance (i.id)) FROM invoices i "
                                  "JOIN customers c ON c.id = i.customer_id "
                                  "WHERE c.ref = 'concurrent'"), 0);
    assert_int_equal (s_unapplied ("concurrent", "USD"), 21000 - 10045);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT -sum (e.amount_minor) FROM entries e "
                                  "JOIN customers c ON c.id = e.customer_id "
                                  "WHERE c.ref = 'concurrent'"), 10045);
}

//  A late joiner's snapshot holds, for every customer, the account the
//  last account.changed event said; both as of the business date.
static void
test_snapshot_accounts_match_events (void **state)
{
    (void) state;
    char err [256];
    accounts_t history, snapshot;
    memset (&history, 0, sizeof history);
    memset (&snapshot, 0, sizeof snapshot);
    //  Everything from the first event on.
    sync_t *replay = sync_new (th_ctx (), &s_manager, err, sizeof err);
    assert_non_null (replay);
    sync_set_handlers (replay, NULL, s_on_event, &history);
    assert_int_equal (sync_start (replay, SYNC_FROM_SEQ, 0, err, sizeof err), 0);
    uint64_t head = (uint64_t) th_sql_int (&s_server, "SELECT max (seq) FROM events");
    s_sync_until (replay, head);
    sync_t *late = sync_new (th_ctx (), &s_sales, err, sizeof err);
    assert_non_null (late);
    sync_set_handlers (late, s_on_snapshot, NULL, &snapshot);
    assert_int_equal (sync_start (late, SYNC_FROM_SNAPSHOT, 0, err, sizeof err), 0);
    assert_int_equal (sync_last_seq (late), head);
    //  Every customer is in the snapshot, and matches its last event.
    assert_int_equal ((int64_t) snapshot.count,
                      th_sql_int (&s_server, "SELECT count(*) FROM customers"));
    assert_true (snapshot.count > 10);
    for (size_t i = 0; i < snapshot.count; i++) {
        int k = s_accounts_find (&history, snapshot.ref [i]);
        if (k < 0)
            fail_msg ("customer %s has no account.changed event", snapshot.ref [i]);
        if (history.len [k] != snapshot.len [i]
            || memcmp (history.bytes [k], snapshot.bytes [i], snapshot.len [i]) != 0)
            fail_msg ("snapshot account of %s differs from its last event",
                      snapshot.ref [i]);
    }
    sync_destroy (&late);
    sync_destroy (&replay);
    s_accounts_free (&history);
    s_accounts_free (&snapshot);
}

// ---------------------------------------------------------------- client

//  The built client, through the harness (its own --identity, when the
//  arguments give one, wins over the admin's).
typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), NULL, __VA_ARGS__)

static void
test_client_commands (void **state)
{
    (void) state;
    run_t run;
    s_run (&run, "customer add kr-co --name 'Korea Co' --currency KRW "
                 "--terms 'net 45' --timezone Asia/Seoul --credit-limit 5000000");
    th_expect_run (&run, 0, "created customer kr-co");
    assert_non_null (strstr (run.out, "credit limit 5000000 KRW"));
    s_run (&run, "customer add us-co --name 'US Co' --credit-limit 1234.56 "
                 "--sales-rep sam --collector cora --email ap@us.example");
    th_expect_run (&run, 0, "credit limit 1234.56 USD");
    //  Amounts in the customer's currency: KRW has no decimals.
    s_run (&run, "invoice issue KR-1 --customer kr-co --amount 150000 "
                 "--issued 2026-01-01");
    th_expect_run (&run, 0, "150000 KRW");
    assert_non_null (strstr (run.out, "due 2026-02-15"));
    s_run (&run, "invoice issue KR-2 --customer kr-co --amount 1500.50");
    th_expect_run (&run, 2, "KRW");
    s_run (&run, "invoice issue US-1 --customer us-co --amount 12.345");
    th_expect_run (&run, 2, "decimals");
    s_run (&run, "invoice issue US-1 --customer us-co --amount 12,34");
    th_expect_run (&run, 2, "--amount");
    s_run (&run, "invoice issue US-1 --customer us-co --amount 10 --due 2026-02-30");
    th_expect_run (&run, 2, "--due");
    s_run (&run, "invoice issue US-1 --customer us-co --amount 10 --currency usd");
    th_expect_run (&run, 2, "--currency");
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM invoices WHERE number "
                                  "IN ('KR-2', 'US-1')"), 0);
    s_run (&run, "invoice issue US-1 --customer us-co --amount 1,000.00");
    th_expect_run (&run, 2, "--amount");
    s_run (&run, "invoice issue US-1 --customer us-co --amount 1000.00 "
                 "--issued 2026-01-10 --terms '2/10 net 30'");
    th_expect_run (&run, 0, "1000.00 USD");
    assert_non_null (strstr (run.out, "2.00% discount until 2026-01-20"));
    s_run (&run, "invoice issue US-2 --customer us-co --amount 500 --issued 2026-02-01");
    th_expect_run (&run, 0, "issued invoice US-2");
    s_run (&run, "--json invoice issue US-3 --customer us-co --amount 0.99");
    th_expect_run (&run, 0, "\"amount_minor\":99");

    //  A payment by name with an amount, and one more than the balance.
    s_run (&run, "payment post --customer us-co --reference WIRE-1 --amount 700 "
                 "--received 2026-02-15 --invoice US-2=200 --invoice US-1");
    th_expect_run (&run, 0, "applied 200.00 USD to invoice US-2");
    assert_non_null (strstr (run.out, "applied 500.00 USD to invoice US-1"));
    assert_non_null (strstr (run.out, "unapplied 0.00 USD"));
    s_run (&run, "payment post --customer us-co --reference WIRE-2 --amount 400 "
                 "--invoice US-2=350");
    th_expect_run (&run, 0, "applied 300.00 USD to invoice US-2");
    assert_non_null (strstr (run.err, "took 300.00 USD of the 350.00 USD asked"));
    assert_non_null (strstr (run.out, "unapplied 100.00 USD"));
    s_run (&run, "payment post --customer us-co --reference WIRE-3 --amount 1.001");
    th_expect_run (&run, 2, "decimals");
    s_run (&run, "payment post --customer us-co --reference WIRE-3 --amount 5 "
                 "--invoice =5");
    th_expect_run (&run, 2, "--invoice");
    s_run (&run, "payment post --customer us-co --amount 5");
    th_expect_run (&run, 2, "usage");

    s_run (&run, "invoice credit US-1 --amount 100 --memo 'price error' --date 2026-02-20");
    th_expect_run (&run, 0, "credit note: entry");
    assert_non_null (strstr (run.out, "-100.00 USD on 2026-02-20"));
    s_run (&run, "entry reverse abc --memo x");
    th_expect_run (&run, 2, "entry number");
    s_run (&run, "entry reverse 5");
    th_expect_run (&run, 2, "usage");
    char *entry = th_sql (&s_server, "SELECT e.id FROM entries e JOIN invoices i "
                                     "ON i.id = e.invoice_id WHERE i.number = 'US-2' "
                                     "AND e.kind = 'allocation' ORDER BY e.id LIMIT 1");
    assert_non_null (entry);
    s_run (&run, "entry reverse %s --memo 'bank recalled it'", entry);
    free (entry);
    th_expect_run (&run, 0, "reversed: entry");
    assert_non_null (strstr (run.out, "+200.00 USD"));

    s_run (&run, "customer update us-co --phone '555 0199' --credit-limit 2000");
    th_expect_run (&run, 0, "updated customer us-co");
    assert_non_null (strstr (run.out, "credit limit 2000.00 USD"));
    assert_non_null (strstr (run.out, "phone 555 0199"));
    s_run (&run, "customer update us-co");
    th_expect_run (&run, 2, "at least one option");
    s_run (&run, "customer update us-co --colour blue");
    th_expect_run (&run, 2, "unknown option --colour");

    //  The account: details, aging, open invoices with days late,
    //  payments, unapplied cash (here 200.00 back from the reversal +
    //  100.00 left of WIRE-2).
    s_run (&run, "customer show us-co");
    th_expect_run (&run, 0, "us-co  US Co");
    const char *needles [] = {
        "aging as of 2026-03-01", "open invoices", "US-1", "US-2", "US-3",
        "recent payments", "WIRE-1", "WIRE-2", "unapplied cash: 300.00 USD",
        "sales rep sam, collector cora",
    };
    for (size_t i = 0; i < sizeof needles / sizeof needles [0]; i++)
        if (!strstr (run.out, needles [i]))
            fail_msg ("customer show lacks '%s':\n%s", needles [i], run.out);
    s_run (&run, "customer show us-co --as-of 2026-01-31");
    th_expect_run (&run, 0, "aging as of 2026-01-31");
    assert_null (strstr (run.out, "WIRE-1"));
    s_run (&run, "customer show us-co --as-of yesterday");
    th_expect_run (&run, 2, "--as-of");
    s_run (&run, "--json customer show kr-co");
    th_expect_run (&run, 0, "\"open_invoices\":[{\"number\":\"KR-1\"");

    //  tail prints the ledger's events readably.
    char *head = th_sql (&s_server, "SELECT max (seq) - 3 FROM events");
    s_run (&run, "tail --from %s --count 4", head);
    free (head);
    th_expect_run (&run, 0, "customer.updated by admin: us-co US Co (USD, net 30");
    assert_non_null (strstr (run.out, "account.changed by admin: us-co as of 2026-03-01: 3 open"));
    assert_non_null (strstr (run.out, "entry.posted by admin: entry"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_customer_create_defaults_and_fields),
        cmocka_unit_test (test_customer_create_errors),
        cmocka_unit_test (test_customer_update),
        cmocka_unit_test (test_invoice_issue_defaults),
        cmocka_unit_test (test_invoice_issue_errors),
        cmocka_unit_test (test_payment_named_invoice),
        cmocka_unit_test (test_payment_oldest_first_partial_and_over),
        cmocka_unit_test (test_payment_errors),
        cmocka_unit_test (test_payment_retry_is_idempotent),
        cmocka_unit_test (test_credit_note),
        cmocka_unit_test (test_reverse_allocation),
        cmocka_unit_test (test_database_guarantees),
        cmocka_unit_test (test_roles),
        cmocka_unit_test (test_account_changed_events),
        cmocka_unit_test (test_concurrent_payments),
        cmocka_unit_test (test_client_commands),
        cmocka_unit_test (test_snapshot_accounts_match_events),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
