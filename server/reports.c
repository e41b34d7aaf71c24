/*  reports: aging with DSO, best possible DSO, average days delinquent
    and CEI, and customer statements. See reports.h.

    Everything is computed from ledger rows dated on or before the as-of
    date (invoices.issued, entries.on_date), never from a status column,
    so a past month-end gives the same figures after later payments. Each
    report reads one REPEATABLE READ snapshot. Ratios are exact: int128
    arithmetic on integer totals, rounded once to hundredths, half away
    from zero.                                                           */
#include "reports.h"
#include "../common/date.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Aging buckets by days past due: current (<= 0), 1-30, 31-60, 61-90,
//  91-120, over 120. recoup_aging_slice numbers them 0..5 the same way.
#define BUCKETS 6
//  The DSO window and the statement's default period, in days.
#define DSO_DAYS 90
#define STATEMENT_DAYS 90
//  Slices of invoice ids the aging query runs side by side (one per
//  core of the 2-core machines recoup is sized for; PostgreSQL runs
//  them in parallel workers when the ledger is large enough to pay).
#define AGING_SLICES 2

//  Per-currency totals of an aging query.
typedef struct {
    char currency [4];          //  ISO 4217 code
    int64_t count [BUCKETS];    //  open invoices per bucket
    int64_t amount [BUCKETS];   //  their balances
    int64_t open_start;         //  open the day before the month began
    int64_t invoiced_window;    //  issued in the DSO window
    int64_t invoiced_month;     //  issued in the month up to as-of
} s_totals_t;

// ---------------------------------------------------------------- helpers

//  The server's business date: RECOUP_TODAY when it is a valid date,
//  else today in UTC (the rule of ledger_business_date).
static int32_t
s_business_date (void)
{
    const char *today = getenv ("RECOUP_TODAY");
    int32_t days;
    char err [128];
    if (today && *today && date_parse_iso (today, &days, err, sizeof err) == 0)
        return days;
    return date_today_utc ();
}

//  Resolves a date argument: "" gives `fallback`, anything else must be
//  YYYY-MM-DD. Returns 0 and sets *days, or -1 with the reason in err.
static int
s_date_arg (const char *text, int32_t fallback, int32_t *days, char *err,
            size_t errlen)
{
    if (!text || !*text) {
        *days = fallback;
        return 0;
    }
    return date_parse_iso (text, days, err, errlen);
}

//  Date text in the arena.
static char *
s_date_text (cmdctx_t *ctx, int32_t days)
{
    char text [DATE_ISO_LEN + 1];
    date_format_iso (days, text);
    return arena_strdup (ctx->arena, text);
}

//  int64 of a result cell (0 for NULL).
static int64_t
s_int (PGresult *res, int row, int col)
{
    if (PQgetisnull (res, row, col))
        return 0;
    return strtoll (PQgetvalue (res, row, col), NULL, 10);
}

//  Copy of a result cell in the arena ("" for NULL).
static char *
s_text (cmdctx_t *ctx, PGresult *res, int row, int col)
{
    return arena_strdup (ctx->arena, PQgetvalue (res, row, col));
}

//  Rounds num * scale / den to an integer, half away from zero, exactly.
//  Returns 0 with *out set, or -1 when den is zero (the ratio is
//  undefined) or the result does not fit an int64.
static int
s_ratio (__int128 num, __int128 den, int64_t scale, int64_t *out)
{
    if (den == 0)
        return -1;
    int negative = (num < 0) != (den < 0);
    unsigned __int128 n = (unsigned __int128) (num < 0 ? -num : num);
    unsigned __int128 d = (unsigned __int128) (den < 0 ? -den : den);
    //  num is at most a few int64 sums (< 2^66) and scale 10^4 (< 2^14):
    //  2 * n * scale stays far below 2^128.
    n *= (unsigned __int128) scale;
    unsigned __int128 q = (2 * n + d) / (2 * d);
    if (q > (unsigned __int128) INT64_MAX)
        return -1;
    *out = negative ? -(int64_t) q : (int64_t) q;
    return 0;
}

