/*  engine: the daily collections engine, the worklist and the outbox.
    See engine.h and PROTOCOL.md (engine_run, worklist, outbox_list).

    A run for business date T runs every date not run yet from a start to
    T, in order, each as if it were that day (engine_runs records the
    dates done). The start is the day after the latest date run before T,
    at most ENGINE_CATCHUP_DAYS days back; when no date before T was ever
    run (a new installation, whose history was imported), T itself: all
    that history's steps reached by T are taken at once, the latest on
    each channel due and the earlier ones recorded as superseded, rather
    than a year of reminders nobody sent.

    For one date D: accounts_evaluate and resolution_evaluate as of D;
    the newest policy version loaded by the end of D (the oldest version
    when none was loaded yet: a database set up after its invoices);
    then each invoice open on D and each policy step. A step falls on its
    anchor (issue or due) + offset, or, for a step with "or N
    unanswered", on the day of the Nth outbound contact since the issue
    with no inbound contact after it, when that is earlier. A step
    reached (on or before D) and not recorded for the invoice is
    recorded once (unique (invoice, step)):

      - skipped, why "paused: ...", when the invoice is not eligible on D
        (an agency referral, a settlement pending, an open dispute, an
        active payment plan, a pending promise, reason dispute/complaint);
      - skipped, why "reason slow|avoiding: ...", for a friendly step;
      - skipped, why "superseded by X", when a later step on the same
        channel is reached on D too (an invoice entered late, say: one
        email, the latest, not three);
      - else due.

    Nothing is derived from what an earlier run did except which steps
    are recorded: a missed day is run later as it would have been, and a
    step passed over is recorded with why, never lost. Catch-up records
    each step on the date it fell on (`due`) and on the run's date
    (`recorded_on`): the worklist of the catching-up day shows them.

    The invoices of one customer at the same step on one date make one
    action: one event (action.due or action.skipped), one message in the
    outbox (email, letter, certified_letter: rendered from the English
    templates by tone), one sales flag (sales_flag: flags_raise), one
    worklist item. credit_hold places the hold and cash-only
    (accounts_hold_by_policy) unless the invoices were paid by the
    business date; review is a manager's. A step the policy charges a
    late fee at adds it to each invoice of a customer whose terms allow
    it, on the day the step falls only, once per invoice and step
    (s_charge_fees). Why dunning is paused is recoup_invoice_pause (SQL),
    shared with the outbox.

    The worklist of date D lists the due actions recorded by the run for
    D, with the contact rules judged at `at` (default 09:00 in the
    customer's zone on D) for the contact channels: blocked_by is the
    rule holding the action back and when it becomes allowed.           */
#include "engine.h"
#include "accounts.h"
#include "contact_rules.h"
#include "flags.h"
#include "ledger.h"
#include "resolution.h"
#include "../common/date.h"
#include "../common/log.h"
#include "../common/money.h"
#include "../common/policy.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  How far back a first run starts at most.
#define ENGINE_CATCHUP_DAYS 366
//  Who the server is when it runs the engine itself.
#define ENGINE_SERVER_USER "recoupd"
//  Default time of day the worklist judges the contact rules at.
#define ENGINE_WORKLIST_TIME "09:00"
#define REF_MAX 64

//  One invoice open on the date being run.
typedef struct {
    const char *id;             //  invoices.id
    const char *number;         //  invoice number
    const char *customer_id;    //  customers.id
    const char *ref;            //  customer ref
    const char *name;           //  customer name
    const char *email;          //  customer email
    const char *address;        //  customer postal address
    const char *collector;      //  "" when none
    const char *sales_rep;      //  "" when none
    int32_t issued;             //  days since 1970
    int32_t due;                //  days since 1970
    int64_t balance;            //  minor units, open on D
    const char *currency;       //  its currency
    const char *pause;          //  "" or why dunning is paused on D
    const char *reason;         //  account reason ("" unknown)
    int on_hold;                //  account on credit hold now
    int late_fees;              //  the customer's terms allow late fees
    const char *recorded;       //  ",step,step," already recorded
    int32_t *unanswered;        //  per s_unanswered_counts entry: the day of
                                //  the Nth unanswered reminder since the
                                //  issue, on or before D (0: none)
} s_invoice_t;

//  The "or N unanswered" counts of a policy, each once: which Nth
//  unanswered reminder s_invoices looks up for every invoice.
typedef struct {
    int n [POLICY_STEPS_MAX];
    size_t count;
} s_unanswered_counts_t;

//  The engine_actions rows of one date, as columns (binary arrays),
//  inserted with one statement at the end of the date.
enum {
    A_INVOICE, A_CUSTOMER, A_STEP, A_CHANNEL, A_TONE, A_ASSIGNEE, A_STATUS, A_WHY,
    A_DUE, A_RECORDED_ON, A_DATE, A_VERSION, A_ACTION, A_OUTBOX, A_COLUMNS
};
typedef struct {
    db_array_t columns [A_COLUMNS];
    int rows;
} s_rows_t;

//  The actions of one customer at one step on one date.
typedef struct {
    const s_invoice_t *first;   //  the first invoice (customer data)
    const policy_step_t *step;  //  the step
    int32_t due;                //  earliest date it fell on
    int skipped;                //  recorded skipped
    const char *why;            //  skipped: why; due: a note or ""
    s_invoice_t **invoices;     //  the invoices (arena)
    int32_t *on;                //  ... the day the step fell on for each
    char *fee_ok;               //  ... whether the step may charge its fee
    int64_t *fees;              //  ... the fee charged by this action (0: none)
    size_t n_invoices;          //  used
} s_group_t;

//  What a run adds up.
typedef struct {
    uint32_t due, skipped, queued;
    int32_t evaluated;
    Recoup__EngineAction **actions;     //  new actions (arena, grows)
    size_t n_actions, cap_actions;
    accounts_touched_t touched;         //  accounts whose collection changed
    s_rows_t *rows;                     //  the date's engine_actions rows
} s_tally_t;

static const char *
s_iso (cmdctx_t *ctx, int32_t days)
{
    char *buf = arena_alloc (ctx->arena, DATE_ISO_LEN + 1);
    date_format_iso (days, buf);
    return buf;
}

static const char *
s_col (cmdctx_t *ctx, PGresult *res, int row, int col)
{
    return arena_strdup (ctx->arena, PQgetvalue (res, row, col));
}

// ---------------------------------------------------------------- policy

//  The policy version in force at the end of `date`, parsed. Returns 1,
//  0 when no version exists, -1 on a failure (database, or a stored
//  text that no longer parses: logged).
static int
s_policy_at (cmdctx_t *ctx, const char *date, policy_t *policy, uint32_t *version)
{
    const char *params [] = { date };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT version, text FROM policy_versions "
        "ORDER BY (loaded_at < ($1::date + 1)::timestamp AT TIME ZONE 'UTC') DESC, "
        " CASE WHEN loaded_at < ($1::date + 1)::timestamp AT TIME ZONE 'UTC' "
        " THEN version ELSE -version END DESC LIMIT 1", 1, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return 0;
    }
    uint32_t found = (uint32_t) strtoul (PQgetvalue (res, 0, 0), NULL, 10);
    if (found == *version) {
        PQclear (res);
        return 1;
    }
    int line;
    char err [POLICY_ERROR_MAX];
    if (policy_parse (PQgetvalue (res, 0, 1), policy, &line, err, sizeof err) != 0) {
        log_error ("stored policy does not parse", "version", PQgetvalue (res, 0, 0),
                   "error", err);
        PQclear (res);
        return -1;
    }
    *version = found;
    PQclear (res);
    return 1;
}

