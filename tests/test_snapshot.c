/*  Each account's collection state in snapshots and account.changed,
    against a real recoupd: a promise, a broken promise (hold, cash-only,
    flag), disputes opened and resolved (with and without a credit note),
    holds placed and lifted by role, the reason, sales flags raised,
    noted and acknowledged; each command emits exactly one
    account.changed per customer it changed, after its own events, and
    the snapshot says the same; stage and days past due equal
    account_show's as of several dates; a view made of the snapshot at
    the start and the events since equals the snapshot at the end (the
    Clone guarantee), collections included; the client's output; an
    evaluation on a later date touches the other customers it changes.

    The server runs with RECOUP_TODAY=2026-03-01, the default policy
    (steps by days past due: past_due_notice 1, first_call 7, sales_flag
    8, second_call 14, credit_hold 30, final_demand 45, agency_review 60,
    settlement_review 90, write_off_review 120).                         */
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
#include "json.h"

#define TODAY "2026-03-01"

static th_server_t s_server;
static identity_t s_sam;                //  sales, the rep of every customer here
static identity_t s_cora;               //  collector
static identity_t s_mia;                //  manager
static char s_sam_file [PATH_MAX + 32]; //  identity files for th_run
static char s_cora_file [PATH_MAX + 32];
static char s_mia_file [PATH_MAX + 32];

typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), NULL, __VA_ARGS__)
#define s_run_as(who, run, ...) th_run (&s_server, (run), (who), __VA_ARGS__)

//  The last event stored.
static uint64_t
s_head (void)
{
    return (uint64_t) th_sql_int (&s_server, "SELECT coalesce (max (seq), 0) FROM events");
}

