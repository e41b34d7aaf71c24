/*  Late fees against a real recoupd: the policy names a fee and the
    steps that charge it; the engine charges it only to customers whose
    terms allow it, on the day its step falls, at most once per invoice
    and step however often it runs, catches up or is run again; not while
    dunning is paused, not for a step passed over, not in a currency the
    amount does not fit; a rate is a share of the open balance then. The
    fee is a `fee` entry on the invoice (balance, events), and the
    reminder sent at that step says so.

    A policy version applies to the business dates from the day it was
    loaded (real time), so this test's calendar starts tomorrow: day 0
    is the day after the real date, and the server's business date is
    day 200. The tests share one server and run in order along one
    calendar.                                                          */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "harness.h"
#include "policy.h"

static th_server_t s_server;
static identity_t s_collector;
static int32_t s_base;              //  day 0 of the calendar

typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), NULL, __VA_ARGS__)

//  Day `offset` of the calendar as YYYY-MM-DD (a rotating static buffer:
//  up to 8 in one expression).
static const char *
s_day (int offset)
{
    static char bufs [8][DATE_ISO_LEN + 1];
    static int next;
    char *buf = bufs [next++ % 8];
    date_format_iso (s_base + offset, buf);
    return buf;
}

//  The fees charged on an invoice: count, and their total in minor units.
static long long
s_fee_count (const char *invoice)
{
    return th_sql_int (&s_server,
                       "SELECT count(*) FROM entries e JOIN invoices i "
                       "ON i.id = e.invoice_id WHERE i.number = '%s' AND e.kind = 'fee'",
                       invoice);
}

static long long
s_fee_total (const char *invoice)
{
    return th_sql_int (&s_server,
                       "SELECT coalesce (sum (e.amount_minor), 0) FROM entries e "
                       "JOIN invoices i ON i.id = e.invoice_id WHERE i.number = '%s' "
                       "AND e.kind = 'fee'", invoice);
}

//  Loads the shipped default policy with its late_fee line replaced and
//  a [messages] section.
static void
s_policy (const char *late_fee)
{
    const char *from = "late_fee = none";
    const char *at = strstr (policy_default_text, from);
    const char *steps = strstr (policy_default_text, "[steps]");
    assert_non_null (at);
    assert_non_null (steps);
    const char *messages = "[messages]\ncompany = Fees Test Ltd\n"
                           "payment = Bankgiro 5050-1055, quoting the invoice number\n";
    size_t head = (size_t) (at - policy_default_text);
    char *text = malloc (strlen (policy_default_text) + strlen (late_fee)
                         + strlen (messages) + 16);
    assert_non_null (text);
    sprintf (text, "%.*slate_fee = %s%.*s%s%s", (int) head, policy_default_text, late_fee,
             (int) (steps - at - strlen (from)), at + strlen (from), messages, steps);
    assert_non_null (th_write_file (&s_server, "fees.conf", text));
    free (text);
    run_t run;
    s_run (&run, "policy load fees.conf");
    th_expect_run (&run, 0, NULL);
}

//  Runs the engine as of day `offset`; the reply (caller frees).
static Recoup__Reply *
s_engine (int offset)
{
    Recoup__EngineRunRequest run = RECOUP__ENGINE_RUN_REQUEST__INIT;
    run.as_of = (char *) s_day (offset);
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_ENGINE_RUN;
    request.engine_run = &run;
    client_status_t status;
    Recoup__Reply *reply = th_call (&s_collector, &request, &status);
    if (!reply)
        fail_msg ("no reply (client status %d)", (int) status);
    if (reply->result_case != RECOUP__REPLY__RESULT_ENGINE_RUN)
        fail_msg ("engine_run %s: %s", run.as_of, reply->result_case
                  == RECOUP__REPLY__RESULT_ERROR ? reply->error->message : "?");
    return reply;
}