//  *sum += value, refusing to wrap. 0 or -1.
static int
s_add (int64_t *sum, int64_t value)
{
    return __builtin_add_overflow (*sum, value, sum) ? -1 : 0;
}

//  A new, zeroed Aging for a currency, every bucket present.
static Recoup__Aging *
s_aging_new (cmdctx_t *ctx, const char *currency)
{
    Recoup__Aging *aging = CMD_NEW (ctx, Recoup__Aging, recoup__aging__init);
    aging->currency = arena_strdup (ctx->arena, currency);
    Recoup__AgingBucket **slots [BUCKETS] = {
        &aging->current, &aging->d1_30, &aging->d31_60, &aging->d61_90,
        &aging->d91_120, &aging->over_120 };
    for (int b = 0; b < BUCKETS; b++)
        *slots [b] = CMD_NEW (ctx, Recoup__AgingBucket,
                              recoup__aging_bucket__init);
    return aging;
}

//  The bucket `b` (0..BUCKETS-1) of an Aging.
static Recoup__AgingBucket *
s_aging_bucket (Recoup__Aging *aging, int b)
{
    Recoup__AgingBucket *buckets [BUCKETS] = {
        aging->current, aging->d1_30, aging->d31_60, aging->d61_90,
        aging->d91_120, aging->over_120 };
    assert (b >= 0 && b < BUCKETS);
    return buckets [b];
}

//  Adds `count` invoices of `amount` to bucket b. 0, or -1 on overflow.
static int
s_aging_add (Recoup__Aging *aging, int b, int64_t count, int64_t amount)
{
    Recoup__AgingBucket *bucket = s_aging_bucket (aging, b);
    if (count < 0 || count > UINT32_MAX - bucket->count
        || (int64_t) aging->open_count + count > UINT32_MAX)
        return -1;
    bucket->count += (uint32_t) count;
    aging->open_count += (uint32_t) count;
    if (s_add (&bucket->amount_minor, amount) != 0
        || s_add (&aging->total_minor, amount) != 0)
        return -1;
    return 0;
}

//  Days past due -> bucket 0..5, as recoup_bucket() in SQL.
static int
s_bucket_of (int32_t days_late)
{
    return days_late <= 0 ? 0 : days_late <= 30 ? 1 : days_late <= 60 ? 2
         : days_late <= 90 ? 3 : days_late <= 120 ? 4 : 5;
}

//  Starts the report's transaction: one snapshot for every statement,
//  and planner settings for the aging pass (see s_aging_query). 0 or -1.
static int
s_begin (cmdctx_t *ctx)
{
    if (db_command (ctx->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
        return -1;
    //  - jit: compiling the aging query's expressions costs more (60 ms
    //    and up) than it saves on a million rows;
    //  - work_mem: the grouping's hash tables are sized from an estimate
    //    of groups that the bucket expression makes far too high, and
    //    would spill to disk at the default 4 MB;
    //  - enable_hashjoin: both sides of the invoices/entries join come
    //    sorted by invoice id from their indexes; a merge join is about
    //    a third cheaper than the hash join the planner's estimates pick
    //    by a hair (measured on 1M invoices);
    //  - plan_cache_mode: plans for the actual dates and customer, so the
    //    customer test folds away (statements are prepared once per
    //    connection and would otherwise get a generic plan).
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT set_config('jit', 'off', true), "
        "set_config('work_mem', '64MB', true), "
        "set_config('enable_hashjoin', 'off', true), "
        "set_config('plan_cache_mode', 'force_custom_plan', true)", 0, NULL);
    if (!res) {
        db_command (ctx->db, "ROLLBACK");
        return -1;
    }
    PQclear (res);
    return 0;
}

//  Looks a customer up by ref. Returns 1 with *id set (and the row in
//  customer, when not NULL), 0 when there is none, -1 on a database
//  error.
static int
s_customer_find (cmdctx_t *ctx, const char *ref, int64_t *id,
                 Recoup__Customer *customer)
{
    const char *params [] = { ref };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT c.id, c.ref, c.name, c.email, c.phone, c.address, c.timezone, "
        "c.language, c.currency, c.terms, c.credit_limit_minor, "
        "coalesce(c.sales_rep, ''), coalesce(c.collector, '') "
        "FROM customers c WHERE c.ref = $1", 1, params);
    if (!res)
        return -1;
    int found = PQntuples (res) == 1;
    if (found) {
        *id = s_int (res, 0, 0);
        if (customer) {
            customer->ref = s_text (ctx, res, 0, 1);
            customer->name = s_text (ctx, res, 0, 2);
            customer->email = s_text (ctx, res, 0, 3);
            customer->phone = s_text (ctx, res, 0, 4);
            customer->address = s_text (ctx, res, 0, 5);
            customer->timezone = s_text (ctx, res, 0, 6);
            customer->language = s_text (ctx, res, 0, 7);
            customer->currency = s_text (ctx, res, 0, 8);
            customer->terms = s_text (ctx, res, 0, 9);
            customer->credit_limit_minor = s_int (res, 0, 10);
            customer->sales_rep = s_text (ctx, res, 0, 11);
            customer->collector = s_text (ctx, res, 0, 12);
        }
    }
    PQclear (res);
    return found;
}

