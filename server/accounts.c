/*  accounts: the collection state of each customer account beside its
    ledger. See accounts.h and PROTOCOL.md sections 7.22 to 7.27.

    Whether a promise was kept, an instalment met, a dispute open, which
    policy step an account has reached: all derived from the ledger as of
    a date, in SQL (0006_accounts.sql), never stored as what an earlier
    run thought. What is stored is what people decided (the promise, the
    plan, the dispute and its outcome, the reason, a hold) and, once per
    promise or plan, that recoupd saw its outcome and acted on it
    (accounts_evaluate: events, credit hold, cash-only).

    Write handlers run in the writer's batch transaction, each in its own
    savepoint: an error reply takes back everything it did, evaluation
    included (which is idempotent and simply happens again later).      */
#include "accounts.h"
#include "flags.h"
#include "ledger.h"
#include "../common/date.h"
#include "../common/json.h"
#include "../common/money.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX 64              //  customer ref, invoice number
#define NOTE_MAX 1000           //  notes, reasons
#define INSTALMENTS_MAX 120     //  instalments in one plan

// ---------------------------------------------------------------- helpers






//  The business date, in the arena.
static const char *
s_today (cmdctx_t *ctx)
{
    char today [11];
    ledger_business_date (today);
    return arena_strdup (ctx->arena, today);
}


//  Reads a date field; "" gives `fallback` (NULL: the field is required).
//  Sets *out to the date as YYYY-MM-DD in the arena. 1, or 0 with the
//  error in reply.
static int
s_date (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
        const char *text, const char *fallback, const char **out)
{
    if (!*text) {
        if (!fallback) {
            cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                       "%s is required (YYYY-MM-DD)", cmd_label (field));
            return 0;
        }
        *out = fallback;
        return 1;
    }
    int32_t days;
    char err [160];
    if (date_parse_iso (text, &days, err, sizeof err) != 0) {
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                   "%s: %s (write dates as YYYY-MM-DD)", cmd_label (field), err);
        return 0;
    }
    char buf [DATE_ISO_LEN + 1];
    date_format_iso (days, buf);
    *out = arena_strdup (ctx->arena, buf);
    return 1;
}


//  A customer found by ref.
typedef struct {
    const char *id;             //  customers.id as text
    const char *ref;            //  ref
    const char *name;           //  name
    const char *currency;       //  account currency
    const char *sales_rep;      //  user name, or ""
} s_customer_t;

//  Looks customer `ref` up. 1 found; 0 with the error in reply; -1 on a
//  database failure.
static int
s_customer (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
            const char *ref, s_customer_t *customer)
{
    if (!cmd_text (ctx, reply, field, ref, 1, REF_MAX, 0))
        return 0;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT id, ref, name, currency, coalesce (sales_rep, '') "
                             "FROM customers WHERE ref = $1", 1, &ref);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, field,
                   "there is no customer with ref '%s'", ref);
        return 0;
    }
    customer->id = cmd_value (ctx, res, 0, 0);
    customer->ref = cmd_value (ctx, res, 0, 1);
    customer->name = cmd_value (ctx, res, 0, 2);
    customer->currency = cmd_value (ctx, res, 0, 3);
    customer->sales_rep = cmd_value (ctx, res, 0, 4);
    PQclear (res);
    return 1;
}

//  The currency of an amount: `given`, or the customer's. 1, or 0 with
//  the error in reply.
static int
s_currency (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
            const char *given, const s_customer_t *customer, const char **out)
{
    *out = *given ? given : customer->currency;
    if (money_currency_exponent (*out) >= 0)
        return 1;
    cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
               "'%.16s' is not an ISO 4217 currency code with a minor unit "
               "(e.g. USD, EUR, SEK, JPY)", *out);
    return 0;
}

// ---------------------------------------------------------------- touched

//  Puts `id` in a table of `cap` slots (a power of two). 1 when added.
static int
s_touched_put (int64_t *slots, size_t cap, int64_t id)
{
    size_t i = (size_t) ((uint64_t) id * 0x9E3779B97F4A7C15ull) & (cap - 1);
    while (slots [i] && slots [i] != id)
        i = (i + 1) & (cap - 1);
    if (slots [i])
        return 0;
    slots [i] = id;
    return 1;
}

void
accounts_touch (cmdctx_t *ctx, accounts_touched_t *self, const char *customer_id)
{
    assert (self && customer_id && *customer_id);
    int64_t id = strtoll (customer_id, NULL, 10);
    assert (id > 0);
    if ((self->count + 1) * 2 > self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        int64_t *slots = arena_alloc (ctx->arena, cap * sizeof *slots);
        memset (slots, 0, cap * sizeof *slots);
        for (size_t i = 0; i < self->cap; i++)
            if (self->slots [i])
                s_touched_put (slots, cap, self->slots [i]);
        self->slots = slots;
        self->cap = cap;
    }
    self->count += (size_t) s_touched_put (self->slots, self->cap, id);
}

const char *
accounts_touched_ids (cmdctx_t *ctx, const accounts_touched_t *self)
{
    if (!self->count)
        return NULL;
    strbuf_t out;
    strbuf_init (&out);
    strbuf_puts (&out, "{");
    int first = 1;
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots [i]) {
            strbuf_printf (&out, "%s%" PRId64, first ? "" : ",", self->slots [i]);
            first = 0;
        }
    strbuf_puts (&out, "}");
    const char *ids = arena_strdup (ctx->arena, out.data);
    strbuf_free (&out);
    return ids;
}

int
accounts_touched_emit (cmdctx_t *ctx, accounts_touched_t *self)
{
    const char *ids = accounts_touched_ids (ctx, self);
    *self = (accounts_touched_t) { NULL, 0, 0 };
    return ids ? ledger_emit_accounts (ctx, ids) : 0;
}

// ---------------------------------------------------------------- messages

//  What a reason asks the collector to do next.
static const char *
s_next_action (cmdctx_t *ctx, const char *reason, const char *sales_rep)
{
    if (strcmp (reason, "forgot") == 0)
        return "resend the invoice";
    if (strcmp (reason, "cannot_pay") == 0)
        return "offer a payment plan";
    if (strcmp (reason, "slow") == 0 || strcmp (reason, "avoiding") == 0)
        return "skip the friendly steps: phone and letter";
    if (strcmp (reason, "dispute") == 0 || strcmp (reason, "complaint") == 0)
        return *sales_rep
            ? arena_printf (ctx->arena, "pause dunning and route to the sales rep (%s)",
                            sales_rep)
            : "pause dunning and route to the sales rep (the customer has none: "
              "assign one)";
    return "";
}

static const char *const s_reasons [] = {
    "forgot", "cannot_pay", "slow", "avoiding", "dispute", "complaint", NULL
};

//  The account state of a customer (defaults when it has no row).
//  NULL on a database failure.
static Recoup__AccountState *
s_state_load (cmdctx_t *ctx, const s_customer_t *customer)
{
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT reason, reason_note, on_hold, hold_reason, cash_only "
                             "FROM account_state WHERE customer_id = $1", 1, &customer->id);
    if (!res)
        return NULL;
    Recoup__AccountState *state = CMD_NEW (ctx, Recoup__AccountState,
                                           recoup__account_state__init);
    state->customer = (char *) customer->ref;
    state->sales_rep = (char *) customer->sales_rep;
    if (PQntuples (res) == 1) {
        state->reason = cmd_value (ctx, res, 0, 0);
        state->reason_note = cmd_value (ctx, res, 0, 1);
        state->on_hold = PQgetvalue (res, 0, 2) [0] == 't';
        state->hold_reason = cmd_value (ctx, res, 0, 3);
        state->cash_only = PQgetvalue (res, 0, 4) [0] == 't';
    }
    PQclear (res);
    state->next_action = (char *) s_next_action (ctx, state->reason, customer->sales_rep);
    return state;
}

//  Emits account.state_changed for the customer's state as it now is.
//  Returns the state emitted, or NULL on a database failure.
static Recoup__AccountState *
s_state_emit (cmdctx_t *ctx, const s_customer_t *customer, const char *change,
              const char *by)
{
    Recoup__AccountState *state = s_state_load (ctx, customer);
    if (!state)
        return NULL;
    state->change = (char *) change;
    state->changed_by = (char *) by;
    cmd_emit (ctx, "account.state_changed", RECOUP__EVENT__BODY_ACCOUNT_STATE, state);
    return state;
}

//  Promises with their status as of $1. (OFFSET 0 keeps the grace days a
//  subquery run once, rather than a function call in every row.)
#define PROMISE_SELECT \
    "SELECT p.id, c.ref, p.amount_minor, p.currency, p.made_on, p.due_by, p.note, " \
    "p.made_by, s.status, s.paid, p.due_by + g.days " \
    "FROM promises p JOIN customers c ON c.id = p.customer_id " \
    "CROSS JOIN (SELECT recoup_grace_days () AS days OFFSET 0) g " \
    "CROSS JOIN LATERAL recoup_promise_status (p.id, $1::date, g.days) s "

