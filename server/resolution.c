/*  resolution: settlement offers, agency referrals, write-offs and
    recoveries, credit checks and references. See resolution.h.

    Like the ledger's, every handler runs inside the writer's batch
    transaction in a savepoint of its own: a refusal after a write, or a
    constraint the database enforces (SQLSTATE class 23: a balance below
    zero), takes back all of its statements and events.

    The rules that move money live in SQL (0007_resolution.sql), so that
    the daily engine and these handlers apply the same ones:
    recoup_settlements_evaluate completes or expires settlements,
    recoup_writeoffs_recover turns cash received after a write-off into a
    recovery, recoup_agency_evaluate records agency recoveries (the view
    agency_recoveries has them gross, fee and net). resolution_evaluate
    runs the three and emits the events; every settlement, agency and
    write-off command runs it after its own change, as of the business
    date.

    An Account's collection (accounts.h: stage, hold, promises, disputes,
    open flags) shows nothing of settlements, referrals or write-offs
    themselves; they change it only through the ledger (an invoice
    settled or written off leaves the stage), and s_finish then emits
    one account.changed per customer touched, the collection included. */
#include "resolution.h"
#include "flags.h"
#include "ledger.h"
#include "../common/date.h"
#include "../common/money.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX 64              //  customer ref, invoice number
#define NAME_MAX_CHARS 200      //  agency, bureau, reference name
#define TEXT_MAX 1000           //  notes, reasons, results
#define INVOICES_MAX 1000       //  invoices named in one offer
#define SCORE_MAX 9999
#define EXPIRY_DAYS 30          //  default life of a settlement offer
#define FLOOR_DEFAULT 70        //  settlement.floor_percent without a policy

// ---------------------------------------------------------------- helpers










//  Looks a customer up by ref: sets id [and currency] in the arena.
//  Returns 1, 0 with the error in reply (NOT_FOUND), or -1.
static int
s_customer (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
            const char *ref, const char **id, const char **currency)
{
    if (!cmd_text (ctx, reply, field, ref, 1, REF_MAX, 0))
        return 0;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT id, currency FROM customers WHERE ref = $1",
                             1, &ref);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, field,
                          "there is no customer with ref '%s'", ref);
    }
    *id = cmd_value (ctx, res, 0, 0);
    if (currency)
        *currency = cmd_value (ctx, res, 0, 1);
    PQclear (res);
    return 1;
}

//  Customers whose accounts changed: a PostgreSQL array literal in the
//  arena, for ledger_emit_accounts.
typedef struct {
    const char *ids;            //  "1,5,9" (without braces), "" when none
} s_touched_t;

static void
s_touch (cmdctx_t *ctx, s_touched_t *self, const char *customer_id)
{
    self->ids = *self->ids
        ? arena_printf (ctx->arena, "%s,%s", self->ids, customer_id)
        : arena_strdup (ctx->arena, customer_id);
}

static int
s_touched_emit (cmdctx_t *ctx, s_touched_t *self)
{
    if (!*self->ids)
        return 0;
    return ledger_emit_accounts (ctx, arena_printf (ctx->arena, "{%s}", self->ids));
}

// ---------------------------------------------------------------- loading

//  A Settlement by id, with what has been paid towards it as of the
//  business date; *customer_id set (arena). NULL when there is none
//  (*failed 0) or on a database failure (*failed 1).
static Recoup__Settlement *
s_settlement_load (cmdctx_t *ctx, uint64_t id, const char **customer_id,
                   int *failed)
{
    *failed = 1;
    const char *params [] = {
        arena_printf (ctx->arena, "%" PRIu64, id), cmd_date_text (ctx, cmd_today ())
    };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT c.ref, s.currency, s.balance_minor, s.amount_minor, s.offered_on,"
        " s.expires, s.status, s.floor_percent, s.policy_version, s.note,"
        " s.offered_by, s.approved_by, coalesce (s.completed_on::text, ''),"
        " recoup_settlement_paid (s.id, $2::date), s.written_off_minor, s.customer_id "
        "FROM settlements s JOIN customers c ON c.id = s.customer_id "
        "WHERE s.id = $1::bigint", 2, params);
    if (!res)
        return NULL;
    if (PQntuples (res) == 0) {
        PQclear (res);
        *failed = 0;
        return NULL;
    }
    Recoup__Settlement *s = CMD_NEW (ctx, Recoup__Settlement, recoup__settlement__init);
    s->id = id;
    s->customer = cmd_value (ctx, res, 0, 0);
    s->currency = cmd_value (ctx, res, 0, 1);
    s->balance_minor = cmd_value_int (res, 0, 2);
    s->amount_minor = cmd_value_int (res, 0, 3);
    s->offered_on = cmd_value (ctx, res, 0, 4);
    s->expires = cmd_value (ctx, res, 0, 5);
    s->status = cmd_value (ctx, res, 0, 6);
    s->floor_percent = (uint32_t) cmd_value_int (res, 0, 7);
    s->policy_version = (uint32_t) cmd_value_int (res, 0, 8);
    s->note = cmd_value (ctx, res, 0, 9);
    s->offered_by = cmd_value (ctx, res, 0, 10);
    s->approved_by = cmd_value (ctx, res, 0, 11);
    s->completed_on = cmd_value (ctx, res, 0, 12);
    s->paid_minor = cmd_value_int (res, 0, 13);
    s->written_off_minor = cmd_value_int (res, 0, 14);
    if (customer_id)
        *customer_id = cmd_value (ctx, res, 0, 15);
    PQclear (res);
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT i.number FROM settlement_invoices si "
                   "JOIN invoices i ON i.id = si.invoice_id "
                   "WHERE si.settlement_id = $1::bigint ORDER BY i.number", 1, params);
    if (!res)
        return NULL;
    int rows = PQntuples (res);
    s->invoices = arena_alloc (ctx->arena, (size_t) rows * sizeof (char *) + 1);
    for (int r = 0; r < rows; r++)
        s->invoices [s->n_invoices++] = cmd_value (ctx, res, r, 0);
    PQclear (res);
    return s;
}

