/*  ledger: the receivables ledger commands and the Account summary.
    See ledger.h.

    Every write handler runs inside the writer's batch transaction, in a
    savepoint of its own (writer.c, s_run_isolated): it checks what it
    can, writes, and may still refuse afterwards; a refusal, or a
    constraint the database enforces (a balance below zero, a payment
    allocated beyond its amount: SQLSTATE class 23), takes back all of
    its statements and events. The database is the last word on the
    ledger's rules; the checks here are there to give a person a precise
    answer (which field, what to do) before the database would refuse.

    Every change emits its own event, then one account.changed per
    customer touched, with the account as of the business date.           */
#include "ledger.h"
#include "accounts.h"
#include "resolution.h"
#include "resolution.h"
#include "../common/date.h"
#include "../common/log.h"
#include "../common/money.h"
#include "../common/terms.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REF_MAX 64              //  customer ref, invoice number, payment reference
#define NAME_MAX_CHARS 200
#define EMAIL_MAX 254
#define PHONE_MAX 64
#define ADDRESS_MAX 1000
#define TIMEZONE_MAX 64
#define LANGUAGE_MAX 35
#define METHOD_MAX 64
#define MEMO_MAX 1000
#define ALLOCATIONS_MAX 1000    //  named invoices in one payment
#define SHOW_PAYMENTS "20"      //  payments customer_show lists (SQL text)



// ---------------------------------------------------------------- dates

void
ledger_business_date (char buf [11])
{
    static atomic_int warned = 0;
    const char *today = getenv ("RECOUP_TODAY");
    int32_t days;
    char err [128];
    if (today && *today) {
        if (date_parse_iso (today, &days, err, sizeof err) == 0) {
            date_format_iso (days, buf);
            return;
        }
        if (atomic_exchange (&warned, 1) == 0)
            log_warn ("RECOUP_TODAY is not a date, using today in UTC",
                      "error", err);
    }
    date_format_iso (date_today_utc (), buf);
}




// ---------------------------------------------------------------- checks


//  Checks an ISO 4217 code. Returns 1, or 0 with the error in reply.
static int
s_currency (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
            const char *code)
{
    if (money_currency_exponent (code) >= 0)
        return 1;
    cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
               "'%.16s' is not an ISO 4217 currency code with a minor unit "
               "(e.g. USD, EUR, SEK, JPY)", code);
    return 0;
}


//  A language tag as the customers table checks it:
//  [a-z]{2,3}(-[A-Za-z0-9]{2,8})*.
static int
s_language_valid (const char *tag)
{
    const char *p = tag;
    int letters = 0;
    while (*p >= 'a' && *p <= 'z') {
        p++;
        letters++;
    }
    if (letters < 2 || letters > 3)
        return 0;
    while (*p == '-') {
        p++;
        int len = 0;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
               || (*p >= '0' && *p <= '9')) {
            p++;
            len++;
        }
        if (len < 2 || len > 8)
            return 0;
    }
    return *p == '\0';
}




// ---------------------------------------------------------------- accounts

int
ledger_base_currency (db_t *db, char buf [4])
{
    PGresult *res = db_exec (db, PGRES_TUPLES_OK,
                             "SELECT value FROM meta WHERE key = 'base_currency'",
                             0, NULL);
    if (!res)
        return -1;
    int found = PQntuples (res) == 1;
    snprintf (buf, 4, "%s", found ? PQgetvalue (res, 0, 0) : "USD");
    PQclear (res);
    return 0;
}

void
ledger_customer_from_row (cmdctx_t *ctx, Recoup__Customer *customer,
                          PGresult *res, int row, int col)
{
    customer->ref = cmd_value (ctx, res, row, col);
    customer->name = cmd_value (ctx, res, row, col + 1);
    customer->email = cmd_value (ctx, res, row, col + 2);
    customer->phone = cmd_value (ctx, res, row, col + 3);
    customer->address = cmd_value (ctx, res, row, col + 4);
    customer->timezone = cmd_value (ctx, res, row, col + 5);
    customer->language = cmd_value (ctx, res, row, col + 6);
    customer->currency = cmd_value (ctx, res, row, col + 7);
    customer->terms = cmd_value (ctx, res, row, col + 8);
    customer->credit_limit_minor = cmd_value_int (res, row, col + 9);
    customer->sales_rep = cmd_value (ctx, res, row, col + 10);
    customer->collector = cmd_value (ctx, res, row, col + 11);
    customer->late_fees = PQgetvalue (res, row, col + 12) [0] == 't';
}

//  The accounts query, in two shapes that differ only in how they find
//  the open items and payments: for a few customers (by id, through the
//  per-customer indexes, one lateral lookup per invoice and payment),
//  and for all of them or a large share (recoup_open_items: one pass
//  over the ledger, hash joins, then the listed customers kept). The first spells out recoup_open_items for a set of
//  customers: the function's "cust IS NULL OR customer_id = cust" keeps
//  PostgreSQL from using the indexes (a sequential scan of invoices and
//  entries per customer), which would make every command's
//  account.changed cost as much as the whole ledger. Both give one row per
//  customer: id, LEDGER_CUSTOMER_COLUMNS, then the aging currencies and
//  a two-dimensional array of 14 numbers per currency (open count,
//  total, then count and amount of each bucket from current to over
//  120), then the unapplied-cash currencies and amounts.
#define ACCOUNTS_AGING \
    "a AS (SELECT customer_id, array_agg (currency ORDER BY currency) AS cur," \
    "  array_agg (ARRAY [n, total, n0, a0, n1, a1, n2, a2, n3, a3, n4, a4, n5, a5]" \
    "             ORDER BY currency) AS nums " \
    " FROM (SELECT customer_id, currency, count(*) AS n, sum(bal)::bigint AS total," \
    "   count(*) FILTER (WHERE late <= 0) AS n0," \
    "   coalesce(sum(bal) FILTER (WHERE late <= 0), 0)::bigint AS a0," \
    "   count(*) FILTER (WHERE late BETWEEN 1 AND 30) AS n1," \
    "   coalesce(sum(bal) FILTER (WHERE late BETWEEN 1 AND 30), 0)::bigint AS a1," \
    "   count(*) FILTER (WHERE late BETWEEN 31 AND 60) AS n2," \
    "   coalesce(sum(bal) FILTER (WHERE late BETWEEN 31 AND 60), 0)::bigint AS a2," \
    "   count(*) FILTER (WHERE late BETWEEN 61 AND 90) AS n3," \
    "   coalesce(sum(bal) FILTER (WHERE late BETWEEN 61 AND 90), 0)::bigint AS a3," \
    "   count(*) FILTER (WHERE late BETWEEN 91 AND 120) AS n4," \
    "   coalesce(sum(bal) FILTER (WHERE late BETWEEN 91 AND 120), 0)::bigint AS a4," \
    "   count(*) FILTER (WHERE late > 120) AS n5," \
    "   coalesce(sum(bal) FILTER (WHERE late > 120), 0)::bigint AS a5" \
    "  FROM o GROUP BY customer_id, currency) g " \
    " GROUP BY customer_id), "
#define ACCOUNTS_UNAPPLIED \
    "u AS (SELECT customer_id, array_agg (currency ORDER BY currency) AS cur," \
    "  array_agg (amount ORDER BY currency) AS amt " \
    " FROM (SELECT customer_id, currency, sum(left_over)::bigint AS amount" \
    "  FROM pl GROUP BY customer_id, currency) g " \
    " WHERE amount <> 0 GROUP BY customer_id) "
#define ACCOUNTS_SELECT \
    "SELECT c.id, " LEDGER_CUSTOMER_COLUMNS ", a.cur, a.nums, u.cur, u.amt " \
    "FROM c LEFT JOIN a ON a.customer_id = c.id " \
    "LEFT JOIN u ON u.customer_id = c.id ORDER BY c.ref"

static const char s_accounts_some_sql [] =
    "WITH c AS (SELECT * FROM customers WHERE id = ANY ($1::bigint[])), "
    "o AS (SELECT i.customer_id, i.currency, $2::date - i.due AS late, b.bal"
    "  FROM c JOIN invoices i ON i.customer_id = c.id"
    "  CROSS JOIN LATERAL (SELECT i.amount_minor + coalesce (sum (e.amount_minor), 0)"
    "    AS bal FROM entries e WHERE e.invoice_id = i.id"
    "    AND e.on_date <= $2::date) b"
    "  WHERE i.issued <= $2::date AND b.bal > 0), "
    "pl AS (SELECT p.customer_id, p.currency,"
    "  p.amount_minor + coalesce (x.total, 0) AS left_over"
    "  FROM c JOIN payments p ON p.customer_id = c.id"
    "  LEFT JOIN LATERAL (SELECT sum(e.amount_minor) AS total FROM entries e"
    "    WHERE e.payment_id = p.id AND e.on_date <= $2::date) x ON true"
    "  WHERE p.received <= $2::date), "
    ACCOUNTS_AGING ACCOUNTS_UNAPPLIED ACCOUNTS_SELECT;