static Recoup__Promise *
s_promise_from_row (cmdctx_t *ctx, PGresult *res, int row, const char *as_of)
{
    Recoup__Promise *promise = CMD_NEW (ctx, Recoup__Promise, recoup__promise__init);
    promise->id = (uint64_t) cmd_value_int (res, row, 0);
    promise->customer = cmd_value (ctx, res, row, 1);
    promise->amount_minor = cmd_value_int (res, row, 2);
    promise->currency = cmd_value (ctx, res, row, 3);
    promise->made_on = cmd_value (ctx, res, row, 4);
    promise->by = cmd_value (ctx, res, row, 5);
    promise->note = cmd_value (ctx, res, row, 6);
    promise->made_by = cmd_value (ctx, res, row, 7);
    promise->status = cmd_value (ctx, res, row, 8);
    promise->paid_minor = cmd_value_int (res, row, 9);
    promise->deadline = cmd_value (ctx, res, row, 10);
    promise->as_of = (char *) as_of;
    return promise;
}

//  Promise `id` as of `as_of`, or NULL on a database failure.
static Recoup__Promise *
s_promise_load (cmdctx_t *ctx, const char *id, const char *as_of)
{
    const char *params [] = { as_of, id };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             PROMISE_SELECT "WHERE p.id = $2", 2, params);
    if (!res)
        return NULL;
    Recoup__Promise *promise = PQntuples (res) == 1
                             ? s_promise_from_row (ctx, res, 0, as_of) : NULL;
    PQclear (res);
    return promise;
}

//  Plan `id` as of `as_of` with its instalments, or NULL on a database
//  failure.
static Recoup__PaymentPlan *
s_plan_load (cmdctx_t *ctx, const char *id, const char *as_of)
{
    const char *params [] = { id, as_of };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT p.id, c.ref, p.currency, p.started, p.note, p.made_by,"
        " recoup_paid_between (p.customer_id, p.currency, p.started, $2::date) "
        "FROM plans p JOIN customers c ON c.id = p.customer_id WHERE p.id = $1",
        2, params);
    if (!res)
        return NULL;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return NULL;
    }
    Recoup__PaymentPlan *plan = CMD_NEW (ctx, Recoup__PaymentPlan,
                                         recoup__payment_plan__init);
    plan->id = (uint64_t) cmd_value_int (res, 0, 0);
    plan->customer = cmd_value (ctx, res, 0, 1);
    plan->currency = cmd_value (ctx, res, 0, 2);
    plan->started = cmd_value (ctx, res, 0, 3);
    plan->note = cmd_value (ctx, res, 0, 4);
    plan->made_by = cmd_value (ctx, res, 0, 5);
    plan->paid_minor = cmd_value_int (res, 0, 6);
    plan->as_of = (char *) as_of;
    PQclear (res);
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT due, amount_minor, status FROM recoup_plan_instalments "
                   "($1::bigint, $2::date, recoup_grace_days ())", 2, params);
    if (!res)
        return NULL;
    size_t count = (size_t) PQntuples (res);
    plan->instalments = arena_alloc (ctx->arena, (count ? count : 1)
                                     * sizeof *plan->instalments);
    plan->n_instalments = count;
    plan->missed = "";
    int met = 0;
    for (size_t i = 0; i < count; i++) {
        Recoup__Instalment *instalment = CMD_NEW (ctx, Recoup__Instalment,
                                                  recoup__instalment__init);
        instalment->due = cmd_value (ctx, res, (int) i, 0);
        instalment->amount_minor = cmd_value_int (res, (int) i, 1);
        instalment->status = cmd_value (ctx, res, (int) i, 2);
        if (strcmp (instalment->status, "missed") == 0 && !*plan->missed)
            plan->missed = instalment->due;
        met += strcmp (instalment->status, "met") == 0;
        plan->instalments [i] = instalment;
    }
    PQclear (res);
    plan->status = *plan->missed ? "broken"
                 : (size_t) met == count ? "completed" : "active";
    return plan;
}

#define DISPUTE_SELECT \
    "SELECT d.id, i.number, c.ref, d.reason, d.opened, d.opened_by," \
    " coalesce (d.sales_rep, ''), d.resolved IS NULL OR d.resolved > $1::date," \
    " coalesce (d.outcome, ''), coalesce (d.amount_minor, 0), i.currency," \
    " coalesce (d.entry_id, 0), d.note, coalesce (d.resolved::text, '')," \
    " coalesce (d.resolved_by, '') " \
    "FROM disputes d JOIN invoices i ON i.id = d.invoice_id " \
    "JOIN customers c ON c.id = d.customer_id "

//  A Dispute from a row of DISPUTE_SELECT: as of $1 (a dispute resolved
//  later reads as open, without its resolution).
static Recoup__Dispute *
s_dispute_from_row (cmdctx_t *ctx, PGresult *res, int row)
{
    Recoup__Dispute *dispute = CMD_NEW (ctx, Recoup__Dispute, recoup__dispute__init);
    dispute->id = (uint64_t) cmd_value_int (res, row, 0);
    dispute->invoice = cmd_value (ctx, res, row, 1);
    dispute->customer = cmd_value (ctx, res, row, 2);
    dispute->reason = cmd_value (ctx, res, row, 3);
    dispute->opened = cmd_value (ctx, res, row, 4);
    dispute->opened_by = cmd_value (ctx, res, row, 5);
    dispute->sales_rep = cmd_value (ctx, res, row, 6);
    dispute->currency = cmd_value (ctx, res, row, 10);
    if (PQgetvalue (res, row, 7) [0] == 't') {
        dispute->status = "open";
        return dispute;
    }
    dispute->status = "resolved";
    dispute->outcome = cmd_value (ctx, res, row, 8);
    dispute->amount_minor = cmd_value_int (res, row, 9);
    dispute->entry_id = (uint64_t) cmd_value_int (res, row, 11);
    dispute->note = cmd_value (ctx, res, row, 12);
    dispute->resolved = cmd_value (ctx, res, row, 13);
    dispute->resolved_by = cmd_value (ctx, res, row, 14);
    return dispute;
}

static Recoup__Dispute *
s_dispute_load (cmdctx_t *ctx, const char *id, const char *as_of)
{
    const char *params [] = { as_of, id };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             DISPUTE_SELECT "WHERE d.id = $2", 2, params);
    if (!res)
        return NULL;
    Recoup__Dispute *dispute = PQntuples (res) == 1
                             ? s_dispute_from_row (ctx, res, 0) : NULL;
    PQclear (res);
    return dispute;
}

// ---------------------------------------------------------------- evaluation

//  Puts customer `customer_id` on credit hold and cash-only after a
//  broken promise or plan, or by the policy (`why`), and emits account.state_changed when
//  that changed anything (and touches the customer). 0 or -1.
static int
s_hold_for_break (cmdctx_t *ctx, const char *customer_id, const char *change,
                  const char *why, accounts_touched_t *touched)
{
    const char *params [] = { customer_id, why };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "WITH old AS (SELECT on_hold, cash_only FROM account_state"
        "             WHERE customer_id = $1::bigint) "
        "INSERT INTO account_state AS a (customer_id, on_hold, hold_reason, cash_only,"
        " updated_by) VALUES ($1::bigint, true, $2, true, '') "
        "ON CONFLICT (customer_id) DO UPDATE SET on_hold = true, cash_only = true,"
        " hold_reason = CASE WHEN a.on_hold THEN a.hold_reason ELSE $2 END,"
        " updated_by = '', updated_at = now () "
        "RETURNING coalesce ((SELECT on_hold AND cash_only FROM old), false)", 2, params);
    if (!res)
        return -1;
    int changed = PQgetvalue (res, 0, 0) [0] != 't';
    PQclear (res);
    if (!changed)
        return 0;
    accounts_touch (ctx, touched, customer_id);
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT id, ref, name, currency, coalesce (sales_rep, '') "
                   "FROM customers WHERE id = $1", 1, &customer_id);
    if (!res)
        return -1;
    s_customer_t customer = {
        cmd_value (ctx, res, 0, 0), cmd_value (ctx, res, 0, 1), cmd_value (ctx, res, 0, 2),
        cmd_value (ctx, res, 0, 3), cmd_value (ctx, res, 0, 4)
    };
    PQclear (res);
    return s_state_emit (ctx, &customer, change, "") ? 0 : -1;
}