//  An AgencyReferral by id (without a recovery). NULL as above.
static Recoup__AgencyReferral *
s_referral_load (cmdctx_t *ctx, const char *id, int *failed)
{
    *failed = 1;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT r.id, c.ref, r.agency, r.fee_bp, r.note, r.referred_on,"
        " r.referred_by FROM agency_referrals r "
        "JOIN customers c ON c.id = r.customer_id WHERE r.id = $1::bigint", 1, &id);
    if (!res)
        return NULL;
    if (PQntuples (res) == 0) {
        PQclear (res);
        *failed = 0;
        return NULL;
    }
    Recoup__AgencyReferral *r = CMD_NEW (ctx, Recoup__AgencyReferral,
                                         recoup__agency_referral__init);
    r->id = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    r->customer = cmd_value (ctx, res, 0, 1);
    r->agency = cmd_value (ctx, res, 0, 2);
    r->fee_bp = (uint32_t) cmd_value_int (res, 0, 3);
    r->note = cmd_value (ctx, res, 0, 4);
    r->referred_on = cmd_value (ctx, res, 0, 5);
    r->referred_by = cmd_value (ctx, res, 0, 6);
    PQclear (res);
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT i.number FROM agency_invoices ai "
                   "JOIN invoices i ON i.id = ai.invoice_id "
                   "WHERE ai.referral_id = $1::bigint ORDER BY i.number", 1, &id);
    if (!res)
        return NULL;
    int rows = PQntuples (res);
    r->invoices = arena_alloc (ctx->arena, (size_t) rows * sizeof (char *) + 1);
    for (int i = 0; i < rows; i++)
        r->invoices [r->n_invoices++] = cmd_value (ctx, res, i, 0);
    PQclear (res);
    return r;
}

//  A WriteOff by id; *customer_id set (arena). NULL as above.
static Recoup__WriteOff *
s_writeoff_load (cmdctx_t *ctx, const char *id, const char **customer_id,
                 int *failed)
{
    *failed = 1;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT w.id, i.number, c.ref, i.currency, w.reason, w.status,"
        " w.requested_by, w.requested_on, w.approved_by,"
        " coalesce (w.approved_on::text, ''), w.amount_minor,"
        " (SELECT coalesce (sum (r.amount_minor), 0) FROM writeoff_recoveries r"
        "  WHERE r.writeoff_id = w.id), w.customer_id "
        "FROM writeoffs w JOIN invoices i ON i.id = w.invoice_id "
        "JOIN customers c ON c.id = w.customer_id WHERE w.id = $1::bigint", 1, &id);
    if (!res)
        return NULL;
    if (PQntuples (res) == 0) {
        PQclear (res);
        *failed = 0;
        return NULL;
    }
    Recoup__WriteOff *w = CMD_NEW (ctx, Recoup__WriteOff, recoup__write_off__init);
    w->id = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    w->invoice = cmd_value (ctx, res, 0, 1);
    w->customer = cmd_value (ctx, res, 0, 2);
    w->currency = cmd_value (ctx, res, 0, 3);
    w->reason = cmd_value (ctx, res, 0, 4);
    w->status = cmd_value (ctx, res, 0, 5);
    w->requested_by = cmd_value (ctx, res, 0, 6);
    w->requested_on = cmd_value (ctx, res, 0, 7);
    w->approved_by = cmd_value (ctx, res, 0, 8);
    w->approved_on = cmd_value (ctx, res, 0, 9);
    w->amount_minor = cmd_value_int (res, 0, 10);
    w->recovered_minor = cmd_value_int (res, 0, 11);
    if (customer_id)
        *customer_id = cmd_value (ctx, res, 0, 12);
    PQclear (res);
    return w;
}

// ---------------------------------------------------------------- evaluation

