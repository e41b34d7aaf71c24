/*  `recoup import` as a user meets it, against a real recoupd and
    PostgreSQL: native and mapped files, every problem reported with its
    line and nothing half-written, dry runs, re-imports that change
    nothing, conflicts, --skip-invalid with its reject file,
    --create-customers, payment allocation, roles, the events an import
    publishes, and an import cut short by killing the server, run again:
    exactly-once.                                                        */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static th_server_t s_server;

static int
s_setup (void **state)
{
    (void) state;
    //  Reports and defaults work as of a fixed business date.
    setenv ("RECOUP_TODAY", "2026-06-30", 1);
    return th_server_start (&s_server, "import", NULL);
}

static int
s_teardown (void **state)
{
    (void) state;
    th_server_destroy (&s_server);
    return 0;
}

//  The first value of a query as a number (-1 on failure).
static long long
s_sql_number (th_server_t *server, const char *sql)
{
    char *value = th_sql (server, sql);
    long long number = value ? strtoll (value, NULL, 10) : -1;
    free (value);
    return number;
}

//  Writes a file in the test directory; returns its name (relative).
static const char *
s_file (const char *name, const char *text)
{
    assert_non_null (th_write_file (&s_server, name, text));
    return name;
}

//  Asserts that `text` contains `part`, printing both otherwise.
static void
s_contains (const char *text, const char *part)
{
    if (!strstr (text, part)) {
        print_error ("expected to find \"%s\" in:\n%s\n", part, text);
        fail ();
    }
}

//  A JSON number field of a one-line object ("\"inserted\":12").
static long long
s_json_number (const char *json, const char *key)
{
    char pattern [64];
    snprintf (pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr (json, pattern);
    if (!at) {
        print_error ("no %s in %s\n", key, json);
        fail ();
    }
    return strtoll (at + strlen (pattern), NULL, 10);
}

static void
s_customers (const char *refs)
{
    //  One customer per comma-separated ref.
    char text [4096] = "customer,name\n", copy [1024];
    snprintf (copy, sizeof copy, "%s", refs);
    for (char *ref = strtok (copy, ","); ref; ref = strtok (NULL, ",")) {
        size_t used = strlen (text);
        snprintf (text + used, sizeof text - used, "%s,Customer %s\n", ref, ref);
    }
    th_run_t run;
    th_run (&s_server, &run, NULL, "import customers %s",
            s_file ("setup-customers.csv", text));
    if (run.status != 0)
        print_error ("%s%s", run.out, run.err);
    assert_int_equal (run.status, 0);
}

static void
test_native_files_with_rfc4180_details (void **state)
{
    (void) state;
    th_run_t run;
    //  A BOM, CRLF line ends, quoted fields with commas, doubled quotes
    //  and a line break, columns in another order and one extra column.
    const char *customers = s_file ("customers.csv",
        "\xEF\xBB\xBFName,Customer,Notes,Terms,Currency\r\n"
        "\"Smith, Jones & Co\",SJ1,\"first line\r\nsecond line\",net 15,USD\r\n"
        "\"The \"\"Best\"\" Bakery\",BB1,,2/10 net 30,EUR\r\n"
        "Tokyo Trading,TT1,,,JPY\r\n");
    th_run (&s_server, &run, NULL, "--json import customers %s", customers);
    assert_int_equal (run.status, 0);
    assert_int_equal (s_json_number (run.out, "inserted"), 3);
    char *name = th_sql (&s_server, "SELECT name || '|' || terms || '|' || currency "
                                    "FROM customers WHERE ref = 'BB1'");
    assert_string_equal (name, "The \"Best\" Bakery|2/10 net 30|EUR");
    free (name);
    const char *invoices = s_file ("invoices.csv",
        "customer,invoice,issued,due,amount,currency\n"
        "SJ1,INV-1,2026-05-01,2026-05-16,1234.50,USD\n"
        "BB1,INV-2,2026-06-01,2026-07-01,99.99,EUR\n"
        "TT1,INV-3,2026-06-10,2026-07-10,150000,JPY\n"
        "\n");
    th_run (&s_server, &run, NULL, "--json import invoices %s", invoices);
    assert_int_equal (run.status, 0);
    assert_int_equal (s_json_number (run.out, "inserted"), 3);
    s_contains (run.out, "\"currency\":\"JPY\",\"amount_minor\":150000");
    //  The discount window comes from the customer's 2/10 terms.
    char *until = th_sql (&s_server, "SELECT discount_until || '|' || discount_bp "
                                     "FROM invoices WHERE number = 'INV-2'");
    assert_string_equal (until, "2026-06-11|200");
    free (until);
    assert_int_equal (s_sql_number (&s_server, "SELECT amount_minor FROM invoices "
                                               "WHERE number = 'INV-1'"), 123450);
}

static void
test_dry_run_writes_nothing (void **state)
{
    (void) state;
    s_customers ("DRY1");
    long long events = s_sql_number (&s_server, "SELECT max (seq) FROM events");
    const char *file = s_file ("dry.csv",
        "customer,invoice,issued,due,amount\n"
        "DRY1,DRY-1,2026-05-01,2026-05-31,10.00\n"
        "DRY1,DRY-2,2026-05-02,2026-06-01,20.00\n");
    th_run_t run;
    th_run (&s_server, &run, NULL, "--json import invoices %s --dry-run", file);
    assert_int_equal (run.status, 0);
    s_contains (run.out, "\"applied\":false");
    assert_int_equal (s_json_number (run.out, "inserted"), 2);
    assert_int_equal (s_sql_number (&s_server, "SELECT count (*) FROM invoices "
                                               "WHERE number LIKE 'DRY-%'"), 0);
    assert_int_equal (s_sql_number (&s_server, "SELECT max (seq) FROM events"), events);
    //  A dry run reports every problem, and fails.
    file = s_file ("dry-bad.csv",
        "customer,invoice,issued,due,amount\n"
        "DRY1,DRY-3,2026-02-30,2026-05-31,10.00\n"
        "NOBODY,DRY-4,2026-05-02,2026-06-01,20.00\n");
    th_run (&s_server, &run, NULL, "import invoices %s --dry-run", file);
    assert_int_equal (run.status, 1);
    s_contains (run.err, "dry-bad.csv:2: issued:");
    s_contains (run.err, "dry-bad.csv:3: customer: unknown customer NOBODY");
    assert_int_equal (s_sql_number (&s_server, "SELECT count (*) FROM invoices "
                                               "WHERE number LIKE 'DRY-%'"), 0);
}

//  A file with one bad row (of the kind named) imports nothing, and the
//  message names the line and the field.
static void
s_one_bad_row (const char *name, const char *bad_row, const char *expect)
{
    char text [2048];
    snprintf (text, sizeof text,
              "customer,invoice,issued,due,amount\n"
              "BAD1,%s-1,2026-05-01,2026-05-31,10.00\n"
              "%s\n"
              "BAD1,%s-3,2026-05-03,2026-06-02,30.00\n", name, bad_row, name);
    char file_name [64];
    snprintf (file_name, sizeof file_name, "%s.csv", name);
    th_run_t run;
    th_run (&s_server, &run, NULL, "import invoices %s", s_file (file_name, text));
    assert_int_equal (run.status, 1);
    s_contains (run.err, expect);
    s_contains (run.out, "nothing imported");
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM invoices WHERE number LIKE '%s-%%'",
              name);
    assert_int_equal (s_sql_number (&s_server, sql), 0);
}