// ---------------------------------------------------------------- aging

//  The aging statement for AGING_SLICES slices of invoice ids: one
//  recoup_aging_slice call per slice under UNION ALL, summed, with the
//  customers' refs and names. Parameters: $1 as_of, $2 month_start,
//  $3 window_start, $4 customer id or NULL, $5 per_customer, then the
//  AGING_SLICES + 1 slice bounds. Rows ordered by customer ref (NULL
//  first), currency, bucket.
static const char *
s_aging_query (void)
{
    static char sql [4096];
    if (*sql)
        return sql;
    size_t len = (size_t) snprintf (sql, sizeof sql,
        "WITH p AS (SELECT customer_id, currency, bucket, "
        "recoup_sum8(items) AS items, recoup_sum8(balance_minor) AS balance, "
        "recoup_sum8(open_start_minor) AS open_start, "
        "recoup_sum8(invoiced_window_minor) AS invoiced_window, "
        "recoup_sum8(invoiced_month_minor) AS invoiced_month FROM (");
    for (int i = 0; i < AGING_SLICES; i++)
        len += (size_t) snprintf (sql + len, sizeof sql - len,
            "%sSELECT * FROM recoup_aging_slice($1::date, $2::date, $3::date, "
            "$%d::bigint, $%d::bigint, $4::bigint, $5::boolean)",
            i ? " UNION ALL " : "", 6 + i, 7 + i);
    snprintf (sql + len, sizeof sql - len,
        ") s GROUP BY 1, 2, 3) "
        "SELECT c.ref, c.name, p.currency, p.bucket, coalesce(p.items, 0), "
        "coalesce(p.balance, 0), coalesce(p.open_start, 0), "
        "coalesce(p.invoiced_window, 0), coalesce(p.invoiced_month, 0) "
        "FROM p LEFT JOIN customers c ON c.id = p.customer_id "
        "ORDER BY c.ref NULLS FIRST, p.currency, p.bucket");
    return sql;
}