//  Runs the evaluation as of `as_of`, emitting its events and noting the
//  customers whose ledger changed in `touched`. Returns the number of
//  changes or -1.
static int
s_evaluate (cmdctx_t *ctx, const char *as_of, s_touched_t *touched)
{
    const char *params [] = { as_of, ctx->user };
    int changes = 0;
    int failed;

    //  Recoveries first: they allocate cash a settlement may count.
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT r.writeoff_id, p.reference, r.amount_minor "
        "FROM recoup_writeoffs_recover ($1::date, $2) r "
        "JOIN payments p ON p.id = r.payment_id", 2, params);
    if (!res)
        return -1;
    for (int row = 0; row < PQntuples (res); row++) {
        const char *customer_id;
        Recoup__WriteOff *w = s_writeoff_load (ctx, PQgetvalue (res, row, 0),
                                               &customer_id, &failed);
        if (!w) {
            PQclear (res);
            return -1;
        }
        w->payment = cmd_value (ctx, res, row, 1);
        w->recovery_minor = cmd_value_int (res, row, 2);
        cmd_emit (ctx, "writeoff.recovered", RECOUP__EVENT__BODY_WRITEOFF, w);
        s_touch (ctx, touched, customer_id);
        changes++;
    }
    PQclear (res);

    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT settlement_id, change FROM "
                   "recoup_settlements_evaluate ($1::date, $2)", 2, params);
    if (!res)
        return -1;
    for (int row = 0; row < PQntuples (res); row++) {
        const char *customer_id;
        Recoup__Settlement *s = s_settlement_load (
            ctx, strtoull (PQgetvalue (res, row, 0), NULL, 10), &customer_id, &failed);
        if (!s) {
            PQclear (res);
            return -1;
        }
        int completed = strcmp (PQgetvalue (res, row, 1), "completed") == 0;
        cmd_emit (ctx, completed ? "settlement.completed" : "settlement.expired",
                  RECOUP__EVENT__BODY_SETTLEMENT, s);
        if (completed)
            s_touch (ctx, touched, customer_id);
        changes++;
    }
    PQclear (res);

    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT a.referral_id, v.reference, v.received, v.gross_minor,"
        " v.fee_minor, v.net_minor, v.currency "
        "FROM recoup_agency_evaluate ($1::date) a "
        "JOIN agency_recoveries v ON v.referral_id = a.referral_id"
        " AND v.payment_id = a.payment_id ORDER BY a.referral_id, v.received",
        1, params);
    if (!res)
        return -1;
    for (int row = 0; row < PQntuples (res); row++) {
        Recoup__AgencyReferral *r = s_referral_load (ctx, PQgetvalue (res, row, 0),
                                                     &failed);
        if (!r) {
            PQclear (res);
            return -1;
        }
        Recoup__AgencyRecovery *recovery = CMD_NEW (ctx, Recoup__AgencyRecovery,
                                                    recoup__agency_recovery__init);
        recovery->payment = cmd_value (ctx, res, row, 1);
        recovery->received = cmd_value (ctx, res, row, 2);
        recovery->gross_minor = cmd_value_int (res, row, 3);
        recovery->fee_minor = cmd_value_int (res, row, 4);
        recovery->net_minor = cmd_value_int (res, row, 5);
        recovery->currency = cmd_value (ctx, res, row, 6);
        r->recovery = recovery;
        cmd_emit (ctx, "agency.recovered", RECOUP__EVENT__BODY_AGENCY, r);
        changes++;
    }
    PQclear (res);
    return changes;
}

int
resolution_evaluate (cmdctx_t *ctx, const char *as_of)
{
    if (!ctx->writer)
        return -1;
    s_touched_t touched = { "" };
    int changes = s_evaluate (ctx, as_of, &touched);
    if (changes < 0 || s_touched_emit (ctx, &touched) != 0)
        return -1;
    return changes;
}

//  What every settlement, agency and write-off command does last: brings
//  everything up to date as of the business date and emits
//  account.changed for `customer_id` (when not NULL: the command's own
//  ledger effect) and whatever the evaluation touched. 0 or -1.
static int
s_finish (cmdctx_t *ctx, const char *customer_id)
{
    s_touched_t touched = { "" };
    if (customer_id)
        s_touch (ctx, &touched, customer_id);
    if (s_evaluate (ctx, cmd_date_text (ctx, cmd_today ()), &touched) < 0)
        return -1;
    return s_touched_emit (ctx, &touched);
}

int
resolution_credit_alert (cmdctx_t *ctx, const char *customer_id, const char *invoice,
                         accounts_touched_t *touched)
{
    if (!ctx->writer)
        return -1;
    const char *params [] = { customer_id, cmd_date_text (ctx, cmd_today ()) };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT c.ref, o.limit_minor, o.open_minor, o.currency, "
        " coalesce (s.on_hold, false), coalesce (s.hold_reason, ''), "
        " coalesce (s.cash_only, false) "
        "FROM customers c LEFT JOIN recoup_credit_over_limit ($1::bigint, $2::date) o "
        "ON true LEFT JOIN account_state s ON s.customer_id = c.id "
        "WHERE c.id = $1::bigint", 2, params);
    if (!res)
        return -1;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return -1;
    }
    int over = !PQgetisnull (res, 0, 1);
    int on_hold = PQgetvalue (res, 0, 4) [0] == 't';
    int cash_only = PQgetvalue (res, 0, 6) [0] == 't';
    const char *ref = cmd_value (ctx, res, 0, 0);
    const char *text = "";
    if (over) {
        Recoup__CreditRecord *record = CMD_NEW (ctx, Recoup__CreditRecord,
                                                recoup__credit_record__init);
        record->customer = (char *) ref;
        record->kind = "limit_exceeded";
        record->limit_minor = cmd_value_int (res, 0, 1);
        record->open_minor = cmd_value_int (res, 0, 2);
        record->currency = cmd_value (ctx, res, 0, 3);
        record->on_date = (char *) params [1];
        record->note = (char *) invoice;
        cmd_emit (ctx, "credit.limit_exceeded", RECOUP__EVENT__BODY_CREDIT_RECORD,
                  record);
        cmd_money_t open = cmd_money (record->open_minor, record->currency);
        cmd_money_t limit = cmd_money (record->limit_minor, record->currency);
        text = arena_printf (ctx->arena, "invoice %s takes the account over its credit "
                             "limit: %s open, limit %s", invoice, open.text, limit.text);
    }
    if (on_hold || cash_only) {
        const char *state = on_hold && cash_only
            ? arena_printf (ctx->arena, "on credit hold (%s) and cash only",
                            PQgetvalue (res, 0, 5))
            : on_hold ? arena_printf (ctx->arena, "on credit hold (%s)",
                                      PQgetvalue (res, 0, 5))
            : "cash only";
        Recoup__CreditRecord *record = CMD_NEW (ctx, Recoup__CreditRecord,
                                                recoup__credit_record__init);
        record->customer = (char *) ref;
        record->kind = "invoice_on_hold";
        record->on_date = (char *) params [1];
        record->note = arena_printf (ctx->arena, "invoice %s issued while the account "
                                     "is %s", invoice, state);
        cmd_emit (ctx, "credit.invoice_on_hold", RECOUP__EVENT__BODY_CREDIT_RECORD,
                  record);
        text = arena_printf (ctx->arena, "%s%s%s: new orders only against payment",
                             text, *text ? "; " : "", record->note);
    }
    PQclear (res);
    if (!*text)
        return 0;
    if (flags_raise_touching (ctx, strtoll (customer_id, NULL, 10), "credit", invoice,
                              text, NULL, touched) != 0)
        return -1;
    return 1;
}