// ---------------------------------------------------------------- messages

static const char *
s_subject (const char *tone, int before_due, const char *what)
{
    (void) what;
    if (!*tone)
        return "Please confirm that our invoice arrived";
    if (strcmp (tone, "friendly") == 0)
        return before_due ? "Friendly reminder: payment due soon"
                          : "Friendly reminder: payment past due";
    if (strcmp (tone, "firm") == 0)
        return "Second notice: payment overdue";
    if (strcmp (tone, "direct") == 0)
        return "Overdue account: payment required now";
    return "Final demand before referral to a collection agency";
}

static const char *
s_opening (const char *tone, int before_due)
{
    if (!*tone)
        return "We sent you the invoices listed below. Please check that they "
               "arrived and are correct, and tell us at once if anything is wrong.";
    if (strcmp (tone, "friendly") == 0)
        return before_due
            ? "This is a friendly reminder that the invoices listed below fall "
              "due soon."
            : "This is a friendly reminder that the invoices listed below are now "
              "past due. If you have already paid, thank you, and please ignore "
              "this message.";
    if (strcmp (tone, "firm") == 0)
        return "The invoices listed below are overdue and we have not received "
               "payment. Please pay them now, or tell us by return when you will.";
    if (strcmp (tone, "direct") == 0)
        return "Your account is seriously overdue. Until the invoices listed below "
               "are paid, your credit is on hold and new orders can be accepted "
               "only against payment.";
    return "This is our final demand. Unless the invoices listed below are paid "
           "within 10 days, we will refer your account to a collection agency "
           "without further notice.";
}

//  Renders the message of a due email or letter group into *subject and
//  *body (arena).
static void
s_render (cmdctx_t *ctx, const s_group_t *group, int32_t date, const policy_t *policy,
          const char **subject, const char **body)
{
    const char *tone = group->step->tone;
    int before_due = 1;
    for (size_t i = 0; i < group->n_invoices; i++)
        if (date >= group->invoices [i]->due)
            before_due = 0;
    *subject = s_subject (tone, before_due, group->step->action);
    if (*policy->company)
        *subject = arena_printf (ctx->arena, "%s: %s", policy->company, *subject);
    char *text = arena_printf (ctx->arena,
        "Dear %s,\n\n%s\n\n"
        "  %-20s %-10s  %18s  %s\n", group->first->name, s_opening (tone, before_due),
        "Invoice", "Due", "Amount due", "Days late");
    for (size_t i = 0; i < group->n_invoices; i++) {
        const s_invoice_t *inv = group->invoices [i];
        char amount [MONEY_TEXT_MAX];
        if (money_format (inv->balance, inv->currency, amount, sizeof amount) != 0)
            snprintf (amount, sizeof amount, "%" PRId64, inv->balance);
        char *with = arena_printf (ctx->arena, "%s %s", amount, inv->currency);
        int late = date - inv->due;
        char *days = late > 0 ? arena_printf (ctx->arena, "%d", late)
                              : arena_strdup (ctx->arena, "not yet due");
        text = arena_printf (ctx->arena, "%s  %-20s %-10s  %18s  %s\n", text,
                             inv->number, s_iso (ctx, inv->due), with, days);
    }
    int fee_lines = 0;
    for (size_t i = 0; i < group->n_invoices; i++) {
        if (!group->fees [i])
            continue;
        const s_invoice_t *inv = group->invoices [i];
        char amount [MONEY_TEXT_MAX];
        if (money_format (group->fees [i], inv->currency, amount, sizeof amount) != 0)
            snprintf (amount, sizeof amount, "%" PRId64, group->fees [i]);
        text = arena_printf (ctx->arena, "%s%sUnder our terms, a late fee of %s %s "
                             "has been added to invoice %s; the amount due above "
                             "includes it.\n", text, fee_lines++ ? "" : "\n", amount,
                             inv->currency, inv->number);
    }
    if (*policy->payment)
        text = arena_printf (ctx->arena, "%s\nHow to pay: %s\n", text, policy->payment);
    *body = arena_printf (ctx->arena,
        "%s\nIf there is a problem with any of these invoices, please reply to "
        "this message so that we can put it right.\n\nYours sincerely,\n%s\n%s%s",
        text, *policy->signature ? policy->signature : "Accounts receivable",
        policy->company, *policy->company ? "\n" : "");
}

// ---------------------------------------------------------------- one date

static void
s_tally_add (cmdctx_t *ctx, s_tally_t *tally, Recoup__EngineAction *action)
{
    if (tally->n_actions == tally->cap_actions) {
        size_t cap = tally->cap_actions ? tally->cap_actions * 2 : 16;
        Recoup__EngineAction **grown = arena_alloc (ctx->arena, cap * sizeof *grown);
        if (tally->n_actions)
            memcpy (grown, tally->actions, tally->n_actions * sizeof *grown);
        tally->actions = grown;
        tally->cap_actions = cap;
    }
    tally->actions [tally->n_actions++] = action;
}

//  The user a step is for: the customer's collector, sales rep, or the
//  first active manager; "" for auto steps or when there is nobody.
static const char *
s_assignee (const policy_step_t *step, const s_invoice_t *inv, const char *manager)
{
    if (strcmp (step->assignee, "collector") == 0)
        return inv->collector;
    if (strcmp (step->assignee, "sales") == 0)
        return inv->sales_rep;
    if (strcmp (step->assignee, "manager") == 0)
        return manager;
    return "";
}