//  Runs the aging statement as of `as_of` (customer_id 0: all). Returns
//  the result (caller clears) or NULL on a database error.
static PGresult *
s_aging_run (cmdctx_t *ctx, int32_t as_of, int64_t customer_id,
             int per_customer)
{
    //  Slice bounds: the ids from min to max cut in equal ranges.
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM invoices",
        0, NULL);
    if (!res)
        return NULL;
    int64_t lo = s_int (res, 0, 0), hi = s_int (res, 0, 1) + 1;
    PQclear (res);
    int year, month, day;
    date_to_ymd (as_of, &year, &month, &day);
    int32_t month_start = as_of - (day - 1);
    char dates [3][DATE_ISO_LEN + 1], customer [24], bounds [AGING_SLICES + 1][24];
    date_format_iso (as_of, dates [0]);
    date_format_iso (month_start, dates [1]);
    date_format_iso (as_of - DSO_DAYS, dates [2]);
    snprintf (customer, sizeof customer, "%" PRId64, customer_id);
    const char *params [5 + AGING_SLICES + 1] = {
        dates [0], dates [1], dates [2], customer_id ? customer : NULL,
        per_customer ? "true" : "false" };
    for (int i = 0; i <= AGING_SLICES; i++) {
        int64_t bound = lo + (int64_t) ((__int128) (hi - lo) * i / AGING_SLICES);
        snprintf (bounds [i], sizeof bounds [i], "%" PRId64, bound);
        params [5 + i] = bounds [i];
    }
    return db_exec (ctx->db, PGRES_TUPLES_OK, s_aging_query (),
                    5 + AGING_SLICES + 1, params);
}

//  How many currencies the customer of row r has open: its rows follow
//  one another, by currency.
static size_t
s_currencies_ahead (PGresult *res, int r)
{
    const char *ref = PQgetvalue (res, r, 0);
    size_t count = 0;
    const char *last = "";
    for (int i = r; i < PQntuples (res) && strcmp (PQgetvalue (res, i, 0), ref) == 0; i++)
        if (strcmp (PQgetvalue (res, i, 2), last) != 0) {
            last = PQgetvalue (res, i, 2);
            count++;
        }
    return count;
}

//  The totals of `currency` in list (count entries), added when new.
static s_totals_t *
s_totals_of (s_totals_t *list, size_t *count, const char *currency)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp (list [i].currency, currency) == 0)
            return &list [i];
    s_totals_t *totals = &list [(*count)++];
    memset (totals, 0, sizeof *totals);
    snprintf (totals->currency, sizeof totals->currency, "%s", currency);
    return totals;
}

static int
s_totals_compare (const void *a, const void *b)
{
    return strcmp (((const s_totals_t *) a)->currency,
                   ((const s_totals_t *) b)->currency);
}

//  A currency's report from its totals: aging and the four ratios.
//  Returns NULL when a total does not fit an int64.
static Recoup__CurrencyReport *
s_currency_report (cmdctx_t *ctx, const s_totals_t *t)
{
    Recoup__CurrencyReport *report = CMD_NEW (ctx, Recoup__CurrencyReport,
                                              recoup__currency_report__init);
    report->aging = s_aging_new (ctx, t->currency);
    for (int b = 0; b < BUCKETS; b++)
        if (s_aging_add (report->aging, b, t->count [b], t->amount [b]) != 0)
            return NULL;
    report->invoiced_90d_minor = t->invoiced_window;
    __int128 open = report->aging->total_minor;
    __int128 current = t->amount [0];
    __int128 window = t->invoiced_window;
    //  DSO = open / invoiced in the window x 90 days; best possible DSO
    //  the same with what is current; ADD the difference. In hundredths.
    report->has_dso = s_ratio (open, window, DSO_DAYS * 100,
                               &report->dso_centi) == 0;
    report->has_best_dso = s_ratio (current, window, DSO_DAYS * 100,
                                    &report->best_dso_centi) == 0;
    report->has_add = s_ratio (open - current, window, DSO_DAYS * 100,
                               &report->add_centi) == 0;
    //  CEI = (open at start + invoiced in month - open at end)
    //      / (open at start + invoiced in month - current at end) x 100 %.
    __int128 start = (__int128) t->open_start + t->invoiced_month;
    report->has_cei = s_ratio (start - open, start - current, 100 * 100,
                               &report->cei_centi) == 0;
    return report;
}