// ---------------------------------------------------------------- settlement

static int
s_settlement_reply (cmdctx_t *ctx, Recoup__Reply *reply, uint64_t id, int approve)
{
    int failed;
    Recoup__Settlement *s = s_settlement_load (ctx, id, NULL, &failed);
    if (!s)
        return -1;
    Recoup__SettlementReply *result = CMD_NEW (ctx, Recoup__SettlementReply,
                                               recoup__settlement_reply__init);
    result->settlement = s;
    result->seq = cmd_peek_seq (ctx) - 1;
    if (approve) {
        reply->result_case = RECOUP__REPLY__RESULT_SETTLEMENT_APPROVE;
        reply->settlement_approve = result;
    }
    else {
        reply->result_case = RECOUP__REPLY__RESULT_SETTLEMENT_OFFER;
        reply->settlement_offer = result;
    }
    return 0;
}

//  The invoices of an offer: the named ones (each the customer's, in the
//  offer's currency, open, named once), or every open invoice of the
//  customer in that currency; none may be in another open settlement.
//  Sets *ids to a PostgreSQL array literal and *balance to their total
//  balance. Returns 1, 0 with the error in reply, or -1.
static int
s_offer_invoices (cmdctx_t *ctx, Recoup__Reply *reply,
                  const Recoup__SettlementOfferRequest *offer,
                  const char *customer_id, const char *currency,
                  const char **ids, int64_t *balance)
{
    *ids = "";
    *balance = 0;
    if (offer->n_invoices > INVOICES_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "settlement_offer.invoices", "an offer names at most "
                          "%d invoices (got %zu)", INVOICES_MAX, offer->n_invoices);
    for (size_t i = 0; i < offer->n_invoices; i++) {
        const char *number = offer->invoices [i];
        const char *field = arena_printf (ctx->arena, "settlement_offer.invoices[%zu]", i);
        if (!cmd_text (ctx, reply, field, number, 1, REF_MAX, 0))
            return 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp (offer->invoices [j], number) == 0)
                return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                                  field, "invoice %s is named twice", number);
        PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
            "SELECT i.id, i.customer_id, i.currency, recoup_invoice_balance (i.id) "
            "FROM invoices i WHERE i.number = $1", 1, &number);
        if (!res)
            return -1;
        int rc = 1;
        if (PQntuples (res) == 0)
            rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, field,
                            "there is no invoice %s", number);
        else if (strcmp (PQgetvalue (res, 0, 1), customer_id) != 0)
            rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                            "invoice %s belongs to another customer", number);
        else if (strcmp (PQgetvalue (res, 0, 2), currency) != 0)
            rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                            "invoice %s is in %s and the offer in %s: an offer "
                            "settles invoices of one currency", number,
                            PQgetvalue (res, 0, 2), currency);
        else if (cmd_value_int (res, 0, 3) <= 0)
            rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT, field,
                            "invoice %s is paid: nothing to settle", number);
        else {
            *ids = *(*ids) ? arena_printf (ctx->arena, "%s,%s", *ids, PQgetvalue (res, 0, 0))
                           : cmd_value (ctx, res, 0, 0);
            *balance += cmd_value_int (res, 0, 3);
        }
        PQclear (res);
        if (rc != 1)
            return rc;
    }
    if (offer->n_invoices == 0) {
        const char *params [] = { customer_id, currency, cmd_date_text (ctx, cmd_today ()) };
        PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
            "SELECT coalesce (string_agg (i.id::text, ',' ORDER BY i.id), ''),"
            " coalesce (sum (recoup_invoice_balance (i.id)), 0)::bigint "
            "FROM invoices i WHERE i.customer_id = $1::bigint AND i.currency = $2"
            " AND i.issued <= $3::date AND recoup_invoice_balance (i.id) > 0",
            3, params);
        if (!res)
            return -1;
        *ids = cmd_value (ctx, res, 0, 0);
        *balance = cmd_value_int (res, 0, 1);
        PQclear (res);
        if (!**ids)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                              "settlement_offer.customer", "customer %s has no "
                              "open invoices in %s: nothing to settle",
                              offer->customer, currency);
    }
    *ids = arena_printf (ctx->arena, "{%s}", *ids);
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT s.id, i.number FROM settlement_invoices si "
        "JOIN settlements s ON s.id = si.settlement_id "
        "JOIN invoices i ON i.id = si.invoice_id "
        "WHERE si.invoice_id = ANY ($1::bigint[])"
        " AND s.status IN ('pending_approval', 'approved') ORDER BY s.id LIMIT 1",
        1, ids);
    if (!res)
        return -1;
    int rc = 1;
    if (PQntuples (res) == 1)
        rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                        offer->n_invoices ? "settlement_offer.invoices"
                                          : "settlement_offer.customer",
                        "invoice %s is already in settlement %s, still open: "
                        "let it complete or expire first", PQgetvalue (res, 0, 1),
                        PQgetvalue (res, 0, 0));
    PQclear (res);
    return rc;
}