//  Charges the policy's late fee on each invoice of the group that may
//  take it (fee_ok), at most once per invoice and step (the late_fees
//  table's key): a `fee` entry dated the day the step fell on, with its
//  entry.posted event; the invoice's balance and the group's fees grow
//  by it. Returns what was charged or why not, for the action's note
//  ("" when nothing), or NULL on a database failure.
static const char *
s_charge_fees (cmdctx_t *ctx, s_group_t *group, const policy_t *policy,
               uint32_t version)
{
    const char *note = "";
    if (strcmp (policy->late_fee_kind, "none") == 0)
        return note;
    for (size_t i = 0; i < group->n_invoices; i++) {
        s_invoice_t *inv = group->invoices [i];
        if (!group->fee_ok [i])
            continue;
        int64_t amount;
        char err [120];
        if (strcmp (policy->late_fee_kind, "percent") == 0) {
            //  Half up, in minor units; balances are positive here. In 128
            //  bits: a balance near INT64_MAX times 2500 basis points.
            __int128 share = ((__int128) inv->balance * policy->late_fee_bp + 5000) / 10000;
            amount = share > INT64_MAX ? -1 : (int64_t) share;
        }
        else if (policy_late_fee_fixed (policy, inv->currency, &amount, err,
                                        sizeof err) != 0) {
            note = arena_printf (ctx->arena, "%s%slate fee not charged on %s: %s",
                                 note, *note ? "; " : "", inv->number, err);
            continue;
        }
        int64_t after;
        if (amount < 0 || money_add (inv->balance, amount, &after) != 0) {
            note = arena_printf (ctx->arena, "%s%slate fee not charged on %s: the "
                                 "balance would overflow", note, *note ? "; " : "",
                                 inv->number);
            continue;
        }
        if (amount == 0)
            continue;
        const char *params [] = {
            inv->id, inv->customer_id, s_iso (ctx, group->on [i]),
            arena_printf (ctx->arena, "%" PRId64, amount), inv->currency,
            arena_printf (ctx->arena, "late fee: policy version %u, step %s", version,
                          group->step->name),
            group->step->name, arena_printf (ctx->arena, "%u", version)
        };
        PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
            "WITH fee AS (INSERT INTO entries (invoice_id, customer_id, kind, on_date, "
            "  amount_minor, currency, memo, actor) "
            "  SELECT $1::bigint, $2::bigint, 'fee', $3::date, $4::bigint, $5, $6, "
            "  '" ENGINE_SERVER_USER "' WHERE NOT EXISTS (SELECT 1 FROM late_fees "
            "  WHERE invoice_id = $1::bigint AND step = $7) RETURNING id) "
            "INSERT INTO late_fees (invoice_id, step, entry_id, policy_version) "
            "SELECT $1::bigint, $7, id, $8::int FROM fee RETURNING entry_id",
            8, params);
        if (!res)
            return NULL;
        const char *entry_id = PQntuples (res) == 1 ? s_col (ctx, res, 0, 0) : NULL;
        PQclear (res);
        if (!entry_id)
            continue;
        if (!ledger_emit_entry (ctx, entry_id))
            return NULL;
        inv->balance = after;
        group->fees [i] = amount;
        cmd_money_t text = cmd_money (amount, inv->currency);
        note = arena_printf (ctx->arena, "%s%slate fee %s charged on %s", note,
                             *note ? "; " : "", text.text, inv->number);
    }
    return note;
}

static void
s_rows_init (s_rows_t *self)
{
    static const unsigned types [A_COLUMNS] = {
        [A_INVOICE] = DB_OID_INT8, [A_CUSTOMER] = DB_OID_INT8, [A_STEP] = DB_OID_TEXT,
        [A_CHANNEL] = DB_OID_TEXT, [A_TONE] = DB_OID_TEXT, [A_ASSIGNEE] = DB_OID_TEXT,
        [A_STATUS] = DB_OID_TEXT, [A_WHY] = DB_OID_TEXT, [A_DUE] = DB_OID_TEXT,
        [A_RECORDED_ON] = DB_OID_TEXT, [A_DATE] = DB_OID_TEXT, [A_VERSION] = DB_OID_INT8,
        [A_ACTION] = DB_OID_TEXT, [A_OUTBOX] = DB_OID_INT8
    };
    for (int c = 0; c < A_COLUMNS; c++)
        db_array_init (&self->columns [c], types [c]);
    self->rows = 0;
}

static void
s_rows_free (s_rows_t *self)
{
    for (int c = 0; c < A_COLUMNS; c++)
        db_array_free (&self->columns [c]);
}

//  Inserts the date's engine_actions rows in one statement. 0 or -1.
static int
s_rows_insert (cmdctx_t *ctx, s_rows_t *self)
{
    if (self->rows == 0)
        return 0;
    const char *values [A_COLUMNS];
    int lengths [A_COLUMNS], formats [A_COLUMNS];
    for (int c = 0; c < A_COLUMNS; c++) {
        values [c] = db_array_finish (&self->columns [c], &lengths [c]);
        formats [c] = 1;
    }
    db_stmt_t stmt = {
        .sql = "INSERT INTO engine_actions (invoice_id, customer_id, step, channel, "
               "tone, assignee, status, why, due, recorded_on, business_date, "
               "policy_version, action, outbox_id) "
               "SELECT * FROM unnest ($1::int8[], $2::int8[], $3::text[], $4::text[], "
               "$5::text[], $6::text[], $7::text[], $8::text[], $9::text[]::date[], "
               "$10::text[]::date[], $11::text[]::date[], $12::int8[]::int[], "
               "$13::text[], $14::int8[])",
        .nparams = A_COLUMNS, .values = values, .lengths = lengths, .formats = formats
    };
    int rc = db_pipeline (ctx->db, &stmt, 1);
    PQclear (stmt.result);
    return rc;
}