static void
test_one_bad_row_imports_nothing (void **state)
{
    (void) state;
    s_customers ("BAD1");
    s_one_bad_row ("impossible", "BAD1,impossible-2,2013-02-30,2013-03-30,1.00",
                   "impossible.csv:3: issued: issued date '2013-02-30': day 30 is not in February 2013");
    s_one_bad_row ("duebefore", "BAD1,duebefore-2,2026-05-10,2026-05-09,1.00",
                   "duebefore.csv:3: due: due date 2026-05-09 is before the issue date 2026-05-10");
    s_one_bad_row ("decimals", "BAD1,decimals-2,2026-05-10,2026-05-20,12.345",
                   "decimals.csv:3: amount: amount '12.345'");
    s_one_bad_row ("negative", "BAD1,negative-2,2026-05-10,2026-05-20,-5.00",
                   "negative.csv:3: amount: amount -5.00 must be above zero");
    s_one_bad_row ("missing", "BAD1,,2026-05-10,2026-05-20,5.00",
                   "missing.csv:3: invoice: invoice is missing");
    s_one_bad_row ("fields", "BAD1,fields-2,2026-05-10",
                   "fields.csv:3: the row has 3 fields; the header has 5");
    s_one_bad_row ("unknown", "GHOST,unknown-2,2026-05-10,2026-05-20,5.00",
                   "unknown.csv:3: customer: unknown customer GHOST");
    s_one_bad_row ("twice", "BAD1,twice-1,2026-05-01,2026-05-31,10.00",
                   "twice.csv:3: invoice: invoice twice-1 is also on line 2");
    s_one_bad_row ("utf8", "BAD1,utf8-\xff,2026-05-10,2026-05-20,5.00",
                   "utf8.csv:3:");
    s_one_bad_row ("currency", "BAD1,currency-2,2026-05-10,2026-05-20,5.00,XYZ",
                   "currency.csv:3:");
}