int
accounts_hold_by_policy (cmdctx_t *ctx, const char *customer_id, const char *why,
                         const char *on, accounts_touched_t *touched)
{
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT coalesce ((SELECT on_hold FROM account_state "
        "WHERE customer_id = $1::bigint), false), coalesce ((SELECT cash_only "
        "FROM account_state WHERE customer_id = $1::bigint), false)", 1, &customer_id);
    if (!res)
        return -1;
    int on_hold = PQgetvalue (res, 0, 0) [0] == 't';
    int cash_only = PQgetvalue (res, 0, 1) [0] == 't';
    PQclear (res);
    if (on_hold && cash_only)
        return 0;
    //  Held already (by a person): cash-only joins the hold, whose reason
    //  stays, and the rep has had the hold's flag.
    if (s_hold_for_break (ctx, customer_id, on_hold ? "cash_only" : "hold_placed", why,
                          touched) != 0)
        return -1;
    if (on_hold)
        return 2;
    if (flags_raise_touching (ctx, strtoll (customer_id, NULL, 10), "hold", on,
                              arena_printf (ctx->arena, "credit hold placed by the "
                                            "policy: %s", why), NULL, touched) != 0)
        return -1;
    return 1;
}

int
accounts_evaluate (cmdctx_t *ctx, const char *as_of)
{
    accounts_touched_t touched = { NULL };
    int changes = accounts_evaluate_touching (ctx, as_of, &touched);
    if (changes < 0 || accounts_touched_emit (ctx, &touched) != 0)
        return -1;
    return changes;
}

int
accounts_evaluate_touching (cmdctx_t *ctx, const char *as_of,
                            accounts_touched_t *touched)
{
    if (!ctx->writer)
        return -1;
    int changes = 0;
    //  Promises whose outcome is known as of as_of and not yet recorded.
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT p.id, p.customer_id, s.status FROM promises p "
        "CROSS JOIN LATERAL recoup_promise_status (p.id, $1::date,"
        "                                          recoup_grace_days ()) s "
        "WHERE p.made_on <= $1::date AND s.status <> 'pending'"
        " AND NOT EXISTS (SELECT 1 FROM promise_outcomes o WHERE o.promise_id = p.id) "
        "ORDER BY p.id", 1, &as_of);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    for (int row = 0; row < rows; row++) {
        const char *id = cmd_value (ctx, res, row, 0);
        const char *customer_id = cmd_value (ctx, res, row, 1);
        const char *status = cmd_value (ctx, res, row, 2);
        const char *params [] = { id, status, as_of };
        PGresult *done = db_exec (ctx->db, PGRES_COMMAND_OK,
                                  "INSERT INTO promise_outcomes (promise_id, outcome, as_of) "
                                  "VALUES ($1, $2, $3)", 3, params);
        Recoup__Promise *promise = done ? s_promise_load (ctx, id, as_of) : NULL;
        PQclear (done);
        if (!promise) {
            PQclear (res);
            return -1;
        }
        int kept = strcmp (status, "kept") == 0;
        cmd_emit (ctx, kept ? "promise.kept" : "promise.broken",
                  RECOUP__EVENT__BODY_PROMISE, promise);
        changes++;
        if (!kept) {
            //  Kept, it left the pending promises when its payment was
            //  posted (that account.changed said so); broken, it left
            //  them with the calendar, and the hold and flag are news.
            accounts_touch (ctx, touched, customer_id);
            cmd_money_t amount = cmd_money (promise->amount_minor, promise->currency);
            const char *why = arena_printf (ctx->arena, "promise %" PRIu64 " to pay %s "
                                            "by %s was broken", promise->id,
                                            amount.text, promise->by);
            if (s_hold_for_break (ctx, customer_id, "promise_broken", why, touched) != 0
                || flags_raise_touching (ctx, strtoll (customer_id, NULL, 10),
                                         "broken_promise", id, why, NULL, touched) != 0) {
                PQclear (res);
                return -1;
            }
        }
    }
    PQclear (res);
    //  Plans with a missed instalment, not yet recorded.
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT p.id, p.customer_id, m.missed FROM plans p "
        "CROSS JOIN LATERAL (SELECT min (i.due) AS missed FROM recoup_plan_instalments"
        "    (p.id, $1::date, recoup_grace_days ()) i WHERE i.status = 'missed') m "
        "WHERE p.started <= $1::date AND m.missed IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM plan_outcomes o WHERE o.plan_id = p.id) "
        "ORDER BY p.id", 1, &as_of);
    if (!res)
        return -1;
    rows = PQntuples (res);
    for (int row = 0; row < rows; row++) {
        const char *id = cmd_value (ctx, res, row, 0);
        const char *customer_id = cmd_value (ctx, res, row, 1);
        const char *missed = cmd_value (ctx, res, row, 2);
        const char *params [] = { id, missed, as_of };
        PGresult *done = db_exec (ctx->db, PGRES_COMMAND_OK,
                                  "INSERT INTO plan_outcomes (plan_id, outcome, missed, as_of) "
                                  "VALUES ($1, 'broken', $2, $3)", 3, params);
        Recoup__PaymentPlan *plan = done ? s_plan_load (ctx, id, as_of) : NULL;
        PQclear (done);
        if (!plan) {
            PQclear (res);
            return -1;
        }
        cmd_emit (ctx, "plan.broken", RECOUP__EVENT__BODY_PLAN, plan);
        changes++;
        const char *why = arena_printf (ctx->arena, "payment plan %s broken: the "
                                        "instalment due %s was missed", id, missed);
        if (s_hold_for_break (ctx, customer_id, "plan_broken", why, touched) != 0
            || flags_raise_touching (ctx, strtoll (customer_id, NULL, 10), "broken_plan",
                                     id, why, NULL, touched) != 0) {
            PQclear (res);
            return -1;
        }
    }
    PQclear (res);
    return changes;
}

//  Evaluates as of the business date in a write handler, touching the
//  customers it changes.
static int
s_evaluate (cmdctx_t *ctx, accounts_touched_t *touched)
{
    return accounts_evaluate_touching (ctx, s_today (ctx), touched) < 0 ? -1 : 0;
}

// ---------------------------------------------------------------- promises

//  promise_add: a promise by a customer to pay an amount by a date.
//  Emits promise.added, whatever evaluation records, then account.changed
//  (the customer's, and any other customer's evaluation changed).
int
cmd_promise_add (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__PromiseAddRequest *add = request->promise_add;
    s_customer_t customer;
    int rc = s_customer (ctx, reply, "promise_add.customer", add->customer, &customer);
    if (rc <= 0)
        return rc;
    const char *today = s_today (ctx);
    const char *currency, *made_on, *by;
    if (!cmd_positive (ctx, reply, "promise_add.amount_minor", add->amount_minor)
        || !s_currency (ctx, reply, "promise_add.currency", add->currency, &customer,
                        &currency)
        || !s_date (ctx, reply, "promise_add.by", add->by, NULL, &by)
        || !cmd_text (ctx, reply, "promise_add.note", add->note, 0, NOTE_MAX, 1)
        || !s_date (ctx, reply, "promise_add.made_on", add->made_on, today, &made_on))
        return 0;
    if (strcmp (made_on, today) > 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "promise_add.made_on", "made_on %s is after the business "
                          "date %s: record a promise once it is made", made_on, today);
    if (strcmp (by, made_on) < 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "promise_add.by", "by %s is before the promise was made "
                          "(%s)", by, made_on);
    const char *params [] = {
        customer.id, cmd_int (ctx, add->amount_minor), currency, made_on, by, add->note,
        ctx->user
    };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "INSERT INTO promises (customer_id, amount_minor, currency,"
                             " made_on, due_by, note, made_by) "
                             "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id", 7, params);
    if (!res)
        return -1;
    const char *id = cmd_value (ctx, res, 0, 0);
    PQclear (res);
    Recoup__Promise *promise = s_promise_load (ctx, id, today);
    if (!promise)
        return -1;
    cmd_emit (ctx, "promise.added", RECOUP__EVENT__BODY_PROMISE, promise);
    accounts_touched_t touched = { NULL };
    accounts_touch (ctx, &touched, customer.id);
    if (s_evaluate (ctx, &touched) != 0 || accounts_touched_emit (ctx, &touched) != 0)
        return -1;
    //  The reply shows it after evaluation (it may be broken already).
    promise = s_promise_load (ctx, id, today);
    if (!promise)
        return -1;
    Recoup__PromiseReply *result = CMD_NEW (ctx, Recoup__PromiseReply,
                                            recoup__promise_reply__init);
    result->promise = promise;
    result->seq = cmd_peek_seq (ctx) - 1;
    reply->result_case = RECOUP__REPLY__RESULT_PROMISE_ADD;
    reply->promise_add = result;
    return 0;
}

// ---------------------------------------------------------------- plans

