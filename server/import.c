/*  import: the server side of `recoup import`. See import.h.

    An import is begun (a row in `imports`), its rows are staged in chunks
    into the unlogged scratch table import_rows (one multi-row INSERT of
    whole columns per chunk), and then committed: set-based SQL checks
    every staged row against the file itself (duplicate keys) and against
    the ledger (unknown customers, rows that contradict what the ledger
    holds), records each problem with its line in import_problems, and,
    unless it is a dry run or problems forbid it, applies every valid row
    in the commit's one transaction. So a file is imported in full or not
    at all, and importing it again changes nothing: rows identical to what
    the ledger holds are counted as unchanged, never written twice.

    Events: one account.changed per customer whose account changed, and
    one import.committed with the summary; never one per row.           */
#include "import.h"
#include "ledger.h"
#include "../common/date.h"
#include "../common/json.h"
#include "../common/log.h"
#include "../common/money.h"
#include "../common/terms.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Most rows in one stage request (the request size limit comes first
//  for wide rows).
#define IMPORT_STAGE_ROWS_MAX 100000
//  Problems per ImportProblems page by default, and at most.
#define IMPORT_PROBLEMS_PAGE 1000
#define IMPORT_PROBLEMS_PAGE_MAX 10000
//  How long the scratch rows of an import are kept.
#define IMPORT_RETENTION "1 day"

//  Field limits, as the tables' CHECKs.
#define REF_MAX 64
#define IMPORT_NAME_MAX 200
#define EMAIL_MAX 254
#define PHONE_MAX 64
#define METHOD_MAX 64
#define TEXT_MAX 64

static const char *
s_kind_name (Recoup__ImportKind kind)
{
    switch (kind) {
        case RECOUP__IMPORT_KIND__IMPORT_CUSTOMERS: return "customers";
        case RECOUP__IMPORT_KIND__IMPORT_INVOICES: return "invoices";
        case RECOUP__IMPORT_KIND__IMPORT_PAYMENTS: return "payments";
        default: return NULL;
    }
}

static Recoup__ImportKind
s_kind_parse (const char *name)
{
    if (strcmp (name, "customers") == 0)
        return RECOUP__IMPORT_KIND__IMPORT_CUSTOMERS;
    if (strcmp (name, "invoices") == 0)
        return RECOUP__IMPORT_KIND__IMPORT_INVOICES;
    if (strcmp (name, "payments") == 0)
        return RECOUP__IMPORT_KIND__IMPORT_PAYMENTS;
    return RECOUP__IMPORT_KIND__IMPORT_KIND_UNSPECIFIED;
}

//  True if id looks like a UUID as PostgreSQL prints it.
static int
s_uuid_valid (const char *id)
{
    if (strlen (id) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = id [i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        }
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

int
cmd_import_begin (cmdctx_t *ctx, const Recoup__Request *request,
                  Recoup__Reply *reply)
{
    const Recoup__ImportBeginRequest *begin = request->import_begin;
    const char *kind = s_kind_name (begin->kind);
    if (!kind)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "import_begin.kind",
                          "kind must be customers, invoices or payments");
    size_t chars;
    wire_utf8_valid (begin->file_name, &chars);
    if (chars > 1000)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "import_begin.file_name",
                          "file name must be at most 1000 characters");
    const char *params [] = { kind, begin->file_name, ctx->user };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "INSERT INTO imports (kind, file_name, actor) "
                             "VALUES ($1, $2, $3) RETURNING id", 3, params);
    if (!res)
        return -1;
    Recoup__ImportBeginReply *result = CMD_NEW (ctx, Recoup__ImportBeginReply,
                                                recoup__import_begin_reply__init);
    result->import_id = arena_strdup (ctx->arena, PQgetvalue (res, 0, 0));
    PQclear (res);
    reply->result_case = RECOUP__REPLY__RESULT_IMPORT_BEGIN;
    reply->import_begin = result;
    return 0;
}

//  Protobuf allocator drawing from a request's arena; freeing is a no-op
//  (the arena goes as a whole after the reply is packed).
static void *
s_arena_alloc (void *data, size_t size)
{
    return arena_alloc (data, size);
}

static void
s_arena_free (void *data, void *ptr)
{
    (void) data;
    (void) ptr;
}

//  What an import row of `imports` says.
typedef struct {
    Recoup__ImportKind kind;    //  what the file holds
    char file_name [1024];      //  for the summary
    int64_t staged;             //  rows received so far
    int closed;                 //  committed (applied or not)
    uint8_t *summary;           //  packed ImportSummary when closed (malloc)
    size_t summary_len;         //  its size
} import_row_t;

//  Loads and locks the import `id` for the caller. Returns 1 when found
//  and the caller's, 0 when the reply is set to an error, -1 on a
//  database failure. Frees nothing: the caller frees row->summary.
static int
s_import_load (cmdctx_t *ctx, const char *id, const char *field,
               import_row_t *row, Recoup__Reply *reply)
{
    memset (row, 0, sizeof *row);
    if (!s_uuid_valid (id)) {
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                   "'%.40s' is not an import id (as import_begin returns)", id);
        return 0;
    }
    const char *params [] = { id };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT kind, actor, staged, closed_at IS NOT NULL, "
                             "summary, file_name FROM imports WHERE id = $1 FOR UPDATE",
                             1, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, field,
                   "no import %s (imports are kept for " IMPORT_RETENTION
                   "; begin a new one)", id);
        return 0;
    }
    if (strcmp (PQgetvalue (res, 0, 1), ctx->user) != 0) {
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__PERMISSION_DENIED, field,
                   "import %s belongs to %s", id, PQgetvalue (res, 0, 1));
        PQclear (res);
        return 0;
    }
    row->kind = s_kind_parse (PQgetvalue (res, 0, 0));
    row->staged = strtoll (PQgetvalue (res, 0, 2), NULL, 10);
    row->closed = PQgetvalue (res, 0, 3) [0] == 't';
    snprintf (row->file_name, sizeof row->file_name, "%s", PQgetvalue (res, 0, 5));
    if (!PQgetisnull (res, 0, 4)) {
        size_t len;
        unsigned char *raw = PQunescapeBytea (
            (const unsigned char *) PQgetvalue (res, 0, 4), &len);
        if (raw) {
            row->summary = malloc (len ? len : 1);
            if (row->summary) {
                memcpy (row->summary, raw, len);
                row->summary_len = len;
            }
            PQfreemem (raw);
        }
    }
    PQclear (res);
    return 1;
}

//  ------------------------------------------------------------- staging

//  One column of a stage request: its name in import_rows and the
//  request's elements.
typedef struct {
    const char *name;           //  import_rows column and "present" name
    size_t count;               //  elements in the request
    char **text;                //  text column, or NULL
    int32_t *dates;             //  date column (days), or NULL
    int64_t *amounts;           //  amount column, or NULL
    int text_column;            //  1: text, 0: a number (date or amount)
} stage_column_t;

//  Problems found while staging, to insert as three arrays.
typedef struct {
    db_array_t lines;           //  int8
    db_array_t fields;          //  text
    db_array_t messages;        //  text
    int count;                  //  problems
} problems_t;