static void
test_broken_csv_imports_nothing (void **state)
{
    (void) state;
    s_customers ("BRK1");
    const char *file = s_file ("broken.csv",
        "customer,invoice,issued,due,amount\n"
        "BRK1,BRK-1,2026-05-01,2026-05-31,10.00\n"
        "BRK1,\"BRK-2,2026-05-01,2026-05-31,10.00\n"
        "BRK1,BRK-3,2026-05-01,2026-05-31,10.00\n");
    th_run_t run;
    th_run (&s_server, &run, NULL, "import invoices %s", file);
    assert_int_equal (run.status, 2);
    s_contains (run.err, "broken.csv");
    s_contains (run.err, "line 3");
    s_contains (run.err, "nothing was imported");
    assert_int_equal (s_sql_number (&s_server, "SELECT count (*) FROM invoices "
                                               "WHERE number LIKE 'BRK-%'"), 0);
    //  A file without a required column is refused before anything is sent.
    file = s_file ("nodue.csv", "customer,invoice,issued,amount\nBRK1,BRK-9,2026-05-01,1.00\n");
    th_run (&s_server, &run, NULL, "import invoices %s", file);
    assert_int_equal (run.status, 2);
    s_contains (run.err, "no column due");
}

static void
test_reimport_is_a_noop_and_conflicts_are_errors (void **state)
{
    (void) state;
    s_customers ("RE1,RE2");
    const char *file = s_file ("again.csv",
        "customer,invoice,issued,due,amount\n"
        "RE1,RE-1,2026-04-01,2026-05-01,100.00\n"
        "RE2,RE-2,2026-04-02,2026-05-02,200.00\n");
    th_run_t run;
    th_run (&s_server, &run, NULL, "--json import invoices %s", file);
    assert_int_equal (run.status, 0);
    assert_int_equal (s_json_number (run.out, "inserted"), 2);
    long long seq = s_sql_number (&s_server, "SELECT max (seq) FROM events");
    th_run (&s_server, &run, NULL, "--json import invoices %s", file);
    assert_int_equal (run.status, 0);
    assert_int_equal (s_json_number (run.out, "inserted"), 0);
    assert_int_equal (s_json_number (run.out, "unchanged"), 2);
    //  Nothing changed: not even an event.
    assert_int_equal (s_sql_number (&s_server, "SELECT max (seq) FROM events"), seq);
    //  The same number with another amount is an error, never an overwrite.
    file = s_file ("conflict.csv",
        "customer,invoice,issued,due,amount\n"
        "RE1,RE-1,2026-04-01,2026-05-01,150.00\n"
        "RE2,RE-3,2026-04-03,2026-05-03,300.00\n");
    th_run (&s_server, &run, NULL, "import invoices %s", file);
    assert_int_equal (run.status, 1);
    s_contains (run.err, "conflict.csv:2: invoice: invoice RE-1 is already in the ledger "
                         "with other values");
    s_contains (run.err, "amount 100.00 USD");
    assert_int_equal (s_sql_number (&s_server, "SELECT amount_minor FROM invoices "
                                               "WHERE number = 'RE-1'"), 10000);
    assert_int_equal (s_sql_number (&s_server, "SELECT count (*) FROM invoices "
                                               "WHERE number = 'RE-3'"), 0);
}

static void
test_skip_invalid_writes_rejects (void **state)
{
    (void) state;
    s_customers ("SK1");
    const char *file = s_file ("skip.csv",
        "customer,invoice,issued,due,amount\n"
        "SK1,SK-1,2026-05-01,2026-05-31,10.00\n"
        "SK1,SK-2,2026-05-01,2026-04-30,10.00\n"
        "NOPE,SK-3,2026-05-01,2026-05-31,10.00\n"
        "SK1,SK-4,2026-05-01,2026-05-31,\"1,000.00\"\n"
        "SK1,SK-5,2026-05-01,2026-05-31,40.00\n");
    th_run_t run;
    th_run (&s_server, &run, NULL, "--json import invoices %s --skip-invalid "
            "--reject-file skip-rejects.csv", file);
    assert_int_equal (run.status, 0);
    assert_int_equal (s_json_number (run.out, "inserted"), 2);
    assert_int_equal (s_json_number (run.out, "rejected"), 3);
    assert_int_equal (s_sql_number (&s_server, "SELECT count (*) FROM invoices "
                                               "WHERE number LIKE 'SK-%'"), 2);
    char path [PATH_MAX + 64], rejects [4096] = "";
    snprintf (path, sizeof path, "%s/skip-rejects.csv", s_server.dir);
    FILE *in = fopen (path, "r");
    assert_non_null (in);
    size_t n = fread (rejects, 1, sizeof rejects - 1, in);
    rejects [n] = 0;
    fclose (in);
    s_contains (rejects, "customer,invoice,issued,due,amount,reject_line,reject_reason\r\n");
    s_contains (rejects, "SK1,SK-2,2026-05-01,2026-04-30,10.00,3,due: due date");
    s_contains (rejects, "NOPE,SK-3,2026-05-01,2026-05-31,10.00,4,\"customer: unknown customer NOPE: ");
    s_contains (rejects, "SK1,SK-4,2026-05-01,2026-05-31,\"1,000.00\",5,\"amount: amount '1,000.00'");
    assert_null (strstr (rejects, "SK-1"));
}