//  Records the group's rows (into tally->rows, inserted at the end of the
//  date), its message, flag and event. 0 or -1.
static int
s_record (cmdctx_t *ctx, s_group_t *group, int32_t date, const char *recorded_on,
          const policy_t *policy, uint32_t version, const char *manager,
          s_tally_t *tally)
{
    const policy_step_t *step = group->step;
    const char *day = s_iso (ctx, date);
    const char *status = group->skipped ? "skipped" : "due";
    const char *assignee = s_assignee (step, group->first, manager);
    const char *version_text = arena_printf (ctx->arena, "%u", version);
    uint64_t outbox_id = 0;
    const char *why = group->why;
    const char *fees = s_charge_fees (ctx, group, policy, version);
    if (!fees)
        return -1;
    if (*fees)
        why = *why ? arena_printf (ctx->arena, "%s; %s", why, fees) : fees;

    //  The invoice numbers as a PostgreSQL array literal (each quoted, with
    //  " and \ escaped: an invoice number may hold them).
    const char *numbers = "{";
    for (size_t i = 0; i < group->n_invoices; i++) {
        const char *number = group->invoices [i]->number;
        char *quoted = arena_alloc (ctx->arena, 2 * strlen (number) + 1), *q = quoted;
        for (const char *p = number; *p; p++) {
            if (*p == '"' || *p == '\\')
                *q++ = '\\';
            *q++ = *p;
        }
        *q = '\0';
        numbers = arena_printf (ctx->arena, "%s%s\"%s\"", numbers, i ? "," : "", quoted);
    }
    numbers = arena_printf (ctx->arena, "%s}", numbers);
    //  ... and for people: "INV-1, INV-2".
    const char *listed = "";
    for (size_t i = 0; i < group->n_invoices; i++)
        listed = arena_printf (ctx->arena, "%s%s%s", listed, i ? ", " : "",
                               group->invoices [i]->number);

    if (!group->skipped && (strcmp (step->channel, "email") == 0
                            || strcmp (step->channel, "letter") == 0
                            || strcmp (step->channel, "certified_letter") == 0)) {
        const char *subject, *body;
        s_render (ctx, group, date, policy, &subject, &body);
        const char *recipient = strcmp (step->channel, "email") == 0
                                ? group->first->email : group->first->address;
        const char *params [] = { group->first->customer_id, step->name, step->channel,
                                  step->tone, numbers, recipient, subject, body, day,
                                  version_text };
        PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
            "INSERT INTO outbox (customer_id, step, channel, tone, invoices, recipient, "
            "subject, body, business_date, policy_version) VALUES ($1::bigint, $2, $3, "
            "$4, $5::text[], $6, $7, $8, $9::date, $10::int) RETURNING id", 10, params);
        if (!res)
            return -1;
        outbox_id = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
        PQclear (res);
        Recoup__OutboxMessage *message = CMD_NEW (ctx, Recoup__OutboxMessage,
                                                  recoup__outbox_message__init);
        message->id = outbox_id;
        message->customer = (char *) group->first->ref;
        message->step = (char *) step->name;
        message->channel = (char *) step->channel;
        message->tone = (char *) step->tone;
        message->n_invoices = group->n_invoices;
        message->invoices = arena_alloc (ctx->arena, (group->n_invoices + 1) * sizeof (char *));
        for (size_t i = 0; i < group->n_invoices; i++)
            message->invoices [i] = (char *) group->invoices [i]->number;
        message->recipient = (char *) recipient;
        message->subject = (char *) subject;
        message->body = (char *) body;
        message->business_date = (char *) day;
        message->policy_version = version;
        cmd_emit (ctx, "outbox.queued", RECOUP__EVENT__BODY_OUTBOX, message);
        tally->queued++;
        if (!*recipient)
            why = strcmp (step->channel, "email") == 0
                  ? "queued, but the customer has no email address"
                  : "queued, but the customer has no postal address";
    }
    else if (!group->skipped && strcmp (step->channel, "sales_flag") == 0) {
        const char *text = arena_printf (ctx->arena, "%s (%s) is late: invoice%s %s; "
                                         "policy step %s: %s", group->first->name,
                                         group->first->ref,
                                         group->n_invoices > 1 ? "s" : "",
                                         listed, step->name, step->action);
        if (flags_raise_touching (ctx, strtoll (group->first->customer_id, NULL, 10),
                                  "late", group->invoices [0]->number, text, NULL,
                                  &tally->touched) != 0)
            return -1;
    }
    else if (!group->skipped && strcmp (step->channel, "credit_hold") == 0) {
        //  Placed now, as the account stands on the business date: not
        //  when a catch-up reaches a step whose invoices were paid since.
        char today [11];
        ledger_business_date (today);
        int open = 1;           //  on the business date itself, by construction
        if (strcmp (today, day) != 0) {
            const char *params [] = { numbers, today };
            PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                "SELECT coalesce (bool_or (recoup_invoice_balance (id, $2::date) > 0), "
                "false) FROM invoices WHERE number = ANY ($1::text[])", 2, params);
            if (!res)
                return -1;
            open = PQgetvalue (res, 0, 0) [0] == 't';
            PQclear (res);
        }
        int placed = 0;
        if (open) {
            const char *reason = arena_printf (ctx->arena, "policy version %u, step %s: "
                                               "invoice%s %s unpaid %d days after due",
                                               version, step->name,
                                               group->n_invoices > 1 ? "s" : "",
                                               listed, step->offset_days);
            placed = accounts_hold_by_policy (ctx, group->first->customer_id, reason,
                                              s_iso (ctx, group->due), &tally->touched);
            if (placed < 0)
                return -1;
        }
        why = !open ? "not placed: the invoices were paid since"
            : placed == 1 ? "credit hold placed, cash only"
            : placed == 2 ? "the account was on credit hold already; cash only now too"
            : "the account is on credit hold and cash only already";
    }

    s_rows_t *rows = tally->rows;
    for (size_t i = 0; i < group->n_invoices; i++) {
        db_array_t *c = rows->columns;
        db_array_add_int8 (&c [A_INVOICE], strtoll (group->invoices [i]->id, NULL, 10));
        db_array_add_int8 (&c [A_CUSTOMER], strtoll (group->first->customer_id, NULL, 10));
        db_array_add_text (&c [A_STEP], step->name);
        db_array_add_text (&c [A_CHANNEL], step->channel);
        db_array_add_text (&c [A_TONE], step->tone);
        db_array_add_text (&c [A_ASSIGNEE], assignee);
        db_array_add_text (&c [A_STATUS], status);
        db_array_add_text (&c [A_WHY], why);
        db_array_add_text (&c [A_DUE], s_iso (ctx, group->due));
        db_array_add_text (&c [A_RECORDED_ON], recorded_on);
        db_array_add_text (&c [A_DATE], day);
        db_array_add_int8 (&c [A_VERSION], version);
        db_array_add_text (&c [A_ACTION], step->action);
        if (outbox_id)
            db_array_add_int8 (&c [A_OUTBOX], (int64_t) outbox_id);
        else
            db_array_add_null (&c [A_OUTBOX]);
        rows->rows++;
    }

    Recoup__EngineAction *action = CMD_NEW (ctx, Recoup__EngineAction,
                                            recoup__engine_action__init);
    action->customer = (char *) group->first->ref;
    action->customer_name = (char *) group->first->name;
    action->n_invoices = group->n_invoices;
    action->invoices = arena_alloc (ctx->arena, (group->n_invoices + 1) * sizeof (char *));
    for (size_t i = 0; i < group->n_invoices; i++)
        action->invoices [i] = (char *) group->invoices [i]->number;
    action->step = (char *) step->name;
    action->channel = (char *) step->channel;
    action->tone = (char *) step->tone;
    action->assignee = (char *) assignee;
    action->due = (char *) s_iso (ctx, group->due);
    action->status = (char *) status;
    action->why = (char *) why;
    action->policy_version = version;
    action->recorded_on = (char *) recorded_on;
    action->action = (char *) step->action;
    action->blocked_by = "";
    action->outbox_id = outbox_id;
    cmd_emit (ctx, group->skipped ? "action.skipped" : "action.due",
              RECOUP__EVENT__BODY_ACTION, action);
    if (group->skipped)
        tally->skipped++;
    else
        tally->due++;
    s_tally_add (ctx, tally, action);
    return 0;
}