//  plan_add: instalments (date, amount) in one currency. Emits
//  plan.added, whatever evaluation records, then account.changed.
int
cmd_plan_add (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__PlanAddRequest *add = request->plan_add;
    s_customer_t customer;
    int rc = s_customer (ctx, reply, "plan_add.customer", add->customer, &customer);
    if (rc <= 0)
        return rc;
    const char *today = s_today (ctx);
    const char *currency, *started;
    if (!s_currency (ctx, reply, "plan_add.currency", add->currency, &customer,
                     &currency)
        || !s_date (ctx, reply, "plan_add.started", add->started, today, &started)
        || !cmd_text (ctx, reply, "plan_add.note", add->note, 0, NOTE_MAX, 1))
        return 0;
    if (strcmp (started, today) > 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "plan_add.started", "started %s is after the business "
                          "date %s", started, today);
    if (add->n_instalments == 0 || add->n_instalments > INSTALMENTS_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "plan_add.instalments", "a plan has 1 to %d instalments "
                          "(got %zu)", INSTALMENTS_MAX, add->n_instalments);
    //  Text arrays for one INSERT ... unnest.
    strbuf_t dues, amounts;
    strbuf_init (&dues);
    strbuf_init (&amounts);
    strbuf_puts (&dues, "{");
    strbuf_puts (&amounts, "{");
    const char **seen = arena_alloc (ctx->arena, add->n_instalments * sizeof *seen);
    for (size_t i = 0; i < add->n_instalments; i++) {
        const Recoup__Instalment *instalment = add->instalments [i];
        const char *due;
        char field [64];
        snprintf (field, sizeof field, "plan_add.instalments[%zu].due", i);
        if (!s_date (ctx, reply, arena_strdup (ctx->arena, field), instalment->due,
                     NULL, &due))
            goto refused;
        if (strcmp (due, started) < 0) {
            cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                       arena_strdup (ctx->arena, field), "instalment due %s is before "
                       "the plan starts (%s)", due, started);
            goto refused;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp (seen [j], due) == 0) {
                cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                           arena_strdup (ctx->arena, field), "two instalments are "
                           "due on %s: make them one", due);
                goto refused;
            }
        seen [i] = due;
        snprintf (field, sizeof field, "plan_add.instalments[%zu].amount_minor", i);
        if (!cmd_positive (ctx, reply, arena_strdup (ctx->arena, field),
                         instalment->amount_minor))
            goto refused;
        strbuf_printf (&dues, "%s%s", i ? "," : "", due);
        strbuf_printf (&amounts, "%s%" PRId64, i ? "," : "", instalment->amount_minor);
    }
    strbuf_puts (&dues, "}");
    strbuf_puts (&amounts, "}");
    const char *params [] = { customer.id, currency, started, add->note, ctx->user };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "INSERT INTO plans (customer_id, currency, started, note,"
                             " made_by) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                             5, params);
    const char *id = res ? cmd_value (ctx, res, 0, 0) : NULL;
    PQclear (res);
    if (id) {
        const char *rows [] = { id, dues.data, amounts.data };
        res = db_exec (ctx->db, PGRES_COMMAND_OK,
                       "INSERT INTO plan_instalments (plan_id, due, amount_minor) "
                       "SELECT $1::bigint, d, a FROM unnest ($2::date[], $3::bigint[])"
                       " AS t (d, a)", 3, rows);
        if (!res)
            id = NULL;
        PQclear (res);
    }
    strbuf_free (&dues);
    strbuf_free (&amounts);
    if (!id)
        return -1;
    Recoup__PaymentPlan *plan = s_plan_load (ctx, id, today);
    if (!plan)
        return -1;
    cmd_emit (ctx, "plan.added", RECOUP__EVENT__BODY_PLAN, plan);
    //  A plan itself is not in the collection; its break is (evaluation).
    accounts_touched_t touched = { NULL };
    accounts_touch (ctx, &touched, customer.id);
    if (s_evaluate (ctx, &touched) != 0 || accounts_touched_emit (ctx, &touched) != 0)
        return -1;
    Recoup__PlanReply *result = CMD_NEW (ctx, Recoup__PlanReply, recoup__plan_reply__init);
    result->plan = s_plan_load (ctx, id, today);
    if (!result->plan)
        return -1;
    result->seq = cmd_peek_seq (ctx) - 1;
    reply->result_case = RECOUP__REPLY__RESULT_PLAN_ADD;
    reply->plan_add = result;
    return 0;

refused:
    strbuf_free (&dues);
    strbuf_free (&amounts);
    return 0;
}

// ---------------------------------------------------------------- disputes

//  Fills a DisputeReply as `which` after the events. 0 or -1.
static int
s_dispute_reply (cmdctx_t *ctx, Recoup__Reply *reply, const char *id,
                 Recoup__Reply__ResultCase which)
{
    Recoup__DisputeReply *result = CMD_NEW (ctx, Recoup__DisputeReply,
                                            recoup__dispute_reply__init);
    result->dispute = s_dispute_load (ctx, id, s_today (ctx));
    if (!result->dispute)
        return -1;
    result->seq = cmd_peek_seq (ctx) - 1;
    reply->result_case = which;
    if (which == RECOUP__REPLY__RESULT_DISPUTE_OPEN)
        reply->dispute_open = result;
    else
        reply->dispute_resolve = result;
    return 0;
}

//  dispute_open: a dispute on an invoice, routed to the customer's sales
//  rep; dunning pauses on the invoice while it is open. Emits
//  dispute.opened, flag.raised, then account.changed.
int
cmd_dispute_open (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__DisputeOpenRequest *open = request->dispute_open;
    if (!cmd_text (ctx, reply, "dispute_open.invoice", open->invoice, 1, REF_MAX, 0))
        return 0;
    const char *number = open->invoice;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT i.id, i.customer_id, c.sales_rep, greatest (i.issued, $2::date),"
        " (SELECT d.id FROM disputes d WHERE d.invoice_id = i.id AND d.resolved IS NULL),"
        " (SELECT d.opened FROM disputes d WHERE d.invoice_id = i.id AND d.resolved IS NULL) "
        "FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE i.number = $1",
        2, (const char *[]) { number, s_today (ctx) });
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "dispute_open.invoice", "there is no invoice %s", number);
    }
    if (!PQgetisnull (res, 0, 4)) {
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT, "dispute_open.invoice",
                   "invoice %s already has dispute %s open since %s: resolve it first",
                   number, PQgetvalue (res, 0, 4), PQgetvalue (res, 0, 5));
        PQclear (res);
        return 0;
    }
    const char *invoice_id = cmd_value (ctx, res, 0, 0);
    const char *customer_id = cmd_value (ctx, res, 0, 1);
    const char *sales_rep = PQgetisnull (res, 0, 2) ? NULL : cmd_value (ctx, res, 0, 2);
    const char *opened = cmd_value (ctx, res, 0, 3);
    PQclear (res);
    if (!cmd_text (ctx, reply, "dispute_open.reason", open->reason, 1, NOTE_MAX, 1))
        return 0;
    const char *params [] = {
        invoice_id, customer_id, open->reason, opened, ctx->user, sales_rep
    };
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "INSERT INTO disputes (invoice_id, customer_id, reason, opened,"
                   " opened_by, sales_rep) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                   6, params);
    if (!res)
        return -1;
    const char *id = cmd_value (ctx, res, 0, 0);
    PQclear (res);
    Recoup__Dispute *dispute = s_dispute_load (ctx, id, opened);
    if (!dispute)
        return -1;
    cmd_emit (ctx, "dispute.opened", RECOUP__EVENT__BODY_DISPUTE, dispute);
    const char *why = arena_printf (ctx->arena, "invoice %s disputed: %s", number,
                                    open->reason);
    accounts_touched_t touched = { NULL };
    accounts_touch (ctx, &touched, customer_id);
    if (flags_raise_touching (ctx, strtoll (customer_id, NULL, 10), "dispute", number,
                              why, NULL, &touched) != 0
        || s_evaluate (ctx, &touched) != 0 || accounts_touched_emit (ctx, &touched) != 0)
        return -1;
    return s_dispute_reply (ctx, reply, id, RECOUP__REPLY__RESULT_DISPUTE_OPEN);
}