//  Runs the engine for each day from `first` to `last`; returns the
//  "why" of every new action of `customer`, joined with " | " (caller
//  frees).
static char *
s_engine_days (int first, int last, const char *customer)
{
    size_t cap = 8192, used = 0;
    char *whys = calloc (1, cap);
    assert_non_null (whys);
    for (int d = first; d <= last; d++) {
        Recoup__Reply *reply = s_engine (d);
        const Recoup__EngineRunReply *r = reply->engine_run;
        for (size_t i = 0; i < r->n_actions; i++)
            if (strcmp (r->actions [i]->customer, customer) == 0 && used + 512 < cap)
                used += (size_t) snprintf (whys + used, cap - used, "%s %s %s: %s | ",
                                           r->actions [i]->due, r->actions [i]->step,
                                           r->actions [i]->status, r->actions [i]->why);
        recoup__reply__free_unpacked (reply, NULL);
    }
    return whys;
}

static void
s_customer (const char *ref, const char *extra)
{
    run_t run;
    s_run (&run, "customer add %s --name 'Customer %s' --email %s@example.com "
                 "--collector cora %s", ref, ref, ref, extra);
    th_expect_run (&run, 0, NULL);
}

static void
s_invoice (const char *number, const char *ref, int issued, int due,
           const char *amount)
{
    run_t run;
    s_run (&run, "invoice issue %s --customer %s --amount %s --issued %s --due %s",
           number, ref, amount, s_day (issued), s_day (due));
    th_expect_run (&run, 0, NULL);
}

static int
s_setup (void **state)
{
    (void) state;
    s_base = (int32_t) (time (NULL) / 86400) + 1;
    char today [DATE_ISO_LEN + 1];
    date_format_iso (s_base + 200, today);
    setenv ("RECOUP_TODAY", today, 1);
    setenv ("RECOUP_ENGINE_DAILY", "off", 1);
    if (th_server_start (&s_server, "fees", NULL) != 0)
        return -1;
    if (th_user_add (&s_server, "cora", RECOUP__ROLE__COLLECTOR, &s_collector) != 0)
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

//  The customer's terms decide: --late-fees on create and update, shown
//  back; a bad value is refused by the client.
static void
test_customer_flag (void **state)
{
    (void) state;
    run_t run;
    s_customer ("yes1", "--late-fees yes");
    s_run (&run, "customer show yes1");
    th_expect_run (&run, 0, "late fees yes");
    s_customer ("no1", "");
    s_run (&run, "--json customer update no1 --late-fees no");
    th_expect_run (&run, 0, NULL);
    assert_null (strstr (run.out, "\"late_fees\":true"));
    s_run (&run, "customer add bad1 --name Bad --late-fees maybe");
    th_expect_run (&run, 2, "--late-fees: write yes or no, not 'maybe'");
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM customers WHERE ref = 'bad1'"), 0);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT late_fees::int FROM customers WHERE ref = 'yes1'"),
                      1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT late_fees::int FROM customers WHERE ref = 'no1'"),
                      0);
}