static const char s_accounts_all_sql [] =
    "WITH c AS (SELECT * FROM customers WHERE $1::bigint[] IS NULL "
    "  OR id = ANY ($1::bigint[])), "
    "o AS (SELECT i.customer_id, i.currency, $2::date - i.due AS late,"
    "  i.balance_minor AS bal FROM recoup_open_items ($2::date) i), "
    "pl AS (SELECT p.customer_id, p.currency,"
    "  p.amount_minor + coalesce (x.total, 0) AS left_over"
    "  FROM payments p"
    "  LEFT JOIN (SELECT e.payment_id, sum(e.amount_minor) AS total FROM entries e"
    "    WHERE e.payment_id IS NOT NULL AND e.on_date <= $2::date"
    "    GROUP BY e.payment_id) x ON x.payment_id = p.id"
    "  WHERE p.received <= $2::date), "
    ACCOUNTS_AGING ACCOUNTS_UNAPPLIED ACCOUNTS_SELECT;

//  Splits a PostgreSQL array text of currency codes ("{EUR,USD}") into
//  the arena; returns how many.
static size_t
s_parse_codes (cmdctx_t *ctx, const char *text, char ***codes)
{
    size_t count = 0, cap = 0;
    *codes = NULL;
    const char *p = text;
    while (*p) {
        while (*p == '{' || *p == '}' || *p == ',' || *p == '"' || *p == ' ')
            p++;
        size_t len = strcspn (p, "{},\" ");
        if (len == 0)
            break;
        if (count == cap) {
            cap = cap ? cap * 2 : 4;
            char **grown = arena_alloc (ctx->arena, cap * sizeof *grown);
            if (count)
                memcpy (grown, *codes, count * sizeof *grown);
            *codes = grown;
        }
        char *code = arena_alloc (ctx->arena, len + 1);
        memcpy (code, p, len);
        (*codes) [count++] = code;
        p += len;
    }
    return count;
}

//  Reads up to `max` integers from a PostgreSQL array text, nested or
//  not ("{{1,2},{3,4}}"). Returns how many.
static size_t
s_parse_numbers (const char *text, int64_t *out, size_t max)
{
    size_t count = 0;
    const char *p = text;
    while (*p && count < max) {
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *end;
            out [count++] = strtoll (p, &end, 10);
            p = end;
        }
        else
            p++;
    }
    return count;
}

//  One aging bucket in the arena.
static Recoup__AgingBucket *
s_bucket (cmdctx_t *ctx, int64_t count, int64_t amount)
{
    Recoup__AgingBucket *bucket = CMD_NEW (ctx, Recoup__AgingBucket,
                                           recoup__aging_bucket__init);
    bucket->count = (uint32_t) count;
    bucket->amount_minor = amount;
    return bucket;
}

//  One Account from a row of the accounts query.
static Recoup__Account *
s_account_from_row (cmdctx_t *ctx, PGresult *res, int row, const char *as_of)
{
    Recoup__Account *account = CMD_NEW (ctx, Recoup__Account,
                                        recoup__account__init);
    account->customer = CMD_NEW (ctx, Recoup__Customer, recoup__customer__init);
    ledger_customer_from_row (ctx, account->customer, res, row, 1);
    account->as_of = arena_strdup (ctx->arena, as_of);
    char **codes;
    size_t n = s_parse_codes (ctx, PQgetvalue (res, row, 14), &codes);
    if (n > 0) {
        int64_t *nums = arena_alloc (ctx->arena, n * 14 * sizeof *nums);
        size_t got = s_parse_numbers (PQgetvalue (res, row, 15), nums, n * 14);
        if (got != n * 14)
            n = got / 14;
        account->aging = arena_alloc (ctx->arena, n * sizeof (void *) + 1);
        for (size_t i = 0; i < n; i++) {
            const int64_t *v = nums + i * 14;
            Recoup__Aging *aging = CMD_NEW (ctx, Recoup__Aging, recoup__aging__init);
            aging->currency = codes [i];
            aging->open_count = (uint32_t) v [0];
            aging->total_minor = v [1];
            aging->current = s_bucket (ctx, v [2], v [3]);
            aging->d1_30 = s_bucket (ctx, v [4], v [5]);
            aging->d31_60 = s_bucket (ctx, v [6], v [7]);
            aging->d61_90 = s_bucket (ctx, v [8], v [9]);
            aging->d91_120 = s_bucket (ctx, v [10], v [11]);
            aging->over_120 = s_bucket (ctx, v [12], v [13]);
            account->aging [account->n_aging++] = aging;
        }
    }
    n = s_parse_codes (ctx, PQgetvalue (res, row, 16), &codes);
    if (n > 0) {
        int64_t *amounts = arena_alloc (ctx->arena, n * sizeof *amounts);
        n = s_parse_numbers (PQgetvalue (res, row, 17), amounts, n);
        account->unapplied = arena_alloc (ctx->arena, n * sizeof (void *) + 1);
        for (size_t i = 0; i < n; i++) {
            Recoup__Money *money = CMD_NEW (ctx, Recoup__Money, recoup__money__init);
            money->currency = codes [i];
            money->amount_minor = amounts [i];
            account->unapplied [account->n_unapplied++] = money;
        }
    }
    return account;
}

//  True when the customers in `ids` are a large share of all of them:
//  then one pass over the whole ledger (s_accounts_all_sql, filtered)
//  beats an index walk per customer (measured on 1,000,000 invoices and
//  2,000 customers: 0.65 s against 2.3 s for all of them; the walk wins
//  below about a quarter). -1 on a database error.
static int
s_many_customers (cmdctx_t *ctx, const char *ids)
{
    long listed = 1;
    for (const char *p = ids; *p; p++)
        listed += *p == ',';
    if (listed < 64)
        return 0;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT greatest (reltuples, 0)::bigint FROM pg_class "
                             "WHERE oid = 'customers'::regclass", 0, NULL);
    if (!res)
        return -1;
    long total = PQntuples (res) ? strtol (PQgetvalue (res, 0, 0), NULL, 10) : 0;
    PQclear (res);
    return listed * 4 > total;
}

int
ledger_accounts_load (cmdctx_t *ctx, const char *ids, const char *as_of,
                      Recoup__Account ***accounts, size_t *count)
{
    const char *params [] = { ids, as_of };
    int many = ids ? s_many_customers (ctx, ids) : 1;
    if (many < 0)
        return -1;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             many ? s_accounts_all_sql : s_accounts_some_sql,
                             2, params);
    if (!res)
        return -1;
    size_t rows = (size_t) PQntuples (res);
    *accounts = arena_alloc (ctx->arena, rows * sizeof (void *) + 1);
    for (size_t i = 0; i < rows; i++)
        (*accounts) [i] = s_account_from_row (ctx, res, (int) i, as_of);
    *count = rows;
    PQclear (res);
    return accounts_collection_fill (ctx, *accounts, rows, ids, as_of);
}

int
ledger_emit_accounts (cmdctx_t *ctx, const char *ids)
{
    if (!ctx->writer || !ids)
        return -1;
    char today [11];
    ledger_business_date (today);
    Recoup__Account **accounts;
    size_t count;
    if (ledger_accounts_load (ctx, ids, today, &accounts, &count) != 0)
        return -1;
    for (size_t i = 0; i < count; i++)
        cmd_emit (ctx, "account.changed", RECOUP__EVENT__BODY_ACCOUNT, accounts [i]);
    return 0;
}

// ---------------------------------------------------------------- customers

//  The customer columns handlers read: id, LEDGER_CUSTOMER_COLUMNS (1..13),
//  then the terms taken apart (14..16).
#define CUSTOMER_SELECT \
    "SELECT c.id, " LEDGER_CUSTOMER_COLUMNS ", c.terms_days, c.discount_bp, " \
    "c.discount_days FROM customers c "

//  The fields of a Customer that customer_update may name.
enum {
    F_NAME = 1 << 0,
    F_EMAIL = 1 << 1,
    F_PHONE = 1 << 2,
    F_ADDRESS = 1 << 3,
    F_TIMEZONE = 1 << 4,
    F_LANGUAGE = 1 << 5,
    F_CURRENCY = 1 << 6,
    F_TERMS = 1 << 7,
    F_CREDIT_LIMIT = 1 << 8,
    F_SALES_REP = 1 << 9,
    F_COLLECTOR = 1 << 10,
    F_LATE_FEES = 1 << 11,
    F_ALL = (1 << 12) - 1
};