//  Loads the invoices open on `day`, with the day of each Nth unanswered
//  reminder of `counts` (an outbound contact since the invoice's issue,
//  on or before `day`, with no inbound contact after it by then). Returns
//  the count or -1.
static int
s_invoices (cmdctx_t *ctx, const char *day, const s_unanswered_counts_t *counts,
            s_invoice_t **out)
{
    const char *ns = "{";
    for (size_t k = 0; k < counts->count; k++)
        ns = arena_printf (ctx->arena, "%s%s%d", ns, k ? "," : "", counts->n [k]);
    ns = arena_printf (ctx->arena, "%s}", ns);
    const char *params [] = { day, ns };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT o.invoice_id, i.number, o.customer_id, c.ref, c.name, c.email, "
        " c.address, coalesce (c.collector, ''), coalesce (c.sales_rep, ''), "
        " o.issued::text, o.due::text, o.balance_minor, o.currency, "
        " CASE WHEN o.customer_id IN (SELECT customer_id "
        "      FROM recoup_pause_candidates ($1::date)) "
        "   THEN recoup_invoice_pause (o.invoice_id, o.customer_id, $1::date) "
        "   ELSE '' END, "
        " coalesce (s.reason, ''), coalesce (s.on_hold, false), c.late_fees, "
        " ',' || coalesce ((SELECT string_agg (a.step, ',') FROM engine_actions a "
        "        WHERE a.invoice_id = o.invoice_id), '') || ',', "
        " ARRAY (SELECT (SELECT ((l.at AT TIME ZONE c.timezone)::date)::text "
        "   FROM contact_log l WHERE l.customer_id = o.customer_id "
        "   AND l.direction = 'out' "
        "   AND (l.at AT TIME ZONE c.timezone)::date BETWEEN o.issued AND $1::date "
        "   AND NOT EXISTS (SELECT 1 FROM contact_log r "
        "     WHERE r.customer_id = l.customer_id AND r.direction = 'in' "
        "     AND r.at > l.at AND (r.at AT TIME ZONE c.timezone)::date <= $1::date) "
        "   ORDER BY l.at, l.id OFFSET x.n - 1 LIMIT 1) "
        "  FROM unnest ($2::int[]) WITH ORDINALITY AS x (n, k) ORDER BY x.k)::text "
        "FROM recoup_open_items ($1::date) o "
        "JOIN invoices i ON i.id = o.invoice_id "
        "JOIN customers c ON c.id = o.customer_id "
        "LEFT JOIN account_state s ON s.customer_id = o.customer_id "
        "ORDER BY c.ref, o.due, i.number", 2, params);
    if (!res)
        return -1;
    int n = PQntuples (res);
    s_invoice_t *invoices = arena_alloc (ctx->arena, (size_t) (n + 1) * sizeof *invoices);
    for (int r = 0; r < n; r++) {
        s_invoice_t *inv = &invoices [r];
        char err [120];
        inv->id = s_col (ctx, res, r, 0);
        inv->number = s_col (ctx, res, r, 1);
        inv->customer_id = s_col (ctx, res, r, 2);
        inv->ref = s_col (ctx, res, r, 3);
        inv->name = s_col (ctx, res, r, 4);
        inv->email = s_col (ctx, res, r, 5);
        inv->address = s_col (ctx, res, r, 6);
        inv->collector = s_col (ctx, res, r, 7);
        inv->sales_rep = s_col (ctx, res, r, 8);
        if (date_parse_iso (PQgetvalue (res, r, 9), &inv->issued, err, sizeof err) != 0
            || date_parse_iso (PQgetvalue (res, r, 10), &inv->due, err, sizeof err) != 0) {
            PQclear (res);
            return -1;
        }
        inv->balance = strtoll (PQgetvalue (res, r, 11), NULL, 10);
        inv->currency = s_col (ctx, res, r, 12);
        inv->pause = s_col (ctx, res, r, 13);
        inv->reason = s_col (ctx, res, r, 14);
        inv->on_hold = PQgetvalue (res, r, 15) [0] == 't';
        inv->late_fees = PQgetvalue (res, r, 16) [0] == 't';
        inv->recorded = s_col (ctx, res, r, 17);
        //  "{2026-01-05,NULL}": one entry per count.
        inv->unanswered = arena_alloc (ctx->arena, (counts->count + 1) * sizeof (int32_t));
        const char *p = PQgetvalue (res, r, 18);
        for (size_t k = 0; k < counts->count; k++) {
            while (*p == '{' || *p == ',')
                p++;
            char item [16];
            size_t len = strcspn (p, ",}");
            snprintf (item, sizeof item, "%.*s", (int) (len < 15 ? len : 15), p);
            p += len;
            int32_t when;
            inv->unanswered [k] = strcmp (item, "NULL") != 0
                && date_parse_iso (item, &when, err, sizeof err) == 0 ? when : 0;
        }
    }
    PQclear (res);
    *out = invoices;
    return n;
}

//  Adds an invoice to the group of (customer, step, status) of this
//  date, making it when new.
static void
s_group_add (cmdctx_t *ctx, s_group_t **groups, size_t *count, size_t *cap,
             s_invoice_t *inv, const policy_step_t *step, int32_t due,
             int skipped, const char *why, int fee_ok)
{
    s_group_t *group = NULL;
    for (size_t i = 0; i < *count && !group; i++) {
        s_group_t *g = &(*groups) [i];
        if (g->step == step && g->skipped == skipped
            && strcmp (g->first->customer_id, inv->customer_id) == 0
            && strcmp (g->why, why) == 0)
            group = g;
    }
    if (!group) {
        if (*count == *cap) {
            size_t grown = *cap ? *cap * 2 : 16;
            s_group_t *more = arena_alloc (ctx->arena, grown * sizeof *more);
            if (*count)
                memcpy (more, *groups, *count * sizeof *more);
            *groups = more;
            *cap = grown;
        }
        group = &(*groups) [(*count)++];
        *group = (s_group_t) { .first = inv, .step = step, .due = due,
                               .skipped = skipped, .why = why };
    }
    //  Invoices of one customer are few: grow one at a time.
    size_t n = group->n_invoices;
    s_invoice_t **more = arena_alloc (ctx->arena, (n + 1) * sizeof *more);
    int32_t *on = arena_alloc (ctx->arena, (n + 1) * sizeof *on);
    char *fee_ok_more = arena_alloc (ctx->arena, n + 1);
    int64_t *fees = arena_alloc (ctx->arena, (n + 1) * sizeof *fees);
    if (n) {
        memcpy (more, group->invoices, n * sizeof *more);
        memcpy (on, group->on, n * sizeof *on);
        memcpy (fee_ok_more, group->fee_ok, n);
        memcpy (fees, group->fees, n * sizeof *fees);
    }
    more [n] = inv;
    on [n] = due;
    fee_ok_more [n] = (char) fee_ok;
    fees [n] = 0;
    group->invoices = more;
    group->on = on;
    group->fee_ok = fee_ok_more;
    group->fees = fees;
    group->n_invoices = n + 1;
    if (due < group->due)
        group->due = due;
}

//  A discount taken after its window is flagged, not granted: an invoice
//  with an early-payment discount whose balance on `day` is exactly that
//  discount, left by a payment received after discount_until, gets one
//  flag for the rep (and the collections lead) to settle with the
//  customer; the remainder stays open and dunned. Returns the number of
//  flags raised, or -1.
static int
s_flag_late_discounts (cmdctx_t *ctx, const char *day, accounts_touched_t *touched)
{
    const char *params [] = { day };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT i.customer_id, i.number, max (p.received)::text, i.discount_until::text, "
        "  i.currency, recoup_invoice_balance (i.id, $1::date) "
        "FROM invoices i JOIN entries e ON e.invoice_id = i.id AND e.kind = 'allocation' "
        "JOIN payments p ON p.id = e.payment_id "
        "WHERE i.discount_bp > 0 AND p.received > i.discount_until "
        "AND p.received <= $1::date "
        "AND recoup_invoice_balance (i.id, $1::date) "
        "    = round (i.amount_minor * i.discount_bp / 10000.0)::bigint "
        "AND NOT EXISTS (SELECT 1 FROM entries d WHERE d.invoice_id = i.id "
        "  AND d.kind = 'discount') "
        "GROUP BY i.id, i.customer_id, i.number, i.discount_until, i.currency", 1, params);
    if (!res)
        return -1;
    int raised_count = 0;
    for (int r = 0; r < PQntuples (res); r++) {
        cmd_money_t left = cmd_money (strtoll (PQgetvalue (res, r, 5), NULL, 10),
                                      PQgetvalue (res, r, 4));
        const char *text = arena_printf (ctx->arena,
            "invoice %s was paid less its early-payment discount on %s, after the "
            "discount window ended on %s: the discount is not granted and %s stays "
            "open; agree it with the customer (a credit note) or collect it",
            PQgetvalue (res, r, 1), PQgetvalue (res, r, 2), PQgetvalue (res, r, 3),
            left.text);
        int raised = 0;
        if (flags_raise_touching (ctx, strtoll (PQgetvalue (res, r, 0), NULL, 10),
                                  "other", PQgetvalue (res, r, 1), text, &raised,
                                  touched) != 0) {
            PQclear (res);
            return -1;
        }
        raised_count += raised;
    }
    PQclear (res);
    return raised_count;
}