int
cmd_report_aging (cmdctx_t *ctx, const Recoup__Request *request,
                  Recoup__Reply *reply)
{
    const Recoup__ReportAgingRequest *args = request->report_aging;
    int32_t as_of;
    char err [256];
    if (s_date_arg (args->as_of, s_business_date (), &as_of, err, sizeof err) != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "report_aging.as_of", "as_of: %s (want YYYY-MM-DD)",
                          err);
    if (s_begin (ctx) != 0)
        return -1;
    int64_t customer_id = 0;
    if (*args->customer) {
        int found = s_customer_find (ctx, args->customer, &customer_id, NULL);
        if (found <= 0) {
            db_command (ctx->db, "ROLLBACK");
            if (found < 0)
                return -1;
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                              "report_aging.customer", "no customer '%s'",
                              args->customer);
        }
    }
    PGresult *res = s_aging_run (ctx, as_of, customer_id, args->by_customer);
    if (!res || db_command (ctx->db, "COMMIT") != 0) {
        if (res)
            PQclear (res);
        db_command (ctx->db, "ROLLBACK");
        return -1;
    }
    int rows = PQntuples (res);
    Recoup__ReportAgingReply *report = CMD_NEW (ctx, Recoup__ReportAgingReply,
                                                recoup__report_aging_reply__init);
    report->as_of = s_date_text (ctx, as_of);
    s_totals_t *totals = arena_alloc (ctx->arena, ((size_t) rows + 1) * sizeof *totals);
    size_t n_totals = 0;
    report->customers = arena_alloc (ctx->arena, ((size_t) rows + 1) * sizeof (void *));
    Recoup__CustomerAging *customer = NULL;   //  the one being filled
    int overflow = 0;
    for (int r = 0; r < rows; r++) {
        const char *ref = PQgetvalue (res, r, 0);
        const char *currency = PQgetvalue (res, r, 2);
        int bucket = (int) s_int (res, r, 3);
        int64_t items = s_int (res, r, 4), balance = s_int (res, r, 5);
        s_totals_t *t = s_totals_of (totals, &n_totals, currency);
        overflow |= s_add (&t->open_start, s_int (res, r, 6));
        overflow |= s_add (&t->invoiced_window, s_int (res, r, 7));
        overflow |= s_add (&t->invoiced_month, s_int (res, r, 8));
        if (bucket < 0 || bucket >= BUCKETS)
            continue;                   //  not open as of as_of
        overflow |= s_add (&t->count [bucket], items);
        overflow |= s_add (&t->amount [bucket], balance);
        if (PQgetisnull (res, r, 0))
            continue;                   //  not by customer
        //  Rows come by customer, then currency: a new customer or a new
        //  currency starts a new entry.
        if (!customer || strcmp (customer->customer, ref) != 0) {
            customer = CMD_NEW (ctx, Recoup__CustomerAging,
                                recoup__customer_aging__init);
            customer->customer = arena_strdup (ctx->arena, ref);
            customer->name = s_text (ctx, res, r, 1);
            customer->aging = arena_alloc (ctx->arena,
                (s_currencies_ahead (res, r) + 1) * sizeof (void *));
            report->customers [report->n_customers++] = customer;
        }
        Recoup__Aging *aging = customer->n_aging
                               ? customer->aging [customer->n_aging - 1] : NULL;
        if (!aging || strcmp (aging->currency, currency) != 0) {
            aging = s_aging_new (ctx, currency);
            customer->aging [customer->n_aging++] = aging;
        }
        overflow |= s_aging_add (aging, bucket, items, balance);
    }
    PQclear (res);
    qsort (totals, n_totals, sizeof *totals, s_totals_compare);
    report->currencies = arena_alloc (ctx->arena, (n_totals + 1) * sizeof (void *));
    for (size_t i = 0; i < n_totals && !overflow; i++) {
        Recoup__CurrencyReport *one = s_currency_report (ctx, &totals [i]);
        if (!one)
            overflow = 1;
        report->currencies [report->n_currencies++] = one;
    }
    if (overflow)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INTERNAL, NULL,
                          "a total of the aging does not fit 64 bits");
    reply->result_case = RECOUP__REPLY__RESULT_REPORT_AGING;
    reply->report_aging = report;
    return 0;
}

// ---------------------------------------------------------------- statement