static const struct {
    const char *name;           //  as in recoup.proto
    unsigned bit;               //  F_*
} s_fields [] = {
    { "name", F_NAME }, { "email", F_EMAIL }, { "phone", F_PHONE },
    { "address", F_ADDRESS }, { "timezone", F_TIMEZONE },
    { "language", F_LANGUAGE }, { "currency", F_CURRENCY },
    { "terms", F_TERMS }, { "credit_limit_minor", F_CREDIT_LIMIT },
    { "sales_rep", F_SALES_REP }, { "collector", F_COLLECTOR },
    { "late_fees", F_LATE_FEES },
};
#define FIELD_COUNT (sizeof s_fields / sizeof s_fields [0])

//  What the checks of a customer's fields settle: the values to store
//  where they differ from what the request says.
typedef struct {
    const char *timezone;       //  the zone's name as PostgreSQL spells it
    const char *language;       //  default applied
    const char *currency;       //  default applied
    char terms [TERMS_TEXT_MAX];    //  canonical text
    terms_t parsed;             //  the terms taken apart
} s_customer_values_t;

//  The names of pg_timezone_names, read once: the view reads the whole
//  time zone database on every query (30-60 ms), too slow for the
//  writer's thread, and its contents only change with PostgreSQL's
//  tzdata, which needs a restart of PostgreSQL (and so a reconnect, which
//  the cache does not notice: a zone added by a tzdata update is known
//  after recoupd restarts). Used by write commands only (one thread).
static char **s_zones;
static size_t s_n_zones;
static const char s_zone_failed [] = "";

//  The zone named `name` (case-insensitively) as PostgreSQL spells it;
//  NULL when unknown; s_zone_failed when the names cannot be read.
static const char *
s_timezone_find (db_t *db, const char *name)
{
    if (!s_zones) {
        PGresult *res = db_exec (db, PGRES_TUPLES_OK,
                                 "SELECT name FROM pg_timezone_names", 0, NULL);
        if (!res)
            return s_zone_failed;
        size_t rows = (size_t) PQntuples (res);
        char **zones = calloc (rows + 1, sizeof *zones);
        for (size_t i = 0; zones && i < rows; i++)
            if (!(zones [i] = strdup (PQgetvalue (res, (int) i, 0))))
                abort ();
        PQclear (res);
        if (!zones)
            abort ();
        s_zones = zones;
        s_n_zones = rows;
    }
    const char *folded = NULL;
    for (size_t i = 0; i < s_n_zones; i++) {
        if (strcmp (s_zones [i], name) == 0)
            return s_zones [i];
        if (!folded && strcasecmp (s_zones [i], name) == 0)
            folded = s_zones [i];
    }
    return folded;
}

//  Checks that `name` is an active user with one of two roles, for the
//  customer's `what` ("sales_rep", "collector"). Returns 1, 0 with the
//  error in reply, or -1 on a database failure.
static int
s_user_with_role (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
                  const char *name, const char *what, const char *role1,
                  const char *role2)
{
    if (!cmd_text (ctx, reply, field, name, 0, 63, 0))
        return 0;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT role, active FROM users WHERE name = $1",
                             1, &name);
    if (!res)
        return -1;
    int rc = 1;
    if (PQntuples (res) == 0)
        rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, field,
                        "there is no user named '%s' (the %s must be a "
                        "user with role %s or %s)", name, what,
                        role1, role2);
    else if (PQgetvalue (res, 0, 1) [0] != 't')
        rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                        "user '%s' is revoked; choose an active user", name);
    else if (strcmp (PQgetvalue (res, 0, 0), role1) != 0
             && strcmp (PQgetvalue (res, 0, 0), role2) != 0)
        rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                        "user '%s' has role %s; the %s must have role "
                        "%s or %s", name, PQgetvalue (res, 0, 0), what,
                        role1, role2);
    PQclear (res);
    return rc;
}

//  Checks the fields in `mask` of a customer, applying the defaults
//  ("" timezone, language, currency, terms). `prefix` is the message's
//  path ("customer_create.customer"). Returns 1, 0 with the error in
//  reply, or -1 on a database failure.
static int
s_customer_check (cmdctx_t *ctx, Recoup__Reply *reply, const char *prefix,
                  const Recoup__Customer *customer, unsigned mask,
                  s_customer_values_t *values)
{
#define FIELD(name) arena_printf (ctx->arena, "%s." name, prefix)
    if ((mask & F_NAME)
        && !cmd_text (ctx, reply, FIELD ("name"), customer->name, 1, NAME_MAX_CHARS, 0))
        return 0;
    if (mask & F_EMAIL) {
        const char *email = customer->email;
        if (!cmd_text (ctx, reply, FIELD ("email"), email, 0, EMAIL_MAX, 0))
            return 0;
        const char *at = strchr (email, '@');
        if (*email && (!at || at == email || !at [1] || strchr (at + 1, '@')
                       || strpbrk (email, " \t")))
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              FIELD ("email"), "'%s' is not an email address "
                              "(name@domain, no blanks)", email);
    }
    if ((mask & F_PHONE)
        && !cmd_text (ctx, reply, FIELD ("phone"), customer->phone, 0, PHONE_MAX, 0))
        return 0;
    if ((mask & F_ADDRESS)
        && !cmd_text (ctx, reply, FIELD ("address"), customer->address, 0,
                    ADDRESS_MAX, 1))
        return 0;
    if (mask & F_TIMEZONE) {
        const char *zone = *customer->timezone ? customer->timezone : "UTC";
        if (!cmd_text (ctx, reply, FIELD ("timezone"), zone, 1, TIMEZONE_MAX, 0))
            return 0;
        //  Any IANA zone PostgreSQL knows, spelled as it spells it.
        const char *known = s_timezone_find (ctx->db, zone);
        if (known == s_zone_failed)
            return -1;
        if (!known)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              FIELD ("timezone"), "'%s' is not a known IANA "
                              "time zone (e.g. Europe/Stockholm, "
                              "America/New_York, UTC)", zone);
        values->timezone = arena_strdup (ctx->arena, known);
    }
    if (mask & F_LANGUAGE) {
        values->language = *customer->language ? customer->language : "en";
        if (!cmd_text (ctx, reply, FIELD ("language"), values->language, 2,
                     LANGUAGE_MAX, 0))
            return 0;
        if (!s_language_valid (values->language))
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              FIELD ("language"), "'%s' is not a language tag "
                              "(lower-case ISO 639 code, e.g. en, sv, pt-BR)",
                              values->language);
    }
    if (mask & F_CURRENCY) {
        if (*customer->currency)
            values->currency = customer->currency;
        else {
            char base [4];
            if (ledger_base_currency (ctx->db, base) != 0)
                return -1;
            values->currency = arena_strdup (ctx->arena, base);
        }
        if (!s_currency (ctx, reply, FIELD ("currency"), values->currency))
            return 0;
    }
    if (mask & F_TERMS) {
        const char *terms = *customer->terms ? customer->terms : "net 30";
        char err [256];
        if (terms_parse (terms, &values->parsed, values->terms, err, sizeof err) != 0)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              FIELD ("terms"), "%s", err);
    }
    if ((mask & F_CREDIT_LIMIT) && customer->credit_limit_minor < 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          FIELD ("credit_limit_minor"), "credit_limit_minor must "
                          "be 0 (no limit) or above (got %" PRId64 ")",
                          customer->credit_limit_minor);
    int rc;
    if ((mask & F_SALES_REP) && *customer->sales_rep
        && (rc = s_user_with_role (ctx, reply, FIELD ("sales_rep"),
                                   customer->sales_rep, "sales rep", "sales",
                                   "manager")) != 1)
        return rc;
    if ((mask & F_COLLECTOR) && *customer->collector
        && (rc = s_user_with_role (ctx, reply, FIELD ("collector"),
                                   customer->collector, "collector",
                                   "collector", "manager")) != 1)
        return rc;
    return 1;
#undef FIELD
}