//  Posts the credit note of a dispute resolved with one and emits
//  entry.posted. Sets *entry_id. 1, 0 with the error in reply, or -1.
static int
s_dispute_credit (cmdctx_t *ctx, Recoup__Reply *reply, const char *id,
                  const char *invoice_id, const char *number, const char *customer_id,
                  const char *currency, const char *on_date, int64_t amount,
                  const char *note, const char **entry_id)
{
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT recoup_invoice_balance ($1::bigint)", 1, &invoice_id);
    if (!res)
        return -1;
    int64_t balance = cmd_value_int (res, 0, 0);
    PQclear (res);
    if (amount > balance) {
        cmd_money_t asked = cmd_money (amount, currency);
        cmd_money_t open = cmd_money (balance, currency);
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                   "dispute_resolve.amount_minor", "a credit note of %s is more "
                   "than the balance of invoice %s (%s): credit at most the balance",
                   asked.text, number, open.text);
        return 0;
    }
    const char *memo = *note ? arena_printf (ctx->arena, "dispute %s: %s", id, note)
                             : arena_printf (ctx->arena, "dispute %s", id);
    const char *params [] = {
        invoice_id, customer_id, on_date, cmd_int (ctx, -amount), currency, memo, ctx->user
    };
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "INSERT INTO entries (invoice_id, customer_id, kind, on_date,"
                   " amount_minor, currency, memo, actor) "
                   "VALUES ($1, $2, 'credit_note', $3, $4, $5, $6, $7) "
                   "RETURNING id, recorded_at", 7, params);
    if (!res)
        return -1;
    Recoup__Entry *entry = CMD_NEW (ctx, Recoup__Entry, recoup__entry__init);
    *entry_id = cmd_value (ctx, res, 0, 0);
    entry->id = (uint64_t) cmd_value_int (res, 0, 0);
    entry->recorded_us = cmd_parse_timestamp (PQgetvalue (res, 0, 1));
    PQclear (res);
    res = db_exec (ctx->db, PGRES_TUPLES_OK, "SELECT ref FROM customers WHERE id = $1",
                   1, &customer_id);
    if (!res)
        return -1;
    entry->customer = cmd_value (ctx, res, 0, 0);
    PQclear (res);
    entry->invoice = (char *) number;
    entry->kind = "credit_note";
    entry->on_date = (char *) on_date;
    entry->amount_minor = -amount;
    entry->currency = (char *) currency;
    entry->memo = (char *) memo;
    cmd_emit (ctx, "entry.posted", RECOUP__EVENT__BODY_ENTRY, entry);
    return 1;
}

//  dispute_resolve: closes an open dispute with an outcome; credit_note
//  posts a credit note on the invoice. Emits entry.posted (credit note),
//  dispute.resolved, then one account.changed (with or without a credit
//  note: the dispute leaves the collection).
int
cmd_dispute_resolve (cmdctx_t *ctx, const Recoup__Request *request,
                     Recoup__Reply *reply)
{
    const Recoup__DisputeResolveRequest *resolve = request->dispute_resolve;
    if (resolve->id == 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "dispute_resolve.id", "id is required (the dispute's id)");
    if (resolve->id > (uint64_t) INT64_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "dispute_resolve.id", "there is no dispute %" PRIu64,
                          resolve->id);
    const char *id = arena_printf (ctx->arena, "%" PRIu64, resolve->id);
    const char *today = s_today (ctx);
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT d.invoice_id, i.number, d.customer_id, i.currency,"
        " greatest (d.opened, $2::date), coalesce (d.resolved::text, ''),"
        " coalesce (d.outcome, '') "
        "FROM disputes d JOIN invoices i ON i.id = d.invoice_id WHERE d.id = $1",
        2, (const char *[]) { id, today });
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "dispute_resolve.id", "there is no dispute %s", id);
    }
    if (*PQgetvalue (res, 0, 5)) {
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT, "dispute_resolve.id",
                   "dispute %s was already resolved on %s (%s)", id,
                   PQgetvalue (res, 0, 5), PQgetvalue (res, 0, 6));
        PQclear (res);
        return 0;
    }
    const char *invoice_id = cmd_value (ctx, res, 0, 0);
    const char *number = cmd_value (ctx, res, 0, 1);
    const char *customer_id = cmd_value (ctx, res, 0, 2);
    const char *currency = cmd_value (ctx, res, 0, 3);
    const char *on_date = cmd_value (ctx, res, 0, 4);
    PQclear (res);
    const char *outcome = resolve->outcome;
    int credit = strcmp (outcome, "credit_note") == 0;
    if (!credit && strcmp (outcome, "corrected_invoice") != 0
        && strcmp (outcome, "customer_wrong") != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "dispute_resolve.outcome", "outcome must be credit_note, "
                          "corrected_invoice or customer_wrong (got '%.40s')", outcome);
    if (credit) {
        if (*resolve->currency && strcmp (resolve->currency, currency) != 0)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              "dispute_resolve.currency", "invoice %s is in %s, not "
                              "%.8s: give the amount in %s", number, currency,
                              resolve->currency, currency);
        if (!cmd_positive (ctx, reply, "dispute_resolve.amount_minor",
                         resolve->amount_minor))
            return 0;
    }
    else if (resolve->amount_minor != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "dispute_resolve.amount_minor", "only a credit_note "
                          "outcome has an amount");
    if (!cmd_text (ctx, reply, "dispute_resolve.note", resolve->note, 0, NOTE_MAX, 1))
        return 0;
    const char *entry_id = NULL;
    if (credit) {
        int done = s_dispute_credit (ctx, reply, id, invoice_id, number, customer_id,
                                     currency, on_date, resolve->amount_minor,
                                     resolve->note, &entry_id);
        if (done <= 0)
            return done;
    }
    const char *params [] = {
        id, on_date, outcome, credit ? cmd_int (ctx, resolve->amount_minor) : NULL,
        entry_id, resolve->note, ctx->user
    };
    res = db_exec (ctx->db, PGRES_COMMAND_OK,
                   "UPDATE disputes SET resolved = $2, outcome = $3, amount_minor = $4,"
                   " entry_id = $5, note = $6, resolved_by = $7 WHERE id = $1", 7, params);
    if (!res)
        return -1;
    PQclear (res);
    Recoup__Dispute *dispute = s_dispute_load (ctx, id, on_date);
    if (!dispute)
        return -1;
    cmd_emit (ctx, "dispute.resolved", RECOUP__EVENT__BODY_DISPUTE, dispute);
    accounts_touched_t touched = { NULL };
    accounts_touch (ctx, &touched, customer_id);
    if (s_evaluate (ctx, &touched) != 0 || accounts_touched_emit (ctx, &touched) != 0)
        return -1;
    return s_dispute_reply (ctx, reply, id, RECOUP__REPLY__RESULT_DISPUTE_RESOLVE);
}

// ---------------------------------------------------------------- reason, hold

//  Fills an AccountStateReply as `which`.
static void
s_state_reply (cmdctx_t *ctx, Recoup__Reply *reply, Recoup__AccountState *state,
               Recoup__Reply__ResultCase which)
{
    Recoup__AccountStateReply *result = CMD_NEW (ctx, Recoup__AccountStateReply,
                                                 recoup__account_state_reply__init);
    result->state = state;
    result->seq = cmd_peek_seq (ctx) - 1;
    reply->result_case = which;
    if (which == RECOUP__REPLY__RESULT_ACCOUNT_REASON)
        reply->account_reason = result;
    else if (which == RECOUP__REPLY__RESULT_HOLD_PLACE)
        reply->hold_place = result;
    else
        reply->hold_lift = result;
}

//  account_reason: why the customer does not pay. Emits
//  account.state_changed (change "reason"), then account.changed.
int
cmd_account_reason (cmdctx_t *ctx, const Recoup__Request *request,
                    Recoup__Reply *reply)
{
    const Recoup__AccountReasonRequest *set = request->account_reason;
    s_customer_t customer;
    int rc = s_customer (ctx, reply, "account_reason.customer", set->customer, &customer);
    if (rc <= 0)
        return rc;
    int known = 0;
    for (int i = 0; s_reasons [i]; i++)
        known |= strcmp (s_reasons [i], set->reason) == 0;
    if (!known)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "account_reason.reason", "reason must be forgot, cannot_pay, "
                          "slow, avoiding, dispute or complaint (got '%.40s')",
                          set->reason);
    if (!cmd_text (ctx, reply, "account_reason.note", set->note, 0, NOTE_MAX, 1))
        return 0;
    const char *params [] = { customer.id, set->reason, set->note, ctx->user };
    PGresult *res = db_exec (ctx->db, PGRES_COMMAND_OK,
        "INSERT INTO account_state (customer_id, reason, reason_note, updated_by) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id) DO UPDATE SET"
        " reason = $2, reason_note = $3, updated_by = $4, updated_at = now ()",
        4, params);
    if (!res)
        return -1;
    PQclear (res);
    Recoup__AccountState *state = s_state_emit (ctx, &customer, "reason", ctx->user);
    accounts_touched_t touched = { NULL };
    accounts_touch (ctx, &touched, customer.id);
    if (!state || s_evaluate (ctx, &touched) != 0
        || accounts_touched_emit (ctx, &touched) != 0)
        return -1;
    if (!(state = s_state_load (ctx, &customer)))
        return -1;
    s_state_reply (ctx, reply, state, RECOUP__REPLY__RESULT_ACCOUNT_REASON);
    return 0;
}