//  settlement_offer: approved at once at or above the newest policy's
//  settlement.floor_percent of the balance, else pending a manager.
//  Emits settlement.offered, then what the evaluation finds.
int
cmd_settlement_offer (cmdctx_t *ctx, const Recoup__Request *request,
                      Recoup__Reply *reply)
{
    const Recoup__SettlementOfferRequest *offer = request->settlement_offer;
    const char *customer_id, *customer_currency;
    int rc = s_customer (ctx, reply, "settlement_offer.customer", offer->customer,
                         &customer_id, &customer_currency);
    if (rc != 1)
        return rc;
    const char *currency = *offer->currency ? offer->currency : customer_currency;
    if (money_currency_exponent (currency) < 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "settlement_offer.currency", "'%.16s' is not an ISO 4217 "
                          "currency code (e.g. USD, EUR, JPY)", currency);
    if (offer->amount_minor <= 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "settlement_offer.amount_minor", "amount_minor must be "
                          "above zero (got %" PRId64 ")", offer->amount_minor);
    int32_t today = cmd_today (), expires;
    if (!cmd_date (ctx, reply, "settlement_offer.expires", offer->expires,
                 today + EXPIRY_DAYS, &expires))
        return 0;
    if (expires < today)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "settlement_offer.expires", "the offer would expire on "
                          "%s, before today (%s)", cmd_date_text (ctx, expires),
                          cmd_date_text (ctx, today));
    if (!cmd_text (ctx, reply, "settlement_offer.note", offer->note, 0, TEXT_MAX, 1))
        return 0;
    const char *ids;
    int64_t balance;
    rc = s_offer_invoices (ctx, reply, offer, customer_id, currency, &ids, &balance);
    if (rc != 1)
        return rc;
    if (offer->amount_minor >= balance) {
        cmd_money_t asked = cmd_money (offer->amount_minor, currency);
        cmd_money_t open = cmd_money (balance, currency);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "settlement_offer.amount_minor", "a settlement of %s is "
                          "not less than the balance of %s: a settlement is for "
                          "less than what is owed", asked.text, open.text);
    }

    //  The newest policy's floor; a missing or odd value is the default.
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT version, CASE WHEN jsonb_typeof (params->'settlement'->'floor_percent')"
        " = 'number' THEN (params->'settlement'->>'floor_percent')::numeric END "
        "FROM policy_versions ORDER BY version DESC LIMIT 1", 0, NULL);
    if (!res)
        return -1;
    const char *version = "0";
    long floor_percent = FLOOR_DEFAULT;
    if (PQntuples (res) == 1) {
        version = cmd_value (ctx, res, 0, 0);
        if (!PQgetisnull (res, 0, 1)) {
            long value = strtol (PQgetvalue (res, 0, 1), NULL, 10);
            if (value >= 0 && value <= 100)
                floor_percent = value;
        }
    }
    PQclear (res);

    const char *params [] = {
        customer_id, currency, cmd_int (ctx, balance), cmd_int (ctx, offer->amount_minor),
        cmd_date_text (ctx, today), cmd_date_text (ctx, expires),
        cmd_int (ctx, floor_percent), version, offer->note, ctx->user, ids
    };
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "WITH s AS (INSERT INTO settlements (customer_id, currency, balance_minor,"
        " amount_minor, offered_on, expires, floor_percent, policy_version, status,"
        " note, offered_by, approved_by, approved_on) "
        "SELECT $1::bigint, $2, $3::bigint, $4::bigint, $5::date, $6::date, $7::int,"
        " $8::int, a.status, $9, $10, CASE a.status WHEN 'approved' THEN $10 ELSE '' END,"
        " CASE a.status WHEN 'approved' THEN $5::date END "
        "FROM (SELECT CASE WHEN $4::numeric * 100 >= $7::numeric * $3::numeric"
        "  THEN 'approved' ELSE 'pending_approval' END AS status) a RETURNING id), "
        "si AS (INSERT INTO settlement_invoices (settlement_id, invoice_id)"
        " SELECT s.id, unnest ($11::bigint[]) FROM s) "
        "SELECT id FROM s", 11, params);
    if (!res)
        return -1;
    uint64_t id = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    int failed;
    Recoup__Settlement *s = s_settlement_load (ctx, id, NULL, &failed);
    if (!s)
        return -1;
    cmd_emit (ctx, "settlement.offered", RECOUP__EVENT__BODY_SETTLEMENT, s);
    if (s_finish (ctx, NULL) != 0)
        return -1;
    return s_settlement_reply (ctx, reply, id, 0);
}