//  Emits `kind` for the customer and the account.changed of customer
//  `id`; fills a CustomerReply. Returns 0 or -1.
static int
s_customer_done (cmdctx_t *ctx, Recoup__Reply *reply, const char *kind,
                 PGresult *res, int update)
{
    Recoup__Customer *customer = CMD_NEW (ctx, Recoup__Customer,
                                          recoup__customer__init);
    ledger_customer_from_row (ctx, customer, res, 0, 1);
    const char *ids = arena_printf (ctx->arena, "{%s}", PQgetvalue (res, 0, 0));
    cmd_emit (ctx, kind, RECOUP__EVENT__BODY_CUSTOMER, customer);
    if (ledger_emit_accounts (ctx, ids) != 0)
        return -1;
    Recoup__CustomerReply *result = CMD_NEW (ctx, Recoup__CustomerReply,
                                             recoup__customer_reply__init);
    result->customer = customer;
    result->seq = cmd_peek_seq (ctx) - 1;
    if (update) {
        reply->result_case = RECOUP__REPLY__RESULT_CUSTOMER_UPDATE;
        reply->customer_update = result;
    }
    else {
        reply->result_case = RECOUP__REPLY__RESULT_CUSTOMER_CREATE;
        reply->customer_create = result;
    }
    return 0;
}

//  customer_create: checks every field, applies the defaults, refuses a
//  ref that exists (CONFLICT). Emits customer.created, account.changed.
int
cmd_customer_create (cmdctx_t *ctx, const Recoup__Request *request,
                     Recoup__Reply *reply)
{
    const Recoup__Customer *c = request->customer_create->customer;
    if (!c)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "customer_create.customer", "customer is missing");
    if (!cmd_text (ctx, reply, "customer_create.customer.ref", c->ref, 1, REF_MAX, 0))
        return 0;
    s_customer_values_t values;
    memset (&values, 0, sizeof values);
    int rc = s_customer_check (ctx, reply, "customer_create.customer", c, F_ALL,
                               &values);
    if (rc != 1)
        return rc;
    const char *params [] = {
        c->ref, c->name, c->email, c->phone, c->address, values.timezone,
        values.language, values.currency, values.terms,
        cmd_int (ctx, values.parsed.days), cmd_int (ctx, values.parsed.discount_bp),
        cmd_int (ctx, values.parsed.discount_days),
        cmd_int (ctx, c->credit_limit_minor), c->sales_rep, c->collector,
        c->late_fees ? "t" : "f"
    };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "INSERT INTO customers AS c (ref, name, email, phone, address, timezone,"
        " language, currency, terms, terms_days, discount_bp, discount_days,"
        " credit_limit_minor, sales_rep, collector, late_fees) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
        " nullif ($14, ''), nullif ($15, ''), $16::boolean) "
        "ON CONFLICT (ref) DO NOTHING RETURNING c.id, " LEDGER_CUSTOMER_COLUMNS,
        16, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "customer_create.customer.ref",
                          "a customer with ref '%s' already exists: change it "
                          "with customer_update, or choose another ref", c->ref);
    }
    rc = s_customer_done (ctx, reply, "customer.created", res, 0);
    PQclear (res);
    return rc;
}

//  customer_update: changes only the fields named in `fields` (checked
//  as for create); the ref names the customer and never changes. Emits
//  customer.updated, account.changed.
int
cmd_customer_update (cmdctx_t *ctx, const Recoup__Request *request,
                     Recoup__Reply *reply)
{
    const Recoup__CustomerUpdateRequest *update = request->customer_update;
    const Recoup__Customer *c = update->customer;
    if (!c)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "customer_update.customer", "customer is missing");
    if (!cmd_text (ctx, reply, "customer_update.customer.ref", c->ref, 1, REF_MAX, 0))
        return 0;
    unsigned mask = 0;
    for (size_t i = 0; i < update->n_fields; i++) {
        const char *name = update->fields [i];
        unsigned bit = 0;
        for (size_t f = 0; f < FIELD_COUNT; f++)
            if (strcmp (s_fields [f].name, name) == 0)
                bit = s_fields [f].bit;
        if (strcmp (name, "ref") == 0)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              "customer_update.fields", "a customer's ref never "
                              "changes: it names the customer to update");
        if (!bit)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              "customer_update.fields", "unknown field '%.64s': "
                              "use name, email, phone, address, timezone, "
                              "language, currency, terms, credit_limit_minor, "
                              "sales_rep, collector or late_fees", name);
        mask |= bit;
    }
    if (!mask)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "customer_update.fields", "name at least one field to "
                          "change in fields");
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             CUSTOMER_SELECT "WHERE c.ref = $1 FOR UPDATE", 1,
                             (const char *[]) { c->ref });
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "customer_update.customer.ref",
                          "there is no customer with ref '%s'", c->ref);
    }
    const char *id = cmd_value (ctx, res, 0, 0);
    PQclear (res);
    s_customer_values_t values;
    memset (&values, 0, sizeof values);
    int rc = s_customer_check (ctx, reply, "customer_update.customer", c, mask,
                               &values);
    if (rc != 1)
        return rc;
    //  NULL leaves a column as it is; "" clears sales_rep and collector.
#define IF_SET(bit, value) ((mask & (bit)) ? (value) : NULL)
    const char *params [] = {
        id, IF_SET (F_NAME, c->name), IF_SET (F_EMAIL, c->email),
        IF_SET (F_PHONE, c->phone), IF_SET (F_ADDRESS, c->address),
        IF_SET (F_TIMEZONE, values.timezone),
        IF_SET (F_LANGUAGE, values.language),
        IF_SET (F_CURRENCY, values.currency), IF_SET (F_TERMS, values.terms),
        IF_SET (F_TERMS, cmd_int (ctx, values.parsed.days)),
        IF_SET (F_TERMS, cmd_int (ctx, values.parsed.discount_bp)),
        IF_SET (F_TERMS, cmd_int (ctx, values.parsed.discount_days)),
        IF_SET (F_CREDIT_LIMIT, cmd_int (ctx, c->credit_limit_minor)),
        IF_SET (F_SALES_REP, c->sales_rep), IF_SET (F_COLLECTOR, c->collector),
        IF_SET (F_LATE_FEES, c->late_fees ? "t" : "f"),
    };
#undef IF_SET
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "UPDATE customers AS c SET name = coalesce ($2, c.name),"
        " email = coalesce ($3, c.email), phone = coalesce ($4, c.phone),"
        " address = coalesce ($5, c.address),"
        " timezone = coalesce ($6, c.timezone),"
        " language = coalesce ($7, c.language),"
        " currency = coalesce ($8, c.currency), terms = coalesce ($9, c.terms),"
        " terms_days = coalesce ($10::int, c.terms_days),"
        " discount_bp = coalesce ($11::int, c.discount_bp),"
        " discount_days = coalesce ($12::int, c.discount_days),"
        " credit_limit_minor = coalesce ($13::bigint, c.credit_limit_minor),"
        " sales_rep = CASE WHEN $14::text IS NULL THEN c.sales_rep"
        "   ELSE nullif ($14, '') END,"
        " collector = CASE WHEN $15::text IS NULL THEN c.collector"
        "   ELSE nullif ($15, '') END,"
        " late_fees = coalesce ($16::boolean, c.late_fees),"
        " updated_at = now () "
        "WHERE c.id = $1 RETURNING c.id, " LEDGER_CUSTOMER_COLUMNS, 16, params);
    if (!res)
        return -1;
    rc = s_customer_done (ctx, reply, "customer.updated", res, 1);
    PQclear (res);
    return rc;
}

// ---------------------------------------------------------------- invoices

//  Invoice columns: number, customer ref, issued, due, amount, currency,
//  terms, discount_until, discount_bp, then the balance (all entries).
#define INVOICE_COLUMNS \
    "i.number, c.ref, i.issued, i.due, i.amount_minor, i.currency, i.terms, " \
    "coalesce (i.discount_until::text, ''), i.discount_bp"

//  An Invoice from INVOICE_COLUMNS and a balance, starting at `col`.
static Recoup__Invoice *
s_invoice_from_row (cmdctx_t *ctx, PGresult *res, int row, int col)
{
    Recoup__Invoice *invoice = CMD_NEW (ctx, Recoup__Invoice, recoup__invoice__init);
    invoice->number = cmd_value (ctx, res, row, col);
    invoice->customer = cmd_value (ctx, res, row, col + 1);
    invoice->issued = cmd_value (ctx, res, row, col + 2);
    invoice->due = cmd_value (ctx, res, row, col + 3);
    invoice->amount_minor = cmd_value_int (res, row, col + 4);
    invoice->currency = cmd_value (ctx, res, row, col + 5);
    invoice->terms = cmd_value (ctx, res, row, col + 6);
    invoice->discount_until = cmd_value (ctx, res, row, col + 7);
    invoice->discount_bp = (uint32_t) cmd_value_int (res, row, col + 8);
    invoice->balance_minor = cmd_value_int (res, row, col + 9);
    return invoice;
}