//  hold_place: a credit hold with a reason. Emits account.state_changed
//  (change "hold_placed"), flag.raised, then account.changed.
int
cmd_hold_place (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__HoldPlaceRequest *place = request->hold_place;
    s_customer_t customer;
    int rc = s_customer (ctx, reply, "hold_place.customer", place->customer, &customer);
    if (rc <= 0)
        return rc;
    if (!cmd_text (ctx, reply, "hold_place.reason", place->reason, 1, NOTE_MAX, 1))
        return 0;
    accounts_touched_t touched = { NULL };
    if (s_evaluate (ctx, &touched) != 0)
        return -1;
    Recoup__AccountState *state = s_state_load (ctx, &customer);
    if (!state)
        return -1;
    if (state->on_hold)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "hold_place.customer", "customer %s is already on credit "
                          "hold: %s", customer.ref, state->hold_reason);
    const char *params [] = { customer.id, place->reason, ctx->user };
    PGresult *res = db_exec (ctx->db, PGRES_COMMAND_OK,
        "INSERT INTO account_state (customer_id, on_hold, hold_reason, updated_by) "
        "VALUES ($1, true, $2, $3) ON CONFLICT (customer_id) DO UPDATE SET"
        " on_hold = true, hold_reason = $2, updated_by = $3, updated_at = now ()",
        3, params);
    if (!res)
        return -1;
    PQclear (res);
    if (!(state = s_state_emit (ctx, &customer, "hold_placed", ctx->user)))
        return -1;
    //  One flag a day: a hold placed again another day is news again.
    const char *why = arena_printf (ctx->arena, "credit hold placed by %s: %s",
                                    ctx->user, place->reason);
    accounts_touch (ctx, &touched, customer.id);
    if (flags_raise_touching (ctx, strtoll (customer.id, NULL, 10), "hold",
                              s_today (ctx), why, NULL, &touched) != 0
        || accounts_touched_emit (ctx, &touched) != 0)
        return -1;
    s_state_reply (ctx, reply, state, RECOUP__REPLY__RESULT_HOLD_PLACE);
    return 0;
}

//  hold_lift: lifts a credit hold. A manager (or admin) may always; a
//  collector only under the policy's condition, the account paid in
//  full. Cash-only clears with it when the account is paid in full.
//  Emits account.state_changed (change "hold_lifted", hold_reason = why),
//  then account.changed.
int
cmd_hold_lift (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__HoldLiftRequest *lift = request->hold_lift;
    s_customer_t customer;
    int rc = s_customer (ctx, reply, "hold_lift.customer", lift->customer, &customer);
    if (rc <= 0)
        return rc;
    if (!cmd_text (ctx, reply, "hold_lift.reason", lift->reason, 1, NOTE_MAX, 1))
        return 0;
    //  First record any break, so that lifting is not undone at once.
    accounts_touched_t touched = { NULL };
    if (s_evaluate (ctx, &touched) != 0)
        return -1;
    Recoup__AccountState *state = s_state_load (ctx, &customer);
    if (!state)
        return -1;
    if (!state->on_hold)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "hold_lift.customer", "customer %s is not on credit hold",
                          customer.ref);
    const char *today = s_today (ctx);
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT count (*), count (*) FILTER (WHERE due < $1::date) "
        "FROM recoup_open_items ($1::date, $2::bigint)",
        2, (const char *[]) { today, customer.id });
    if (!res)
        return -1;
    int64_t open = cmd_value_int (res, 0, 0);
    int64_t past_due = cmd_value_int (res, 0, 1);
    PQclear (res);
    int manager = ctx->role == RECOUP__ROLE__ADMIN || ctx->role == RECOUP__ROLE__MANAGER;
    if (!manager && open > 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__PERMISSION_DENIED,
                          "hold_lift.customer", "lifting the credit hold of %s needs a "
                          "manager, or the policy's condition: the account paid in "
                          "full (%" PRId64 " invoice(s) open, %" PRId64 " past due)",
                          customer.ref, open, past_due);
    const char *params [] = { customer.id, ctx->user, open == 0 ? "t" : "f" };
    res = db_exec (ctx->db, PGRES_COMMAND_OK,
                   "UPDATE account_state SET on_hold = false, hold_reason = '',"
                   " cash_only = cash_only AND NOT $3::boolean, updated_by = $2,"
                   " updated_at = now () WHERE customer_id = $1", 3, params);
    if (!res)
        return -1;
    PQclear (res);
    if (!(state = s_state_load (ctx, &customer)))
        return -1;
    state->change = "hold_lifted";
    state->changed_by = (char *) ctx->user;
    state->hold_reason = lift->reason;
    cmd_emit (ctx, "account.state_changed", RECOUP__EVENT__BODY_ACCOUNT_STATE, state);
    accounts_touch (ctx, &touched, customer.id);
    if (accounts_touched_emit (ctx, &touched) != 0)
        return -1;
    s_state_reply (ctx, reply, state, RECOUP__REPLY__RESULT_HOLD_LIFT);
    return 0;
}

// ---------------------------------------------------------------- stage

//  Days past due and stage per customer: the one query behind both
//  account_show and every Account's collection, so that the two agree.
//  A customer's days past due are those of its oldest invoice open as
//  of $1 (issued by then, balance from the entries dated by then above
//  zero), past due then and without a dispute open then; its stage is
//  the latest due-anchored step of the newest policy those days reach.
//  $2 names the customers by ref (text[]); $3, beside each, a due date
//  no invoice of the customer open as of $1 is older than, or NULL when
//  that is not known. The bound only spares the walk through the paid
//  history (collections take it from the aging buckets they already
//  have): the first qualifying invoice in due order, through the index
//  on (customer_id, due), ends each customer's walk. A customer with
//  nothing past due has no row. Columns: ref, days past due, stage.
static const char s_stage_sql [] =
    "WITH steps AS MATERIALIZED ("
    "  SELECT t.s ->> 'name' AS name, (t.s ->> 'offset_days')::int AS offset_days,"
    "   coalesce ((t.s ->> 'day')::int, (t.s ->> 'offset_days')::int) AS day, t.n"
    "  FROM policy_versions v,"
    "   jsonb_array_elements (v.params -> 'steps') WITH ORDINALITY AS t (s, n)"
    "  WHERE v.version = (SELECT max (version) FROM policy_versions)"
    "   AND t.s ->> 'anchor' = 'due') "
    "SELECT c.ref, o.dpd,"
    " coalesce ((SELECT s.name FROM steps s WHERE s.offset_days <= o.dpd"
    "            ORDER BY s.day DESC, s.n DESC LIMIT 1), '') "
    "FROM unnest ($2::text[], $3::date[]) AS x (ref, since) "
    "JOIN customers c ON c.ref = x.ref "
    "CROSS JOIN LATERAL ("
    "  SELECT $1::date - i.due AS dpd FROM invoices i"
    "  WHERE i.customer_id = c.id AND i.due < $1::date"
    "   AND i.due >= coalesce (x.since, '-infinity') AND i.issued <= $1::date"
    "   AND i.amount_minor + coalesce ((SELECT sum (e.amount_minor) FROM entries e"
    "        WHERE e.invoice_id = i.id AND e.on_date <= $1::date), 0) > 0"
    "   AND NOT EXISTS (SELECT 1 FROM disputes d"
    "        WHERE d.customer_id = c.id AND d.invoice_id = i.id"
    "         AND d.opened <= $1::date AND (d.resolved IS NULL OR d.resolved > $1::date))"
    "  ORDER BY i.due LIMIT 1) o";

//  Appends `text` to the PostgreSQL array literal in `out` as one quoted
//  element (after a comma unless it is the first).
static void
s_array_text (strbuf_t *out, const char *text, int first)
{
    strbuf_puts (out, first ? "\"" : ",\"");
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            strbuf_append (out, "\\", 1);
        strbuf_append (out, p, 1);
    }
    strbuf_puts (out, "\"");
}

//  Runs s_stage_sql as of `as_of` for the customers and bounds in the
//  array literals `refs` and `since`. NULL on a database failure.
static PGresult *
s_stage_query (cmdctx_t *ctx, const char *as_of, const char *refs, const char *since)
{
    const char *params [] = { as_of, refs, since };
    return db_exec (ctx->db, PGRES_TUPLES_OK, s_stage_sql, 3, params);
}

// ---------------------------------------------------------------- account_show

//  The rows of `sql` (parameters as_of, customer id) as an arena array
//  of messages made by `make`. -1 on a database failure.
typedef void *(s_row_fn) (cmdctx_t *ctx, PGresult *res, int row, const char *as_of);

static void *
s_promise_row (cmdctx_t *ctx, PGresult *res, int row, const char *as_of)
{
    return s_promise_from_row (ctx, res, row, as_of);
}

static void *
s_dispute_row (cmdctx_t *ctx, PGresult *res, int row, const char *as_of)
{
    (void) as_of;
    return s_dispute_from_row (ctx, res, row);
}

static void *
s_plan_row (cmdctx_t *ctx, PGresult *res, int row, const char *as_of)
{
    return s_plan_load (ctx, PQgetvalue (res, row, 0), as_of);
}

static void *
s_text_row (cmdctx_t *ctx, PGresult *res, int row, const char *as_of)
{
    (void) as_of;
    return cmd_value (ctx, res, row, 0);
}