static void
s_problem (problems_t *self, uint32_t line, const char *field,
           const char *format, ...) __attribute__ ((format (printf, 4, 5)));

static void
s_problem (problems_t *self, uint32_t line, const char *field,
           const char *format, ...)
{
    char message [512];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    db_array_add_int8 (&self->lines, line);
    db_array_add_text (&self->fields, field);
    db_array_add_text (&self->messages, message);
    self->count++;
}

//  Checks a text field of row i: at most max characters, not empty when
//  required. Returns 1 when fine, else records a problem.
static int
s_check_text (problems_t *problems, uint32_t line, const char *field,
              const char *value, size_t max, int required)
{
    size_t chars = 0;
    wire_utf8_valid (value, &chars);
    if (required && chars == 0) {
        s_problem (problems, line, field, "%s is missing", field);
        return 0;
    }
    if (chars > max) {
        s_problem (problems, line, field, "%s is %zu characters long; at most %zu",
                   field, chars, max);
        return 0;
    }
    return 1;
}

//  Server-side checks of one staged row (the client checks the same
//  before sending; a server never trusts that). Returns 1 when the row
//  can be staged; else its problems are recorded. `terms` gets the
//  parsed terms of a non-empty terms column.
static int
s_check_row (const Recoup__ImportStageRequest *stage, Recoup__ImportKind kind,
             size_t i, problems_t *problems, terms_t *terms, int *has_terms)
{
    uint32_t line = stage->line [i];
    int ok = 1;
    const char *customer = stage->n_customer ? stage->customer [i] : "";
    ok &= s_check_text (problems, line, "customer", customer, REF_MAX, 1);
    const char *currency = stage->n_currency ? stage->currency [i] : "";
    if (*currency && money_currency_exponent (currency) < 0) {
        s_problem (problems, line, "currency", "unknown currency '%.8s'", currency);
        ok = 0;
    }
    *has_terms = 0;
    if (stage->n_terms && *stage->terms [i]) {
        char err [200];
        if (terms_parse (stage->terms [i], terms, NULL, err, sizeof err) != 0) {
            s_problem (problems, line, "terms", "%s", err);
            ok = 0;
        }
        else
            *has_terms = 1;
    }
    int64_t amount = stage->n_amount_minor ? stage->amount_minor [i] : 0;
    if (kind == RECOUP__IMPORT_KIND__IMPORT_CUSTOMERS) {
        ok &= s_check_text (problems, line, "name", stage->n_name ? stage->name [i] : "",
                            IMPORT_NAME_MAX, 1);
        if (stage->n_email)
            ok &= s_check_text (problems, line, "email", stage->email [i], EMAIL_MAX, 0);
        if (stage->n_phone)
            ok &= s_check_text (problems, line, "phone", stage->phone [i], PHONE_MAX, 0);
        if (stage->n_timezone)
            ok &= s_check_text (problems, line, "timezone", stage->timezone [i], TEXT_MAX, 0);
        if (stage->n_language)
            ok &= s_check_text (problems, line, "language", stage->language [i], TEXT_MAX, 0);
        if (stage->n_sales_rep)
            ok &= s_check_text (problems, line, "sales_rep", stage->sales_rep [i], TEXT_MAX, 0);
        if (stage->n_collector)
            ok &= s_check_text (problems, line, "collector", stage->collector [i], TEXT_MAX, 0);
        if (amount < 0) {
            s_problem (problems, line, "credit_limit", "credit limit is negative");
            ok = 0;
        }
        return ok;
    }
    //  Invoices and payments: a key, a date, an amount above zero.
    const char *key_field = kind == RECOUP__IMPORT_KIND__IMPORT_INVOICES ? "invoice"
                                                                          : "reference";
    ok &= s_check_text (problems, line, key_field, stage->n_number ? stage->number [i] : "",
                        REF_MAX, 1);
    const char *date_field = kind == RECOUP__IMPORT_KIND__IMPORT_INVOICES ? "issued"
                                                                           : "received";
    int32_t date1 = stage->n_date1 ? stage->date1 [i] : DATE_MIN - 1;
    if (date1 < DATE_MIN || date1 > DATE_MAX) {
        s_problem (problems, line, date_field, "%s date is missing or out of range",
                   date_field);
        ok = 0;
    }
    if (amount <= 0) {
        s_problem (problems, line, "amount", "amount must be above zero");
        ok = 0;
    }
    if (kind == RECOUP__IMPORT_KIND__IMPORT_INVOICES) {
        int32_t due = stage->n_date2 ? stage->date2 [i] : DATE_MIN - 1;
        if (due < DATE_MIN || due > DATE_MAX) {
            s_problem (problems, line, "due", "due date is missing or out of range");
            ok = 0;
        }
        else if (ok && due < date1) {
            char issued_text [DATE_ISO_LEN + 1], due_text [DATE_ISO_LEN + 1];
            date_format_iso (date1, issued_text);
            date_format_iso (due, due_text);
            s_problem (problems, line, "due", "due date %s is before the issue date %s",
                       due_text, issued_text);
            ok = 0;
        }
        if (stage->n_name)
            ok &= s_check_text (problems, line, "customer_name", stage->name [i],
                                IMPORT_NAME_MAX, 0);
    }
    else {
        if (stage->n_invoice)
            ok &= s_check_text (problems, line, "invoice", stage->invoice [i], REF_MAX, 0);
        if (stage->n_method)
            ok &= s_check_text (problems, line, "method", stage->method [i], METHOD_MAX, 0);
    }
    return ok;
}

//  Inserts the staging problems. Returns 0 or -1.
static int
s_insert_problems (cmdctx_t *ctx, const char *import_id, problems_t *problems)
{
    if (problems->count == 0)
        return 0;
    const char *values [4];
    int lengths [4];
    static const int formats [4] = { 0, 1, 1, 1 };
    values [0] = import_id;
    lengths [0] = 0;
    values [1] = db_array_finish (&problems->lines, &lengths [1]);
    values [2] = db_array_finish (&problems->fields, &lengths [2]);
    values [3] = db_array_finish (&problems->messages, &lengths [3]);
    db_stmt_t stmt = {
        .sql = "INSERT INTO import_problems (import_id, line, field, message) "
               "SELECT $1::uuid, l, f, m FROM unnest ($2::int8[], $3::text[], "
               "$4::text[]) AS u (l, f, m)",
        .nparams = 4, .values = values, .lengths = lengths, .formats = formats };
    int rc = db_pipeline (ctx->db, &stmt, 1);
    PQclear (stmt.result);
    return rc;
}