//  Looks a customer up by ref for a command. Returns the row (caller
//  PQclears), or NULL: with the error in reply (NOT_FOUND) when
//  *failed is 0, on a database failure when it is 1.
static PGresult *
s_customer_find (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
                 const char *ref, int *failed)
{
    *failed = 0;
    if (!cmd_text (ctx, reply, field, ref, 1, REF_MAX, 0))
        return NULL;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             CUSTOMER_SELECT "WHERE c.ref = $1", 1, &ref);
    if (!res) {
        *failed = 1;
        return NULL;
    }
    if (PQntuples (res) == 0) {
        PQclear (res);
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, field,
                   "there is no customer with ref '%s'", ref);
        return NULL;
    }
    return res;
}

//  invoice_issue: dates and currency default from the business date and
//  the customer; due = issued + terms days unless given; a number is
//  used once (CONFLICT names the invoice that has it). Emits
//  invoice.issued, account.changed.
int
cmd_invoice_issue (cmdctx_t *ctx, const Recoup__Request *request,
                   Recoup__Reply *reply)
{
    const Recoup__Invoice *inv = request->invoice_issue->invoice;
    if (!inv)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "invoice_issue.invoice", "invoice is missing");
    if (!cmd_text (ctx, reply, "invoice_issue.invoice.number", inv->number, 1,
                 REF_MAX, 0))
        return 0;
    int failed;
    PGresult *cust = s_customer_find (ctx, reply, "invoice_issue.invoice.customer",
                                      inv->customer, &failed);
    if (!cust)
        return failed ? -1 : 0;
    const char *customer_id = cmd_value (ctx, cust, 0, 0);
    const char *customer_currency = cmd_value (ctx, cust, 0, 8);
    const char *customer_terms = cmd_value (ctx, cust, 0, 9);
    terms_t terms = {
        .days = (int) cmd_value_int (cust, 0, 14),
        .discount_bp = (int) cmd_value_int (cust, 0, 15),
        .discount_days = (int) cmd_value_int (cust, 0, 16),
    };
    PQclear (cust);

    int32_t issued, due;
    if (!cmd_date (ctx, reply, "invoice_issue.invoice.issued", inv->issued,
                 cmd_today (), &issued))
        return 0;
    char canonical [TERMS_TEXT_MAX];
    snprintf (canonical, sizeof canonical, "%s", customer_terms);
    if (*inv->terms) {
        char err [256];
        if (terms_parse (inv->terms, &terms, canonical, err, sizeof err) != 0)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              "invoice_issue.invoice.terms",
                              "%s", err);
    }
    if (!cmd_date (ctx, reply, "invoice_issue.invoice.due", inv->due,
                 issued + terms.days, &due))
        return 0;
    if (due > DATE_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "invoice_issue.invoice.issued",
                          "the due date would be "
                          "after 9999-12-31");
    if (due < issued)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "invoice_issue.invoice.due",
                          "due date %s is before the "
                          "issue date %s", inv->due, cmd_date_text (ctx, issued));
    if (!cmd_positive (ctx, reply, "invoice_issue.invoice.amount_minor",
                     inv->amount_minor))
        return 0;
    const char *currency = *inv->currency ? inv->currency : customer_currency;
    if (!s_currency (ctx, reply, "invoice_issue.invoice.currency", currency))
        return 0;
    const char *discount_until = terms.discount_bp > 0
        ? cmd_date_text (ctx, issued + terms.discount_days) : NULL;

    const char *params [] = {
        inv->number, customer_id, cmd_date_text (ctx, issued),
        cmd_date_text (ctx, due), cmd_int (ctx, inv->amount_minor), currency,
        canonical, cmd_int (ctx, terms.discount_bp), discount_until
    };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "INSERT INTO invoices (number, customer_id, issued, due, amount_minor,"
        " currency, terms, discount_bp, discount_until) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (number) DO NOTHING RETURNING id", 9, params);
    if (!res)
        return -1;
    int inserted = PQntuples (res) == 1;
    PQclear (res);
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT " INVOICE_COLUMNS ", recoup_invoice_balance (i.id), "
                   "i.customer_id FROM invoices i "
                   "JOIN customers c ON c.id = i.customer_id WHERE i.number = $1",
                   1, params);
    if (!res)
        return -1;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return -1;
    }
    Recoup__Invoice *invoice = s_invoice_from_row (ctx, res, 0, 0);
    int same_customer = strcmp (PQgetvalue (res, 0, 10), customer_id) == 0;
    PQclear (res);
    if (!inserted) {
        cmd_money_t amount = cmd_money (invoice->amount_minor, invoice->currency);
        int same = same_customer && strcmp (invoice->issued, params [2]) == 0
                   && strcmp (invoice->due, params [3]) == 0
                   && invoice->amount_minor == inv->amount_minor
                   && strcmp (invoice->currency, currency) == 0
                   && strcmp (invoice->terms, canonical) == 0;
        if (same)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                              "invoice_issue.invoice.number",
                              "invoice %s was already issued, with the same "
                              "content (customer %s, issued %s, due %s, %s): "
                              "nothing to do", invoice->number,
                              invoice->customer, invoice->issued, invoice->due,
                              amount.text);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "invoice_issue.invoice.number",
                          "invoice number %s is already used by an invoice to "
                          "customer %s issued %s, due %s, for %s: give this "
                          "invoice another number (or correct that one with a "
                          "credit note)", invoice->number, invoice->customer,
                          invoice->issued, invoice->due, amount.text);
    }
    cmd_emit (ctx, "invoice.issued", RECOUP__EVENT__BODY_INVOICE, invoice);
    //  An invoice that takes the account over its credit limit, or is
    //  issued on a held or cash-only account, alerts the rep and the
    //  manager.
    accounts_touched_t touched = { NULL };
    accounts_touch (ctx, &touched, customer_id);
    if (resolution_credit_alert (ctx, customer_id, invoice->number, &touched) < 0
        || accounts_touched_emit (ctx, &touched) != 0)
        return -1;
    Recoup__InvoiceIssueReply *result = CMD_NEW (ctx, Recoup__InvoiceIssueReply,
                                                 recoup__invoice_issue_reply__init);
    result->invoice = invoice;
    result->seq = cmd_peek_seq (ctx) - 1;
    reply->result_case = RECOUP__REPLY__RESULT_INVOICE_ISSUE;
    reply->invoice_issue = result;
    return 0;
}

// ---------------------------------------------------------------- payments

//  An entry with what a person needs to read it: id, invoice number,
//  customer ref, kind, on_date, amount, currency, payment reference,
//  reverses, memo, recorded_at.
#define ENTRY_SELECT \
    "SELECT e.id, i.number, c.ref, e.kind, e.on_date, e.amount_minor, " \
    "e.currency, coalesce (p.reference, ''), coalesce (e.reverses, 0), " \
    "e.memo, e.recorded_at FROM entries e " \
    "JOIN invoices i ON i.id = e.invoice_id " \
    "JOIN customers c ON c.id = e.customer_id " \
    "LEFT JOIN payments p ON p.id = e.payment_id "

//  An Entry from a row of ENTRY_SELECT.
static Recoup__Entry *
s_entry_from_row (cmdctx_t *ctx, PGresult *res, int row)
{
    Recoup__Entry *entry = CMD_NEW (ctx, Recoup__Entry, recoup__entry__init);
    entry->id = strtoull (PQgetvalue (res, row, 0), NULL, 10);
    entry->invoice = cmd_value (ctx, res, row, 1);
    entry->customer = cmd_value (ctx, res, row, 2);
    entry->kind = cmd_value (ctx, res, row, 3);
    entry->on_date = cmd_value (ctx, res, row, 4);
    entry->amount_minor = cmd_value_int (res, row, 5);
    entry->currency = cmd_value (ctx, res, row, 6);
    entry->payment = cmd_value (ctx, res, row, 7);
    entry->reverses = strtoull (PQgetvalue (res, row, 8), NULL, 10);
    entry->memo = cmd_value (ctx, res, row, 9);
    entry->recorded_us = cmd_parse_timestamp (PQgetvalue (res, row, 10));
    return entry;
}