static void
test_mappings_us_dates_and_comma_decimals (void **state)
{
    (void) state;
    s_customers ("US1,SE1");
    const char *us_map = s_file ("us.map",
        "# a US export\n"
        "kind = invoices\n"
        "date_format = MM/DD/YYYY\n"
        "decimal = .\n"
        "thousands = ,\n"
        "column invoice = Invoice No\n"
        "column customer = Customer ID\n"
        "column issued = Invoice Date\n"
        "column due = Due Date\n"
        "column amount = Total\n");
    const char *us = s_file ("us.csv",
        "Invoice No,Customer ID,Invoice Date,Due Date,Total,Memo\n"
        "US-1,US1,03/15/2026,04/14/2026,\"1,234.56\",spring order\n"
        "US-2,US1,12/01/2025,12/31/2025,\"12,345,678.90\",\n");
    th_run_t run;
    th_run (&s_server, &run, NULL, "--json import invoices %s --map %s", us, us_map);
    if (run.status != 0)
        print_error ("%s%s", run.out, run.err);
    assert_int_equal (run.status, 0);
    assert_int_equal (s_sql_number (&s_server, "SELECT amount_minor FROM invoices "
                                               "WHERE number = 'US-1' AND issued = '2026-03-15'"),
                      123456);
    assert_int_equal (s_sql_number (&s_server, "SELECT amount_minor FROM invoices "
                                               "WHERE number = 'US-2'"), 1234567890);
    const char *se_map = s_file ("se.map",
        "kind = invoices\n"
        "date_format = DD.MM.YYYY\n"
        "decimal = ,\n"
        "thousands = \" \"\n"
        "currency = SEK\n"
        "separator = ;\n"
        "column invoice = Fakturanr\n"
        "column customer = Kundnr\n"
        "column issued = Fakturadatum\n"
        "column due = F\xc3\xb6rfallodatum\n"
        "column amount = Belopp\n");
    const char *se = s_file ("se.csv",
        "Fakturanr;Kundnr;Fakturadatum;F\xc3\xb6rfallodatum;Belopp\n"
        "SE-1;SE1;15.03.2026;14.04.2026;1\xc2\xa0" "234,50\n"
        "SE-2;SE1;16.03.2026;15.04.2026;99,9\n");
    th_run (&s_server, &run, NULL, "--json import invoices %s --map %s", se, se_map);
    if (run.status != 0)
        print_error ("%s%s", run.out, run.err);
    assert_int_equal (run.status, 0);
    char *row = th_sql (&s_server, "SELECT string_agg (number || ':' || amount_minor || ':' "
                                   "|| currency || ':' || issued, ',' ORDER BY number) "
                                   "FROM invoices WHERE number LIKE 'SE-%'");
    assert_string_equal (row, "SE-1:123450:SEK:2026-03-15,SE-2:9990:SEK:2026-03-16");
    free (row);
    //  The wrong mapping for the file: amounts are errors, not rescaled.
    th_run (&s_server, &run, NULL, "import invoices %s --map %s", se, us_map);
    assert_int_equal (run.status, 2);
}