//  Runs the engine for one date `date` as part of the run for
//  `recorded_on`. Returns 0 or -1.
static int
s_run_date (cmdctx_t *ctx, int32_t date, const char *recorded_on, const char *user,
            policy_t *policy, uint32_t *version, const char *manager, s_tally_t *tally)
{
    const char *day = s_iso (ctx, date);
    const char *params [] = { day, user, recorded_on };
    PGresult *res = db_exec (ctx->db, PGRES_COMMAND_OK,
        "INSERT INTO engine_runs (business_date, ran_by, as_of) "
        "VALUES ($1::date, $2, $3::date) ON CONFLICT (business_date) DO NOTHING",
        3, params);
    if (!res)
        return -1;
    PQclear (res);
    int changes = accounts_evaluate_touching (ctx, day, &tally->touched);
    if (changes < 0)
        return -1;
    tally->evaluated += changes;
    changes = resolution_evaluate (ctx, day);
    if (changes < 0)
        return -1;
    tally->evaluated += changes;
    int have = s_policy_at (ctx, day, policy, version);
    if (have < 0)
        return -1;
    uint32_t due0 = tally->due, skipped0 = tally->skipped, queued0 = tally->queued;
    if (have) {
        s_unanswered_counts_t counts = { .count = 0 };
        for (size_t s = 0; s < policy->n_steps; s++) {
            int n = policy->steps [s].or_unanswered, known = 0;
            for (size_t k = 0; k < counts.count; k++)
                known |= counts.n [k] == n;
            if (n > 0 && !known)
                counts.n [counts.count++] = n;
        }
        s_invoice_t *invoices;
        int n = s_invoices (ctx, day, &counts, &invoices);
        if (n < 0)
            return -1;
        s_group_t *groups = NULL;
        size_t n_groups = 0, cap_groups = 0;
        for (int k = 0; k < n; k++) {
            s_invoice_t *inv = &invoices [k];
            //  Later steps first, so that an earlier step on a channel a
            //  later one takes over is seen as superseded.
            const char *taken [POLICY_STEPS_MAX];
            const char *taken_by [POLICY_STEPS_MAX];
            size_t n_taken = 0;
            for (size_t s = policy->n_steps; s-- > 0; ) {
                const policy_step_t *step = &policy->steps [s];
                const char *key = arena_printf (ctx->arena, ",%s,", step->name);
                if (strstr (inv->recorded, key))
                    continue;
                int32_t on = (strcmp (step->anchor, "issue") == 0 ? inv->issued : inv->due)
                             + step->offset_days;
                if (step->or_unanswered > 0 && on > date) {
                    int32_t early = 0;
                    for (size_t k = 0; k < counts.count; k++)
                        if (counts.n [k] == step->or_unanswered)
                            early = inv->unanswered [k];
                    if (early && early < on)
                        on = early < inv->issued ? inv->issued : early;
                }
                if (on > date)
                    continue;
                const char *why = "";
                int skipped = 1;
                const char *superseded = NULL;
                for (size_t t = 0; t < n_taken; t++)
                    if (strcmp (taken [t], step->channel) == 0)
                        superseded = taken_by [t];
                if (*inv->pause)
                    why = arena_printf (ctx->arena, "paused: %s", inv->pause);
                else if (superseded)
                    why = arena_printf (ctx->arena, "superseded by %s", superseded);
                else if (strcmp (step->tone, "friendly") == 0
                         && (strcmp (inv->reason, "slow") == 0
                             || strcmp (inv->reason, "avoiding") == 0))
                    why = arena_printf (ctx->arena, "reason %s: friendly steps are "
                                        "skipped", inv->reason);
                else {
                    skipped = 0;
                    if (n_taken < POLICY_STEPS_MAX) {
                        taken [n_taken] = step->channel;
                        taken_by [n_taken++] = step->name;
                    }
                }
                //  A late fee only on the day its step falls, after the due
                //  date, and only with a step taken (a message or a call
                //  goes with it; not paused, not passed over, not skipped
                //  for the reason): no back fees over imported history.
                int fee_ok = step->late_fee && inv->late_fees && on == date
                             && date > inv->due && !skipped;
                s_group_add (ctx, &groups, &n_groups, &cap_groups, inv, step, on,
                             skipped, why, fee_ok);
            }
        }
        //  In the policy's order within each customer: groups were made
        //  from the last step back.
        s_rows_t rows;
        s_rows_init (&rows);
        tally->rows = &rows;
        int rc = 0;
        for (size_t g = 0; g < n_groups && rc == 0; g++) {
            size_t end = g;
            while (end + 1 < n_groups
                   && strcmp (groups [end + 1].first->customer_id,
                              groups [g].first->customer_id) == 0)
                end++;
            for (size_t i = end + 1; i-- > g && rc == 0; )
                rc = s_record (ctx, &groups [i], date, recorded_on, policy, *version,
                               manager, tally);
            g = end;
        }
        if (rc == 0)
            rc = s_rows_insert (ctx, &rows);
        s_rows_free (&rows);
        tally->rows = NULL;
        if (rc != 0)
            return -1;
    }
    int flagged = s_flag_late_discounts (ctx, day, &tally->touched);
    if (flagged < 0)
        return -1;
    tally->evaluated += flagged;
    const char *counts [] = {
        day, arena_printf (ctx->arena, "%u", tally->due - due0),
        arena_printf (ctx->arena, "%u", tally->skipped - skipped0),
        arena_printf (ctx->arena, "%u", tally->queued - queued0)
    };
    res = db_exec (ctx->db, PGRES_COMMAND_OK,
        "UPDATE engine_runs SET due = due + $2::int, skipped = skipped + $3::int, "
        "queued = queued + $4::int "
        "WHERE business_date = $1::date", 4, counts);
    if (!res)
        return -1;
    PQclear (res);
    return 0;
}

// ---------------------------------------------------------------- engine_run