//  settlement_approve (managers): a pending offer, not yet expired.
//  Emits settlement.approved, then what the evaluation finds (the offer
//  may be covered already).
int
cmd_settlement_approve (cmdctx_t *ctx, const Recoup__Request *request,
                        Recoup__Reply *reply)
{
    uint64_t id = request->settlement_approve->id;
    if (id == 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "settlement_approve.id", "id is required (the "
                          "settlement's number)");
    int failed;
    Recoup__Settlement *s = s_settlement_load (ctx, id, NULL, &failed);
    if (!s)
        return failed ? -1
            : cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                         "settlement_approve.id", "there is no settlement %" PRIu64, id);
    const char *today = cmd_date_text (ctx, cmd_today ());
    if (strcmp (s->status, "pending_approval") != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "settlement_approve.id", "settlement %" PRIu64 " is %s, "
                          "not pending approval", id, s->status);
    if (strcmp (today, s->expires) > 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "settlement_approve.id", "settlement %" PRIu64 " expired "
                          "on %s: make a new offer", id, s->expires);
    const char *params [] = { cmd_int (ctx, (int64_t) id), ctx->user, today };
    PGresult *res = db_exec (ctx->db, PGRES_COMMAND_OK,
        "UPDATE settlements SET status = 'approved', approved_by = $2,"
        " approved_on = $3::date WHERE id = $1::bigint AND status = 'pending_approval'",
        3, params);
    if (!res)
        return -1;
    PQclear (res);
    s->status = "approved";
    s->approved_by = arena_strdup (ctx->arena, ctx->user);
    cmd_emit (ctx, "settlement.approved", RECOUP__EVENT__BODY_SETTLEMENT, s);
    if (s_finish (ctx, NULL) != 0)
        return -1;
    return s_settlement_reply (ctx, reply, id, 1);
}

// ---------------------------------------------------------------- agency

//  agency_refer (managers): every open invoice of the customer not at an
//  agency already goes to this one. Emits agency.referred.
int
cmd_agency_refer (cmdctx_t *ctx, const Recoup__Request *request,
                  Recoup__Reply *reply)
{
    const Recoup__AgencyReferRequest *refer = request->agency_refer;
    const char *customer_id;
    int rc = s_customer (ctx, reply, "agency_refer.customer", refer->customer,
                         &customer_id, NULL);
    if (rc != 1)
        return rc;
    if (!cmd_text (ctx, reply, "agency_refer.agency", refer->agency, 1,
                 NAME_MAX_CHARS, 0))
        return 0;
    if (refer->fee_bp > 10000)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "agency_refer.fee_bp", "the fee must be 0 to 100%% "
                          "(0 to 10000 basis points; got %" PRIu32 ")", refer->fee_bp);
    if (!cmd_text (ctx, reply, "agency_refer.note", refer->note, 0, TEXT_MAX, 1))
        return 0;
    const char *today = cmd_date_text (ctx, cmd_today ());
    const char *params [] = {
        customer_id, refer->agency, cmd_int (ctx, refer->fee_bp), refer->note, today,
        ctx->user
    };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "WITH open AS (SELECT i.id FROM invoices i WHERE i.customer_id = $1::bigint"
        "  AND i.issued <= $5::date AND recoup_invoice_balance (i.id) > 0"
        "  AND NOT EXISTS (SELECT 1 FROM agency_invoices a WHERE a.invoice_id = i.id)), "
        "r AS (INSERT INTO agency_referrals (customer_id, agency, fee_bp, note,"
        "  referred_on, referred_by)"
        "  SELECT $1::bigint, $2, $3::int, $4, $5::date, $6"
        "  WHERE EXISTS (SELECT 1 FROM open) RETURNING id), "
        "ai AS (INSERT INTO agency_invoices (invoice_id, referral_id)"
        "  SELECT open.id, r.id FROM open, r) "
        "SELECT id FROM r", 6, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "agency_refer.customer", "customer %s has no open "
                          "invoices that are not at an agency already: nothing "
                          "to refer", refer->customer);
    }
    const char *id = cmd_value (ctx, res, 0, 0);
    PQclear (res);
    int failed;
    Recoup__AgencyReferral *r = s_referral_load (ctx, id, &failed);
    if (!r)
        return -1;
    cmd_emit (ctx, "agency.referred", RECOUP__EVENT__BODY_AGENCY, r);
    if (s_finish (ctx, NULL) != 0)
        return -1;
    Recoup__AgencyReply *result = CMD_NEW (ctx, Recoup__AgencyReply,
                                           recoup__agency_reply__init);
    result->referral = r;
    result->seq = cmd_peek_seq (ctx) - 1;
    reply->result_case = RECOUP__REPLY__RESULT_AGENCY_REFER;
    reply->agency_refer = result;
    return 0;
}

// ---------------------------------------------------------------- write-off

static int
s_writeoff_reply (cmdctx_t *ctx, Recoup__Reply *reply, const char *id, int approve)
{
    int failed;
    Recoup__WriteOff *w = s_writeoff_load (ctx, id, NULL, &failed);
    if (!w)
        return -1;
    Recoup__WriteOffReply *result = CMD_NEW (ctx, Recoup__WriteOffReply,
                                             recoup__write_off_reply__init);
    result->writeoff = w;
    result->seq = cmd_peek_seq (ctx) - 1;
    if (approve) {
        reply->result_case = RECOUP__REPLY__RESULT_WRITEOFF_APPROVE;
        reply->writeoff_approve = result;
    }
    else {
        reply->result_case = RECOUP__REPLY__RESULT_WRITEOFF_REQUEST;
        reply->writeoff_request = result;
    }
    return 0;
}