//  Open items of the customer as of as_of into the reply, with the
//  account's aging per currency. Returns 0, -1 on a database error, or 1
//  when a total does not fit an int64.
static int
s_statement_open_items (cmdctx_t *ctx, const char *cust,
                        Recoup__ReportStatementReply *statement)
{
    const char *params [] = { statement->as_of, cust };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT i.number, i.issued, i.due, i.amount_minor, i.currency, i.terms, "
        "coalesce(i.discount_until::text, ''), i.discount_bp, o.balance_minor, "
        "i.due - $1::date "
        "FROM recoup_open_items($1::date, $2::bigint) o "
        "JOIN invoices i ON i.id = o.invoice_id "
        "ORDER BY i.currency, i.due, i.issued, i.number", 2, params);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    Recoup__Account *account = statement->account;
    statement->open_invoices = arena_alloc (ctx->arena, ((size_t) rows + 1) * sizeof (void *));
    account->aging = arena_alloc (ctx->arena, ((size_t) rows + 1) * sizeof (void *));
    int overflow = 0;
    for (int r = 0; r < rows; r++) {
        Recoup__Invoice *invoice = CMD_NEW (ctx, Recoup__Invoice,
                                            recoup__invoice__init);
        invoice->number = s_text (ctx, res, r, 0);
        invoice->customer = account->customer->ref;
        invoice->issued = s_text (ctx, res, r, 1);
        invoice->due = s_text (ctx, res, r, 2);
        invoice->amount_minor = s_int (res, r, 3);
        invoice->currency = s_text (ctx, res, r, 4);
        invoice->terms = s_text (ctx, res, r, 5);
        invoice->discount_until = s_text (ctx, res, r, 6);
        invoice->discount_bp = (uint32_t) s_int (res, r, 7);
        invoice->balance_minor = s_int (res, r, 8);
        statement->open_invoices [statement->n_open_invoices++] = invoice;
        //  Rows come by currency: one Aging per run of a currency.
        Recoup__Aging *aging = account->n_aging
                               ? account->aging [account->n_aging - 1] : NULL;
        if (!aging || strcmp (aging->currency, invoice->currency) != 0) {
            aging = s_aging_new (ctx, invoice->currency);
            account->aging [account->n_aging++] = aging;
        }
        int32_t days_late = (int32_t) -s_int (res, r, 9);
        overflow |= s_aging_add (aging, s_bucket_of (days_late), 1,
                                 invoice->balance_minor);
    }
    PQclear (res);
    return overflow ? 1 : 0;
}

//  Unapplied cash per currency as of as_of: what is left of the payments
//  received by then after their entries dated by then. 0 or -1.
static int
s_statement_unapplied (cmdctx_t *ctx, const char *cust,
                       Recoup__ReportStatementReply *statement)
{
    const char *params [] = { statement->as_of, cust };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT p.currency, recoup_sum8(p.amount_minor + coalesce(a.total, 0)) "
        "FROM payments p "
        "LEFT JOIN (SELECT e.payment_id, recoup_sum8(e.amount_minor) AS total "
        "           FROM entries e WHERE e.customer_id = $2::bigint "
        "           AND e.payment_id IS NOT NULL AND e.on_date <= $1::date "
        "           GROUP BY e.payment_id) a ON a.payment_id = p.id "
        "WHERE p.customer_id = $2::bigint AND p.received <= $1::date "
        "GROUP BY p.currency "
        "HAVING recoup_sum8(p.amount_minor + coalesce(a.total, 0)) <> 0 "
        "ORDER BY p.currency", 2, params);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    Recoup__Account *account = statement->account;
    account->unapplied = arena_alloc (ctx->arena, ((size_t) rows + 1) * sizeof (void *));
    for (int r = 0; r < rows; r++) {
        Recoup__Money *money = CMD_NEW (ctx, Recoup__Money, recoup__money__init);
        money->currency = s_text (ctx, res, r, 0);
        money->amount_minor = s_int (res, r, 1);
        account->unapplied [account->n_unapplied++] = money;
    }
    PQclear (res);
    return 0;
}