//  Checks the named allocations of a payment: every invoice exists,
//  belongs to the customer, is in the payment's currency, and is named
//  once. Sets ids [i] to the invoices' ids. Returns 1, 0 with the error
//  in reply, or -1 on a database failure.
static int
s_allocations_check (cmdctx_t *ctx, Recoup__Reply *reply,
                     const Recoup__Payment *pay, const char *customer_id,
                     const char *currency, const char **ids)
{
    if (pay->n_allocations > ALLOCATIONS_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "payment_post.payment.allocations",
                          "a payment names at most %d invoices (got %zu)",
                          ALLOCATIONS_MAX, pay->n_allocations);
    for (size_t i = 0; i < pay->n_allocations; i++) {
        const Recoup__Allocation *a = pay->allocations [i];
        const char *field = arena_printf (ctx->arena,
                                          "payment_post.payment.allocations[%zu]", i);
        const char *number_field = arena_printf (ctx->arena, "%s.invoice", field);
        if (!a)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              field, "allocation %zu is empty", i);
        if (!cmd_text (ctx, reply, number_field, a->invoice, 1, REF_MAX, 0))
            return 0;
        if (a->amount_minor < 0)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              arena_printf (ctx->arena, "%s.amount_minor", field),
                              "the amount of allocation %zu must be 0 (the whole "
                              "balance) or above", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp (pay->allocations [j]->invoice, a->invoice) == 0)
                return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                                  number_field, "invoice %s is named twice; name "
                                  "it once with the whole amount", a->invoice);
        const char *number = a->invoice;
        PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                                 "SELECT i.id, i.customer_id, i.currency, c.ref "
                                 "FROM invoices i JOIN customers c "
                                 "ON c.id = i.customer_id WHERE i.number = $1",
                                 1, &number);
        if (!res)
            return -1;
        int rc = 1;
        if (PQntuples (res) == 0)
            rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, number_field,
                            "there is no invoice %s", number);
        else if (strcmp (PQgetvalue (res, 0, 1), customer_id) != 0)
            rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                            number_field, "invoice %s belongs to customer %s, "
                            "not to the customer of this payment (%s)", number,
                            PQgetvalue (res, 0, 3), pay->customer);
        else if (strcmp (PQgetvalue (res, 0, 2), currency) != 0)
            rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                            number_field, "invoice %s is in %s and this payment "
                            "in %s: a payment pays invoices of its own currency",
                            number, PQgetvalue (res, 0, 2), currency);
        else
            ids [i] = cmd_value (ctx, res, 0, 0);
        PQclear (res);
        if (rc != 1)
            return rc;
    }
    return 1;
}

//  payment_post: records the payment once per (customer, reference) and
//  allocates it: to the named invoices in order (each up to its
//  balance), else oldest due first; what is left is unapplied cash.
//  Emits payment.posted (with the allocations made), account.changed.
int
cmd_payment_post (cmdctx_t *ctx, const Recoup__Request *request,
                  Recoup__Reply *reply)
{
    const Recoup__Payment *pay = request->payment_post->payment;
    if (!pay)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "payment_post.payment", "payment is missing");
    int failed;
    PGresult *cust = s_customer_find (ctx, reply, "payment_post.payment.customer",
                                      pay->customer, &failed);
    if (!cust)
        return failed ? -1 : 0;
    const char *customer_id = cmd_value (ctx, cust, 0, 0);
    const char *customer_currency = cmd_value (ctx, cust, 0, 8);
    PQclear (cust);
    if (!cmd_text (ctx, reply, "payment_post.payment.reference", pay->reference, 1,
                 REF_MAX, 0))
        return 0;
    int32_t received;
    if (!cmd_date (ctx, reply, "payment_post.payment.received", pay->received,
                 cmd_today (), &received))
        return 0;
    if (!cmd_positive (ctx, reply, "payment_post.payment.amount_minor",
                     pay->amount_minor))
        return 0;
    const char *currency = *pay->currency ? pay->currency : customer_currency;
    if (!s_currency (ctx, reply, "payment_post.payment.currency", currency))
        return 0;
    if (!cmd_text (ctx, reply, "payment_post.payment.method", pay->method, 0,
                 METHOD_MAX, 0))
        return 0;
    const char **invoice_ids = arena_alloc (ctx->arena,
                                            (pay->n_allocations + 1) * sizeof (char *));
    int rc = s_allocations_check (ctx, reply, pay, customer_id, currency,
                                  invoice_ids);
    if (rc != 1)
        return rc;

    const char *received_text = cmd_date_text (ctx, received);
    const char *params [] = {
        customer_id, pay->reference, received_text, pay->method,
        cmd_int (ctx, pay->amount_minor), currency
    };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "INSERT INTO payments (customer_id, reference, received, method,"
        " amount_minor, currency) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (customer_id, reference) DO NOTHING RETURNING id", 6, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        res = db_exec (ctx->db, PGRES_TUPLES_OK,
                       "SELECT received, amount_minor, currency, recorded_at "
                       "FROM payments WHERE customer_id = $1 AND reference = $2",
                       2, params);
        if (!res)
            return -1;
        if (PQntuples (res) != 1) {
            PQclear (res);
            return -1;
        }
        cmd_money_t amount = cmd_money (cmd_value_int (res, 0, 1), PQgetvalue (res, 0, 2));
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                   "payment_post.payment.reference",
                   "customer %s already has a payment with reference '%s' "
                   "(received %s, %s, recorded %.16s): a payment is posted "
                   "once; if this is another payment, give it its own "
                   "reference", pay->customer, pay->reference,
                   PQgetvalue (res, 0, 0), amount.text, PQgetvalue (res, 0, 3));
        PQclear (res);
        return 0;
    }
    const char *payment_id = cmd_value (ctx, res, 0, 0);
    PQclear (res);

    //  Named invoices in the order given, else oldest due first; what
    //  is left stays on the account as unapplied cash.
    for (size_t i = 0; i < pay->n_allocations; i++) {
        const Recoup__Allocation *a = pay->allocations [i];
        const char *allocate [] = {
            payment_id, invoice_ids [i],
            a->amount_minor > 0 ? cmd_int (ctx, a->amount_minor) : NULL, ctx->user
        };
        res = db_exec (ctx->db, PGRES_TUPLES_OK,
                       "SELECT recoup_allocate ($1::bigint, $2::bigint, "
                       "$3::bigint, $4)", 4, allocate);
        if (!res)
            return -1;
        PQclear (res);
    }
    if (pay->n_allocations == 0) {
        res = db_exec (ctx->db, PGRES_TUPLES_OK,
                       "SELECT recoup_allocate_oldest ($1::bigint, $2)", 2,
                       (const char *[]) { payment_id, ctx->user });
        if (!res)
            return -1;
        PQclear (res);
    }
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT e.id, i.number, -e.amount_minor, "
                   "recoup_payment_unapplied ($1::bigint) "
                   "FROM (SELECT 1) one LEFT JOIN entries e ON e.payment_id = $1::bigint "
                   "LEFT JOIN invoices i ON i.id = e.invoice_id ORDER BY e.id",
                   1, &payment_id);
    if (!res)
        return -1;
    Recoup__Payment *payment = CMD_NEW (ctx, Recoup__Payment, recoup__payment__init);
    payment->customer = arena_strdup (ctx->arena, pay->customer);
    payment->reference = arena_strdup (ctx->arena, pay->reference);
    payment->received = (char *) received_text;
    payment->method = arena_strdup (ctx->arena, pay->method);
    payment->amount_minor = pay->amount_minor;
    payment->currency = arena_strdup (ctx->arena, currency);
    int rows = PQntuples (res);
    payment->allocations = arena_alloc (ctx->arena, (size_t) rows * sizeof (void *) + 1);
    for (int r = 0; r < rows; r++) {
        payment->unapplied_minor = cmd_value_int (res, r, 3);
        if (PQgetisnull (res, r, 0))
            continue;
        Recoup__Allocation *a = CMD_NEW (ctx, Recoup__Allocation,
                                         recoup__allocation__init);
        a->entry_id = strtoull (PQgetvalue (res, r, 0), NULL, 10);
        a->invoice = cmd_value (ctx, res, r, 1);
        a->amount_minor = cmd_value_int (res, r, 2);
        payment->allocations [payment->n_allocations++] = a;
    }
    PQclear (res);
    cmd_emit (ctx, "payment.posted", RECOUP__EVENT__BODY_PAYMENT, payment);
    //  What the payment settles, at once rather than at the next daily
    //  run: a promise kept (or, found on the way, one broken), then one
    //  account.changed per customer; then a settlement paid (the rest
    //  written off) or a recovery after a write-off, which bring their own.
    const char *today = cmd_date_text (ctx, cmd_today ());
    accounts_touched_t touched = { NULL };
    accounts_touch (ctx, &touched, customer_id);
    if (accounts_evaluate_touching (ctx, today, &touched) < 0
        || accounts_touched_emit (ctx, &touched) != 0
        || resolution_evaluate (ctx, today) < 0)
        return -1;
    Recoup__PaymentPostReply *result = CMD_NEW (ctx, Recoup__PaymentPostReply,
                                                recoup__payment_post_reply__init);
    result->payment = payment;
    result->seq = cmd_peek_seq (ctx) - 1;
    reply->result_case = RECOUP__REPLY__RESULT_PAYMENT_POST;
    reply->payment_post = result;
    return 0;
}