static void
test_payments_allocate_named_oldest_partial_over (void **state)
{
    (void) state;
    s_customers ("PAY1");
    th_run_t run;
    th_run (&s_server, &run, NULL, "import invoices %s", s_file ("pay-inv.csv",
        "customer,invoice,issued,due,amount\n"
        "PAY1,P-OLD,2026-01-01,2026-01-31,100.00\n"
        "PAY1,P-MID,2026-02-01,2026-03-03,200.00\n"
        "PAY1,P-NEW,2026-03-01,2026-03-31,300.00\n"));
    assert_int_equal (run.status, 0);
    //  R1 pays part of P-NEW by name; R2 names nothing: oldest due first
    //  (all of P-OLD, 50 of P-MID); R3 names P-NEW and pays more than is
    //  left: the rest is unapplied cash.
    th_run (&s_server, &run, NULL, "--json import payments %s", s_file ("pay.csv",
        "customer,reference,received,amount,invoice,method\n"
        "PAY1,R1,2026-04-01,120.00,P-NEW,bank transfer\n"
        "PAY1,R2,2026-04-02,150.00,,cheque\n"
        "PAY1,R3,2026-04-03,200.00,P-NEW,card\n"));
    if (run.status != 0)
        print_error ("%s%s", run.out, run.err);
    assert_int_equal (run.status, 0);
    assert_int_equal (s_json_number (run.out, "inserted"), 3);
    char *balances = th_sql (&s_server,
        "SELECT string_agg (number || '=' || recoup_invoice_balance (id), ',' ORDER BY number) "
        "FROM invoices WHERE number LIKE 'P-%'");
    assert_string_equal (balances, "P-MID=15000,P-NEW=0,P-OLD=0");
    free (balances);
    char *unapplied = th_sql (&s_server,
        "SELECT string_agg (reference || '=' || recoup_payment_unapplied (id), ',' "
        "ORDER BY reference) FROM payments p WHERE reference LIKE 'R_' "
        "AND customer_id = (SELECT id FROM customers WHERE ref = 'PAY1')");
    assert_string_equal (unapplied, "R1=0,R2=0,R3=2000");
    free (unapplied);
    //  Importing the payments again allocates nothing twice.
    th_run (&s_server, &run, NULL, "--json import payments pay.csv");
    assert_int_equal (run.status, 0);
    assert_int_equal (s_json_number (run.out, "unchanged"), 3);
    assert_int_equal (s_sql_number (&s_server, "SELECT count (*) FROM entries e "
                                               "JOIN payments p ON p.id = e.payment_id "
                                               "WHERE p.reference LIKE 'R_'"), 4);
    //  A payment naming another customer's invoice is refused.
    s_customers ("PAY2");
    th_run (&s_server, &run, NULL, "import payments %s", s_file ("pay-bad.csv",
        "customer,reference,received,amount,invoice\n"
        "PAY2,X1,2026-04-01,10.00,P-MID\n"));
    assert_int_equal (run.status, 1);
    s_contains (run.err, "invoice P-MID belongs to customer PAY1, not PAY2");
}

//  Terms "2/10 net 30": a payment of 98% inside the ten days settles the
//  invoice with a discount entry; the same after the window leaves the
//  rest open.
static void
test_payments_early_discount (void **state)
{
    (void) state;
    th_run_t run;
    th_run (&s_server, &run, NULL, "import customers %s", s_file ("disc-customers.csv",
        "customer,name,terms\n"
        "DISC1,Prompt Payer,2/10 net 30\n"
        "DISC2,Also Prompt,2/10 net 30\n"));
    assert_int_equal (run.status, 0);
    th_run (&s_server, &run, NULL, "import invoices %s", s_file ("disc-invoices.csv",
        "customer,invoice,issued,due,amount\n"
        "DISC1,D-1,2026-05-01,2026-05-31,1000.00\n"
        "DISC1,D-2,2026-05-01,2026-05-31,500.00\n"
        "DISC2,D-3,2026-05-01,2026-05-31,100.00\n"));
    assert_int_equal (run.status, 0);
    th_run (&s_server, &run, NULL, "import payments %s", s_file ("disc-payments.csv",
        "customer,reference,received,amount,invoice\n"
        "DISC1,DP-1,2026-05-08,980.00,D-1\n"
        "DISC1,DP-2,2026-05-20,490.00,D-2\n"
        "DISC2,DP-3,2026-05-05,98.00,\n"));
    if (run.status != 0)
        print_error ("%s%s", run.out, run.err);
    assert_int_equal (run.status, 0);
    char *balances = th_sql (&s_server,
        "SELECT string_agg (number || '=' || recoup_invoice_balance (id), ',' ORDER BY number) "
        "FROM invoices WHERE number LIKE 'D-%'");
    assert_string_equal (balances, "D-1=0,D-2=1000,D-3=0");
    free (balances);
    char *discounts = th_sql (&s_server,
        "SELECT string_agg (i.number || ':' || e.amount_minor || ':' || e.on_date, ',' "
        "ORDER BY i.number) FROM entries e JOIN invoices i ON i.id = e.invoice_id "
        "WHERE e.kind = 'discount' AND i.number LIKE 'D-%'");
    assert_string_equal (discounts, "D-1:-2000:2026-05-08,D-3:-200:2026-05-05");
    free (discounts);
}