//  engine_run: runs the dates not run yet up to as_of (see the top).
int
cmd_engine_run (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__EngineRunRequest *req = request->engine_run;
    char today [11];
    ledger_business_date (today);
    const char *as_of = *req->as_of ? req->as_of : today;
    int32_t target, business;
    char err [120];
    if (date_parse_iso (as_of, &target, err, sizeof err) != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "engine_run.as_of", "as_of '%.20s': %s", as_of, err);
    if (date_parse_iso (today, &business, err, sizeof err) != 0)
        return -1;
    if (target > business)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "engine_run.as_of", "as_of %s is after the business date %s: "
                          "the engine does not run ahead", as_of, today);
    const char *user = *ctx->user ? ctx->user : ENGINE_SERVER_USER;
    const char *target_text = s_iso (ctx, target);

    //  Where to start: after the latest date run before the target (at
    //  most N days back), or at the target when none was ever run.
    const char *params [] = { target_text,
                              arena_printf (ctx->arena, "%d", ENGINE_CATCHUP_DAYS) };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT greatest (coalesce ((SELECT max (business_date) + 1 FROM engine_runs "
        "  WHERE business_date < $1::date), $1::date), $1::date - $2::int)::text, "
        " (SELECT coalesce (min (name), '') FROM users WHERE role = 'manager' AND active)",
        2, params);
    if (!res)
        return -1;
    int32_t start;
    if (date_parse_iso (PQgetvalue (res, 0, 0), &start, err, sizeof err) != 0) {
        PQclear (res);
        return -1;
    }
    const char *manager = s_col (ctx, res, 0, 1);
    PQclear (res);
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT (business_date - $1::date)::int FROM engine_runs "
        "WHERE business_date BETWEEN $1::date AND $2::date",
        2, (const char *[]) { s_iso (ctx, start), target_text });
    if (!res)
        return -1;
    //  Dates inside the range run already (a first run for a later date
    //  may have left a gap before it).
    size_t span = (size_t) (target - start + 1);
    char *done = arena_alloc (ctx->arena, span + 1);
    memset (done, 0, span + 1);
    for (int r = 0; r < PQntuples (res); r++) {
        int offset = atoi (PQgetvalue (res, r, 0));
        if (offset >= 0 && (size_t) offset < span)
            done [offset] = 1;
    }
    PQclear (res);

    policy_t *policy = arena_alloc (ctx->arena, sizeof *policy);
    uint32_t version = 0;
    s_tally_t tally = { 0 };
    Recoup__EngineRunSummary *summary = CMD_NEW (ctx, Recoup__EngineRunSummary,
                                                 recoup__engine_run_summary__init);
    summary->as_of = (char *) target_text;
    summary->first = "";
    summary->ran_by = (char *) user;
    for (int32_t date = start; date <= target; date++) {
        //  Dates run before are done, except the target itself: running it
        //  again picks up what arrived since (an import, a payment) and
        //  adds nothing else, since an action is recorded once.
        int again = done [date - start];
        if (again && date != target)
            continue;
        uint32_t before = tally.due + tally.skipped + tally.queued + tally.evaluated;
        if (s_run_date (ctx, date, target_text, user, policy, &version, manager,
                        &tally) != 0)
            return -1;
        if (again && tally.due + tally.skipped + tally.queued + tally.evaluated == before)
            continue;               //  nothing new: not a run worth an event
        if (!summary->dates)
            summary->first = (char *) s_iso (ctx, date);
        summary->dates++;
    }
    summary->due = tally.due;
    summary->skipped = tally.skipped;
    summary->queued = tally.queued;
    summary->evaluated = tally.evaluated;

    Recoup__EngineRunReply *result = CMD_NEW (ctx, Recoup__EngineRunReply,
                                              recoup__engine_run_reply__init);
    result->summary = summary;
    result->n_actions = tally.n_actions;
    result->actions = tally.actions;
    const char *touched = accounts_touched_ids (ctx, &tally.touched);
    if (summary->dates || touched) {
        //  Aging, days past due and stage move with the calendar: the
        //  accounts with anything open, those the run acted on and those
        //  whose collection state it changed are published as they stand
        //  on the business date, once per run.
        char today [11];
        ledger_business_date (today);
        if (!touched)
            touched = "{}";
        res = db_exec (ctx->db, PGRES_TUPLES_OK,
            "SELECT '{' || coalesce (string_agg (id::text, ','), '') || '}' FROM "
            "(SELECT customer_id AS id FROM recoup_open_items ($1::date) "
            " UNION SELECT customer_id FROM engine_actions WHERE recorded_on = $2::date "
            " UNION SELECT unnest ($3::bigint[])) x",
            3, (const char *[]) { today, target_text, touched });
        if (!res)
            return -1;
        const char *ids = s_col (ctx, res, 0, 0);
        PQclear (res);
        if (strcmp (ids, "{}") != 0 && ledger_emit_accounts (ctx, ids) != 0)
            return -1;
        if (summary->dates)
            result->seq = cmd_emit (ctx, "engine.ran", RECOUP__EVENT__BODY_ENGINE_RUN,
                                    summary);
    }
    reply->result_case = RECOUP__REPLY__RESULT_ENGINE_RUN;
    reply->engine_run = result;
    return 0;
}

// ---------------------------------------------------------------- worklist

//  Checks "YYYY-MM-DDTHH:MM[:SS[.frac]](Z|+HH:MM|-HH:MM)". 1 or 0.
static int
s_instant_ok (const char *text)
{
    int32_t days;
    char err [120], date [11];
    if (strlen (text) < 17 || strlen (text) > 40)
        return 0;
    memcpy (date, text, 10);
    date [10] = '\0';
    if (date_parse_iso (date, &days, err, sizeof err) != 0 || text [10] != 'T')
        return 0;
    const char *p = text + 11;
    int hh, mm;
    if (sscanf (p, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59
        || p [2] != ':')
        return 0;
    p += 5;
    if (*p == ':') {
        p++;
        if (p [0] < '0' || p [0] > '5' || p [1] < '0' || p [1] > '9')
            return 0;
        p += 2;
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9')
                p++;
        }
    }
    if (strcmp (p, "Z") == 0)
        return 1;
    return (*p == '+' || *p == '-') && strlen (p) == 6 && p [3] == ':'
           && p [1] >= '0' && p [1] <= '2' && p [2] >= '0' && p [2] <= '9'
           && p [4] >= '0' && p [4] <= '5' && p [5] >= '0' && p [5] <= '9';
}

//  Channels the contact rules apply to.
static int
s_contact_channel (const char *channel)
{
    return strcmp (channel, "phone") == 0 || strcmp (channel, "email") == 0
           || strcmp (channel, "letter") == 0
           || strcmp (channel, "certified_letter") == 0;
}