//  Payments received from..as_of, each with what was allocated from it
//  by as_of and what was left. 0 or -1.
static int
s_statement_payments (cmdctx_t *ctx, const char *cust,
                      Recoup__ReportStatementReply *statement)
{
    const char *params [] = { statement->as_of, cust, statement->from };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT p.id, p.reference, p.received, p.method, p.amount_minor, "
        "p.currency, p.amount_minor + coalesce((SELECT recoup_sum8(e.amount_minor) "
        "    FROM entries e WHERE e.payment_id = p.id "
        "    AND e.on_date <= $1::date), 0) "
        "FROM payments p WHERE p.customer_id = $2::bigint "
        "AND p.received BETWEEN $3::date AND $1::date "
        "ORDER BY p.received, p.reference", 3, params);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    statement->payments = arena_alloc (ctx->arena, ((size_t) rows + 1) * sizeof (void *));
    int64_t *ids = arena_alloc (ctx->arena, ((size_t) rows + 1) * sizeof *ids);
    for (int r = 0; r < rows; r++) {
        Recoup__Payment *payment = CMD_NEW (ctx, Recoup__Payment,
                                            recoup__payment__init);
        ids [r] = s_int (res, r, 0);
        payment->customer = statement->account->customer->ref;
        payment->reference = s_text (ctx, res, r, 1);
        payment->received = s_text (ctx, res, r, 2);
        payment->method = s_text (ctx, res, r, 3);
        payment->amount_minor = s_int (res, r, 4);
        payment->currency = s_text (ctx, res, r, 5);
        payment->unapplied_minor = s_int (res, r, 6);
        statement->payments [statement->n_payments++] = payment;
    }
    PQclear (res);
    if (rows == 0)
        return 0;
    //  Their allocations dated by as_of, in payment and entry order.
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT e.payment_id, i.number, -e.amount_minor, e.id "
        "FROM entries e JOIN payments p ON p.id = e.payment_id "
        "JOIN invoices i ON i.id = e.invoice_id "
        "WHERE p.customer_id = $2::bigint "
        "AND p.received BETWEEN $3::date AND $1::date "
        "AND e.kind = 'allocation' AND e.on_date <= $1::date "
        "ORDER BY p.received, p.reference, e.id", 3, params);
    if (!res)
        return -1;
    int allocations = PQntuples (res);
    for (int r = 0, p = 0; r < allocations; r++) {
        int64_t payment_id = s_int (res, r, 0);
        while (p < rows && ids [p] != payment_id)
            p++;
        if (p == rows)
            break;                      //  cannot happen: same order
        Recoup__Payment *payment = statement->payments [p];
        if (!payment->allocations)
            payment->allocations = arena_alloc (ctx->arena,
                ((size_t) allocations + 1) * sizeof (void *));
        Recoup__Allocation *allocation = CMD_NEW (ctx, Recoup__Allocation,
                                                  recoup__allocation__init);
        allocation->invoice = s_text (ctx, res, r, 1);
        allocation->amount_minor = s_int (res, r, 2);
        allocation->entry_id = (uint64_t) s_int (res, r, 3);
        payment->allocations [payment->n_allocations++] = allocation;
    }
    PQclear (res);
    return 0;
}