static int
s_setup (void **state)
{
    (void) state;
    setenv ("RECOUP_TODAY", TODAY, 1);
    if (th_server_start (&s_server, "snapshot", NULL) != 0)
        return -1;
    if (th_user_add (&s_server, "sam", RECOUP__ROLE__SALES, &s_sam) != 0
        || th_user_add (&s_server, "cora", RECOUP__ROLE__COLLECTOR, &s_cora) != 0
        || th_user_add (&s_server, "mia", RECOUP__ROLE__MANAGER, &s_mia) != 0)
        return -1;
    if (th_identity_file (&s_server, &s_sam, "sam", s_sam_file, sizeof s_sam_file) != 0
        || th_identity_file (&s_server,
                             &s_cora, "cora", s_cora_file, sizeof s_cora_file) != 0
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

// ---------------------------------------------------------------- requests

//  Sends a request as `who`; fails the test when no reply comes or when
//  the reply is not `want`.
static Recoup__Reply *
s_call (const identity_t *who, Recoup__Request *request, Recoup__Reply__ResultCase want)
{
    client_status_t status;
    Recoup__Reply *reply = th_call (who, request, &status);
    if (!reply)
        fail_msg ("no reply (client status %d)", (int) status);
    if (reply->result_case != want)
        fail_msg ("expected reply %d, got %d: %s", (int) want, (int) reply->result_case,
                  reply->result_case == RECOUP__REPLY__RESULT_ERROR
                  ? reply->error->message : "");
    return reply;
}

static Recoup__Reply *
s_snapshot (void)
{
    Recoup__SnapshotRequest snapshot = RECOUP__SNAPSHOT_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_SNAPSHOT;
    request.snapshot = &snapshot;
    return s_call (&s_server.admin, &request, RECOUP__REPLY__RESULT_SNAPSHOT);
}

//  The account of `ref` in a snapshot reply (borrowed).
static const Recoup__Account *
s_snapshot_account (const Recoup__Reply *reply, const char *ref)
{
    for (size_t i = 0; i < reply->snapshot->n_accounts; i++)
        if (strcmp (reply->snapshot->accounts [i]->customer->ref, ref) == 0)
            return reply->snapshot->accounts [i];
    fail_msg ("customer %s is not in the snapshot", ref);
    return NULL;
}

//  The events after `after` (all of them: the tests make few).
static Recoup__Reply *
s_replay (uint64_t after)
{
    Recoup__ReplayRequest replay = RECOUP__REPLAY_REQUEST__INIT;
    replay.after = after;
    replay.limit = 10000;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_REPLAY;
    request.replay = &replay;
    Recoup__Reply *reply = s_call (&s_server.admin, &request, RECOUP__REPLY__RESULT_REPLAY);
    assert_int_equal (reply->replay->last_seq,
                      after + reply->replay->n_events);
    return reply;
}

//  The kinds of the events after `after`, space separated, each
//  account.changed with its customer ("account.changed:ref"), into
//  `out`.
static const char *
s_kinds (uint64_t after, char *out, size_t len)
{
    Recoup__Reply *reply = s_replay (after);
    size_t used = 0;
    out [0] = 0;
    for (size_t i = 0; i < reply->replay->n_events; i++) {
        const Recoup__Event *event = reply->replay->events [i];
        int n = event->body_case == RECOUP__EVENT__BODY_ACCOUNT
              ? snprintf (out + used, len - used, "%s%s:%s", i ? " " : "", event->kind,
                          event->account->customer->ref)
              : snprintf (out + used, len - used, "%s%s", i ? " " : "", event->kind);
        assert_true (n > 0 && (size_t) n < len - used);
        used += (size_t) n;
    }
    recoup__reply__free_unpacked (reply, NULL);
    return out;
}

#define expect_kinds(after, want) s_expect_kinds (after, want, __FILE__, __LINE__)

static void
s_expect_kinds (uint64_t after, const char *want, const char *file, int line)
{
    char kinds [4096];
    s_kinds (after, kinds, sizeof kinds);
    if (strcmp (kinds, want) != 0) {
        print_error ("events after %" PRIu64 ":\n  got  %s\n  want %s\n", after, kinds,
                     want);
        _fail (file, line);
    }
}

//  The account of the last account.changed of `ref` after `after`,
//  packed (caller frees), and how many account.changed `ref` got.
static uint8_t *
s_changed (uint64_t after, const char *ref, size_t *len, int *count)
{
    Recoup__Reply *reply = s_replay (after);
    uint8_t *bytes = NULL;
    *count = 0;
    for (size_t i = 0; i < reply->replay->n_events; i++) {
        const Recoup__Event *event = reply->replay->events [i];
        if (event->body_case != RECOUP__EVENT__BODY_ACCOUNT
            || strcmp (event->account->customer->ref, ref) != 0)
            continue;
        free (bytes);
        bytes = wire_pack (&event->account->base, len);
        (*count)++;
    }
    recoup__reply__free_unpacked (reply, NULL);
    return bytes;
}

//  Fails, showing both as JSON, unless accounts `a` and `b` are the same.
static void
s_expect_same (const Recoup__Account *a, const Recoup__Account *b, const char *what_a,
               const char *what_b)
{
    size_t len_a, len_b;
    uint8_t *bytes_a = wire_pack (&a->base, &len_a);
    uint8_t *bytes_b = wire_pack (&b->base, &len_b);
    int same = len_a == len_b && memcmp (bytes_a, bytes_b, len_a) == 0;
    free (bytes_a);
    free (bytes_b);
    if (same)
        return;
    strbuf_t text_a, text_b;
    strbuf_init (&text_a);
    strbuf_init (&text_b);
    json_message (&text_a, &a->base);
    json_message (&text_b, &b->base);
    print_error ("%s account of %s:\n%s\n%s:\n%s\n", what_a, a->customer->ref,
                 text_a.data, what_b, text_b.data);
    strbuf_free (&text_a);
    strbuf_free (&text_b);
    fail_msg ("%s account of %s differs from %s", what_a, a->customer->ref, what_b);
}

//  The collection of `ref` in the last account.changed after `after`
//  (one is required), which must be what a snapshot now says. Returns
//  the unpacked Account (caller frees with recoup__account__free_unpacked).
static Recoup__Account *
s_changed_account (uint64_t after, const char *ref)
{
    size_t len;
    int count;
    uint8_t *bytes = s_changed (after, ref, &len, &count);
    if (count != 1)
        fail_msg ("%s: %d account.changed after %" PRIu64 ", want 1", ref, count, after);
    Recoup__Account *account = recoup__account__unpack (NULL, len, bytes);
    free (bytes);
    assert_non_null (account);
    Recoup__Reply *snapshot = s_snapshot ();
    s_expect_same (s_snapshot_account (snapshot, ref), account, "the snapshot's",
                   "its last account.changed");
    recoup__reply__free_unpacked (snapshot, NULL);
    assert_non_null (account->collection);
    return account;
}

static Recoup__Reply *
s_customer_show (const char *ref, const char *as_of)
{
    Recoup__CustomerShowRequest show = RECOUP__CUSTOMER_SHOW_REQUEST__INIT;
    show.customer = (char *) ref;
    show.as_of = (char *) as_of;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_SHOW;
    request.customer_show = &show;
    return s_call (&s_server.admin, &request, RECOUP__REPLY__RESULT_CUSTOMER_SHOW);
}

static Recoup__Reply *
s_account_show (const char *ref, const char *as_of)
{
    Recoup__AccountShowRequest show = RECOUP__ACCOUNT_SHOW_REQUEST__INIT;
    show.customer = (char *) ref;
    show.as_of = (char *) as_of;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_ACCOUNT_SHOW;
    request.account_show = &show;
    return s_call (&s_server.admin, &request, RECOUP__REPLY__RESULT_ACCOUNT_SHOW);
}

//  A customer of rep sam, and its invoices: "NUMBER=AMOUNT@DUE" (issued
//  30 days before due), NULL-terminated.
static void
s_customer (const char *ref, ...)
{
    run_t run;
    s_run (&run, "customer add %s --name %s --sales-rep sam", ref, ref);
    th_expect_run (&run, 0, NULL);
    va_list args;
    va_start (args, ref);
    for (const char *spec; (spec = va_arg (args, const char *)); ) {
        char number [64], amount [32], due [16];
        assert_int_equal (sscanf (spec, "%63[^=]=%31[^@]@%15s", number, amount, due), 3);
        int32_t days;
        char err [128];
        assert_int_equal (date_parse_iso (due, &days, err, sizeof err), 0);
        char issued [DATE_ISO_LEN + 1];
        date_format_iso (days - 30, issued);
        s_run (&run, "invoice issue %s --customer %s --amount %s --issued %s --due %s",
               number, ref, amount, issued, due);
        th_expect_run (&run, 0, NULL);
    }
    va_end (args);
}

//  The id of the newest flag of `kind` on customer `ref` (0: none).
static long long
s_flag_id (const char *ref, const char *kind)
{
    return th_sql_int (&s_server,
                       "SELECT coalesce (max (f.id), 0) FROM flags f JOIN customers c"
                       " ON c.id = f.customer_id WHERE c.ref = '%s' AND f.kind = '%s'",
                       ref, kind);
}

//  The id of the newest dispute on invoice `number`.
static long long
s_dispute_id (const char *number)
{
    return th_sql_int (&s_server,
                       "SELECT max (d.id) FROM disputes d JOIN invoices i"
                       " ON i.id = d.invoice_id WHERE i.number = '%s'", number);
}

// ---------------------------------------------------------------- tests

//  A promise: promise.added, then one account.changed whose collection
//  holds it, pending; the snapshot says the same.
static void
test_promise_pending (void **state)
{
    (void) state;
    s_customer ("snap-a", "SA-1=1000.00@2026-02-20", "SA-2=500.00@2026-01-20", NULL);
    uint64_t head = s_head ();
    run_t run;
    s_run_as (s_cora_file, &run, "promise add snap-a --amount 300.00 --by 2026-03-10");
    th_expect_run (&run, 0, NULL);
    expect_kinds (head, "promise.added account.changed:snap-a");
    Recoup__Account *account = s_changed_account (head, "snap-a");
    const Recoup__AccountCollection *c = account->collection;
    assert_string_equal (c->stage, "credit_hold");        //  SA-2, 40 days
    assert_int_equal (c->days_past_due, 40);
    assert_false (c->on_hold);
    assert_int_equal (c->n_promises, 1);
    assert_int_equal (c->promises [0]->amount_minor, 30000);
    assert_string_equal (c->promises [0]->currency, "USD");
    assert_string_equal (c->promises [0]->by, "2026-03-10");
    assert_string_equal (c->promises [0]->status, "pending");
    assert_string_equal (c->promises [0]->customer, "snap-a");
    assert_int_equal (c->n_disputes, 0);
    assert_int_equal (c->n_flags, 0);
    recoup__account__free_unpacked (account, NULL);
}

//  A promise already past its deadline is broken at once: hold,
//  cash-only and a flag, all in the one account.changed after them.
static void
test_promise_broken (void **state)
{
    (void) state;
    s_customer ("snap-b", "SB-1=800.00@2026-01-31", NULL);
    uint64_t head = s_head ();
    run_t run;
    s_run_as (s_cora_file, &run, "promise add snap-b --amount 800.00 --by 2026-02-05 "
                                 "--made-on 2026-02-01");
    th_expect_run (&run, 0, NULL);
    expect_kinds (head, "promise.added promise.broken account.state_changed flag.raised "
                        "account.changed:snap-b");
    Recoup__Account *account = s_changed_account (head, "snap-b");
    const Recoup__AccountCollection *c = account->collection;
    assert_int_equal (c->n_promises, 0);
    assert_true (c->on_hold);
    assert_true (c->cash_only);
    assert_non_null (strstr (c->hold_reason, "was broken"));
    assert_int_equal (c->n_flags, 1);
    assert_string_equal (c->flags [0]->kind, "broken_promise");
    assert_string_equal (c->flags [0]->rep, "sam");
    assert_int_equal (c->flags [0]->n_notes, 0);
    assert_string_equal (c->stage, "second_call");          //  29 days
    assert_int_equal (c->days_past_due, 29);
    recoup__account__free_unpacked (account, NULL);
}

//  A dispute takes its invoice out of the stage and shows in the
//  collection with its flag; resolving it takes it out again, with a
//  credit note or not, each with one account.changed.
static void
test_dispute_open_resolve (void **state)
{
    (void) state;
    s_customer ("snap-c", "SC-1=500.00@2026-01-20", "SC-2=200.00@2026-02-20", NULL);
    uint64_t head = s_head ();
    run_t run;
    s_run_as (s_sam_file, &run, "dispute open SC-1 --reason \"two boxes damaged\"");
    th_expect_run (&run, 0, NULL);
    expect_kinds (head, "dispute.opened flag.raised account.changed:snap-c");
    Recoup__Account *account = s_changed_account (head, "snap-c");
    const Recoup__AccountCollection *c = account->collection;
    assert_int_equal (c->n_disputes, 1);
    assert_string_equal (c->disputes [0]->invoice, "SC-1");
    assert_string_equal (c->disputes [0]->status, "open");
    assert_string_equal (c->disputes [0]->reason, "two boxes damaged");
    assert_string_equal (c->disputes [0]->sales_rep, "sam");
    assert_int_equal (c->n_flags, 1);
    assert_string_equal (c->flags [0]->kind, "dispute");
    assert_string_equal (c->flags [0]->subject, "SC-1");
    assert_int_equal (c->days_past_due, 9);                 //  SC-2 only
    assert_string_equal (c->stage, "sales_flag");
    recoup__account__free_unpacked (account, NULL);

    head = s_head ();
    s_run_as (s_cora_file, &run, "dispute resolve %lld --outcome customer_wrong",
              s_dispute_id ("SC-1"));
    th_expect_run (&run, 0, NULL);
    expect_kinds (head, "dispute.resolved account.changed:snap-c");
    account = s_changed_account (head, "snap-c");
    c = account->collection;
    assert_int_equal (c->n_disputes, 0);
    assert_int_equal (c->days_past_due, 40);
    assert_string_equal (c->stage, "credit_hold");
    assert_int_equal (c->n_flags, 1);                       //  not acknowledged
    recoup__account__free_unpacked (account, NULL);

    //  Again (the flag is raised once), then resolved with a credit note
    //  for the whole balance: one account.changed, not two.
    head = s_head ();
    s_run_as (s_sam_file, &run, "dispute open SC-1 --reason \"still damaged\"");
    th_expect_run (&run, 0, NULL);
    expect_kinds (head, "dispute.opened account.changed:snap-c");
    head = s_head ();
    s_run_as (s_cora_file, &run, "dispute resolve %lld --outcome credit_note "
                                 "--amount 500.00", s_dispute_id ("SC-1"));
    th_expect_run (&run, 0, NULL);
    expect_kinds (head, "entry.posted dispute.resolved account.changed:snap-c");
    account = s_changed_account (head, "snap-c");
    c = account->collection;
    assert_int_equal (c->n_disputes, 0);
    assert_int_equal (c->days_past_due, 9);
    assert_string_equal (c->stage, "sales_flag");
    assert_int_equal (account->n_aging, 1);
    assert_int_equal (account->aging [0]->open_count, 1);
    recoup__account__free_unpacked (account, NULL);
}

//  Holds by role: sales may not place one, a collector may, but may not
//  lift it while the account is open; a manager may. The reason.
static void
test_hold_by_role (void **state)
{
    (void) state;
    s_customer ("snap-d", "SD-1=300.00@2026-02-01", NULL);
    uint64_t head = s_head ();
    run_t run;
    s_run_as (s_sam_file, &run, "hold place snap-d --reason \"asked by the owner\"");
    th_expect_run (&run, 1, "permission denied");
    assert_int_equal (s_head (), head);

    s_run_as (s_cora_file, &run, "hold place snap-d --reason \"asked by the owner\"");
    th_expect_run (&run, 0, NULL);
    expect_kinds (head, "account.state_changed flag.raised account.changed:snap-d");
    Recoup__Account *account = s_changed_account (head, "snap-d");
    assert_true (account->collection->on_hold);
    assert_string_equal (account->collection->hold_reason, "asked by the owner");
    assert_false (account->collection->cash_only);
    assert_int_equal (account->collection->n_flags, 1);
    assert_string_equal (account->collection->flags [0]->kind, "hold");
    assert_string_equal (account->collection->flags [0]->subject, TODAY);
    recoup__account__free_unpacked (account, NULL);

    head = s_head ();
    s_run_as (s_cora_file, &run, "hold lift snap-d --reason \"they called\"");
    th_expect_run (&run, 1, "paid in full");
    assert_int_equal (s_head (), head);
    s_run_as (s_mia_file, &run, "hold lift snap-d --reason \"they called\"");
    th_expect_run (&run, 0, NULL);
    expect_kinds (head, "account.state_changed account.changed:snap-d");
    account = s_changed_account (head, "snap-d");
    assert_false (account->collection->on_hold);
    assert_string_equal (account->collection->hold_reason, "");
    assert_int_equal (account->collection->n_flags, 1);     //  still open
    recoup__account__free_unpacked (account, NULL);

    head = s_head ();
    s_run_as (s_cora_file, &run, "account reason snap-d slow");
    th_expect_run (&run, 0, NULL);
    expect_kinds (head, "account.state_changed account.changed:snap-d");
    account = s_changed_account (head, "snap-d");
    assert_string_equal (account->collection->reason, "slow");
    assert_int_equal (account->collection->days_past_due, 28);
    assert_string_equal (account->collection->stage, "second_call");
    recoup__account__free_unpacked (account, NULL);
}

//  A flag noted stays in the collection as it was (no account.changed);
//  acknowledged, it leaves it (one account.changed).
static void
test_flag_ack (void **state)
{
    (void) state;
    s_customer ("snap-e", "SE-1=400.00@2026-02-10", "SE-2=100.00@2026-02-25", NULL);
    run_t run;
    s_run_as (s_cora_file, &run, "hold place snap-e --reason \"no reply\"");
    th_expect_run (&run, 0, NULL);
    s_run_as (s_cora_file, &run, "dispute open SE-2 --reason \"wrong price\"");
    th_expect_run (&run, 0, NULL);
    long long hold = s_flag_id ("snap-e", "hold");
    long long dispute = s_flag_id ("snap-e", "dispute");
    assert_true (hold > 0 && dispute > 0);

    uint64_t head = s_head ();
    s_run_as (s_sam_file, &run, "flag note %lld \"their buyer left\"", dispute);
    th_expect_run (&run, 0, NULL);
    expect_kinds (head, "flag.noted");
    Recoup__Reply *snapshot = s_snapshot ();
    const Recoup__AccountCollection *c = s_snapshot_account (snapshot, "snap-e")->collection;
    assert_int_equal (c->n_flags, 2);
    assert_int_equal ((long long) c->flags [0]->id, hold);  //  oldest first
    assert_int_equal ((long long) c->flags [1]->id, dispute);
    assert_int_equal (c->flags [1]->n_notes, 0);            //  notes are not carried
    recoup__reply__free_unpacked (snapshot, NULL);

    head = s_head ();
    s_run_as (s_sam_file, &run, "flag ack %lld --note \"calling them\"", hold);
    th_expect_run (&run, 0, NULL);
    expect_kinds (head, "flag.acknowledged account.changed:snap-e");
    Recoup__Account *account = s_changed_account (head, "snap-e");
    c = account->collection;
    assert_int_equal (c->n_flags, 1);
    assert_int_equal ((long long) c->flags [0]->id, dispute);
    assert_string_equal (c->flags [0]->acknowledged_by, "");
    assert_true (c->on_hold);
    assert_int_equal (c->n_disputes, 1);
    assert_int_equal (c->days_past_due, 19);                //  SE-1; SE-2 disputed
    recoup__account__free_unpacked (account, NULL);

    //  Acknowledging it again is refused, and changes nothing.
    head = s_head ();
    s_run_as (s_sam_file, &run, "flag ack %lld", hold);
    th_expect_run (&run, 1, NULL);
    assert_int_equal (s_head (), head);
}

//  Stage and days past due: the collection's equal account_show's as of
//  any date, across paid history, an invoice over 120 days, a dispute
//  (open only from today) and invoices not yet due.
static void
test_stage_as_of (void **state)
{
    (void) state;
    s_customer ("snap-f", "SF-0=100.00@2025-09-01", "SF-1=250.00@2025-10-01",
                "SF-2=300.00@2026-01-20", "SF-3=50.00@2026-02-25",
                "SF-4=75.00@2026-04-01", NULL);
    run_t run;
    s_run (&run, "payment post --customer snap-f --reference SF-PAY --amount 100.00 "
                 "--invoice SF-0 --received 2025-09-10");
    th_expect_run (&run, 0, NULL);
    s_run (&run, "dispute open SF-1 --reason \"never delivered\"");
    th_expect_run (&run, 0, NULL);
    static const struct {
        const char *as_of;
        int32_t days;
        const char *stage;
    } want [] = {
        { "2025-08-20", 0, "" },                //  SF-0 not due
        { "2025-09-05", 4, "past_due_notice" }, //  SF-0, paid on the 10th
        { "2025-09-20", 0, "" },                //  SF-0 paid, SF-1 not due
        { "2025-10-09", 8, "sales_flag" },      //  SF-1
        { "2025-12-01", 61, "agency_review" },
        { "2026-02-21", 143, "write_off_review" },
        { "2026-02-28", 150, "write_off_review" },
        { TODAY, 40, "credit_hold" },           //  SF-1 disputed today: SF-2
        { "2026-04-10", 80, "agency_review" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want [0]; i++) {
        Recoup__Reply *shown = s_customer_show ("snap-f", want [i].as_of);
        Recoup__Reply *account = s_account_show ("snap-f", want [i].as_of);
        const Recoup__AccountCollection *c = shown->customer_show->account->collection;
        assert_non_null (c);
        if (c->days_past_due != want [i].days || strcmp (c->stage, want [i].stage) != 0)
            fail_msg ("as of %s: collection %d days, stage '%s'; want %d, '%s'",
                      want [i].as_of, c->days_past_due, c->stage, want [i].days,
                      want [i].stage);
        assert_int_equal (c->days_past_due, account->account_show->days_past_due);
        assert_string_equal (c->stage, account->account_show->stage);
        recoup__reply__free_unpacked (shown, NULL);
        recoup__reply__free_unpacked (account, NULL);
    }
}

// ---------------------------------------------------------------- Clone

//  A local view: the latest Account per customer, packed.
#define VIEW_MAX 256
typedef struct {
    char *ref [VIEW_MAX];
    uint8_t *bytes [VIEW_MAX];
    size_t len [VIEW_MAX];
    size_t count;
    size_t changed;             //  account.changed events applied
} view_t;

static void
s_view_put (view_t *self, const Recoup__Account *account)
{
    size_t i = 0;
    while (i < self->count && strcmp (self->ref [i], account->customer->ref) != 0)
        i++;
    if (i == self->count) {
        assert_true (self->count < VIEW_MAX);
        self->ref [self->count++] = strdup (account->customer->ref);
    }
    else
        free (self->bytes [i]);
    self->bytes [i] = wire_pack (&account->base, &self->len [i]);
}

static void
s_view_free (view_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        free (self->ref [i]);
        free (self->bytes [i]);
    }
    memset (self, 0, sizeof *self);
}

static void
s_view_snapshot (void *arg, const Recoup__SnapshotReply *snapshot)
{
    view_t *self = arg;
    for (size_t i = 0; i < snapshot->n_accounts; i++)
        s_view_put (self, snapshot->accounts [i]);
}

static void
s_view_event (void *arg, const Recoup__Event *event)
{
    view_t *self = arg;
    if (event->body_case == RECOUP__EVENT__BODY_ACCOUNT) {
        s_view_put (self, event->account);
        self->changed++;
    }
}

//  A view made of the snapshot taken before a series of commands and
//  the events since equals the snapshot taken after them: every
//  account, its collection included.
static void
test_clone_guarantee (void **state)
{
    (void) state;
    s_customer ("snap-g", "SG-1=900.00@2026-01-10", "SG-2=120.00@2026-02-22", NULL);
    char err [256];
    view_t view;
    memset (&view, 0, sizeof view);
    sync_t *sync = sync_new (th_ctx (), &s_server.admin, err, sizeof err);
    assert_non_null (sync);
    sync_set_handlers (sync, s_view_snapshot, s_view_event, &view);
    assert_int_equal (sync_start (sync, SYNC_FROM_SNAPSHOT, 0, err, sizeof err), 0);
    size_t start_count = view.count;
    assert_true (start_count >= 7);

    //  The changes: every kind of command that moves a collection.
    run_t run;
    s_run_as (s_cora_file, &run, "promise add snap-g --amount 200.00 --by 2026-03-15");
    th_expect_run (&run, 0, NULL);
    s_run_as (s_cora_file, &run, "promise add snap-g --amount 50.00 --by 2026-02-03 "
                                 "--made-on 2026-02-01");
    th_expect_run (&run, 0, NULL);
    s_run_as (s_cora_file, &run, "plan add snap-c --instalment 2026-03-20=100.00");
    th_expect_run (&run, 0, NULL);
    s_run_as (s_sam_file, &run, "dispute open SG-2 --reason \"late delivery\"");
    th_expect_run (&run, 0, NULL);
    s_run_as (s_cora_file, &run, "account reason snap-g cannot_pay --note \"season\"");
    th_expect_run (&run, 0, NULL);
    s_run_as (s_sam_file, &run, "flag ack %lld", s_flag_id ("snap-g", "dispute"));
    th_expect_run (&run, 0, NULL);
    s_run_as (s_cora_file, &run, "payment post --customer snap-a --reference SA-PAY "
                                 "--amount 500.00 --invoice SA-2");
    th_expect_run (&run, 0, NULL);
    s_run_as (s_cora_file, &run, "dispute resolve %lld --outcome corrected_invoice",
              s_dispute_id ("SE-2"));
    th_expect_run (&run, 0, NULL);
    s_run_as (s_mia_file, &run, "hold lift snap-b --reason \"paid by card\"");
    th_expect_run (&run, 0, NULL);
    s_run_as (s_cora_file, &run, "engine run");
    th_expect_run (&run, 0, NULL);

    uint64_t head = s_head ();
    long long deadline = th_now_ms () + 20000;
    while (sync_last_seq (sync) < head && th_now_ms () < deadline)
        assert_true (sync_poll (sync, 50, err, sizeof err) >= 0);
    assert_int_equal (sync_last_seq (sync), head);
    assert_true (view.changed >= 9);

    Recoup__Reply *snapshot = s_snapshot ();
    assert_int_equal (snapshot->snapshot->seq, head);
    assert_int_equal (snapshot->snapshot->n_accounts, view.count);
    assert_int_equal (view.count, start_count);
    for (size_t i = 0; i < snapshot->snapshot->n_accounts; i++) {
        const Recoup__Account *account = snapshot->snapshot->accounts [i];
        size_t k = 0;
        while (k < view.count && strcmp (view.ref [k], account->customer->ref) != 0)
            k++;
        if (k == view.count)
            fail_msg ("customer %s is not in the view", account->customer->ref);
        Recoup__Account *held = recoup__account__unpack (NULL, view.len [k],
                                                         view.bytes [k]);
        assert_non_null (held);
        s_expect_same (account, held, "the snapshot's", "the view's");
        recoup__account__free_unpacked (held, NULL);
    }
    //  And the collections moved: the one of snap-g says all of it.
    const Recoup__AccountCollection *c = s_snapshot_account (snapshot, "snap-g")->collection;
    assert_int_equal (c->n_promises, 1);
    assert_int_equal (c->promises [0]->amount_minor, 20000);
    assert_true (c->on_hold);                               //  the broken promise
    assert_true (c->cash_only);
    assert_string_equal (c->reason, "cannot_pay");
    assert_int_equal (c->n_disputes, 1);
    assert_string_equal (c->disputes [0]->invoice, "SG-2");
    assert_int_equal (c->days_past_due, 50);
    assert_string_equal (c->stage, "final_demand");
    for (size_t i = 0; i < c->n_flags; i++)
        assert_string_not_equal (c->flags [i]->kind, "dispute");   //  acknowledged
    c = s_snapshot_account (snapshot, "snap-a")->collection;
    assert_int_equal (c->n_promises, 0);                    //  kept by the payment
    assert_int_equal (c->days_past_due, 9);
    c = s_snapshot_account (snapshot, "snap-e")->collection;
    assert_int_equal (c->n_disputes, 0);
    c = s_snapshot_account (snapshot, "snap-b")->collection;
    assert_false (c->on_hold);
    assert_true (c->cash_only);                             //  not paid in full
    recoup__reply__free_unpacked (snapshot, NULL);
    sync_destroy (&sync);
    s_view_free (&view);
}

// ---------------------------------------------------------------- client

//  `customer show` prints the collection line; --json has the
//  collection object; `tail` prints it on the account's line.
static void
test_client_output (void **state)
{
    (void) state;
    s_customer ("snap-h", "SH-1=640.00@2026-01-20", "SH-2=90.00@2026-02-26", NULL);
    run_t run;
    s_run_as (s_cora_file, &run, "hold place snap-h --reason \"asked by the owner\"");
    th_expect_run (&run, 0, NULL);
    s_run_as (s_cora_file, &run, "promise add snap-h --amount 640.00 --by 2026-03-06");
    th_expect_run (&run, 0, NULL);
    s_run_as (s_cora_file, &run, "dispute open SH-2 --reason \"short delivery\"");
    th_expect_run (&run, 0, NULL);
    uint64_t last = s_head ();
    s_run (&run, "customer show snap-h");
    th_expect_run (&run, 0, "\nCollection: stage credit_hold, 40 days past due, ON HOLD "
                            "(asked by the owner); 1 promise pending, 1 dispute open, "
                            "2 flags open\n");
    th_expect_run (&run, 0, "  promise ");
    th_expect_run (&run, 0, ": 640.00 USD by 2026-03-06, 0.00 USD paid\n");
    th_expect_run (&run, 0, ": invoice SH-2 since 2026-03-01: short delivery\n");
    th_expect_run (&run, 0, ": hold 2026-03-01 for sam, 0 days open\n");
    s_run (&run, "customer show snap-a");
    th_expect_run (&run, 0, "\nCollection: stage sales_flag, 9 days past due; 0 promises "
                            "pending, 0 disputes open, ");
    s_run (&run, "--json customer show snap-h");
    th_expect_run (&run, 0, "\"collection\":{\"stage\":\"credit_hold\",\"days_past_due\":40,"
                            "\"on_hold\":true,\"hold_reason\":\"asked by the owner\","
                            "\"cash_only\":false,\"reason\":\"\",\"promises\":[{\"id\":");
    th_expect_run (&run, 0, "\"amount_minor\":64000,\"currency\":\"USD\"");
    th_expect_run (&run, 0, "\"status\":\"pending\"");
    th_expect_run (&run, 0, "\"disputes\":[{\"id\":");
    th_expect_run (&run, 0, "\"flags\":[{\"id\":");
    s_run (&run, "tail --from %" PRIu64 " --count 1", last);
    th_expect_run (&run, 0, "account.changed by cora: snap-h as of 2026-03-01: 2 open, "
                            "730.00 USD (730.00 USD overdue); stage credit_hold, 40 days "
                            "past due, on hold; 1 promise pending, 1 dispute open, "
                            "2 flags open\n");
    s_run (&run, "--json tail --from %" PRIu64 " --count 1", last);
    th_expect_run (&run, 0, "\"collection\":{\"stage\":\"credit_hold\"");
}

// ---------------------------------------------------------------- evaluation

//  On a later day, a command on one customer records the promises broken
//  since (snap-i's, and snap-g's and snap-h's from the tests before):
//  each customer changed gets one account.changed, nobody else.
static void
test_evaluation_touches_others (void **state)
{
    (void) state;
    s_customer ("snap-i", "SI-1=500.00@2026-02-15", NULL);
    s_customer ("snap-j", "SJ-1=60.00@2026-02-20", NULL);
    run_t run;
    s_run_as (s_cora_file, &run, "promise add snap-i --amount 500.00 --by 2026-03-05");
    th_expect_run (&run, 0, NULL);
    assert_int_equal (th_server_stop (&s_server), 0);
    setenv ("RECOUP_TODAY", "2026-03-20", 1);
    assert_int_equal (th_server_restart (&s_server), 0);
    uint64_t head = s_head ();
    s_run_as (s_cora_file, &run, "account reason snap-j forgot");
    th_expect_run (&run, 0, NULL);
    char kinds [4096];
    s_kinds (head, kinds, sizeof kinds);
    assert_non_null (strstr (kinds, "promise.broken account.state_changed flag.raised"));
    Recoup__Account *account = s_changed_account (head, "snap-i");
    assert_true (account->collection->on_hold);
    assert_int_equal (account->collection->n_promises, 0);
    assert_string_equal (account->as_of, "2026-03-20");
    recoup__account__free_unpacked (account, NULL);
    account = s_changed_account (head, "snap-j");
    assert_string_equal (account->collection->reason, "forgot");
    assert_false (account->collection->on_hold);
    recoup__account__free_unpacked (account, NULL);
    account = s_changed_account (head, "snap-h");
    assert_int_equal (account->collection->n_promises, 0);
    recoup__account__free_unpacked (account, NULL);
    account = s_changed_account (head, "snap-g");
    assert_int_equal (account->collection->n_promises, 0);
    recoup__account__free_unpacked (account, NULL);
    const char *p = kinds;
    int changed = 0;
    while ((p = strstr (p, "account.changed:")))
        changed++, p++;
    if (changed != 4)
        fail_msg ("4 accounts changed, not %d: %s", changed, kinds);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_promise_pending),
        cmocka_unit_test (test_promise_broken),
        cmocka_unit_test (test_dispute_open_resolve),
        cmocka_unit_test (test_hold_by_role),
        cmocka_unit_test (test_flag_ack),
        cmocka_unit_test (test_stage_as_of),
        cmocka_unit_test (test_clone_guarantee),
        cmocka_unit_test (test_client_output),
        cmocka_unit_test (test_evaluation_touches_others),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