int
cmd_import_stage (cmdctx_t *ctx, const Recoup__Request *request,
                  Recoup__Reply *reply)
{
    const Recoup__ImportStageRequest *stage = request->import_stage;
    import_row_t import;
    int found = s_import_load (ctx, stage->import_id, "import_stage.import_id",
                               &import, reply);
    free (import.summary);
    if (found <= 0)
        return found;
    if (import.closed)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "import_stage.import_id",
                          "import %s is already committed; begin a new one",
                          stage->import_id);
    size_t rows = stage->n_line;
    if (rows > IMPORT_STAGE_ROWS_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "import_stage.line",
                          "at most %d rows per stage request (got %zu)",
                          IMPORT_STAGE_ROWS_MAX, rows);
    stage_column_t columns [] = {
        { "customer", stage->n_customer, stage->customer, NULL, NULL, 1 },
        { "name", stage->n_name, stage->name, NULL, NULL, 1 },
        { "number", stage->n_number, stage->number, NULL, NULL, 1 },
        { "date1", stage->n_date1, NULL, stage->date1, NULL, 0 },
        { "date2", stage->n_date2, NULL, stage->date2, NULL, 0 },
        { "amount_minor", stage->n_amount_minor, NULL, NULL, stage->amount_minor, 0 },
        { "currency", stage->n_currency, stage->currency, NULL, NULL, 1 },
        { "terms", stage->n_terms, stage->terms, NULL, NULL, 1 },
        { "invoice", stage->n_invoice, stage->invoice, NULL, NULL, 1 },
        { "method", stage->n_method, stage->method, NULL, NULL, 1 },
        { "email", stage->n_email, stage->email, NULL, NULL, 1 },
        { "phone", stage->n_phone, stage->phone, NULL, NULL, 1 },
        { "timezone", stage->n_timezone, stage->timezone, NULL, NULL, 1 },
        { "language", stage->n_language, stage->language, NULL, NULL, 1 },
        { "sales_rep", stage->n_sales_rep, stage->sales_rep, NULL, NULL, 1 },
        { "collector", stage->n_collector, stage->collector, NULL, NULL, 1 },
    };
    const size_t n_columns = sizeof columns / sizeof *columns;
    for (size_t c = 0; c < n_columns; c++)
        if (columns [c].count != 0 && columns [c].count != rows) {
            char field [64];
            snprintf (field, sizeof field, "import_stage.%s", columns [c].name);
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                              "column %s has %zu values for %zu rows",
                              columns [c].name, columns [c].count, rows);
        }
    //  The base currency stands in for an empty currency.
    char base [4];
    if (ledger_base_currency (ctx->db, base) != 0)
        return -1;

    problems_t problems;
    db_array_init (&problems.lines, DB_OID_INT8);
    db_array_init (&problems.fields, DB_OID_TEXT);
    db_array_init (&problems.messages, DB_OID_TEXT);
    problems.count = 0;
    //  Arrays: the line, every column, and the parsed terms.
    enum { EXTRA = 4 };
    db_array_t arrays [n_columns + EXTRA];
    db_array_init (&arrays [0], DB_OID_INT8);
    for (size_t c = 0; c < n_columns; c++)
        db_array_init (&arrays [c + 1], columns [c].text_column ? DB_OID_TEXT : DB_OID_INT8);
    for (int e = 1; e < EXTRA; e++)
        db_array_init (&arrays [n_columns + e], DB_OID_INT8);
    size_t staged = 0;
    for (size_t i = 0; i < rows; i++) {
        terms_t terms;
        int has_terms;
        if (!s_check_row (stage, import.kind, i, &problems, &terms, &has_terms))
            continue;
        staged++;
        db_array_add_int8 (&arrays [0], stage->line [i]);
        for (size_t c = 0; c < n_columns; c++) {
            db_array_t *array = &arrays [c + 1];
            if (columns [c].count == 0)
                continue;           //  an empty array: unnest pads it with NULLs
            else if (columns [c].text_column) {
                const char *value = columns [c].text [i];
                if (strcmp (columns [c].name, "currency") == 0 && !*value)
                    value = base;
                db_array_add_text (array, value);
            }
            else if (columns [c].dates)
                db_array_add_int8 (array, columns [c].dates [i]);
            else
                db_array_add_int8 (array, columns [c].amounts [i]);
        }
        if (has_terms) {
            db_array_add_int8 (&arrays [n_columns + 1], terms.days);
            db_array_add_int8 (&arrays [n_columns + 2], terms.discount_bp);
            db_array_add_int8 (&arrays [n_columns + 3], terms.discount_days);
        }
        else if (stage->n_terms)
            for (int e = 1; e < EXTRA; e++)
                db_array_add_null (&arrays [n_columns + e]);
    }
    int rc = 0;
    if (staged > 0) {
        const char *values [n_columns + EXTRA + 1];
        int lengths [n_columns + EXTRA + 1], formats [n_columns + EXTRA + 1];
        values [0] = stage->import_id;
        lengths [0] = 0;
        formats [0] = 0;
        for (size_t a = 0; a < n_columns + EXTRA; a++) {
            values [a + 1] = db_array_finish (&arrays [a], &lengths [a + 1]);
            formats [a + 1] = 1;
        }
        //  An empty currency column means the base currency (as above),
        //  an absent text column ''.
        db_stmt_t stmt = {
            .sql = "INSERT INTO import_rows (import_id, line, customer, name, number, "
                   "date1, date2, amount_minor, currency, terms, invoice, method, "
                   "email, phone, timezone, language, sales_rep, collector, "
                   "terms_days, discount_bp, discount_days) "
                   "SELECT $1::uuid, l, coalesce (cu, ''), coalesce (na, ''), "
                   "coalesce (nu, ''), DATE '1970-01-01' + d1::int, "
                   "DATE '1970-01-01' + d2::int, am, coalesce (cy, $18), "
                   "coalesce (te, ''), coalesce (inv, ''), coalesce (me, ''), "
                   "coalesce (em, ''), coalesce (ph, ''), coalesce (tz, ''), "
                   "coalesce (la, ''), coalesce (sr, ''), coalesce (co, ''), "
                   "td::int, db::int, dd::int "
                   "FROM unnest ($2::int8[], $3::text[], $4::text[], $5::text[], "
                   "$6::int8[], $7::int8[], $8::int8[], $9::text[], $10::text[], "
                   "$11::text[], $12::text[], $13::text[], $14::text[], $15::text[], "
                   "$16::text[], $17::text[], $19::text[], $20::int8[], $21::int8[], "
                   "$22::int8[]) AS u (l, cu, na, nu, d1, d2, am, cy, te, inv, me, "
                   "em, ph, tz, la, sr, co, td, db, dd)",
            .nparams = 22 };
        //  Parameter 18 is the base currency; the columns after it shift.
        const char *ordered [22];
        int ordered_len [22], ordered_fmt [22];
        for (int p = 0; p < 17; p++) {
            ordered [p] = values [p];
            ordered_len [p] = lengths [p];
            ordered_fmt [p] = formats [p];
        }
        ordered [17] = base;
        ordered_len [17] = 0;
        ordered_fmt [17] = 0;
        for (int p = 17; p < 21; p++) {
            ordered [p + 1] = values [p];
            ordered_len [p + 1] = lengths [p];
            ordered_fmt [p + 1] = formats [p];
        }
        stmt.values = ordered;
        stmt.lengths = ordered_len;
        stmt.formats = ordered_fmt;
        rc = db_pipeline (ctx->db, &stmt, 1);
        PQclear (stmt.result);
    }
    for (size_t a = 0; a < n_columns + EXTRA; a++)
        db_array_free (&arrays [a]);
    if (rc == 0)
        rc = s_insert_problems (ctx, stage->import_id, &problems);
    db_array_free (&problems.lines);
    db_array_free (&problems.fields);
    db_array_free (&problems.messages);
    if (rc != 0)
        return -1;
    //  Remember which columns the file has (an update of a customer
    //  changes only those).
    strbuf_t present;
    strbuf_init (&present);
    strbuf_puts (&present, "{");
    for (size_t c = 0; c < n_columns; c++)
        if (columns [c].count > 0 || rows == 0)
            strbuf_printf (&present, "%s%s", present.len > 1 ? "," : "", columns [c].name);
    strbuf_puts (&present, "}");
    char count_text [24];
    snprintf (count_text, sizeof count_text, "%zu", rows);
    const char *params [] = { stage->import_id, count_text, present.data };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "UPDATE imports SET staged = staged + $2::int, "
        "columns = ARRAY (SELECT DISTINCT unnest (columns || $3::text[])) "
        "WHERE id = $1 RETURNING staged", 3, params);
    strbuf_free (&present);
    if (!res)
        return -1;
    Recoup__ImportStageReply *result = CMD_NEW (ctx, Recoup__ImportStageReply,
                                                recoup__import_stage_reply__init);
    result->staged = (uint32_t) rows;
    result->total_staged = (uint32_t) strtoul (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    reply->result_case = RECOUP__REPLY__RESULT_IMPORT_STAGE;
    reply->import_stage = result;
    return 0;
}