//  The ledger rows dated from..as_of: each invoice issued then (its own
//  "issue" entry, id 0) and every entry, by date, issues first, then in
//  the order they were recorded. 0 or -1.
static int
s_statement_activity (cmdctx_t *ctx, const char *cust,
                      Recoup__ReportStatementReply *statement)
{
    const char *params [] = { statement->as_of, cust, statement->from };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT 0 AS id, i.number, 'issue' AS kind, i.issued AS on_date, "
        "i.amount_minor, i.currency, '' AS payment, 0 AS reverses, '' AS memo, "
        "(extract(epoch FROM i.recorded_at) * 1000000)::bigint "
        "FROM invoices i WHERE i.customer_id = $2::bigint "
        "AND i.issued BETWEEN $3::date AND $1::date "
        "UNION ALL "
        "SELECT e.id, i.number, e.kind, e.on_date, e.amount_minor, e.currency, "
        "coalesce(p.reference, ''), coalesce(e.reverses, 0), e.memo, "
        "(extract(epoch FROM e.recorded_at) * 1000000)::bigint "
        "FROM entries e JOIN invoices i ON i.id = e.invoice_id "
        "LEFT JOIN payments p ON p.id = e.payment_id "
        "WHERE e.customer_id = $2::bigint "
        "AND e.on_date BETWEEN $3::date AND $1::date "
        "ORDER BY on_date, id, number", 3, params);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    statement->activity = arena_alloc (ctx->arena, ((size_t) rows + 1) * sizeof (void *));
    for (int r = 0; r < rows; r++) {
        Recoup__Entry *entry = CMD_NEW (ctx, Recoup__Entry, recoup__entry__init);
        entry->id = (uint64_t) s_int (res, r, 0);
        entry->invoice = s_text (ctx, res, r, 1);
        entry->customer = statement->account->customer->ref;
        entry->kind = s_text (ctx, res, r, 2);
        entry->on_date = s_text (ctx, res, r, 3);
        entry->amount_minor = s_int (res, r, 4);
        entry->currency = s_text (ctx, res, r, 5);
        entry->payment = s_text (ctx, res, r, 6);
        entry->reverses = (uint64_t) s_int (res, r, 7);
        entry->memo = s_text (ctx, res, r, 8);
        entry->recorded_us = s_int (res, r, 9);
        statement->activity [statement->n_activity++] = entry;
    }
    PQclear (res);
    return 0;
}

int
cmd_report_statement (cmdctx_t *ctx, const Recoup__Request *request,
                      Recoup__Reply *reply)
{
    const Recoup__ReportStatementRequest *args = request->report_statement;
    int32_t as_of, from;
    char err [256];
    if (!*args->customer)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "report_statement.customer",
                          "customer: a customer ref is required");
    if (s_date_arg (args->as_of, s_business_date (), &as_of, err, sizeof err) != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "report_statement.as_of",
                          "as_of: %s (want YYYY-MM-DD)", err);
    if (s_date_arg (args->from, as_of - STATEMENT_DAYS, &from, err, sizeof err) != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "report_statement.from", "from: %s (want YYYY-MM-DD)",
                          err);
    if (from > as_of)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "report_statement.from",
                          "from: %s is after as_of %s", args->from,
                          s_date_text (ctx, as_of));
    Recoup__ReportStatementReply *statement = CMD_NEW (
        ctx, Recoup__ReportStatementReply, recoup__report_statement_reply__init);
    statement->as_of = s_date_text (ctx, as_of);
    statement->from = s_date_text (ctx, from);
    Recoup__Account *account = CMD_NEW (ctx, Recoup__Account, recoup__account__init);
    account->as_of = statement->as_of;
    account->customer = CMD_NEW (ctx, Recoup__Customer, recoup__customer__init);
    statement->account = account;
    if (s_begin (ctx) != 0)
        return -1;
    int64_t id;
    int found = s_customer_find (ctx, args->customer, &id, account->customer);
    if (found == 0) {
        db_command (ctx->db, "ROLLBACK");
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "report_statement.customer", "no customer '%s'",
                          args->customer);
    }
    char cust [24];
    snprintf (cust, sizeof cust, "%" PRId64, id);
    int open_items = found < 0 ? -1 : s_statement_open_items (ctx, cust, statement);
    if (open_items > 0) {
        db_command (ctx->db, "ROLLBACK");
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INTERNAL, NULL,
                          "a total of the statement does not fit 64 bits");
    }
    if (open_items < 0
        || s_statement_unapplied (ctx, cust, statement) != 0
        || s_statement_payments (ctx, cust, statement) != 0
        || s_statement_activity (ctx, cust, statement) != 0
        || db_command (ctx->db, "COMMIT") != 0) {
        db_command (ctx->db, "ROLLBACK");
        return -1;
    }
    reply->result_case = RECOUP__REPLY__RESULT_REPORT_STATEMENT;
    reply->report_statement = statement;
    return 0;
}