//  A fixed fee at three steps: the customer whose terms allow it pays it
//  at each, once; the one whose terms do not, never; a yen account
//  cannot take "25.00" and the action says so; a promise pauses the fee
//  with the dunning.
static void
test_fees_once_only (void **state)
{
    (void) state;
    s_policy ("25.00 USD, 2500 JPY at past_due_notice, second_notice, direct_notice");
    s_invoice ("F-1", "yes1", 0, 30, "1200.00");
    s_invoice ("N-1", "no1", 0, 30, "1200.00");
    s_customer ("yen1", "--late-fees yes --currency JPY");
    s_invoice ("J-1", "yen1", 0, 30, "120000");
    s_customer ("eur1", "--late-fees yes --currency EUR");
    s_invoice ("E-1", "eur1", 0, 30, "1200.00");
    s_customer ("prom1", "--late-fees yes");
    s_invoice ("P-1", "prom1", 0, 30, "1200.00");
    //  prom1 promised on day 29 to pay by day 70: dunning pauses to 73.
    Recoup__PromiseAddRequest promise = RECOUP__PROMISE_ADD_REQUEST__INIT;
    promise.customer = "prom1";
    promise.amount_minor = 120000;
    promise.by = (char *) s_day (70);
    promise.made_on = (char *) s_day (29);
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_PROMISE_ADD;
    request.promise_add = &promise;
    client_status_t status;
    Recoup__Reply *reply = th_call (&s_collector, &request, &status);
    assert_non_null (reply);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_PROMISE_ADD);
    recoup__reply__free_unpacked (reply, NULL);

    long long posted0 = th_sql_int (&s_server,
                                    "SELECT count(*) FROM events "
                                    "WHERE kind = 'entry.posted'");
    char *whys = s_engine_days (0, 50, "yes1");
    //  past_due_notice on day 31, second_notice on day 44.
    assert_int_equal (s_fee_count ("F-1"), 2);
    assert_int_equal (s_fee_total ("F-1"), 5000);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM entries e JOIN invoices i "
                                  "ON i.id = e.invoice_id WHERE i.number = 'F-1' "
                                  "AND e.kind = 'fee' AND e.on_date IN ('%s', '%s')",
                                  s_day (31), s_day (44)), 2);
    char want [160];
    snprintf (want, sizeof want, "%s past_due_notice due: late fee 25.00 USD charged "
              "on F-1", s_day (31));
    if (!strstr (whys, want))
        fail_msg ("no '%s' in %s", want, whys);
    free (whys);
    assert_int_equal (s_fee_count ("N-1"), 0);
    //  The yen account pays the yen amount; the euro one has none.
    assert_int_equal (s_fee_count ("J-1"), 2);
    assert_int_equal (s_fee_total ("J-1"), 5000);
    assert_int_equal (s_fee_count ("E-1"), 0);
    assert_int_equal (s_fee_count ("P-1"), 0);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM engine_actions a JOIN invoices i "
                                  "ON i.id = a.invoice_id WHERE i.number = 'E-1' AND "
                                  "a.step = 'past_due_notice' AND a.why = 'late fee not "
                                  "charged on E-1: the policy''s late fee has no amount "
                                  "in EUR'"), 1);
    //  Each fee is an entry.posted event.
    assert_int_equal (th_events (&s_server, "entry.posted")
                      - posted0, 4);
    //  The balance carries them, and the reminder says so.
    run_t run;
    s_run (&run, "--json account show yes1 --as-of %s", s_day (50));
    th_expect_run (&run, 0, "\"balance_minor\":125000");
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM outbox o JOIN customers c "
                                  "ON c.id = o.customer_id WHERE c.ref = 'yes1' AND "
                                  "o.step = 'second_notice' AND o.body LIKE "
                                  "'%%a late fee of 25.00 USD has been added to invoice "
                                  "F-1%%' AND o.body LIKE '%%1250.00 USD%%'"), 1);
    //  ... signed with the policy's [messages].
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM outbox o JOIN customers c "
                                  "ON c.id = o.customer_id WHERE c.ref = 'yes1' AND "
                                  "o.step = 'second_notice' AND o.subject = 'Fees Test "
                                  "Ltd: Second notice: payment overdue' AND o.body LIKE "
                                  "E'%%\\nHow to pay: Bankgiro 5050-1055, quoting the "
                                  "invoice number\\n%%' AND o.body LIKE E'%%Yours "
                                  "sincerely,\\nAccounts receivable\\nFees Test Ltd\\n'"),
                      1);

    //  Again for the same date, and again: nothing more.
    for (int i = 0; i < 3; i++) {
        reply = s_engine (50);
        recoup__reply__free_unpacked (reply, NULL);
    }
    assert_int_equal (s_fee_count ("F-1"), 2);
    //  The database itself keeps one fee per invoice and step.
    char *refused = th_sql (&s_server,
        "INSERT INTO late_fees SELECT invoice_id, step, entry_id + 0, policy_version "
        "FROM late_fees LIMIT 1 RETURNING 'inserted'");
    assert_null (refused);

    //  A reversed fee stays reversed: it is not charged again.
    char *id = th_sql (&s_server, "SELECT e.id FROM entries e JOIN invoices i "
                       "ON i.id = e.invoice_id WHERE i.number = 'F-1' "
                       "AND e.kind = 'fee' ORDER BY e.id LIMIT 1");
    assert_non_null (id);
    s_run (&run, "entry reverse %s --memo 'waived: first time late' --date %s", id,
           s_day (50));
    th_expect_run (&run, 0, NULL);
    free (id);
    reply = s_engine (50);
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_fee_count ("F-1"), 2);
    assert_int_equal (th_sql_int (&s_server, "SELECT count(*) FROM late_fees"), 4);
}