static int
s_rows (cmdctx_t *ctx, const char *sql, const char *as_of, const char *customer_id,
        s_row_fn *make, void ***items, size_t *count)
{
    const char *params [] = { as_of, customer_id };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK, sql, 2, params);
    if (!res)
        return -1;
    *count = (size_t) PQntuples (res);
    *items = arena_alloc (ctx->arena, (*count ? *count : 1) * sizeof **items);
    for (size_t i = 0; i < *count; i++)
        if (!((*items) [i] = make (ctx, res, (int) i, as_of))) {
            PQclear (res);
            return -1;
        }
    PQclear (res);
    return 0;
}

//  account_show (read): the account's collection state as of a date.
int
cmd_account_show (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__AccountShowRequest *show = request->account_show;
    s_customer_t customer;
    int rc = s_customer (ctx, reply, "account_show.customer", show->customer, &customer);
    if (rc <= 0)
        return rc;
    const char *as_of;
    if (!s_date (ctx, reply, "account_show.as_of", show->as_of, s_today (ctx), &as_of))
        return 0;
    Recoup__AccountShowReply *result = CMD_NEW (ctx, Recoup__AccountShowReply,
                                                recoup__account_show_reply__init);
    result->customer = (char *) customer.ref;
    result->name = (char *) customer.name;
    result->as_of = (char *) as_of;
    const char *params [] = { as_of, customer.id };
    //  Balances per currency.
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT currency, sum (balance_minor),"
        " coalesce (sum (balance_minor) FILTER (WHERE due < $1::date), 0) "
        "FROM recoup_open_items ($1::date, $2::bigint) GROUP BY currency "
        "ORDER BY currency", 2, params);
    if (!res)
        return -1;
    result->n_balances = (size_t) PQntuples (res);
    result->balances = arena_alloc (ctx->arena, (result->n_balances + 1)
                                    * sizeof *result->balances);
    for (size_t i = 0; i < result->n_balances; i++) {
        Recoup__AccountBalance *balance = CMD_NEW (ctx, Recoup__AccountBalance,
                                                   recoup__account_balance__init);
        balance->currency = cmd_value (ctx, res, (int) i, 0);
        balance->balance_minor = cmd_value_int (res, (int) i, 1);
        balance->past_due_minor = cmd_value_int (res, (int) i, 2);
        result->balances [i] = balance;
    }
    PQclear (res);
    //  Stage and days past due, as every Account's collection has them.
    strbuf_t refs;
    strbuf_init (&refs);
    strbuf_puts (&refs, "{");
    s_array_text (&refs, customer.ref, 1);
    strbuf_puts (&refs, "}");
    res = s_stage_query (ctx, as_of, refs.data, "{NULL}");
    strbuf_free (&refs);
    if (!res)
        return -1;
    result->days_past_due = PQntuples (res) ? (int32_t) cmd_value_int (res, 0, 1) : 0;
    result->stage = PQntuples (res) ? cmd_value (ctx, res, 0, 2) : "";
    PQclear (res);
    if (!(result->state = s_state_load (ctx, &customer)))
        return -1;
    if (s_rows (ctx, PROMISE_SELECT "WHERE p.customer_id = $2 AND p.made_on <= $1::date "
                "ORDER BY p.made_on DESC, p.id DESC", as_of, customer.id, s_promise_row,
                (void ***) &result->promises, &result->n_promises) != 0
        || s_rows (ctx, "SELECT id FROM plans WHERE customer_id = $2 AND "
                   "started <= $1::date ORDER BY started DESC, id DESC", as_of,
                   customer.id, s_plan_row, (void ***) &result->plans,
                   &result->n_plans) != 0
        || s_rows (ctx, DISPUTE_SELECT "WHERE d.customer_id = $2 AND "
                   "d.opened <= $1::date ORDER BY d.id DESC", as_of, customer.id,
                   s_dispute_row, (void ***) &result->disputes,
                   &result->n_disputes) != 0
        || s_rows (ctx, "SELECT i.number FROM recoup_disputed ($1::date, $2::bigint) d "
                   "JOIN invoices i ON i.id = d.invoice_id ORDER BY i.due, i.number",
                   as_of, customer.id, s_text_row, (void ***) &result->paused_invoices,
                   &result->n_paused_invoices) != 0)
        return -1;
    //  Breaks evaluation has not recorded yet: the hold and cash-only they
    //  bring are reported now, and recorded by the next evaluation.
    for (size_t i = 0; i < result->n_promises; i++) {
        const Recoup__Promise *promise = result->promises [i];
        if (strcmp (promise->status, "broken") != 0)
            continue;
        const char *id = cmd_int (ctx, (int64_t) promise->id);
        res = db_exec (ctx->db, PGRES_TUPLES_OK, "SELECT 1 FROM promise_outcomes "
                       "WHERE promise_id = $1", 1, &id);
        if (!res)
            return -1;
        int recorded = PQntuples (res) > 0;
        PQclear (res);
        if (recorded)
            continue;
        result->state->on_hold = result->state->cash_only = 1;
        if (!*result->state->hold_reason)
            result->state->hold_reason = arena_printf (ctx->arena, "promise %s broken", id);
        result->notices = arena_alloc (ctx->arena, sizeof (char *) * 1);
        result->notices [0] = arena_printf (ctx->arena, "promise %s was broken (deadline "
                                            "%s): credit hold and cash-only apply; the "
                                            "next evaluation records them", id,
                                            promise->deadline);
        result->n_notices = 1;
        break;
    }
    for (size_t i = 0; i < result->n_plans && result->n_notices == 0; i++) {
        const Recoup__PaymentPlan *plan = result->plans [i];
        if (strcmp (plan->status, "broken") != 0)
            continue;
        const char *id = cmd_int (ctx, (int64_t) plan->id);
        res = db_exec (ctx->db, PGRES_TUPLES_OK, "SELECT 1 FROM plan_outcomes "
                       "WHERE plan_id = $1", 1, &id);
        if (!res)
            return -1;
        int recorded = PQntuples (res) > 0;
        PQclear (res);
        if (recorded)
            continue;
        result->state->on_hold = result->state->cash_only = 1;
        if (!*result->state->hold_reason)
            result->state->hold_reason = arena_printf (ctx->arena, "payment plan %s "
                                                       "broken", id);
        result->notices = arena_alloc (ctx->arena, sizeof (char *) * 1);
        result->notices [0] = arena_printf (ctx->arena, "payment plan %s is broken (missed "
                                            "%s): credit hold and cash-only apply; the "
                                            "next evaluation records them", id,
                                            plan->missed);
        result->n_notices = 1;
    }
    //  The newest contact.
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT channel, direction, outcome,"
        " to_char (at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
        "FROM contact_log WHERE customer_id = $1 ORDER BY at DESC, id DESC LIMIT 1",
        1, &customer.id);
    if (!res)
        return -1;
    if (PQntuples (res) == 1) {
        Recoup__LastContact *last = CMD_NEW (ctx, Recoup__LastContact,
                                             recoup__last_contact__init);
        last->channel = cmd_value (ctx, res, 0, 0);
        last->direction = cmd_value (ctx, res, 0, 1);
        last->outcome = cmd_value (ctx, res, 0, 2);
        last->at = cmd_value (ctx, res, 0, 3);
        result->last_contact = last;
    }
    PQclear (res);
    reply->result_case = RECOUP__REPLY__RESULT_ACCOUNT_SHOW;
    reply->account_show = result;
    return 0;
}

// ---------------------------------------------------------------- collection
//
//  Every Account carries its collection (accounts_collection_fill): one
//  query per part for all the customers listed, never one per customer,
//  since a snapshot holds every customer. Rows come back grouped by
//  customer, and each customer's collection points into the one array
//  of its part (arena memory; packing only reads it).

//  A collection found by its customer's ref.
typedef struct {
    const char *ref;                        //  customer ref (borrowed)
    Recoup__AccountCollection *collection;  //  the account's
} s_slot_t;

static int
s_slot_compare (const void *a, const void *b)
{
    return strcmp (((const s_slot_t *) a)->ref, ((const s_slot_t *) b)->ref);
}

//  The collection of customer `ref`, or NULL (a customer that was not
//  loaded: created after the accounts were read, in another transaction).
static Recoup__AccountCollection *
s_slot_find (const s_slot_t *slots, size_t count, const char *ref)
{
    s_slot_t key = { ref, NULL };
    const s_slot_t *slot = bsearch (&key, slots, count, sizeof *slots, s_slot_compare);
    return slot ? slot->collection : NULL;
}

//  The parts of a collection that are lists.
typedef enum { S_PROMISES, S_DISPUTES, S_FLAGS } s_list_t;