// ---------------------------------------------------------------- entries

//  What the balance of invoice `invoice_id` may still go down by on
//  `date`: the least of its balance as of that date and as of every
//  later entry (and now), so that an entry dated in the past never makes
//  the invoice negative as of any day. Sets *balance to the balance now.
//  Returns 0 or -1.
static int
s_invoice_available (cmdctx_t *ctx, const char *invoice_id, const char *date,
                     int64_t *balance, int64_t *available)
{
    const char *params [] = { invoice_id, date };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT recoup_invoice_balance ($1::bigint),"
        " least (recoup_invoice_balance ($1::bigint),"
        "        recoup_invoice_balance ($1::bigint, $2::date),"
        "        (SELECT min (recoup_invoice_balance ($1::bigint, e.on_date))"
        "         FROM entries e WHERE e.invoice_id = $1::bigint"
        "         AND e.on_date > $2::date))", 2, params);
    if (!res)
        return -1;
    *balance = cmd_value_int (res, 0, 0);
    *available = cmd_value_int (res, 0, 1);
    PQclear (res);
    return 0;
}

//  Emits entry.posted for entry `entry_id` and the account.changed of
//  its customer; fills an EntryReply as `which`. Returns 0 or -1.
Recoup__Entry *
ledger_emit_entry (cmdctx_t *ctx, const char *entry_id)
{
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             ENTRY_SELECT "WHERE e.id = $1", 1, &entry_id);
    if (!res)
        return NULL;
    Recoup__Entry *entry = PQntuples (res) == 1 ? s_entry_from_row (ctx, res, 0) : NULL;
    PQclear (res);
    if (entry)
        cmd_emit (ctx, "entry.posted", RECOUP__EVENT__BODY_ENTRY, entry);
    return entry;
}

static int
s_entry_done (cmdctx_t *ctx, Recoup__Reply *reply, const char *entry_id,
              const char *customer_id, Recoup__Reply__ResultCase which)
{
    Recoup__Entry *entry = ledger_emit_entry (ctx, entry_id);
    if (!entry)
        return -1;
    if (ledger_emit_accounts (ctx, arena_printf (ctx->arena, "{%s}", customer_id)) != 0)
        return -1;
    Recoup__EntryReply *result = CMD_NEW (ctx, Recoup__EntryReply,
                                          recoup__entry_reply__init);
    result->entry = entry;
    result->seq = cmd_peek_seq (ctx) - 1;
    reply->result_case = which;
    if (which == RECOUP__REPLY__RESULT_CREDIT_NOTE)
        reply->credit_note = result;
    else
        reply->entry_reverse = result;
    return 0;
}

//  credit_note: a negative credit_note entry on an invoice, at most what
//  it can lose on that date (s_invoice_available). Emits entry.posted,
//  account.changed.
int
cmd_credit_note (cmdctx_t *ctx, const Recoup__Request *request,
                 Recoup__Reply *reply)
{
    const Recoup__CreditNoteRequest *note = request->credit_note;
    if (!cmd_text (ctx, reply, "credit_note.invoice", note->invoice, 1, REF_MAX, 0))
        return 0;
    const char *number = note->invoice;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT i.id, i.customer_id, i.issued, i.currency "
                             "FROM invoices i WHERE i.number = $1", 1, &number);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "credit_note.invoice", "there is no invoice %s", number);
    }
    const char *invoice_id = cmd_value (ctx, res, 0, 0);
    const char *customer_id = cmd_value (ctx, res, 0, 1);
    const char *issued = cmd_value (ctx, res, 0, 2);
    const char *currency = cmd_value (ctx, res, 0, 3);
    PQclear (res);
    //  The client read the amount in some currency's decimals: it must be
    //  the invoice's, or 10.00 could become 1000 JPY.
    if (*note->currency && strcmp (note->currency, currency) != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "credit_note.currency", "invoice %s is in %s, not %.8s: "
                          "give the amount in %s", number, currency, note->currency,
                          currency);
    if (!cmd_positive (ctx, reply, "credit_note.amount_minor", note->amount_minor))
        return 0;
    int32_t on_date;
    if (!cmd_date (ctx, reply, "credit_note.on_date", note->on_date, cmd_today (),
                 &on_date))
        return 0;
    const char *date = cmd_date_text (ctx, on_date);
    if (strcmp (date, issued) < 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "credit_note.on_date", "%s is "
                          "before invoice %s was issued (%s)", date, number, issued);
    if (!cmd_text (ctx, reply, "credit_note.memo", note->memo, 0, MEMO_MAX, 1))
        return 0;
    int64_t balance, available;
    if (s_invoice_available (ctx, invoice_id, date, &balance, &available) != 0)
        return -1;
    if (note->amount_minor > available) {
        cmd_money_t asked = cmd_money (note->amount_minor, currency);
        cmd_money_t open = cmd_money (balance, currency);
        if (available >= balance)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                              "credit_note.amount_minor",
                              "a credit note of %s is more than the balance of "
                              "invoice %s (%s): credit at most the balance",
                              asked.text, number, open.text);
        cmd_money_t most = cmd_money (available < 0 ? 0 : available, currency);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "credit_note.amount_minor",
                          "a credit note of %s dated %s would take invoice %s "
                          "below zero on a later date (balance now %s): credit "
                          "at most %s on that date, or date it later",
                          asked.text, date, number, open.text, most.text);
    }
    const char *params [] = {
        invoice_id, customer_id, date, cmd_int (ctx, -note->amount_minor), currency,
        note->memo, ctx->user
    };
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "INSERT INTO entries (invoice_id, customer_id, kind, on_date,"
                   " amount_minor, currency, memo, actor) "
                   "VALUES ($1, $2, 'credit_note', $3, $4, $5, $6, $7) RETURNING id",
                   7, params);
    if (!res)
        return -1;
    const char *entry_id = cmd_value (ctx, res, 0, 0);
    PQclear (res);
    return s_entry_done (ctx, reply, entry_id, customer_id,
                         RECOUP__REPLY__RESULT_CREDIT_NOTE);
}

//  entry_reverse: the opposite entry (kind reversal), once per entry,
//  never of a reversal; an allocation's reversal keeps its payment, so
//  the money goes back to the payment's unapplied cash. Emits
//  entry.posted, account.changed.
int
cmd_entry_reverse (cmdctx_t *ctx, const Recoup__Request *request,
                   Recoup__Reply *reply)
{
    const Recoup__EntryReverseRequest *reverse = request->entry_reverse;
    if (reverse->entry_id == 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "entry_reverse.entry_id", "entry_id is "
                          "required (the id of the entry to reverse)");
    if (reverse->entry_id > (uint64_t) INT64_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "entry_reverse.entry_id", "there is no entry %" PRIu64,
                          reverse->entry_id);
    if (!cmd_text (ctx, reply, "entry_reverse.memo", reverse->memo, 1, MEMO_MAX, 1))
        return 0;
    const char *id = arena_printf (ctx->arena, "%" PRIu64, reverse->entry_id);
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT e.kind, e.on_date, e.amount_minor, e.invoice_id, e.customer_id,"
        " e.currency, coalesce (e.payment_id::text, ''),"
        " coalesce (e.reverses, 0), r.id, r.on_date, i.number "
        "FROM entries e JOIN invoices i ON i.id = e.invoice_id "
        "LEFT JOIN entries r ON r.reverses = e.id WHERE e.id = $1", 1, &id);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "entry_reverse.entry_id", "there is no entry %s", id);
    }
    int rc = 1;
    if (strcmp (PQgetvalue (res, 0, 0), "reversal") == 0)
        rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                        "entry_reverse.entry_id", "entry %s is itself the "
                        "reversal of entry %s and cannot be reversed: post the "
                        "entry again instead", id, PQgetvalue (res, 0, 7));
    else if (!PQgetisnull (res, 0, 8))
        rc = cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                        "entry_reverse.entry_id", "entry %s was already "
                        "reversed by entry %s on %s", id, PQgetvalue (res, 0, 8),
                        PQgetvalue (res, 0, 9));
    if (rc != 1) {
        PQclear (res);
        return 0;
    }
    const char *original_date = cmd_value (ctx, res, 0, 1);
    int64_t amount = -cmd_value_int (res, 0, 2);
    const char *invoice_id = cmd_value (ctx, res, 0, 3);
    const char *customer_id = cmd_value (ctx, res, 0, 4);
    const char *currency = cmd_value (ctx, res, 0, 5);
    const char *payment_id = cmd_value (ctx, res, 0, 6);
    const char *number = cmd_value (ctx, res, 0, 10);
    PQclear (res);
    int32_t on_date;
    if (!cmd_date (ctx, reply, "entry_reverse.on_date", reverse->on_date, cmd_today (),
                 &on_date))
        return 0;
    const char *date = cmd_date_text (ctx, on_date);
    if (strcmp (date, original_date) < 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "entry_reverse.on_date", "%s is "
                          "before the entry it reverses (%s)", date, original_date);
    if (amount < 0) {
        //  Reversing what raised the balance (a fee): it must not go below zero.
        int64_t balance, available;
        if (s_invoice_available (ctx, invoice_id, date, &balance, &available) != 0)
            return -1;
        if (-amount > available) {
            cmd_money_t open = cmd_money (balance, currency);
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                              "entry_reverse.entry_id", "reversing entry %s "
                              "would take invoice %s below zero (balance %s): "
                              "reverse what lowered it first", id, number,
                              open.text);
        }
    }
    const char *params [] = {
        invoice_id, customer_id, date, cmd_int (ctx, amount), currency, payment_id,
        id, reverse->memo, ctx->user
    };
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "INSERT INTO entries (invoice_id, customer_id, kind, on_date,"
                   " amount_minor, currency, payment_id, reverses, memo, actor) "
                   "VALUES ($1, $2, 'reversal', $3, $4, $5,"
                   " nullif ($6, '')::bigint, $7, $8, $9) RETURNING id",
                   9, params);
    if (!res)
        return -1;
    const char *entry_id = cmd_value (ctx, res, 0, 0);
    PQclear (res);
    return s_entry_done (ctx, reply, entry_id, customer_id,
                         RECOUP__REPLY__RESULT_ENTRY_REVERSE);
}