//  ------------------------------------------------------------- commit

//  Runs a statement with text parameters that returns no rows.
//  Returns 0 or -1.
static int
s_run (cmdctx_t *ctx, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = db_exec (ctx->db, PGRES_COMMAND_OK, sql, nparams, params);
    if (!res)
        return -1;
    PQclear (res);
    return 0;
}

//  A single number from a statement, or -1.
static int64_t
s_count (cmdctx_t *ctx, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK, sql, nparams, params);
    if (!res)
        return -1;
    int64_t value = PQntuples (res) ? strtoll (PQgetvalue (res, 0, 0), NULL, 10) : 0;
    PQclear (res);
    return value;
}

//  Rows of this import without a problem.
#define VALID_ROW \
    " NOT EXISTS (SELECT 1 FROM import_problems p " \
    "  WHERE p.import_id = r.import_id AND p.line = r.line) "

//  Checks of an invoice file, recorded in import_problems. $1 import id,
//  $2 create_customers.
static const char *const s_invoice_checks [] = {
    //  An invoice number twice in the file.
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'invoice', format ('invoice %s is also on line %s', "
    "  r.number, d.first) "
    "FROM import_rows r JOIN (SELECT number, min (line) AS first FROM import_rows "
    "  WHERE import_id = $1 GROUP BY number HAVING count (*) > 1) d "
    "  ON d.number = r.number "
    "WHERE r.import_id = $1 AND r.line <> d.first",
    //  Customers unknown to the ledger.
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'customer', format ('unknown customer %s: add it "
    "first (recoup customer add, or import customers), or import with "
    "--create-customers', r.customer) "
    "FROM import_rows r WHERE r.import_id = $1 AND NOT $2::bool "
    "AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.ref = r.customer)",
    //  Rows that contradict an invoice the ledger holds.
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'invoice', format ('invoice %s is already in the "
    "ledger with other values (customer %s, issued %s, due %s, amount %s); "
    "this row says customer %s, issued %s, due %s, amount %s. A correction is "
    "a credit note, never a re-import', r.number, c.ref, i.issued, i.due, "
    "  recoup_money_text (i.amount_minor, i.currency), r.customer, r.date1, r.date2, "
    "  recoup_money_text (r.amount_minor, r.currency)) "
    "FROM import_rows r JOIN invoices i ON i.number = r.number "
    "JOIN customers c ON c.id = i.customer_id "
    "WHERE r.import_id = $1 AND (c.ref <> r.customer OR i.issued <> r.date1 "
    "  OR i.due <> r.date2 OR i.amount_minor <> r.amount_minor "
    "  OR i.currency <> r.currency)",
    NULL
};

static const char *const s_payment_checks [] = {
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'reference', format ('payment %s of customer %s is "
    "also on line %s', r.number, r.customer, d.first) "
    "FROM import_rows r JOIN (SELECT customer, number, min (line) AS first "
    "  FROM import_rows WHERE import_id = $1 GROUP BY customer, number "
    "  HAVING count (*) > 1) d ON d.customer = r.customer AND d.number = r.number "
    "WHERE r.import_id = $1 AND r.line <> d.first",
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'customer', format ('unknown customer %s: add it "
    "first (recoup customer add, or import customers), or import with "
    "--create-customers', r.customer) "
    "FROM import_rows r WHERE r.import_id = $1 AND NOT $2::bool "
    "AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.ref = r.customer)",
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'reference', format ('payment %s of customer %s is "
    "already in the ledger with other values (received %s, amount %s); this row "
    "says received %s, amount %s', r.number, r.customer, p.received, "
    "  recoup_money_text (p.amount_minor, p.currency), r.date1, "
    "  recoup_money_text (r.amount_minor, r.currency)) "
    "FROM import_rows r JOIN customers c ON c.ref = r.customer "
    "JOIN payments p ON p.customer_id = c.id AND p.reference = r.number "
    "WHERE r.import_id = $1 AND (p.received <> r.date1 "
    "  OR p.amount_minor <> r.amount_minor OR p.currency <> r.currency)",
    //  The invoice a payment names must be the customer's, in its currency.
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'invoice', CASE "
    "  WHEN i.id IS NULL THEN format ('invoice %s is not in the ledger', r.invoice) "
    "  WHEN c.ref <> r.customer THEN format ("
    "    'invoice %s belongs to customer %s, not %s', r.invoice, c.ref, r.customer) "
    "  ELSE format ('invoice %s is in %s; this payment is in %s', r.invoice, "
    "    i.currency, r.currency) END "
    "FROM import_rows r LEFT JOIN invoices i ON i.number = r.invoice "
    "LEFT JOIN customers c ON c.id = i.customer_id "
    "WHERE r.import_id = $1 AND r.invoice <> '' AND (i.id IS NULL "
    "  OR c.ref <> r.customer OR i.currency <> r.currency)",
    NULL
};

static const char *const s_customer_checks [] = {
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'customer', format ('customer %s is also on line %s', "
    "  r.customer, d.first) "
    "FROM import_rows r JOIN (SELECT customer, min (line) AS first FROM import_rows "
    "  WHERE import_id = $1 GROUP BY customer HAVING count (*) > 1) d "
    "  ON d.customer = r.customer "
    "WHERE r.import_id = $1 AND r.line <> d.first",
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'timezone', format ('unknown time zone %s: use an "
    "IANA name such as Europe/Stockholm or America/New_York', r.timezone) "
    "FROM import_rows r WHERE r.import_id = $1 AND r.timezone <> '' "
    "AND r.timezone NOT IN (SELECT name FROM pg_timezone_names)",
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'language', format ('language %s is not a language "
    "code such as en, sv or pt-BR', r.language) "
    "FROM import_rows r WHERE r.import_id = $1 AND r.language <> '' "
    "AND r.language !~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'",
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'sales_rep', format ('sales rep %s is not an active "
    "user with role sales or manager', r.sales_rep) "
    "FROM import_rows r WHERE r.import_id = $1 AND r.sales_rep <> '' "
    "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.name = r.sales_rep AND u.active "
    "  AND u.role IN ('sales', 'manager'))",
    "INSERT INTO import_problems (import_id, line, field, message) "
    "SELECT r.import_id, r.line, 'collector', format ('collector %s is not an active "
    "user with role collector or manager', r.collector) "
    "FROM import_rows r WHERE r.import_id = $1 AND r.collector <> '' "
    "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.name = r.collector AND u.active "
    "  AND u.role IN ('collector', 'manager'))",
    NULL
};

//  Rows identical to what the ledger holds (valid ones). $1 import id.
static const char *
s_unchanged_sql (Recoup__ImportKind kind)
{
    switch (kind) {
        case RECOUP__IMPORT_KIND__IMPORT_INVOICES:
            return "SELECT count (*) FROM import_rows r "
                   "JOIN invoices i ON i.number = r.number "
                   "WHERE r.import_id = $1 AND" VALID_ROW;
        case RECOUP__IMPORT_KIND__IMPORT_PAYMENTS:
            return "SELECT count (*) FROM import_rows r "
                   "JOIN customers c ON c.ref = r.customer "
                   "JOIN payments p ON p.customer_id = c.id AND p.reference = r.number "
                   "WHERE r.import_id = $1 AND" VALID_ROW;
        default:
            return NULL;            //  customers: counted when applied
    }
}

//  The new values of a customer from a staged row `r` over the current
//  row `c` (for an update: only the columns the file has, $2).
#define CUSTOMER_NEW_VALUES \
    "CASE WHEN 'name' = ANY ($2) THEN r.name ELSE c.name END, " \
    "CASE WHEN 'email' = ANY ($2) THEN r.email ELSE c.email END, " \
    "CASE WHEN 'phone' = ANY ($2) THEN r.phone ELSE c.phone END, " \
    "CASE WHEN r.timezone <> '' THEN r.timezone ELSE c.timezone END, " \
    "CASE WHEN r.language <> '' THEN r.language ELSE c.language END, " \
    "CASE WHEN 'currency' = ANY ($2) THEN r.currency ELSE c.currency END, " \
    "CASE WHEN r.terms <> '' THEN r.terms ELSE c.terms END, " \
    "CASE WHEN r.terms <> '' THEN r.terms_days ELSE c.terms_days END, " \
    "CASE WHEN r.terms <> '' THEN r.discount_bp ELSE c.discount_bp END, " \
    "CASE WHEN r.terms <> '' THEN r.discount_days ELSE c.discount_days END, " \
    "CASE WHEN 'amount_minor' = ANY ($2) THEN coalesce (r.amount_minor, 0) " \
    "  ELSE c.credit_limit_minor END, " \
    "CASE WHEN 'sales_rep' = ANY ($2) THEN nullif (r.sales_rep, '') ELSE c.sales_rep END, " \
    "CASE WHEN 'collector' = ANY ($2) THEN nullif (r.collector, '') ELSE c.collector END"

#define CUSTOMER_COLUMNS \
    "name, email, phone, timezone, language, currency, terms, terms_days, " \
    "discount_bp, discount_days, credit_limit_minor, sales_rep, collector"
#define CUSTOMER_CURRENT \
    "c.name, c.email, c.phone, c.timezone, c.language, c.currency, c.terms, " \
    "c.terms_days, c.discount_bp, c.discount_days, c.credit_limit_minor, " \
    "c.sales_rep, c.collector"

//  What an apply step returns: one row of (inserted, updated, created,
//  customer ids touched as an array literal, totals "CUR:minor,...").
typedef struct {
    int64_t inserted;           //  rows written
    int64_t updated;            //  customers changed
    int64_t created;            //  customers created
    int64_t unchanged;          //  identical rows
    char *ids;                  //  "{1,2}" (malloc)
    char *totals;               //  "USD:123,EUR:5" (malloc)
} applied_t;

//  Reads (n, ids, totals) from an apply statement's result.
static int
s_applied_read (PGresult *res, int64_t *n, char **ids, char **totals)
{
    if (!res)
        return -1;
    *n = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    *ids = strdup (PQgetvalue (res, 0, 1));
    if (totals)
        *totals = strdup (PQgetvalue (res, 0, 2));
    PQclear (res);
    return 0;
}

//  Creates the customers that invoice or payment rows name and the
//  ledger does not know (with --create-customers). Returns the number
//  created, or -1.
static int64_t
s_create_customers (cmdctx_t *ctx, const char *import_id, const char *base,
                    int apply)
{
    const char *params [] = { import_id, base };
    if (!apply)
        return s_count (ctx, "SELECT count (DISTINCT r.customer) FROM import_rows r "
                             "WHERE r.import_id = $1 AND" VALID_ROW
                             "AND NOT EXISTS (SELECT 1 FROM customers c "
                             "  WHERE c.ref = r.customer) AND $2 <> ''", 2, params);
    return s_count (ctx,
        "WITH ins AS (INSERT INTO customers (ref, name, currency) "
        "  SELECT DISTINCT ON (r.customer) r.customer, "
        "    CASE WHEN r.name <> '' THEN r.name ELSE r.customer END, "
        "    CASE WHEN r.currency <> '' THEN r.currency ELSE $2 END "
        "  FROM import_rows r WHERE r.import_id = $1 AND" VALID_ROW
        "  AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.ref = r.customer) "
        "  ORDER BY r.customer, r.line RETURNING id) "
        "SELECT count (*) FROM ins", 2, params);
}

//  Applies the valid rows of an invoice file. Returns 0 or -1.
static int
s_apply_invoices (cmdctx_t *ctx, const char *import_id, applied_t *out)
{
    const char *params [] = { import_id };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "WITH ins AS (INSERT INTO invoices (number, customer_id, issued, due, "
        "  amount_minor, currency, terms, discount_bp, discount_until) "
        "  SELECT r.number, c.id, r.date1, r.date2, r.amount_minor, r.currency, "
        "    CASE WHEN r.terms <> '' THEN r.terms ELSE c.terms END, "
        "    CASE WHEN r.terms <> '' THEN r.discount_bp ELSE c.discount_bp END, "
        "    CASE WHEN r.terms <> '' AND r.discount_bp > 0 THEN r.date1 + r.discount_days "
        "         WHEN r.terms = '' AND c.discount_bp > 0 THEN r.date1 + c.discount_days "
        "    END "
        "  FROM import_rows r JOIN customers c ON c.ref = r.customer "
        "  WHERE r.import_id = $1 AND" VALID_ROW
        "  AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.number = r.number) "
        "  RETURNING customer_id, currency, amount_minor), "
        "tot AS (SELECT currency, sum (amount_minor) AS s FROM ins GROUP BY currency) "
        "SELECT (SELECT count (*) FROM ins), "
        "  (SELECT coalesce (array_agg (customer_id), '{}') FROM "
        "    (SELECT DISTINCT customer_id FROM ins) d)::text, "
        "  (SELECT coalesce (string_agg (currency || ':' || s, ','), '') FROM tot)",
        1, params);
    return s_applied_read (res, &out->inserted, &out->ids, &out->totals);
}

//  Applies the valid rows of a payment file: the payments, then their
//  allocations in order of receipt: to the invoice a row names (as much
//  as its balance, after earlier payments of the file on it), else
//  oldest due first; what is left stays on the account as unapplied
//  cash. Returns 0 or -1.
static int
s_apply_payments (cmdctx_t *ctx, const char *import_id, applied_t *out)
{
    const char *params [] = { import_id, ctx->user };
    if (s_run (ctx, "CREATE TEMP TABLE IF NOT EXISTS import_new_payments "
                    "(id bigint, line int, invoice text, received date) "
                    "ON COMMIT DELETE ROWS", 0, NULL) != 0)
        return -1;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "WITH ins AS (INSERT INTO payments (customer_id, reference, received, method, "
        "  amount_minor, currency) "
        "  SELECT c.id, r.number, r.date1, r.method, r.amount_minor, r.currency "
        "  FROM import_rows r JOIN customers c ON c.ref = r.customer "
        "  WHERE r.import_id = $1 AND" VALID_ROW
        "  AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.customer_id = c.id "
        "    AND p.reference = r.number) "
        "  RETURNING id, customer_id, reference, received, currency, amount_minor), "
        "kept AS (INSERT INTO import_new_payments (id, line, invoice, received) "
        "  SELECT ins.id, r.line, r.invoice, ins.received FROM ins "
        "  JOIN customers c ON c.id = ins.customer_id "
        "  JOIN import_rows r ON r.import_id = $1 AND r.customer = c.ref "
        "    AND r.number = ins.reference), "
        "tot AS (SELECT currency, sum (amount_minor) AS s FROM ins GROUP BY currency) "
        "SELECT (SELECT count (*) FROM ins), "
        "  (SELECT coalesce (array_agg (customer_id), '{}') FROM "
        "    (SELECT DISTINCT customer_id FROM ins) d)::text, "
        "  (SELECT coalesce (string_agg (currency || ':' || s, ','), '') FROM tot)",
        1, params);
    if (s_applied_read (res, &out->inserted, &out->ids, &out->totals) != 0)
        return -1;
    //  Named invoices, set-based: each payment takes what the payments
    //  before it (in order of receipt, then line) left of the balance.
    if (s_run (ctx,
        "INSERT INTO entries (invoice_id, customer_id, kind, on_date, amount_minor, "
        "  currency, payment_id, actor) "
        "SELECT x.invoice_id, x.customer_id, 'allocation', "
        "  greatest (x.received, x.issued), -x.amount, x.currency, x.id, $2 "
        "FROM (SELECT n.id, i.id AS invoice_id, i.customer_id, i.issued, i.currency, "
        "    n.received, greatest (0, least (p.amount_minor, "
        "      recoup_invoice_balance (i.id) - coalesce (sum (p.amount_minor) OVER ("
        "        PARTITION BY i.id ORDER BY n.received, n.line "
        "        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))) AS amount "
        "  FROM import_new_payments n JOIN payments p ON p.id = n.id "
        "  JOIN invoices i ON i.number = n.invoice "
        "  WHERE n.invoice <> '' AND $1::text IS NOT NULL) x "
        "WHERE x.amount > 0", 2, params) != 0)
        return -1;
    //  Early payments inside a discount window settle their invoices
    //  (recoup_allocate does the same for the others).
    if (s_count (ctx,
        "SELECT count (recoup_early_discount (x.invoice_id, x.received, $2)) FROM "
        "  (SELECT DISTINCT ON (e.invoice_id) e.invoice_id, n.received "
        "   FROM import_new_payments n JOIN entries e ON e.payment_id = n.id "
        "   JOIN invoices i ON i.id = e.invoice_id "
        "   WHERE n.invoice <> '' AND i.discount_bp > 0 AND n.received <= i.discount_until "
        "   AND $1::text IS NOT NULL ORDER BY e.invoice_id, n.received DESC) x",
        2, params) < 0)
        return -1;
    //  The others, oldest due first, one payment at a time in order.
    if (s_count (ctx,
        "SELECT count (recoup_allocate_oldest (n.id, $2)) FROM "
        "  (SELECT id FROM import_new_payments WHERE invoice = '' "
        "   AND $1::text IS NOT NULL ORDER BY received, line) n", 2, params) < 0)
        return -1;
    return 0;
}

//  Applies the valid rows of a customer file: new customers are
//  created, known ones updated in the columns the file has. Returns 0
//  or -1.
static int
s_apply_customers (cmdctx_t *ctx, const char *import_id, const char *columns,
                   const char *base, int apply, applied_t *out)
{
    const char *params [] = { import_id, columns, base };
    //  Known customers whose values differ.
    const char *changed =
        "FROM import_rows r JOIN customers c ON c.ref = r.customer "
        "WHERE r.import_id = $1 AND" VALID_ROW
        "AND (" CUSTOMER_CURRENT ") IS DISTINCT FROM (" CUSTOMER_NEW_VALUES ") "
        "AND $3 <> ''";
    char sql [6000];
    if (!apply) {
        snprintf (sql, sizeof sql, "SELECT count (*) %s", changed);
        out->updated = s_count (ctx, sql, 3, params);
        out->inserted = s_count (ctx,
            "SELECT count (*) FROM import_rows r WHERE r.import_id = $1 AND" VALID_ROW
            "AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.ref = r.customer) "
            "AND $2::text[] IS NOT NULL AND $3 <> ''", 3, params);
        out->ids = strdup ("{}");
        out->totals = strdup ("");
        return out->updated < 0 || out->inserted < 0 ? -1 : 0;
    }
    snprintf (sql, sizeof sql,
        "WITH upd AS (UPDATE customers c SET (" CUSTOMER_COLUMNS ", updated_at) = "
        "  (" CUSTOMER_NEW_VALUES ", now ()) "
        "  FROM import_rows r WHERE c.ref = r.customer AND r.import_id = $1 AND"
        VALID_ROW "AND (" CUSTOMER_CURRENT ") IS DISTINCT FROM (" CUSTOMER_NEW_VALUES ") "
        "  RETURNING c.id) "
        "SELECT count (*), coalesce (array_agg (id), '{}')::text FROM upd "
        "WHERE $3 <> ''");
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK, sql, 3, params);
    char *updated_ids = NULL;
    if (s_applied_read (res, &out->updated, &updated_ids, NULL) != 0)
        return -1;
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "WITH ins AS (INSERT INTO customers (ref, name, email, phone, timezone, "
        "  language, currency, terms, terms_days, discount_bp, discount_days, "
        "  credit_limit_minor, sales_rep, collector) "
        "  SELECT r.customer, r.name, r.email, r.phone, "
        "    coalesce (nullif (r.timezone, ''), 'UTC'), "
        "    coalesce (nullif (r.language, ''), 'en'), "
        "    coalesce (nullif (r.currency, ''), $3), "
        "    coalesce (nullif (r.terms, ''), 'net 30'), coalesce (r.terms_days, 30), "
        "    coalesce (r.discount_bp, 0), coalesce (r.discount_days, 0), "
        "    coalesce (r.amount_minor, 0), nullif (r.sales_rep, ''), "
        "    nullif (r.collector, '') "
        "  FROM import_rows r WHERE r.import_id = $1 AND" VALID_ROW
        "  AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.ref = r.customer) "
        "  AND $2::text[] IS NOT NULL "
        "  RETURNING id) "
        "SELECT count (*), (coalesce (array_agg (id), '{}') || $4::bigint[])::text "
        "FROM ins", 4, (const char *[]) { import_id, columns, base, updated_ids });
    free (updated_ids);
    if (s_applied_read (res, &out->inserted, &out->ids, NULL) != 0)
        return -1;
    out->totals = strdup ("");
    return 0;
}

//  Adds ImportCurrencyTotal entries from "CUR:minor,CUR:minor".
static void
s_summary_totals (cmdctx_t *ctx, Recoup__ImportSummary *summary, const char *text)
{
    size_t count = 0;
    for (const char *p = text; *p; p++)
        count += *p == ':';
    summary->totals = arena_alloc (ctx->arena, (count + 1) * sizeof (void *));
    const char *p = text;
    while (*p) {
        Recoup__ImportCurrencyTotal *total = CMD_NEW (ctx, Recoup__ImportCurrencyTotal,
                                                      recoup__import_currency_total__init);
        char code [8] = "";
        sscanf (p, "%7[^:]", code);
        total->currency = arena_strdup (ctx->arena, code);
        const char *colon = strchr (p, ':');
        total->amount_minor = colon ? strtoll (colon + 1, NULL, 10) : 0;
        summary->totals [summary->n_totals++] = total;
        const char *comma = strchr (p, ',');
        if (!comma)
            break;
        p = comma + 1;
    }
}

//  Drops an import's scratch rows (all of the table at once when it is
//  the only import there, which is the usual case and much faster).
static int
s_drop_rows (cmdctx_t *ctx, const char *import_id)
{
    const char *params [] = { import_id };
    int64_t others = s_count (ctx, "SELECT count (*) FROM (SELECT 1 FROM import_rows "
                                   "WHERE import_id <> $1 LIMIT 1) x", 1, params);
    if (others < 0)
        return -1;
    if (others == 0)
        return s_run (ctx, "TRUNCATE import_rows", 0, NULL);
    return s_run (ctx, "DELETE FROM import_rows WHERE import_id = $1", 1, params);
}

int
cmd_import_commit (cmdctx_t *ctx, const Recoup__Request *request,
                   Recoup__Reply *reply)
{
    const Recoup__ImportCommitRequest *commit = request->import_commit;
    const char *id = commit->import_id;
    import_row_t import;
    int found = s_import_load (ctx, id, "import_commit.import_id", &import, reply);
    if (found <= 0) {
        free (import.summary);
        return found;
    }
    Recoup__ImportCommitReply *result = CMD_NEW (ctx, Recoup__ImportCommitReply,
                                                 recoup__import_commit_reply__init);
    if (import.closed) {
        //  Committed before (the client lost the reply): the same answer,
        //  unpacked into the arena that the reply lives in.
        ProtobufCAllocator allocator = { s_arena_alloc, s_arena_free, ctx->arena };
        Recoup__ImportSummary *stored = import.summary
            ? recoup__import_summary__unpack (&allocator, import.summary_len,
                                              import.summary)
            : NULL;
        free (import.summary);
        if (!stored)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                              "import_commit.import_id",
                              "import %s is already closed", id);
        result->summary = stored;
        reply->result_case = RECOUP__REPLY__RESULT_IMPORT_COMMIT;
        reply->import_commit = result;
        return 0;
    }
    free (import.summary);
    if (import.staged != (int64_t) commit->rows)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "import_commit.rows",
                          "the server received %" PRId64 " rows of import %s but the "
                          "client sent %u: run the import again", import.staged, id,
                          commit->rows);
    const char *params [] = { id, commit->create_customers ? "true" : "false" };
    //  Staged rows that vanished (the database crashed: unlogged tables
    //  are emptied) cannot be committed.
    int64_t present = s_count (ctx,
        "SELECT (SELECT count (*) FROM import_rows WHERE import_id = $1) "
        "+ (SELECT count (DISTINCT line) FROM import_problems WHERE import_id = $1)",
        1, params);
    if (present < 0)
        return -1;
    if (present < import.staged)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "import_commit.import_id",
                          "the staged rows of import %s were lost (the database "
                          "restarted): run the import again", id);
    //  Set-based checks over up to millions of rows: room for hash
    //  tables, plans made for this import's numbers (the statements are
    //  prepared once per connection, when the scratch table may have
    //  been empty), and statistics that know how big it is now.
    if (db_command (ctx->db, "SET LOCAL work_mem = '256MB'") != 0
        || db_command (ctx->db, "SET LOCAL plan_cache_mode = force_custom_plan") != 0
        || s_run (ctx, "ANALYZE import_rows", 0, NULL) != 0)
        return -1;
    char base [4];
    if (ledger_base_currency (ctx->db, base) != 0)
        return -1;
    const char *const *checks = import.kind == RECOUP__IMPORT_KIND__IMPORT_INVOICES
                                ? s_invoice_checks
                                : import.kind == RECOUP__IMPORT_KIND__IMPORT_PAYMENTS
                                ? s_payment_checks : s_customer_checks;
    for (const char *const *check = checks; *check; check++)
        if (s_run (ctx, *check, strstr (*check, "$2") ? 2 : 1, params) != 0)
            return -1;
    int64_t rejected = s_count (ctx, "SELECT count (DISTINCT line) FROM import_problems "
                                     "WHERE import_id = $1", 1, params);
    if (rejected < 0)
        return -1;
    int apply = !commit->dry_run
                && ((rejected == 0 && commit->rejected_locally == 0)
                    || commit->skip_invalid);
    applied_t applied;
    memset (&applied, 0, sizeof applied);
    const char *unchanged_sql = s_unchanged_sql (import.kind);
    if (unchanged_sql) {
        applied.unchanged = s_count (ctx, unchanged_sql, 1, params);
        if (applied.unchanged < 0)
            return -1;
    }
    int rc = 0;
    if (import.kind != RECOUP__IMPORT_KIND__IMPORT_CUSTOMERS && commit->create_customers) {
        applied.created = s_create_customers (ctx, id, base, apply);
        rc = applied.created < 0 ? -1 : 0;
    }
    char columns [512] = "{}";
    if (rc == 0 && import.kind == RECOUP__IMPORT_KIND__IMPORT_CUSTOMERS) {
        PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                                 "SELECT columns::text FROM imports WHERE id = $1",
                                 1, params);
        if (!res)
            return -1;
        snprintf (columns, sizeof columns, "%s", PQgetvalue (res, 0, 0));
        PQclear (res);
        rc = s_apply_customers (ctx, id, columns, base, apply, &applied);
        if (rc == 0)
            applied.unchanged = (int64_t) import.staged - rejected - applied.inserted
                                - applied.updated;
    }
    else if (rc == 0 && apply)
        rc = import.kind == RECOUP__IMPORT_KIND__IMPORT_INVOICES
             ? s_apply_invoices (ctx, id, &applied)
             : s_apply_payments (ctx, id, &applied);
    else if (rc == 0) {
        //  A dry run, or refused: what would have been written.
        applied.inserted = (int64_t) import.staged - rejected - applied.unchanged;
        applied.ids = strdup ("{}");
        applied.totals = strdup ("");
    }
    if (rc != 0) {
        free (applied.ids);
        free (applied.totals);
        return -1;
    }
    Recoup__ImportSummary *summary = CMD_NEW (ctx, Recoup__ImportSummary,
                                              recoup__import_summary__init);
    summary->import_id = arena_strdup (ctx->arena, id);
    summary->kind = import.kind;
    summary->file_name = arena_strdup (ctx->arena, import.file_name);
    summary->actor = arena_strdup (ctx->arena, ctx->user);
    summary->rows = (uint32_t) import.staged;
    summary->inserted = (uint32_t) applied.inserted;
    summary->updated = (uint32_t) applied.updated;
    summary->unchanged = (uint32_t) applied.unchanged;
    summary->rejected = (uint32_t) rejected;
    summary->customers_created = (uint32_t) applied.created;
    summary->applied = apply;
    s_summary_totals (ctx, summary, applied.totals ? applied.totals : "");
    //  One event per account that changed, then the summary.
    int changed = applied.ids && strcmp (applied.ids, "{}") != 0;
    if (changed) {
        summary->accounts_changed = 1;
        for (const char *p = applied.ids; *p; p++)
            summary->accounts_changed += *p == ',';
        if (ledger_emit_accounts (ctx, applied.ids) != 0)
            rc = -1;
    }
    free (applied.ids);
    free (applied.totals);
    if (rc != 0)
        return -1;
    if (changed || applied.created > 0)
        result->seq = cmd_emit (ctx, "import.committed",
                                RECOUP__EVENT__BODY_IMPORT_SUMMARY, summary);
    //  Close the import: its summary answers a repeated commit.
    size_t len;
    uint8_t *packed = wire_pack (&summary->base, &len);
    if (!packed)
        return -1;
    const char *close_values [] = { id, (const char *) packed };
    const int close_lengths [] = { 0, (int) len };
    const int close_formats [] = { 0, 1 };
    db_stmt_t close = {
        .sql = "UPDATE imports SET closed_at = now (), summary = $2 WHERE id = $1",
        .nparams = 2, .values = close_values, .lengths = close_lengths,
        .formats = close_formats };
    rc = db_pipeline (ctx->db, &close, 1);
    PQclear (close.result);
    free (packed);
    if (rc != 0 || s_drop_rows (ctx, id) != 0)
        return -1;
    result->summary = summary;
    reply->result_case = RECOUP__REPLY__RESULT_IMPORT_COMMIT;
    reply->import_commit = result;
    return 0;
}

int
cmd_import_problems (cmdctx_t *ctx, const Recoup__Request *request,
                     Recoup__Reply *reply)
{
    const Recoup__ImportProblemsRequest *req = request->import_problems;
    if (!s_uuid_valid (req->import_id))
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "import_problems.import_id",
                          "'%.40s' is not an import id", req->import_id);
    uint32_t limit = req->limit ? req->limit : IMPORT_PROBLEMS_PAGE;
    if (limit > IMPORT_PROBLEMS_PAGE_MAX)
        limit = IMPORT_PROBLEMS_PAGE_MAX;
    char after [16], count [16];
    snprintf (after, sizeof after, "%u", req->after_line);
    snprintf (count, sizeof count, "%u", limit + 1);
    const char *params [] = { req->import_id, ctx->user };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT 1 FROM imports WHERE id = $1 AND actor = $2",
                             2, params);
    if (!res)
        return -1;
    int mine = PQntuples (res) > 0;
    PQclear (res);
    if (!mine)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "import_problems.import_id",
                          "no import %s of yours", req->import_id);
    //  Whole lines only: a page ends at a line boundary.
    const char *page [] = { req->import_id, after, count };
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT line, field, message FROM import_problems "
                   "WHERE import_id = $1 AND line > $2::int AND line <= coalesce ("
                   "  (SELECT max (line) FROM (SELECT DISTINCT line FROM import_problems "
                   "   WHERE import_id = $1 AND line > $2::int ORDER BY line "
                   "   LIMIT $3::int - 1) l), 0) "
                   "ORDER BY line, field, message", 3, page);
    if (!res)
        return -1;
    Recoup__ImportProblemsReply *result = CMD_NEW (ctx, Recoup__ImportProblemsReply,
                                                   recoup__import_problems_reply__init);
    int rows = PQntuples (res);
    result->problems = arena_alloc (ctx->arena, (size_t) (rows + 1) * sizeof (void *));
    uint32_t last = req->after_line;
    for (int i = 0; i < rows; i++) {
        Recoup__ImportProblem *problem = CMD_NEW (ctx, Recoup__ImportProblem,
                                                  recoup__import_problem__init);
        problem->line = (uint32_t) strtoul (PQgetvalue (res, i, 0), NULL, 10);
        problem->field = arena_strdup (ctx->arena, PQgetvalue (res, i, 1));
        problem->message = arena_strdup (ctx->arena, PQgetvalue (res, i, 2));
        result->problems [result->n_problems++] = problem;
        last = problem->line;
    }
    PQclear (res);
    char last_text [16];
    snprintf (last_text, sizeof last_text, "%u", last);
    const char *more [] = { req->import_id, last_text };
    int64_t rest = s_count (ctx, "SELECT count (*) FROM (SELECT 1 FROM import_problems "
                                 "WHERE import_id = $1 AND line > $2::int LIMIT 1) x",
                            2, more);
    if (rest < 0)
        return -1;
    result->more = rest > 0;
    reply->result_case = RECOUP__REPLY__RESULT_IMPORT_PROBLEMS;
    reply->import_problems = result;
    return 0;
}

void
import_prune (db_t *db)
{
    if (!db_ok (db))
        return;
    db_command (db, "DELETE FROM import_problems WHERE import_id IN (SELECT id "
                    "FROM imports WHERE started_at < now () - interval '"
                    IMPORT_RETENTION "')");
    db_command (db, "DELETE FROM import_rows WHERE import_id IN (SELECT id "
                    "FROM imports WHERE started_at < now () - interval '"
                    IMPORT_RETENTION "')");
}