int
cmd_worklist (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__WorklistRequest *req = request->worklist;
    char today [11];
    ledger_business_date (today);
    const char *as_of = *req->as_of ? req->as_of : today;
    int32_t days;
    char err [120];
    if (date_parse_iso (as_of, &days, err, sizeof err) != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "worklist.as_of", "as_of '%.20s': %s", as_of, err);
    if (*req->at && !s_instant_ok (req->at))
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "worklist.at", "at '%.40s': expected an ISO 8601 time with "
                          "its zone, YYYY-MM-DDTHH:MM[:SS](Z|+HH:MM)", req->at);
    if (strlen (req->customer) > REF_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "worklist.customer", "customer: at most %d characters",
                          REF_MAX);
    const char *day = s_iso (ctx, days);
    if (*req->customer) {
        PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                                 "SELECT 1 FROM customers WHERE ref = $1", 1,
                                 (const char *[]) { req->customer });
        if (!res)
            return -1;
        int found = PQntuples (res) == 1;
        PQclear (res);
        if (!found)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                              "worklist.customer", "there is no customer with ref '%s'",
                              req->customer);
    }
    const char *params [] = { day, req->customer, req->at,
                              ENGINE_WORKLIST_TIME };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT c.id, c.ref, c.name, a.step, a.channel, a.tone, a.assignee, "
        " min (a.due)::text, a.why, a.policy_version, a.action, "
        " coalesce (a.outbox_id, 0), "
        " array_to_string (array_agg (i.number ORDER BY i.number), ','), "
        " CASE WHEN $3 = '' THEN (extract (epoch FROM ($1::date + $4::time) "
        "   AT TIME ZONE c.timezone) * 1000000)::bigint "
        "  ELSE (extract (epoch FROM $3::timestamptz) * 1000000)::bigint END "
        "FROM engine_actions a JOIN customers c ON c.id = a.customer_id "
        "JOIN invoices i ON i.id = a.invoice_id "
        "WHERE a.recorded_on = $1::date AND a.status = 'due' "
        "AND ($2 = '' OR c.ref = $2) "
        //  A catch-up records steps of past dates; an invoice paid since
        //  needs nothing done any more.
        "AND recoup_invoice_balance (i.id, $1::date) > 0 "
        //  ... and of the steps a catch-up recorded for an invoice, a later
        //  one on the same channel is what is left to do: one reminder by
        //  email, not the three the days missed would have sent.
        "AND NOT EXISTS (SELECT 1 FROM engine_actions b WHERE b.invoice_id = a.invoice_id "
        "  AND b.channel = a.channel AND b.status = 'due' "
        "  AND b.recorded_on = a.recorded_on AND b.due > a.due) "
        "GROUP BY c.id, c.ref, c.name, a.step, a.channel, a.tone, a.assignee, a.why, "
        " a.policy_version, a.action, a.outbox_id "
        "ORDER BY c.ref, min (a.due), min (a.id)", 4, params);
    if (!res)
        return -1;
    int n = PQntuples (res);
    Recoup__WorklistReply *result = CMD_NEW (ctx, Recoup__WorklistReply,
                                             recoup__worklist_reply__init);
    result->as_of = (char *) day;
    result->n_items = (size_t) n;
    result->items = arena_alloc (ctx->arena, (size_t) (n + 1) * sizeof *result->items);
    //  Copy first: the rule checks run statements of their own.
    const char **ids = arena_alloc (ctx->arena, (size_t) (n + 1) * sizeof *ids);
    int64_t *at = arena_alloc (ctx->arena, (size_t) (n + 1) * sizeof *at);
    for (int r = 0; r < n; r++) {
        Recoup__EngineAction *item = CMD_NEW (ctx, Recoup__EngineAction,
                                              recoup__engine_action__init);
        ids [r] = s_col (ctx, res, r, 0);
        item->customer = (char *) s_col (ctx, res, r, 1);
        item->customer_name = (char *) s_col (ctx, res, r, 2);
        item->step = (char *) s_col (ctx, res, r, 3);
        item->channel = (char *) s_col (ctx, res, r, 4);
        item->tone = (char *) s_col (ctx, res, r, 5);
        item->assignee = (char *) s_col (ctx, res, r, 6);
        item->due = (char *) s_col (ctx, res, r, 7);
        item->status = "due";
        item->why = (char *) s_col (ctx, res, r, 8);
        item->policy_version = (uint32_t) strtoul (PQgetvalue (res, r, 9), NULL, 10);
        item->recorded_on = (char *) day;
        item->action = (char *) s_col (ctx, res, r, 10);
        item->outbox_id = strtoull (PQgetvalue (res, r, 11), NULL, 10);
        char *numbers = (char *) s_col (ctx, res, r, 12);
        size_t count = 1;
        for (char *p = numbers; *p; p++)
            count += *p == ',';
        item->invoices = arena_alloc (ctx->arena, (count + 1) * sizeof (char *));
        item->n_invoices = 0;
        for (char *p = strtok (numbers, ","); p; p = strtok (NULL, ","))
            item->invoices [item->n_invoices++] = p;
        at [r] = strtoll (PQgetvalue (res, r, 13), NULL, 10);
        item->blocked_by = "";
        result->items [r] = item;
    }
    PQclear (res);
    for (int r = 0; r < n; r++) {
        Recoup__EngineAction *item = result->items [r];
        if (!s_contact_channel (item->channel))
            continue;
        char names [128], message [700];
        if (contacts_rules_check (ctx, ids [r], item->channel, at [r], names,
                                  sizeof names, message, sizeof message) != 0)
            return -1;
        if (*names)
            item->blocked_by = arena_strdup (ctx->arena, message);
    }
    reply->result_case = RECOUP__REPLY__RESULT_WORKLIST;
    reply->worklist = result;
    return 0;
}

// ---------------------------------------------------------------- daily

void
engine_daily (db_t *db, writer_t *writer, void *pub)
{
    //  Tests that drive the engine date by date turn the automatic run off.
    const char *off = getenv ("RECOUP_ENGINE_DAILY");
    if (off && strcmp (off, "off") == 0)
        return;
    char today [11];
    ledger_business_date (today);
    const char *params [] = { today };
    PGresult *res = db_exec (db, PGRES_TUPLES_OK,
                             "SELECT 1 FROM engine_runs WHERE business_date = $1::date",
                             1, params);
    if (!res) {
        log_error ("cannot read engine runs", "error", db_error (db));
        return;
    }
    int done = PQntuples (res) == 1;
    PQclear (res);
    if (done)
        return;
    //  Through the writer, like any command (see policy_ensure_default).
    Recoup__EngineRunRequest run = RECOUP__ENGINE_RUN_REQUEST__INIT;
    run.as_of = today;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    char request_id [48], random [33];
    wire_request_id (random);
    snprintf (request_id, sizeof request_id, "engine-daily-%s", random);
    request.protocol_version = PROTOCOL_VERSION;
    request.request_id = request_id;
    request.command_case = RECOUP__REQUEST__COMMAND_ENGINE_RUN;
    request.engine_run = &run;
    size_t len;
    uint8_t *packed = wire_pack (&request.base, &len);
    job_t *job = calloc (1, sizeof *job);
    if (!packed || !job) {
        free (packed);
        free (job);
        return;
    }
    zmq_msg_init (&job->routing);
    job->request = recoup__request__unpack (NULL, len, packed);
    job_hash (job, packed, len);
    free (packed);
    job->command = commands_find (request.command_case);
    job->role = RECOUP__ROLE__ADMIN;
    writer_run (writer, &job, 1);
    writer_publish (writer, pub);
    Recoup__Reply *reply = job->reply
        ? recoup__reply__unpack (NULL, job->reply_len, job->reply) : NULL;
    job_destroy (&job);
    if (reply && reply->result_case == RECOUP__REPLY__RESULT_ENGINE_RUN) {
        const Recoup__EngineRunSummary *s = reply->engine_run->summary;
        char dates [16], due [16], skipped [16];
        snprintf (dates, sizeof dates, "%u", s->dates);
        snprintf (due, sizeof due, "%u", s->due);
        snprintf (skipped, sizeof skipped, "%u", s->skipped);
        log_info ("daily engine ran", "as_of", today, "dates", dates, "due", due,
                  "skipped", skipped);
    }
    else
        log_error ("daily engine run failed", "error",
                   reply && reply->result_case == RECOUP__REPLY__RESULT_ERROR
                   ? reply->error->message : "no reply");
    if (reply)
        recoup__reply__free_unpacked (reply, NULL);
}