static void
test_create_customers_and_customer_updates (void **state)
{
    (void) state;
    th_run_t run;
    const char *file = s_file ("new-customers.csv",
        "customer,invoice,issued,due,amount,customer_name\n"
        "NEWC1,NC-1,2026-05-01,2026-05-31,10.00,New Customer One\n"
        "NEWC1,NC-2,2026-05-02,2026-06-01,10.00,New Customer One\n"
        "NEWC2,NC-3,2026-05-03,2026-06-02,10.00,\n");
    th_run (&s_server, &run, NULL, "import invoices %s", file);
    assert_int_equal (run.status, 1);
    th_run (&s_server, &run, NULL, "--json import invoices %s --create-customers", file);
    assert_int_equal (run.status, 0);
    assert_int_equal (s_json_number (run.out, "customers_created"), 2);
    assert_int_equal (s_json_number (run.out, "inserted"), 3);
    char *names = th_sql (&s_server, "SELECT string_agg (ref || '=' || name, ',' ORDER BY ref) "
                                     "FROM customers WHERE ref LIKE 'NEWC%'");
    assert_string_equal (names, "NEWC1=New Customer One,NEWC2=NEWC2");
    free (names);
    //  A customer file updates only the columns it has.
    free (th_sql (&s_server, "UPDATE customers SET email = 'keep@example.com' WHERE ref = 'NEWC1'"));
    th_run (&s_server, &run, NULL, "--json import customers %s", s_file ("upd.csv",
        "customer,name,phone,timezone\n"
        "NEWC1,New Customer One,+46 8 123 456,Europe/Stockholm\n"
        "NEWC2,NEWC2,,\n"));
    assert_int_equal (run.status, 0);
    assert_int_equal (s_json_number (run.out, "updated"), 1);
    assert_int_equal (s_json_number (run.out, "unchanged"), 1);
    char *row = th_sql (&s_server, "SELECT email || '|' || phone || '|' || timezone "
                                   "FROM customers WHERE ref = 'NEWC1'");
    assert_string_equal (row, "keep@example.com|+46 8 123 456|Europe/Stockholm");
    free (row);
    th_run (&s_server, &run, NULL, "import customers %s", s_file ("badtz.csv",
        "customer,name,timezone\nNEWC3,Three,Mars/Olympus\n"));
    assert_int_equal (run.status, 1);
    s_contains (run.err, "badtz.csv:2: timezone: unknown time zone Mars/Olympus");
}

static void
test_events_per_account_not_per_row (void **state)
{
    (void) state;
    s_customers ("EV1,EV2");
    long long seq = s_sql_number (&s_server, "SELECT max (seq) FROM events");
    char text [8192] = "customer,invoice,issued,due,amount\n";
    for (int i = 0; i < 50; i++) {
        size_t used = strlen (text);
        snprintf (text + used, sizeof text - used, "EV%d,EV-%d,2026-05-01,2026-05-31,1.00\n",
                  1 + i % 2, i);
    }
    th_run_t run;
    th_run (&s_server, &run, NULL, "import invoices %s", s_file ("ev.csv", text));
    assert_int_equal (run.status, 0);
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT string_agg (kind, ',' ORDER BY seq) FROM events "
                               "WHERE seq > %lld", seq);
    char *kinds = th_sql (&s_server, sql);
    assert_string_equal (kinds, "account.changed,account.changed,import.committed");
    free (kinds);
}

static void
test_roles (void **state)
{
    (void) state;
    s_customers ("ROLE1");
    identity_t sales, loader;
    assert_int_equal (th_user_add (&s_server, "rep", RECOUP__ROLE__SALES, &sales), 0);
    assert_int_equal (th_user_add (&s_server, "loader", RECOUP__ROLE__IMPORTER, &loader), 0);
    char sales_path [PATH_MAX + 64], loader_path [PATH_MAX + 64], err [256];
    snprintf (sales_path, sizeof sales_path, "%s/rep.identity", s_server.dir);
    snprintf (loader_path, sizeof loader_path, "%s/loader.identity", s_server.dir);
    assert_int_equal (identity_save (&sales, sales_path, 0, 1, err, sizeof err), 0);
    assert_int_equal (identity_save (&loader, loader_path, 0, 1, err, sizeof err), 0);
    const char *file = s_file ("roles.csv", "customer,invoice,issued,due,amount\n"
                                            "ROLE1,ROLE-1,2026-05-01,2026-05-31,5.00\n");
    th_run_t run;
    th_run (&s_server, &run, sales_path, "import invoices %s", file);
    assert_int_equal (run.status, 1);
    s_contains (run.err, "permission denied");
    th_run (&s_server, &run, loader_path, "import invoices %s", file);
    assert_int_equal (run.status, 0);
    assert_int_equal (s_sql_number (&s_server, "SELECT count (*) FROM invoices "
                                               "WHERE number = 'ROLE-1'"), 1);
    identity_wipe (&sales);
    identity_wipe (&loader);
}