//  Points each customer's `list` at its run of `items` (grouped by
//  customer; `ref_at (items, i)` is the ref of item i).
static void
s_attach (const s_slot_t *slots, size_t count, void **items, size_t n,
          const char *(*ref_at) (void **items, size_t i), s_list_t list)
{
    size_t end;
    for (size_t i = 0; i < n; i = end) {
        const char *ref = ref_at (items, i);
        for (end = i + 1; end < n && strcmp (ref_at (items, end), ref) == 0; end++)
            ;
        Recoup__AccountCollection *collection = s_slot_find (slots, count, ref);
        if (!collection)
            continue;
        if (list == S_PROMISES) {
            collection->promises = (Recoup__Promise **) items + i;
            collection->n_promises = end - i;
        }
        else if (list == S_DISPUTES) {
            collection->disputes = (Recoup__Dispute **) items + i;
            collection->n_disputes = end - i;
        }
        else {
            collection->flags = (Recoup__SalesFlag **) items + i;
            collection->n_flags = end - i;
        }
    }
}

static const char *
s_promise_ref (void **items, size_t i)
{
    return ((Recoup__Promise **) items) [i]->customer;
}

static const char *
s_dispute_ref (void **items, size_t i)
{
    return ((Recoup__Dispute **) items) [i]->customer;
}

static const char *
s_flag_ref (void **items, size_t i)
{
    return ((Recoup__SalesFlag **) items) [i]->customer;
}

//  How many days past due, at most, the open items of an account are,
//  from its aging: 0 when nothing is past due, -1 when over 120.
static int
s_late_bound (const Recoup__Account *account)
{
    int bound = 0;
    for (size_t k = 0; k < account->n_aging; k++) {
        const Recoup__Aging *aging = account->aging [k];
        const Recoup__AgingBucket *late [] = {
            aging->d1_30, aging->d31_60, aging->d61_90, aging->d91_120, aging->over_120
        };
        static const int upto [] = { 30, 60, 90, 120, -1 };
        for (int b = 4; b >= 0; b--)
            if (late [b] && late [b]->count > 0) {
                if (upto [b] < 0)
                    return -1;
                if (upto [b] > bound)
                    bound = upto [b];
                break;
            }
    }
    return bound;
}

//  Stage and days past due of the accounts with anything past due (the
//  others keep "" and 0). 0 or -1.
static int
s_fill_stage (cmdctx_t *ctx, Recoup__Account **accounts, size_t count,
              const s_slot_t *slots, const char *as_of)
{
    int32_t day;
    char err [128];
    if (date_parse_iso (as_of, &day, err, sizeof err) != 0)
        return -1;
    strbuf_t refs, since;
    strbuf_init (&refs);
    strbuf_init (&since);
    strbuf_puts (&refs, "{");
    strbuf_puts (&since, "{");
    size_t listed = 0;
    for (size_t i = 0; i < count; i++) {
        int bound = s_late_bound (accounts [i]);
        if (bound == 0)
            continue;
        s_array_text (&refs, accounts [i]->customer->ref, listed == 0);
        if (bound < 0)
            strbuf_puts (&since, listed ? ",NULL" : "NULL");
        else {
            char date [DATE_ISO_LEN + 1];
            date_format_iso (day - bound, date);
            strbuf_printf (&since, "%s%s", listed ? "," : "", date);
        }
        listed++;
    }
    strbuf_puts (&refs, "}");
    strbuf_puts (&since, "}");
    PGresult *res = listed ? s_stage_query (ctx, as_of, refs.data, since.data) : NULL;
    strbuf_free (&refs);
    strbuf_free (&since);
    if (!listed)
        return 0;
    if (!res)
        return -1;
    for (int row = 0; row < PQntuples (res); row++) {
        Recoup__AccountCollection *collection = s_slot_find (slots, count,
                                                             PQgetvalue (res, row, 0));
        if (!collection)
            continue;
        collection->days_past_due = (int32_t) cmd_value_int (res, row, 1);
        collection->stage = cmd_value (ctx, res, row, 2);
    }
    PQclear (res);
    return 0;
}

//  `head` `column` = ANY (`param`::bigint[]) `tail`, or, when `ids` is
//  NULL (every customer), `head` `param`::bigint[] IS NULL `tail`, in the
//  arena. Two texts, so two prepared statements with a plan each: one
//  generic plan for "$2 IS NULL OR column = ANY ($2)" would have to serve
//  both the snapshot (a scan of everything) and one customer (an index).
static const char *
s_for_customers (cmdctx_t *ctx, const char *head, const char *column,
                 const char *param, const char *tail, const char *ids)
{
    return ids ? arena_printf (ctx->arena, "%s%s = ANY (%s::bigint[])%s", head, column,
                               param, tail)
               : arena_printf (ctx->arena, "%s%s::bigint[] IS NULL%s", head, param, tail);
}

//  Hold, cash-only and reason as recorded (account_state keeps no
//  history: as it is now, whatever the as-of date). 0 or -1.
static int
s_fill_state (cmdctx_t *ctx, const s_slot_t *slots, size_t count, const char *ids)
{
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        s_for_customers (ctx, "SELECT c.ref, a.on_hold, a.hold_reason, a.cash_only,"
                         " a.reason FROM account_state a"
                         " JOIN customers c ON c.id = a.customer_id WHERE ",
                         "a.customer_id", "$1", "", ids), 1, &ids);
    if (!res)
        return -1;
    for (int row = 0; row < PQntuples (res); row++) {
        Recoup__AccountCollection *collection = s_slot_find (slots, count,
                                                             PQgetvalue (res, row, 0));
        if (!collection)
            continue;
        collection->on_hold = PQgetvalue (res, row, 1) [0] == 't';
        collection->hold_reason = cmd_value (ctx, res, row, 2);
        collection->cash_only = PQgetvalue (res, row, 3) [0] == 't';
        collection->reason = cmd_value (ctx, res, row, 4);
    }
    PQclear (res);
    return 0;
}

//  Runs `sql` (parameters as_of, ids) and makes a message of each row
//  with `make`, into an arena array. 0 or -1.
static int
s_fill_rows (cmdctx_t *ctx, const char *sql, const char *as_of, const char *ids,
             s_row_fn *make, void ***items, size_t *n)
{
    const char *params [] = { as_of, ids };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK, sql, 2, params);
    if (!res)
        return -1;
    *n = (size_t) PQntuples (res);
    *items = arena_alloc (ctx->arena, (*n + 1) * sizeof **items);
    for (size_t i = 0; i < *n; i++)
        (*items) [i] = make (ctx, res, (int) i, as_of);
    PQclear (res);
    return 0;
}

int
accounts_collection_fill (cmdctx_t *ctx, Recoup__Account **accounts, size_t count,
                          const char *ids, const char *as_of)
{
    if (count == 0)
        return 0;
    //  Promises keep it: it must live as long as the reply (the caller's
    //  may be on its stack).
    as_of = arena_strdup (ctx->arena, as_of);
    s_slot_t *slots = arena_alloc (ctx->arena, count * sizeof *slots);
    for (size_t i = 0; i < count; i++) {
        Recoup__AccountCollection *collection = CMD_NEW (ctx, Recoup__AccountCollection,
                                                         recoup__account_collection__init);
        accounts [i]->collection = collection;
        slots [i].ref = accounts [i]->customer->ref;
        slots [i].collection = collection;
    }
    qsort (slots, count, sizeof *slots, s_slot_compare);
    if (s_fill_stage (ctx, accounts, count, slots, as_of) != 0
        || s_fill_state (ctx, slots, count, ids) != 0)
        return -1;
    //  Pending promises, soonest first. Only one not past its deadline
    //  can be pending, which spares the status of every older promise.
    void **items;
    size_t n;
    if (s_fill_rows (ctx, s_for_customers (ctx, PROMISE_SELECT "WHERE ", "p.customer_id", "$2",
                     " AND p.made_on <= $1::date AND p.due_by + g.days >= $1::date"
                     " AND s.status = 'pending' "
                     "ORDER BY p.customer_id, p.due_by, p.id", ids),
                     as_of, ids, s_promise_row, &items, &n) != 0)
        return -1;
    s_attach (slots, count, items, n, s_promise_ref, S_PROMISES);
    //  Disputes open as of as_of, oldest first.
    if (s_fill_rows (ctx, s_for_customers (ctx, DISPUTE_SELECT "WHERE ", "d.customer_id", "$2",
                     " AND d.opened <= $1::date"
                     " AND (d.resolved IS NULL OR d.resolved > $1::date) "
                     "ORDER BY d.customer_id, d.opened, d.id", ids),
                     as_of, ids, s_dispute_row, &items, &n) != 0)
        return -1;
    s_attach (slots, count, items, n, s_dispute_ref, S_DISPUTES);
    Recoup__SalesFlag **flags;
    if (flags_open_load (ctx, ids, as_of, &flags, &n) != 0)
        return -1;
    s_attach (slots, count, (void **) flags, n, s_flag_ref, S_FLAGS);
    return 0;
}