// ---------------------------------------------------------------- show

//  Fills the open invoices (as of `as_of`, with their balances then:
//  recoup_open_items for one customer, written so that the indexes
//  serve it) and the last payments of customer `id`. Returns 0 or -1.
static int
s_show_items (cmdctx_t *ctx, Recoup__CustomerShowReply *show, const char *id,
              const char *as_of)
{
    const char *params [] = { id, as_of };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT " INVOICE_COLUMNS ", b.bal FROM invoices i "
        "JOIN customers c ON c.id = i.customer_id "
        "CROSS JOIN LATERAL (SELECT i.amount_minor + coalesce (sum (e.amount_minor), 0)"
        "  AS bal FROM entries e WHERE e.invoice_id = i.id"
        "  AND e.on_date <= $2::date) b "
        "WHERE i.customer_id = $1 AND i.issued <= $2::date AND b.bal > 0 "
        "ORDER BY i.due, i.issued, i.number", 2, params);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    show->open_invoices = arena_alloc (ctx->arena, (size_t) rows * sizeof (void *) + 1);
    for (int r = 0; r < rows; r++)
        show->open_invoices [show->n_open_invoices++] = s_invoice_from_row (ctx, res, r, 0);
    PQclear (res);

    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT p.id, c.ref, p.reference, p.received, p.method, p.amount_minor,"
        " p.currency, p.amount_minor + coalesce ((SELECT sum (e.amount_minor)"
        "   FROM entries e WHERE e.payment_id = p.id AND e.on_date <= $2::date), 0) "
        "FROM payments p JOIN customers c ON c.id = p.customer_id "
        "WHERE p.customer_id = $1 AND p.received <= $2::date "
        "ORDER BY p.received DESC, p.id DESC LIMIT " SHOW_PAYMENTS, 2, params);
    if (!res)
        return -1;
    rows = PQntuples (res);
    show->payments = arena_alloc (ctx->arena, (size_t) rows * sizeof (void *) + 1);
    char *payment_ids = arena_strdup (ctx->arena, "{");
    for (int r = 0; r < rows; r++) {
        Recoup__Payment *payment = CMD_NEW (ctx, Recoup__Payment, recoup__payment__init);
        payment->customer = cmd_value (ctx, res, r, 1);
        payment->reference = cmd_value (ctx, res, r, 2);
        payment->received = cmd_value (ctx, res, r, 3);
        payment->method = cmd_value (ctx, res, r, 4);
        payment->amount_minor = cmd_value_int (res, r, 5);
        payment->currency = cmd_value (ctx, res, r, 6);
        payment->unapplied_minor = cmd_value_int (res, r, 7);
        show->payments [show->n_payments++] = payment;
        payment_ids = arena_printf (ctx->arena, "%s%s%s", payment_ids,
                                    r ? "," : "", PQgetvalue (res, r, 0));
    }
    PQclear (res);
    if (rows == 0)
        return 0;
    //  What each payment pays as of then: its allocations not reversed by then.
    const char *alloc_params [] = {
        arena_printf (ctx->arena, "%s}", payment_ids), as_of
    };
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT array_position ($1::bigint[], e.payment_id), e.id, i.number,"
        " -e.amount_minor "
        "FROM entries e JOIN invoices i ON i.id = e.invoice_id "
        "WHERE e.payment_id = ANY ($1::bigint[]) AND e.kind = 'allocation'"
        " AND e.on_date <= $2::date AND NOT EXISTS (SELECT 1 FROM entries r"
        "   WHERE r.reverses = e.id AND r.on_date <= $2::date) "
        "ORDER BY e.id", 2, alloc_params);
    if (!res)
        return -1;
    int allocs = PQntuples (res);
    //  Each payment gets room for all; there are few.
    for (size_t p = 0; p < show->n_payments; p++)
        show->payments [p]->allocations = arena_alloc (
            ctx->arena, (size_t) allocs * sizeof (void *) + 1);
    for (int r = 0; r < allocs; r++) {
        long index = strtol (PQgetvalue (res, r, 0), NULL, 10) - 1;
        if (index < 0 || (size_t) index >= show->n_payments)
            continue;
        Recoup__Payment *payment = show->payments [index];
        Recoup__Allocation *a = CMD_NEW (ctx, Recoup__Allocation,
                                         recoup__allocation__init);
        a->entry_id = strtoull (PQgetvalue (res, r, 1), NULL, 10);
        a->invoice = cmd_value (ctx, res, r, 2);
        a->amount_minor = cmd_value_int (res, r, 3);
        payment->allocations [payment->n_allocations++] = a;
    }
    PQclear (res);
    return 0;
}

//  customer_show (reader thread): the account, open invoices and last
//  payments as of a date, from one REPEATABLE READ snapshot.
int
cmd_customer_show (cmdctx_t *ctx, const Recoup__Request *request,
                   Recoup__Reply *reply)
{
    const Recoup__CustomerShowRequest *req = request->customer_show;
    if (!cmd_text (ctx, reply, "customer_show.customer", req->customer, 1, REF_MAX, 0))
        return 0;
    int32_t as_of_days;
    if (!cmd_date (ctx, reply, "customer_show.as_of", req->as_of, cmd_today (),
                 &as_of_days))
        return 0;
    const char *as_of = cmd_date_text (ctx, as_of_days);
    //  One snapshot of the database for the whole answer.
    if (db_command (ctx->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
        return -1;
    const char *ref = req->customer;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT id FROM customers WHERE ref = $1", 1, &ref);
    if (!res)
        goto fail;
    if (PQntuples (res) == 0) {
        PQclear (res);
        db_command (ctx->db, "ROLLBACK");
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "customer_show.customer",
                          "there is no customer with ref '%s'", ref);
    }
    const char *id = cmd_value (ctx, res, 0, 0);
    PQclear (res);
    Recoup__CustomerShowReply *show = CMD_NEW (ctx, Recoup__CustomerShowReply,
                                               recoup__customer_show_reply__init);
    Recoup__Account **accounts;
    size_t count;
    if (ledger_accounts_load (ctx, arena_printf (ctx->arena, "{%s}", id), as_of,
                              &accounts, &count) != 0 || count != 1)
        goto fail;
    show->account = accounts [0];
    if (s_show_items (ctx, show, id, as_of) != 0)
        goto fail;
    if (db_command (ctx->db, "COMMIT") != 0)
        return -1;
    reply->result_case = RECOUP__REPLY__RESULT_CUSTOMER_SHOW;
    reply->customer_show = show;
    return 0;
fail:
    if (db_ok (ctx->db))
        db_command (ctx->db, "ROLLBACK");
    return -1;
}