//  The protocol underneath: commits are idempotent per import, a closed
//  import takes no more rows, columns must agree, and an import belongs
//  to the user who began it.
static void
test_protocol_begin_stage_commit (void **state)
{
    (void) state;
    s_customers ("PROTO1");
    Recoup__ImportBeginRequest begin = RECOUP__IMPORT_BEGIN_REQUEST__INIT;
    begin.kind = RECOUP__IMPORT_KIND__IMPORT_INVOICES;
    begin.file_name = "proto.csv";
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_IMPORT_BEGIN;
    request.import_begin = &begin;
    Recoup__Reply *reply = th_request (&s_server.admin, &request);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_IMPORT_BEGIN);
    char id [64];
    snprintf (id, sizeof id, "%s", reply->import_begin->import_id);
    recoup__reply__free_unpacked (reply, NULL);

    //  Columns of different lengths are refused, and nothing is staged.
    uint32_t lines [2] = { 2, 3 };
    char *customers [2] = { "PROTO1", "PROTO1" };
    char *numbers [2] = { "PROTO-1", "PROTO-2" };
    int32_t issued [2] = { 20600, 20601 }, due [2] = { 20630, 20631 };
    int64_t amounts [2] = { 1000, 2000 };
    Recoup__ImportStageRequest stage = RECOUP__IMPORT_STAGE_REQUEST__INIT;
    stage.import_id = id;
    stage.n_line = 2;
    stage.line = lines;
    stage.n_customer = 2;
    stage.customer = customers;
    stage.n_number = 1;
    stage.number = numbers;
    stage.n_date1 = 2;
    stage.date1 = issued;
    stage.n_date2 = 2;
    stage.date2 = due;
    stage.n_amount_minor = 2;
    stage.amount_minor = amounts;
    request.command_case = RECOUP__REQUEST__COMMAND_IMPORT_STAGE;
    request.import_stage = &stage;
    reply = th_request (&s_server.admin, &request);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__INVALID_ARGUMENT);
    assert_string_equal (reply->error->field, "import_stage.number");
    recoup__reply__free_unpacked (reply, NULL);
    stage.n_number = 2;
    reply = th_request (&s_server.admin, &request);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_IMPORT_STAGE);
    assert_int_equal (reply->import_stage->total_staged, 2);
    recoup__reply__free_unpacked (reply, NULL);

    //  Another user may not touch it.
    identity_t other;
    assert_int_equal (th_user_add (&s_server, "other-loader", RECOUP__ROLE__IMPORTER,
                                   &other), 0);
    reply = th_request (&other, &request);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__PERMISSION_DENIED);
    recoup__reply__free_unpacked (reply, NULL);
    identity_wipe (&other);

    //  A commit that counts other rows than were staged is refused.
    Recoup__ImportCommitRequest commit = RECOUP__IMPORT_COMMIT_REQUEST__INIT;
    commit.import_id = id;
    commit.rows = 3;
    request.command_case = RECOUP__REQUEST__COMMAND_IMPORT_COMMIT;
    request.import_commit = &commit;
    request.request_id = "";
    reply = th_request (&s_server.admin, &request);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__CONFLICT);
    assert_string_equal (reply->error->field, "import_commit.rows");
    recoup__reply__free_unpacked (reply, NULL);
    commit.rows = 2;
    reply = th_request (&s_server.admin, &request);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_IMPORT_COMMIT);
    assert_true (reply->import_commit->summary->applied);
    assert_int_equal (reply->import_commit->summary->inserted, 2);
    uint64_t seq = reply->import_commit->seq;
    assert_true (seq > 0);
    recoup__reply__free_unpacked (reply, NULL);

    //  Committing again (a new request id: the client lost the reply and
    //  restarted) gives the same summary and writes nothing.
    request.request_id = "";
    reply = th_request (&s_server.admin, &request);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_IMPORT_COMMIT);
    assert_int_equal (reply->import_commit->summary->inserted, 2);
    assert_string_equal (reply->import_commit->summary->file_name, "proto.csv");
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_sql_number (&s_server, "SELECT count (*) FROM invoices "
                                               "WHERE number LIKE 'PROTO-%'"), 2);
    //  A closed import takes no more rows.
    request.command_case = RECOUP__REQUEST__COMMAND_IMPORT_STAGE;
    request.import_stage = &stage;
    reply = th_request (&s_server.admin, &request);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__CONFLICT);
    recoup__reply__free_unpacked (reply, NULL);
    //  An id that is not one.
    stage.import_id = "not-an-import";
    reply = th_request (&s_server.admin, &request);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_ERROR);
    assert_int_equal (reply->error->code, RECOUP__ERROR_CODE__INVALID_ARGUMENT);
    recoup__reply__free_unpacked (reply, NULL);
}