//  writeoff_request: an open invoice, one open request at a time, with
//  the reason. Emits writeoff.requested.
int
cmd_writeoff_request (cmdctx_t *ctx, const Recoup__Request *request,
                      Recoup__Reply *reply)
{
    const Recoup__WriteOffRequest *req = request->writeoff_request;
    if (!cmd_text (ctx, reply, "writeoff_request.invoice", req->invoice, 1, REF_MAX, 0)
        || !cmd_text (ctx, reply, "writeoff_request.reason", req->reason, 1, TEXT_MAX, 1))
        return 0;
    const char *number = req->invoice;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT i.id, i.customer_id, recoup_invoice_balance (i.id), i.currency "
        "FROM invoices i WHERE i.number = $1", 1, &number);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "writeoff_request.invoice", "there is no invoice %s", number);
    }
    const char *invoice_id = cmd_value (ctx, res, 0, 0);
    const char *customer_id = cmd_value (ctx, res, 0, 1);
    int64_t balance = cmd_value_int (res, 0, 2);
    PQclear (res);
    if (balance <= 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "writeoff_request.invoice", "invoice %s is paid: "
                          "nothing to write off", number);
    const char *params [] = {
        invoice_id, customer_id, req->reason, ctx->user, cmd_date_text (ctx, cmd_today ())
    };
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "INSERT INTO writeoffs (invoice_id, customer_id, reason, status,"
        " requested_by, requested_on) VALUES ($1, $2, $3, 'requested', $4, $5) "
        "ON CONFLICT (invoice_id) WHERE status = 'requested' DO NOTHING RETURNING id",
        5, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        res = db_exec (ctx->db, PGRES_TUPLES_OK,
                       "SELECT id, requested_by FROM writeoffs "
                       "WHERE invoice_id = $1 AND status = 'requested'", 1, params);
        if (!res)
            return -1;
        if (PQntuples (res) != 1) {
            PQclear (res);
            return -1;
        }
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT, "writeoff_request.invoice",
                   "invoice %s already has write-off request %s (by %s), waiting "
                   "for a manager", number, PQgetvalue (res, 0, 0),
                   PQgetvalue (res, 0, 1));
        PQclear (res);
        return 0;
    }
    const char *id = cmd_value (ctx, res, 0, 0);
    PQclear (res);
    int failed;
    Recoup__WriteOff *w = s_writeoff_load (ctx, id, NULL, &failed);
    if (!w)
        return -1;
    cmd_emit (ctx, "writeoff.requested", RECOUP__EVENT__BODY_WRITEOFF, w);
    if (s_finish (ctx, NULL) != 0)
        return -1;
    return s_writeoff_reply (ctx, reply, id, 0);
}

//  writeoff_approve (managers): the invoice's balance, as much as it can
//  lose on the business date, becomes a write_off entry dated then.
//  Emits writeoff.approved, account.changed.
int
cmd_writeoff_approve (cmdctx_t *ctx, const Recoup__Request *request,
                      Recoup__Reply *reply)
{
    uint64_t number = request->writeoff_approve->id;
    if (number == 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "writeoff_approve.id", "id is required (the write-off "
                          "request's number)");
    const char *id = arena_printf (ctx->arena, "%" PRIu64, number);
    int failed;
    const char *customer_id;
    Recoup__WriteOff *w = s_writeoff_load (ctx, id, &customer_id, &failed);
    if (!w)
        return failed ? -1
            : cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                         "writeoff_approve.id", "there is no write-off request %s", id);
    if (strcmp (w->status, "requested") != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "writeoff_approve.id", "write-off %s was approved "
                          "already (by %s on %s)", id, w->approved_by, w->approved_on);
    const char *today = cmd_date_text (ctx, cmd_today ());
    const char *params [] = { id, today, ctx->user };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "WITH a AS (SELECT w.id, w.invoice_id, w.customer_id, i.currency, w.reason,"
        "  recoup_invoice_available (w.invoice_id, $2::date) AS amount"
        "  FROM writeoffs w JOIN invoices i ON i.id = w.invoice_id"
        "  WHERE w.id = $1::bigint AND i.issued <= $2::date) "
        "INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor,"
        " currency, memo, actor) "
        "SELECT a.invoice_id, a.customer_id, 'write_off', $2::date, -a.amount,"
        " a.currency, left (format ('write-off %s: %s', a.id, a.reason), 1000), $3 "
        "FROM a WHERE a.amount > 0 RETURNING id, -amount_minor", 3, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "writeoff_approve.id", "invoice %s has nothing left to "
                          "write off on %s (paid or credited since the request)",
                          w->invoice, today);
    }
    const char *entry_id = cmd_value (ctx, res, 0, 0);
    const char *amount = cmd_value (ctx, res, 0, 1);
    PQclear (res);
    const char *update [] = { id, today, ctx->user, amount, entry_id };
    res = db_exec (ctx->db, PGRES_COMMAND_OK,
        "UPDATE writeoffs SET status = 'approved', approved_on = $2::date,"
        " approved_by = $3, amount_minor = $4::bigint, entry_id = $5::bigint "
        "WHERE id = $1::bigint", 5, update);
    if (!res)
        return -1;
    PQclear (res);
    Recoup__WriteOff *approved = s_writeoff_load (ctx, id, NULL, &failed);
    if (!approved)
        return -1;
    cmd_emit (ctx, "writeoff.approved", RECOUP__EVENT__BODY_WRITEOFF, approved);
    if (s_finish (ctx, customer_id) != 0)
        return -1;
    return s_writeoff_reply (ctx, reply, id, 1);
}

// ---------------------------------------------------------------- credit

//  A credit record's date: "" is the business date; not in the future.
static int
s_record_date (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
               const char *text, const char **date)
{
    int32_t today = cmd_today (), days;
    if (!cmd_date (ctx, reply, field, text, today, &days))
        return 0;
    if (days > today)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                          "%s is after today (%s): record what happened",
                          cmd_date_text (ctx, days), cmd_date_text (ctx, today));
    *date = cmd_date_text (ctx, days);
    return 1;
}