//  Catch-up after 20 days without a run charges the fee of a step that
//  fell in the gap, dated that day, once; an invoice entered after its
//  steps fell is not charged back fees for them.
static void
test_fees_catch_up (void **state)
{
    (void) state;
    s_customer ("late1", "--late-fees yes");
    //  Issued day 20, due day 35: past_due_notice fell on 36 and
    //  second_notice on 49, before this invoice was entered.
    s_invoice ("L-1", "late1", 20, 35, "800.00");
    Recoup__Reply *reply = s_engine (70);
    assert_int_equal (reply->engine_run->summary->dates, 20);
    recoup__reply__free_unpacked (reply, NULL);
    //  yes1's direct_notice fell on day 60, inside the gap.
    assert_int_equal (s_fee_count ("F-1"), 3);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM entries e JOIN invoices i "
                                  "ON i.id = e.invoice_id WHERE i.number = 'F-1' "
                                  "AND e.kind = 'fee' AND e.on_date = '%s'", s_day (60)), 1);
    //  late1: the two steps found late are recorded, without fees; its
    //  direct_notice fell on day 65, in the catch-up: charged.
    assert_int_equal (s_fee_count ("L-1"), 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM entries e JOIN invoices i "
                                  "ON i.id = e.invoice_id WHERE i.number = 'L-1' "
                                  "AND e.kind = 'fee' AND e.on_date = '%s'", s_day (65)), 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM engine_actions a JOIN invoices i "
                                  "ON i.id = a.invoice_id WHERE i.number = 'L-1' AND "
                                  "a.step IN ('past_due_notice', 'second_notice')"), 2);
    //  prom1's promise (by day 70, grace 3) is still pending: no fee.
    assert_int_equal (s_fee_count ("P-1"), 0);
    reply = s_engine (70);
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (s_fee_count ("F-1"), 3);
    assert_int_equal (s_fee_count ("L-1"), 1);
}

//  A rate: 1.5% of what is open on the day, after a part payment.
static void
test_fees_rate (void **state)
{
    (void) state;
    //  A new policy changes every late account's stage: each one's
    //  account.changed follows the policy.loaded.
    long long changed = th_sql_int (&s_server,
                                    "SELECT count(*) FROM events "
                                    "WHERE kind = 'account.changed'");
    long long late = th_sql_int (&s_server,
                                 "SELECT count(DISTINCT customer_id) FROM "
                                 "recoup_open_items ('%s') WHERE due < '%s'",
                                 s_day (200), s_day (200));
    assert_true (late >= 6);
    s_policy ("1.5% at second_notice");
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM events WHERE kind = "
                                  "'account.changed'") - changed, late);
    s_customer ("rate1", "--late-fees yes");
    s_invoice ("R-1", "rate1", 71, 101, "1200.00");
    //  An invoice number with a quote and a backslash goes through the
    //  engine's arrays intact.
    s_customer ("quote1", "");
    s_invoice ("'Q\"1\\b'", "quote1", 71, 101, "100.00");
    run_t run;
    s_run (&run, "payment post --customer rate1 --reference PAY-R1 --amount 200.00 "
                 "--received %s", s_day (90));
    th_expect_run (&run, 0, NULL);
    char *whys = s_engine_days (71, 120, "rate1");
    //  second_notice on day 115: 1.5% of 1000.00.
    assert_int_equal (s_fee_count ("R-1"), 1);
    assert_int_equal (s_fee_total ("R-1"), 1500);
    if (!strstr (whys, "late fee 15.00 USD charged on R-1"))
        fail_msg ("no fee note in %s", whys);
    free (whys);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM outbox WHERE invoices = "
                                  "ARRAY [E'Q\"1\\\\b'] AND step = 'past_due_notice'"), 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM engine_actions a JOIN invoices i "
                                  "ON i.id = a.invoice_id WHERE i.number = E'Q\"1\\\\b'"),
                      7);
    //  The new policy charges nothing at past_due_notice (day 102).
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count(*) FROM entries e JOIN invoices i "
                                  "ON i.id = e.invoice_id WHERE i.number = 'R-1' "
                                  "AND e.kind = 'fee' AND e.on_date = '%s'", s_day (102)),
                      0);
    //  And nothing in the old fixed amount on any invoice since it
    //  changed: yes1's final_demand (day 75) was never a fee step.
    assert_int_equal (s_fee_count ("F-1"), 3);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_customer_flag),
        cmocka_unit_test (test_fees_once_only),
        cmocka_unit_test (test_fees_catch_up),
        cmocka_unit_test (test_fees_rate),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