//  Kills recoupd (SIGKILL) while a large import is staging, and again
//  while it commits; after a restart the same command, run again,
//  leaves exactly the file's rows and totals in the ledger.
static void
test_killed_server_then_run_again_exactly_once (void **state)
{
    (void) state;
    th_server_t server;
    memset (&server, 0, sizeof server);
    assert_int_equal (th_server_start (&server, "import-kill", NULL), 0);
    enum { CUSTOMERS = 50, ROWS = 300000 };
    char path [PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/customers.csv", server.dir);
    FILE *out = fopen (path, "w");
    assert_non_null (out);
    fprintf (out, "customer,name\n");
    for (int c = 0; c < CUSTOMERS; c++)
        fprintf (out, "K%03d,Kill Test %d\n", c, c);
    fclose (out);
    snprintf (path, sizeof path, "%s/big.csv", server.dir);
    out = fopen (path, "w");
    assert_non_null (out);
    fprintf (out, "customer,invoice,issued,due,amount\n");
    long long total = 0;
    for (int i = 0; i < ROWS; i++) {
        long long amount = 100 + (i * 7919LL) % 100000;
        total += amount;
        fprintf (out, "K%03d,BIG-%07d,2026-0%d-%02d,2026-0%d-%02d,%lld.%02lld\n",
                 i % CUSTOMERS, i, 1 + i % 5, 1 + i % 28, 2 + i % 5, 1 + i % 28,
                 amount / 100, amount % 100);
    }
    fclose (out);
    th_run_t run;
    th_run (&server, &run, NULL, "import customers customers.csv");
    assert_int_equal (run.status, 0);
    for (int round = 0; round < 2; round++) {
        //  Round 0: kill while staging; round 1: kill while committing.
        pid_t child = fork ();
        assert_true (child >= 0);
        if (child == 0) {
            th_run_t *mine = malloc (sizeof *mine);
            th_run (&server, mine, NULL, "--timeout 3000 import invoices big.csv");
            _exit (mine->status);
        }
        const char *wait_sql = round == 0
            ? "SELECT count (*) FROM imports WHERE staged > 20000 AND closed_at IS NULL"
            : "SELECT count (*) FROM pg_stat_activity WHERE state = 'active' "
              "AND query LIKE 'WITH ins AS (INSERT INTO invoices%'";
        int seen = 0;
        for (int i = 0; i < 1200 && !seen; i++) {
            seen = s_sql_number (&server, wait_sql) > 0;
            if (!seen)
                th_sleep_ms (25);
        }
        assert_true (seen);
        th_server_kill (&server);
        int status;
        waitpid (child, &status, 0);
        assert_true (WIFEXITED (status) && WEXITSTATUS (status) != 0);
        assert_int_equal (th_server_restart (&server), 0);
        //  Killed before the commit: nothing of the file is in the ledger.
        assert_int_equal (s_sql_number (&server, "SELECT count (*) FROM invoices "
                                                 "WHERE number LIKE 'BIG-%'"), 0);
    }
    th_run (&server, &run, NULL, "--json import invoices big.csv");
    if (run.status != 0)
        print_error ("%s%s", run.out, run.err);
    assert_int_equal (run.status, 0);
    assert_int_equal (s_json_number (run.out, "inserted"), ROWS);
    assert_int_equal (s_sql_number (&server, "SELECT count (*) FROM invoices "
                                             "WHERE number LIKE 'BIG-%'"), ROWS);
    assert_int_equal (s_sql_number (&server, "SELECT sum (amount_minor) FROM invoices "
                                             "WHERE number LIKE 'BIG-%'"), total);
    //  And once more: nothing changes.
    th_run (&server, &run, NULL, "--json import invoices big.csv");
    assert_int_equal (run.status, 0);
    assert_int_equal (s_json_number (run.out, "unchanged"), ROWS);
    assert_int_equal (s_sql_number (&server, "SELECT count (*) FROM invoices "
                                             "WHERE number LIKE 'BIG-%'"), ROWS);
    th_server_destroy (&server);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_native_files_with_rfc4180_details),
        cmocka_unit_test (test_dry_run_writes_nothing),
        cmocka_unit_test (test_one_bad_row_imports_nothing),
        cmocka_unit_test (test_broken_csv_imports_nothing),
        cmocka_unit_test (test_reimport_is_a_noop_and_conflicts_are_errors),
        cmocka_unit_test (test_skip_invalid_writes_rejects),
        cmocka_unit_test (test_mappings_us_dates_and_comma_decimals),
        cmocka_unit_test (test_payments_allocate_named_oldest_partial_over),
        cmocka_unit_test (test_payments_early_discount),
        cmocka_unit_test (test_create_customers_and_customer_updates),
        cmocka_unit_test (test_events_per_account_not_per_row),
        cmocka_unit_test (test_roles),
        cmocka_unit_test (test_protocol_begin_stage_commit),
        cmocka_unit_test (test_killed_server_then_run_again_exactly_once),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