static int
s_record_reply (cmdctx_t *ctx, Recoup__Reply *reply, Recoup__CreditRecord *record,
                const char *kind, Recoup__Reply__ResultCase which)
{
    cmd_emit (ctx, kind, RECOUP__EVENT__BODY_CREDIT_RECORD, record);
    Recoup__CreditRecordReply *result = CMD_NEW (ctx, Recoup__CreditRecordReply,
                                                 recoup__credit_record_reply__init);
    result->record = record;
    result->seq = cmd_peek_seq (ctx) - 1;
    reply->result_case = which;
    if (which == RECOUP__REPLY__RESULT_CREDIT_CHECK_ADD)
        reply->credit_check_add = result;
    else
        reply->credit_reference_add = result;
    return 0;
}

//  credit_check_add: a bureau's check of a customer. Emits credit.checked.
int
cmd_credit_check_add (cmdctx_t *ctx, const Recoup__Request *request,
                      Recoup__Reply *reply)
{
    const Recoup__CreditCheckAddRequest *check = request->credit_check_add;
    const char *customer_id;
    int rc = s_customer (ctx, reply, "credit_check_add.customer", check->customer,
                         &customer_id, NULL);
    if (rc != 1)
        return rc;
    if (!cmd_text (ctx, reply, "credit_check_add.bureau", check->bureau, 1,
                 NAME_MAX_CHARS, 0))
        return 0;
    if (check->score < 0 || check->score > SCORE_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "credit_check_add.score", "score must be 0 to %d (got "
                          "%" PRId32 ")", SCORE_MAX, check->score);
    if (check->cost_minor < 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "credit_check_add.cost_minor", "cost must be zero or "
                          "more (got %" PRId64 ")", check->cost_minor);
    char base [4];
    if (ledger_base_currency (ctx->db, base) != 0)
        return -1;
    const char *currency = *check->currency ? check->currency : base;
    if (money_currency_exponent (currency) < 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "credit_check_add.currency", "'%.16s' is not an ISO 4217 "
                          "currency code (e.g. USD, EUR, JPY)", currency);
    const char *date;
    if (!s_record_date (ctx, reply, "credit_check_add.on_date", check->on_date, &date)
        || !cmd_text (ctx, reply, "credit_check_add.note", check->note, 0, TEXT_MAX, 1))
        return 0;
    const char *params [] = {
        customer_id, check->bureau, cmd_int (ctx, check->score),
        cmd_int (ctx, check->cost_minor), currency, date, check->note, ctx->user
    };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "INSERT INTO credit_checks (customer_id, bureau, score, cost_minor, currency,"
        " on_date, note, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
        "RETURNING id", 8, params);
    if (!res)
        return -1;
    Recoup__CreditRecord *record = CMD_NEW (ctx, Recoup__CreditRecord,
                                            recoup__credit_record__init);
    record->id = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    record->customer = arena_strdup (ctx->arena, check->customer);
    record->kind = "check";
    record->bureau = arena_strdup (ctx->arena, check->bureau);
    record->score = check->score;
    record->cost_minor = check->cost_minor;
    record->currency = arena_strdup (ctx->arena, currency);
    record->on_date = (char *) date;
    record->note = arena_strdup (ctx->arena, check->note);
    record->recorded_by = arena_strdup (ctx->arena, ctx->user);
    return s_record_reply (ctx, reply, record, "credit.checked",
                           RECOUP__REPLY__RESULT_CREDIT_CHECK_ADD);
}

//  credit_reference_add: a trade or bank reference. Emits
//  credit.referenced.
int
cmd_credit_reference_add (cmdctx_t *ctx, const Recoup__Request *request,
                          Recoup__Reply *reply)
{
    const Recoup__CreditReferenceAddRequest *ref = request->credit_reference_add;
    const char *customer_id;
    int rc = s_customer (ctx, reply, "credit_reference_add.customer", ref->customer,
                         &customer_id, NULL);
    if (rc != 1)
        return rc;
    if (strcmp (ref->kind, "trade") != 0 && strcmp (ref->kind, "bank") != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "credit_reference_add.kind", "kind must be trade or "
                          "bank (got '%.32s')", ref->kind);
    const char *date;
    if (!cmd_text (ctx, reply, "credit_reference_add.name", ref->name, 1,
                 NAME_MAX_CHARS, 0)
        || !cmd_text (ctx, reply, "credit_reference_add.result", ref->result, 1,
                    TEXT_MAX, 1)
        || !s_record_date (ctx, reply, "credit_reference_add.on_date", ref->on_date,
                           &date)
        || !cmd_text (ctx, reply, "credit_reference_add.note", ref->note, 0, TEXT_MAX, 1))
        return 0;
    const char *params [] = {
        customer_id, ref->kind, ref->name, ref->result, date, ref->note, ctx->user
    };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "INSERT INTO credit_references (customer_id, kind, name, result, on_date,"
        " note, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        7, params);
    if (!res)
        return -1;
    Recoup__CreditRecord *record = CMD_NEW (ctx, Recoup__CreditRecord,
                                            recoup__credit_record__init);
    record->id = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    record->customer = arena_strdup (ctx->arena, ref->customer);
    record->kind = arena_strdup (ctx->arena, ref->kind);
    record->name = arena_strdup (ctx->arena, ref->name);
    record->result = arena_strdup (ctx->arena, ref->result);
    record->on_date = (char *) date;
    record->note = arena_strdup (ctx->arena, ref->note);
    record->recorded_by = arena_strdup (ctx->arena, ctx->user);
    return s_record_reply (ctx, reply, record, "credit.referenced",
                           RECOUP__REPLY__RESULT_CREDIT_REFERENCE_ADD);
}
