/*  cmd_import: `recoup import customers|invoices|payments FILE`, the
    batch import client that loads exports from accounting tools.

    It streams the file once in constant memory: each record is read,
    checked (required fields, dates, money in the currency's decimals,
    terms), and the valid rows go to the server in column-wise chunks
    (ImportStage); then ImportCommit asks the server to check every row
    against the ledger and the file (duplicate keys, unknown customers,
    rows that contradict the ledger) and to apply all of them in one
    transaction, or none. Problems are reported with their line. With
    --skip-invalid the valid rows are applied and the rejected ones are
    written with their reasons to a reject file (a second pass over the
    file, merging the client's and the server's problems by line).

    Running the same import again is safe: rows the ledger already holds
    are counted as unchanged, so an import cut short by a crash of either
    side is simply run again.                                            */
#include "cli.h"
#include "../common/csv.h"
#include "../common/date.h"
#include "../common/mapping.h"
#include "../common/money.h"
#include "../common/terms.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Rows and bytes of text per stage request (the server takes requests
//  up to WIRE_MAX_REQUEST).
#define CHUNK_ROWS 25000
#define CHUNK_BYTES (2 * 1024 * 1024)
//  Problems kept for --json output.
#define JSON_PROBLEMS_MAX 100
//  The commit checks and applies the whole file: give it time (unless
//  --timeout says otherwise).
#define COMMIT_TIMEOUT_MS (30 * 60 * 1000)

//  Fields of a staged row; indexes into chunk_t's columns.
enum {
    F_CUSTOMER, F_NAME, F_NUMBER, F_CURRENCY, F_TERMS, F_INVOICE, F_METHOD,
    F_EMAIL, F_PHONE, F_TIMEZONE, F_LANGUAGE, F_SALES_REP, F_COLLECTOR,
    F_COUNT
};

//  Rows waiting to be sent, column-wise. Text lives in one buffer as
//  offsets, so that a chunk costs a handful of allocations.
typedef struct {
    size_t rows;                //  rows in the chunk
    size_t cap;                 //  rows allocated
    uint32_t *lines;            //  line of each row
    int32_t *date1, *date2;     //  dates (days)
    int64_t *amounts;           //  amounts (minor units)
    size_t *offsets [F_COUNT];  //  text fields: offset into text
    int used [F_COUNT];         //  the column is sent
    int used_date1, used_date2, used_amount;
    char *text;                 //  NUL-separated field text
    size_t text_len, text_cap;  //  bytes used, allocated
} chunk_t;

//  The columns of a kind in the file.
typedef struct {
    const char *kind;           //  "customers", "invoices", "payments"
    Recoup__ImportKind wire;    //  as the protocol says
    const char *const *names;   //  native field names
    int required;               //  how many of them are required
    int index [32];             //  column of each name, -1 if absent
    size_t header_count;        //  fields in the header
    char **header;              //  header names (owned), for the reject file
} layout_t;

//  Everything one import run keeps.
typedef struct {
    cli_t *cli;                 //  connection and options
    const char *path;           //  the file
    mapping_t *map;             //  --map, or NULL
    layout_t layout;            //  its columns
    char currency [4];          //  default currency of rows
    money_format_t money;       //  how amounts are written
    const char *date_format;    //  how dates are written
    int iso_dates;              //  date_format is YYYY-MM-DD
    int dry_run, skip_invalid, create_customers;
    const char *reject_path;    //  reject file (with --skip-invalid)
    char import_id [64];        //  from ImportBegin
    chunk_t chunk;              //  rows to send
    uint64_t rows;              //  data rows read (blank lines excluded)
    uint64_t sent;              //  rows staged
    uint64_t local_rejected;    //  rows the client rejected
    uint64_t server_rejected;   //  rows the server rejected
    char last_invoice [80];     //  line items: the invoice of the last row
    int progress;               //  draw a progress bar on stderr
    long long file_size;        //  for the bar
    long long started_ms;       //  when reading began
    long long drawn_ms;         //  last time the bar was drawn
    strbuf_t problems_json;     //  first problems, as JSON array items
    int problems_json_count;    //  how many are in it
} import_t;

//  ------------------------------------------------------------- chunk

static void
s_chunk_init (chunk_t *self)
{
    memset (self, 0, sizeof *self);
}

static void
s_chunk_free (chunk_t *self)
{
    free (self->lines);
    free (self->date1);
    free (self->date2);
    free (self->amounts);
    for (int f = 0; f < F_COUNT; f++)
        free (self->offsets [f]);
    free (self->text);
    memset (self, 0, sizeof *self);
}

static void *
s_grow (void *data, size_t size)
{
    void *grown = realloc (data, size);
    if (!grown) {
        cli_fail ("out of memory");
        exit (EXIT_USAGE);
    }
    return grown;
}

//  Starts a new row; returns its index.
static size_t
s_chunk_row (chunk_t *self, uint32_t line)
{
    if (self->rows == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 1024;
        self->lines = s_grow (self->lines, self->cap * sizeof *self->lines);
        self->date1 = s_grow (self->date1, self->cap * sizeof *self->date1);
        self->date2 = s_grow (self->date2, self->cap * sizeof *self->date2);
        self->amounts = s_grow (self->amounts, self->cap * sizeof *self->amounts);
        for (int f = 0; f < F_COUNT; f++)
            self->offsets [f] = s_grow (self->offsets [f],
                                        self->cap * sizeof *self->offsets [f]);
    }
    size_t row = self->rows++;
    self->lines [row] = line;
    self->date1 [row] = self->date2 [row] = 0;
    self->amounts [row] = 0;
    for (int f = 0; f < F_COUNT; f++)
        self->offsets [f][row] = SIZE_MAX;
    return row;
}

//  Sets text field f of the row.
static void
s_chunk_text (chunk_t *self, size_t row, int f, const char *text)
{
    size_t len = strlen (text) + 1;
    if (self->text_len + len > self->text_cap) {
        self->text_cap = (self->text_len + len) * 2;
        self->text = s_grow (self->text, self->text_cap);
    }
    memcpy (self->text + self->text_len, text, len);
    self->offsets [f][row] = self->text_len;
    self->text_len += len;
    self->used [f] = 1;
}

//  Forgets the last row (it turned out invalid).
static void
s_chunk_drop_last (chunk_t *self)
{
    assert (self->rows > 0);
    self->rows--;
}

//  ------------------------------------------------------------- output

//  Reports a problem of a row: on stderr, and kept for --json.
static void
s_report (import_t *self, long line, const char *field, const char *message)
{
    if (*field)
        fprintf (stderr, "%s%s:%ld: %s: %s\n", self->progress ? "\r\033[K" : "",
                 self->path, line, field, message);
    else
        fprintf (stderr, "%s%s:%ld: %s\n", self->progress ? "\r\033[K" : "",
                 self->path, line, message);
    if (self->cli->json && self->problems_json_count < JSON_PROBLEMS_MAX) {
        strbuf_t *out = &self->problems_json;
        strbuf_printf (out, "%s{\"line\":%ld,\"field\":", self->problems_json_count ? "," : "",
                       line);
        json_string (out, field);
        strbuf_puts (out, ",\"message\":");
        json_string (out, message);
        strbuf_puts (out, "}");
        self->problems_json_count++;
    }
}

//  Draws the bar with the share of the file read and the time left.
static void
s_progress_file (import_t *self, csv_t *csv, int force)
{
    if (!self->progress)
        return;
    long long now = wire_clock_ms ();
    if (!force && now - self->drawn_ms < 250)
        return;
    self->drawn_ms = now;
    double seconds = (double) (now - self->started_ms) / 1000.0;
    double rate = seconds > 0 ? (double) self->rows / seconds : 0;
    long long done = csv_offset (csv);
    fprintf (stderr, "\r\033[Kimporting %s: ", self->path);
    if (self->file_size > 0) {
        int width = 24;
        double share = (double) done / (double) self->file_size;
        if (share > 1)
            share = 1;
        int filled = (int) (share * width);
        fputc ('[', stderr);
        for (int i = 0; i < width; i++)
            fputc (i < filled ? '#' : '.', stderr);
        fprintf (stderr, "] %3.0f%% ", share * 100);
        if (done > 0 && seconds > 0.5) {
            double left = seconds * (double) (self->file_size - done) / (double) done;
            fprintf (stderr, "ETA %d:%02d ", (int) left / 60, (int) left % 60);
        }
    }
    fprintf (stderr, "%" PRIu64 " rows, %.0f rows/s", self->rows, rate);
    fflush (stderr);
}

//  ------------------------------------------------------------- rows

//  Field `name` of a record ("" when the file has no such column).
static const char *
s_field (const import_t *self, char **fields, size_t count, int name)
{
    int index = self->layout.index [name];
    if (index < 0 || (size_t) index >= count)
        return "";
    return fields [index];
}

//  Copies text without surrounding blanks into buf [len]. Returns buf.
static const char *
s_trim (const char *text, char *buf, size_t len)
{
    while (*text == ' ' || *text == '\t')
        text++;
    size_t n = strlen (text);
    while (n > 0 && (text [n - 1] == ' ' || text [n - 1] == '\t'))
        n--;
    if (n >= len)
        n = len - 1;
    memcpy (buf, text, n);
    buf [n] = 0;
    return buf;
}

//  Index of native field `name` in the layout's names, or -1.
static int
s_name_index (const layout_t *layout, const char *name)
{
    for (int i = 0; layout->names [i]; i++)
        if (strcmp (layout->names [i], name) == 0)
            return i;
    return -1;
}

//  Checks one text field: required or not, at most max characters.
//  Returns 0, or -1 with the problem in err.
static int
s_check_text (const char *value, const char *field, size_t max, int required,
              char *err, size_t errlen)
{
    size_t chars = 0;
    wire_utf8_valid (value, &chars);
    if (required && chars == 0) {
        snprintf (err, errlen, "%s is missing", field);
        return -1;
    }
    if (chars > max) {
        snprintf (err, errlen, "%s is %zu characters long; at most %zu", field, chars, max);
        return -1;
    }
    return 0;
}

//  Parses a date as the file writes it.
static int
s_date (const import_t *self, const char *text, const char *field, int32_t *days,
        char *err, size_t errlen)
{
    char reason [200];
    if (!*text) {
        snprintf (err, errlen, "%s date is missing", field);
        return -1;
    }
    int rc = self->iso_dates ? date_parse_iso (text, days, reason, sizeof reason)
                             : date_parse_format (text, self->date_format, days,
                                                  reason, sizeof reason);
    if (rc != 0) {
        snprintf (err, errlen, "%s date '%.40s': %s", field, text, reason);
        return -1;
    }
    return 0;
}

//  Takes back a row that failed its checks; returns -1.
static int
s_row_failed (chunk_t *chunk, size_t row, const char **bad_field, const char *name)
{
    *bad_field = name;
    if (chunk->rows > row)
        s_chunk_drop_last (chunk);
    return -1;
}

//  One record of the file as a row of the chunk: every field checked.
//  Returns 0 (row added), or -1 with the first problem in field/err (no
//  row added).
static int
s_row (import_t *self, char **fields, size_t count, long line, const char **bad_field,
       char *err, size_t errlen)
{
    const layout_t *layout = &self->layout;
    chunk_t *chunk = &self->chunk;
    char value [4096];
    #define FIELD(name) s_trim (s_field (self, fields, count, s_name_index (layout, name)), \
                                value, sizeof value)
    #define FAIL(name) return s_row_failed (chunk, row, bad_field, name)
    if (count != layout->header_count) {
        *bad_field = "";
        snprintf (err, errlen, "the row has %zu fields; the header has %zu", count,
                  layout->header_count);
        return -1;
    }
    //  The currency first: amounts are parsed in it.
    char currency [4];
    const char *given = s_name_index (layout, "currency") >= 0 ? FIELD ("currency") : "";
    int has_currency = *given != 0;     //  `value` is reused below
    if (has_currency) {
        if (money_currency_exponent (given) < 0) {
            *bad_field = "currency";
            snprintf (err, errlen, "unknown currency '%.8s' (an ISO 4217 code such as "
                      "USD, EUR, SEK, JPY)", given);
            return -1;
        }
        snprintf (currency, sizeof currency, "%s", given);
    }
    else
        snprintf (currency, sizeof currency, "%s", self->currency);

    size_t row = chunk->rows;
    if (strcmp (layout->kind, "invoices") == 0 && mapping_line_items (self->map)
        && strcmp (FIELD ("invoice"), self->last_invoice) == 0 && *self->last_invoice)
        return 1;                   //  another line of the same invoice
    s_chunk_row (chunk, (uint32_t) line);
    s_chunk_text (chunk, row, F_CUSTOMER, FIELD ("customer"));
    if (s_check_text (value, "customer", 64, 1, err, errlen) != 0)
        FAIL ("customer");
    const char *amount_name = strcmp (layout->kind, "customers") == 0 ? "credit_limit"
                                                                      : "amount";
    if (strcmp (layout->kind, "customers") != 0
        || s_name_index (layout, amount_name) >= 0) {
        const char *text = FIELD (amount_name);
        int64_t minor = 0;
        char reason [300];
        int has = layout->index [s_name_index (layout, amount_name)] >= 0;
        if (*text && money_parse (text, currency, &self->money, &minor, reason,
                                  sizeof reason) != 0) {
            snprintf (err, errlen, "%s '%.40s': %s", amount_name, text, reason);
            FAIL (amount_name);
        }
        if (strcmp (layout->kind, "customers") == 0) {
            if (minor < 0) {
                snprintf (err, errlen, "credit limit is negative");
                FAIL (amount_name);
            }
            if (has) {
                chunk->amounts [row] = minor;
                chunk->used_amount = 1;
            }
        }
        else {
            if (!*text) {
                snprintf (err, errlen, "amount is missing");
                FAIL ("amount");
            }
            if (minor <= 0) {
                snprintf (err, errlen, "amount %s must be above zero%s", text,
                          strcmp (layout->kind, "invoices") == 0
                          ? " (a credit is a credit note, not a negative invoice)"
                          : "");
                FAIL ("amount");
            }
            chunk->amounts [row] = minor;
            chunk->used_amount = 1;
        }
    }
    if (strcmp (layout->kind, "customers") != 0 || has_currency)
        s_chunk_text (chunk, row, F_CURRENCY, currency);
    if (s_name_index (layout, "terms") >= 0 && layout->index [s_name_index (layout, "terms")] >= 0) {
        const char *text = FIELD ("terms");
        char canonical [TERMS_TEXT_MAX] = "";
        if (*text) {
            terms_t terms;
            char reason [200];
            if (terms_parse (text, &terms, canonical, reason, sizeof reason) != 0) {
                snprintf (err, errlen, "terms '%.40s': %s", text, reason);
                FAIL ("terms");
            }
        }
        s_chunk_text (chunk, row, F_TERMS, canonical);
    }
    if (strcmp (layout->kind, "customers") == 0) {
        s_chunk_text (chunk, row, F_NAME, FIELD ("name"));
        if (s_check_text (value, "name", 200, 1, err, errlen) != 0)
            FAIL ("name");
        static const struct { const char *name; int f; size_t max; } optional [] = {
            { "email", F_EMAIL, 254 }, { "phone", F_PHONE, 64 },
            { "timezone", F_TIMEZONE, 64 }, { "language", F_LANGUAGE, 64 },
            { "sales_rep", F_SALES_REP, 64 }, { "collector", F_COLLECTOR, 64 },
        };
        for (size_t o = 0; o < sizeof optional / sizeof *optional; o++) {
            int at = s_name_index (layout, optional [o].name);
            if (at < 0 || layout->index [at] < 0)
                continue;
            s_chunk_text (chunk, row, optional [o].f, FIELD (optional [o].name));
            if (s_check_text (value, optional [o].name, optional [o].max, 0, err,
                              errlen) != 0)
                FAIL (optional [o].name);
            if (optional [o].f == F_EMAIL && *value && !strchr (value, '@')) {
                snprintf (err, errlen, "email '%.60s' has no @", value);
                FAIL ("email");
            }
        }
        return 0;
    }
    if (strcmp (layout->kind, "invoices") == 0) {
        s_chunk_text (chunk, row, F_NUMBER, FIELD ("invoice"));
        if (s_check_text (value, "invoice", 64, 1, err, errlen) != 0)
            FAIL ("invoice");
        snprintf (self->last_invoice, sizeof self->last_invoice, "%.70s", value);
        int32_t issued, due;
        if (s_date (self, FIELD ("issued"), "issued", &issued, err, errlen) != 0)
            FAIL ("issued");
        if (s_date (self, FIELD ("due"), "due", &due, err, errlen) != 0)
            FAIL ("due");
        if (due < issued) {
            char a [DATE_ISO_LEN + 1], b [DATE_ISO_LEN + 1];
            date_format_iso (due, a);
            date_format_iso (issued, b);
            snprintf (err, errlen, "due date %s is before the issue date %s", a, b);
            FAIL ("due");
        }
        chunk->date1 [row] = issued;
        chunk->date2 [row] = due;
        chunk->used_date1 = chunk->used_date2 = 1;
        if (s_name_index (layout, "customer_name") >= 0
            && layout->index [s_name_index (layout, "customer_name")] >= 0) {
            s_chunk_text (chunk, row, F_NAME, FIELD ("customer_name"));
            if (s_check_text (value, "customer_name", 200, 0, err, errlen) != 0)
                FAIL ("customer_name");
        }
        return 0;
    }
    //  Payments.
    s_chunk_text (chunk, row, F_NUMBER, FIELD ("reference"));
    if (s_check_text (value, "reference", 64, 1, err, errlen) != 0)
        FAIL ("reference");
    int32_t received;
    if (s_date (self, FIELD ("received"), "received", &received, err, errlen) != 0)
        FAIL ("received");
    chunk->date1 [row] = received;
    chunk->used_date1 = 1;
    s_chunk_text (chunk, row, F_INVOICE, FIELD ("invoice"));
    if (s_check_text (value, "invoice", 64, 0, err, errlen) != 0)
        FAIL ("invoice");
    s_chunk_text (chunk, row, F_METHOD, FIELD ("method"));
    if (s_check_text (value, "method", 64, 0, err, errlen) != 0)
        FAIL ("method");
    return 0;
    #undef FIELD
    #undef FAIL
}

//  ------------------------------------------------------------- server

//  Sends the chunk as one ImportStage request. Returns 0 or an exit
//  status.
static int
s_flush (import_t *self)
{
    chunk_t *chunk = &self->chunk;
    if (chunk->rows == 0)
        return 0;
    Recoup__ImportStageRequest stage = RECOUP__IMPORT_STAGE_REQUEST__INIT;
    stage.import_id = self->import_id;
    stage.n_line = chunk->rows;
    stage.line = chunk->lines;
    if (chunk->used_date1) {
        stage.n_date1 = chunk->rows;
        stage.date1 = chunk->date1;
    }
    if (chunk->used_date2) {
        stage.n_date2 = chunk->rows;
        stage.date2 = chunk->date2;
    }
    if (chunk->used_amount) {
        stage.n_amount_minor = chunk->rows;
        stage.amount_minor = chunk->amounts;
    }
    char **columns [F_COUNT] = { NULL };
    size_t *counts [F_COUNT] = {
        &stage.n_customer, &stage.n_name, &stage.n_number, &stage.n_currency,
        &stage.n_terms, &stage.n_invoice, &stage.n_method, &stage.n_email,
        &stage.n_phone, &stage.n_timezone, &stage.n_language, &stage.n_sales_rep,
        &stage.n_collector };
    char ***targets [F_COUNT] = {
        &stage.customer, &stage.name, &stage.number, &stage.currency, &stage.terms,
        &stage.invoice, &stage.method, &stage.email, &stage.phone, &stage.timezone,
        &stage.language, &stage.sales_rep, &stage.collector };
    static char empty [] = "";
    for (int f = 0; f < F_COUNT; f++) {
        if (!chunk->used [f])
            continue;
        columns [f] = s_grow (NULL, chunk->rows * sizeof (char *));
        for (size_t r = 0; r < chunk->rows; r++)
            columns [f][r] = chunk->offsets [f][r] == SIZE_MAX
                             ? empty : chunk->text + chunk->offsets [f][r];
        *counts [f] = chunk->rows;
        *targets [f] = columns [f];
    }
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_IMPORT_STAGE;
    request.import_stage = &stage;
    int rc;
    Recoup__Reply *reply = cli_call (self->cli, &request, RECOUP__REPLY__RESULT_IMPORT_STAGE,
                                     &rc);
    for (int f = 0; f < F_COUNT; f++)
        free (columns [f]);
    if (!reply)
        return rc;
    self->sent += chunk->rows;
    recoup__reply__free_unpacked (reply, NULL);
    chunk->rows = 0;
    chunk->text_len = 0;
    return 0;
}

//  Walks the server's problems in line order, a page at a time.
typedef struct {
    import_t *import;           //  whose
    Recoup__Reply *page;        //  current page (owned)
    size_t next;                //  next problem in it
    uint32_t after;             //  last line of the previous pages
    int done;                   //  no more pages
    int failed;                 //  an exit status when a call failed
} problems_t;

//  The next problem, or NULL at the end (or on failure: p->failed).
static const Recoup__ImportProblem *
s_problems_next (problems_t *p)
{
    while (1) {
        if (p->page && p->next < p->page->import_problems->n_problems)
            return p->page->import_problems->problems [p->next++];
        if (p->page) {
            p->done = !p->page->import_problems->more;
            recoup__reply__free_unpacked (p->page, NULL);
            p->page = NULL;
        }
        if (p->done)
            return NULL;
        Recoup__ImportProblemsRequest req = RECOUP__IMPORT_PROBLEMS_REQUEST__INIT;
        req.import_id = p->import->import_id;
        req.after_line = p->after;
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.command_case = RECOUP__REQUEST__COMMAND_IMPORT_PROBLEMS;
        request.import_problems = &req;
        int rc;
        p->page = cli_call (p->import->cli, &request, RECOUP__REPLY__RESULT_IMPORT_PROBLEMS,
                            &rc);
        if (!p->page) {
            p->failed = rc;
            p->done = 1;
            return NULL;
        }
        p->next = 0;
        size_t n = p->page->import_problems->n_problems;
        if (n > 0)
            p->after = p->page->import_problems->problems [n - 1]->line;
        else
            p->done = 1;
    }
}

static void
s_problems_end (problems_t *p)
{
    if (p->page)
        recoup__reply__free_unpacked (p->page, NULL);
    p->page = NULL;
}

//  ------------------------------------------------------------- the file

//  Opens the file and reads up to its header. Returns 0, or an exit
//  status after saying what is wrong.
static int
s_open (import_t *self, FILE **file, csv_t **csv)
{
    *file = fopen (self->path, "rb");
    if (!*file) {
        cli_fail ("%s: cannot open: %s", self->path, strerror (errno));
        return EXIT_USAGE;
    }
    *csv = csv_new (*file);
    if (!*csv) {
        cli_fail ("out of memory");
        return EXIT_USAGE;
    }
    mapping_setup_reader (self->map, *csv);
    char **fields;
    size_t count;
    char err [512];
    int skip = mapping_skip_rows (self->map);
    while (1) {
        int rc = csv_next (*csv, &fields, &count, err, sizeof err);
        if (rc == 0) {
            cli_fail ("%s: no header row%s", self->path,
                      skip ? " after the rows the mapping skips" : "");
            return EXIT_USAGE;
        }
        if (rc < 0) {
            cli_fail ("%s: %s", self->path, err);
            return EXIT_USAGE;
        }
        if (skip > 0) {
            skip--;
            continue;
        }
        if (count == 1 && !*fields [0])
            continue;               //  blank lines before the header
        break;
    }
    layout_t *layout = &self->layout;
    if (!layout->header) {
        layout->header_count = count;
        layout->header = s_grow (NULL, (count + 1) * sizeof (char *));
        for (size_t i = 0; i < count; i++)
            layout->header [i] = strdup (fields [i]);
        mapping_find_columns (self->map, fields, count, layout->names, layout->index);
    }
    return 0;
}

//  Checks that the header has every required column. Returns 0 or an
//  exit status.
static int
s_check_header (import_t *self)
{
    layout_t *layout = &self->layout;
    int missing = 0;
    for (int i = 0; i < layout->required; i++)
        if (layout->index [i] < 0) {
            const char *mapped = mapping_column_name (self->map, layout->names [i]);
            cli_fail ("%s: the header has no column %s%s%s%s (a %s file needs %s)",
                      self->path, mapped ? "'" : "", mapped ? mapped : layout->names [i],
                      mapped ? "' for " : "", mapped ? layout->names [i] : "",
                      layout->kind, "every required column: see deploy/IMPORT.md");
            missing++;
        }
    return missing ? EXIT_USAGE : 0;
}

//  Reads the whole file, checking rows and staging the valid ones.
//  Returns 0 or an exit status.
static int
s_read (import_t *self)
{
    FILE *file;
    csv_t *csv;
    int rc = s_open (self, &file, &csv);
    if (rc == 0)
        rc = s_check_header (self);
    if (rc != 0)
        goto done;
    char **fields;
    size_t count;
    char err [600];
    self->started_ms = wire_clock_ms ();
    self->drawn_ms = self->started_ms;     //  the first bar after 250 ms
    while (1) {
        int got = csv_next (csv, &fields, &count, err, sizeof err);
        if (got == 0)
            break;
        if (got == -2) {
            if (self->progress)
                fputs ("\r\033[K", stderr);
            cli_fail ("%s: %s; nothing was imported", self->path, err);
            rc = EXIT_USAGE;
            goto done;
        }
        if (got == 1 && count == 1 && !*fields [0])
            continue;               //  a blank line
        if (got == 1 && mapping_is_end (self->map, fields, count))
            break;
        self->rows++;
        if (got == -1) {
            //  "line 12, field 3: ..." names its own line.
            s_report (self, csv_line (csv), "", err);
            self->local_rejected++;
            continue;
        }
        const char *field = "";
        int row = s_row (self, fields, count, csv_line (csv), &field, err, sizeof err);
        if (row < 0) {
            s_report (self, csv_line (csv), field, err);
            self->local_rejected++;
        }
        if (self->chunk.rows >= CHUNK_ROWS || self->chunk.text_len >= CHUNK_BYTES) {
            rc = s_flush (self);
            if (rc != 0)
                goto done;
        }
        s_progress_file (self, csv, 0);
    }
    rc = s_flush (self);
    s_progress_file (self, csv, 1);
done:
    csv_destroy (&csv);
    if (file)
        fclose (file);
    return rc;
}

//  Writes the reject file: the header with two more columns, then every
//  rejected row with its line and reasons, in file order (a second pass
//  over the file, merged with the server's problems). Returns 0 or an
//  exit status.
static int
s_write_rejects (import_t *self)
{
    FILE *out = fopen (self->reject_path, "wb");
    if (!out) {
        cli_fail ("%s: cannot write: %s", self->reject_path, strerror (errno));
        return EXIT_USAGE;
    }
    FILE *file;
    csv_t *csv;
    int rc = s_open (self, &file, &csv);
    if (rc != 0) {
        fclose (out);
        return rc;
    }
    layout_t *layout = &self->layout;
    size_t width = layout->header_count + 2;
    const char **row = s_grow (NULL, (width > 2 ? width : 2) * sizeof (char *) + 64);
    for (size_t i = 0; i < layout->header_count; i++)
        row [i] = layout->header [i];
    row [layout->header_count] = "reject_line";
    row [layout->header_count + 1] = "reject_reason";
    csv_write (out, row, width);
    problems_t server = { .import = self };
    const Recoup__ImportProblem *problem = self->server_rejected ? s_problems_next (&server)
                                                                 : NULL;
    chunk_t saved = self->chunk;
    s_chunk_init (&self->chunk);    //  s_row needs a chunk: a scratch one
    char **fields;
    size_t count;
    char err [600], line_text [24];
    strbuf_t reasons;
    strbuf_init (&reasons);
    while (1) {
        int got = csv_next (csv, &fields, &count, err, sizeof err);
        if (got == 0 || got == -2)
            break;
        if (got == 1 && count == 1 && !*fields [0])
            continue;
        if (got == 1 && mapping_is_end (self->map, fields, count))
            break;
        long line = csv_line (csv);
        strbuf_reset (&reasons);
        if (got == -1)
            strbuf_puts (&reasons, err);
        else {
            const char *field = "";
            if (s_row (self, fields, count, line, &field, err, sizeof err) < 0)
                strbuf_printf (&reasons, "%s%s%s", field, *field ? ": " : "", err);
            self->chunk.rows = 0;
            self->chunk.text_len = 0;
        }
        while (problem && problem->line < (uint32_t) line)
            problem = s_problems_next (&server);
        while (problem && problem->line == (uint32_t) line) {
            strbuf_printf (&reasons, "%s%s: %s", reasons.len ? "; " : "", problem->field,
                           problem->message);
            problem = s_problems_next (&server);
        }
        if (reasons.len == 0)
            continue;
        snprintf (line_text, sizeof line_text, "%ld", line);
        size_t n = 0;
        if (got == 1)
            for (; n < count && n < layout->header_count; n++)
                row [n] = fields [n];
        for (; n < layout->header_count; n++)
            row [n] = "";
        row [n++] = line_text;
        row [n++] = reasons.data;
        csv_write (out, row, n);
    }
    rc = server.failed;
    s_problems_end (&server);
    strbuf_free (&reasons);
    s_chunk_free (&self->chunk);
    self->chunk = saved;
    free (row);
    csv_destroy (&csv);
    fclose (file);
    if (fclose (out) != 0 && rc == 0) {
        cli_fail ("%s: cannot write: %s", self->reject_path, strerror (errno));
        rc = EXIT_USAGE;
    }
    return rc;
}

//  Prints the server's problems. Returns 0 or an exit status.
static int
s_print_server_problems (import_t *self)
{
    problems_t server = { .import = self };
    const Recoup__ImportProblem *problem;
    while ((problem = s_problems_next (&server)) != NULL)
        s_report (self, (long) problem->line, problem->field, problem->message);
    s_problems_end (&server);
    return server.failed;
}

//  Prints the summary, human or JSON.
static void
s_print_summary (import_t *self, const Recoup__ImportCommitReply *commit)
{
    const Recoup__ImportSummary *s = commit->summary;
    uint64_t rejected = self->local_rejected + self->server_rejected;
    if (self->cli->json) {
        strbuf_t out;
        strbuf_init (&out);
        strbuf_puts (&out, "{\"file\":");
        json_string (&out, self->path);
        strbuf_printf (&out, ",\"kind\":\"%s\",\"import_id\":\"%s\",\"dry_run\":%s,"
                       "\"applied\":%s,\"rows\":%" PRIu64 ",\"inserted\":%u,"
                       "\"updated\":%u,\"unchanged\":%u,\"rejected\":%" PRIu64 ","
                       "\"rejected_locally\":%" PRIu64 ",\"rejected_by_server\":%u,"
                       "\"customers_created\":%u,\"accounts_changed\":%u,"
                       "\"seq\":%" PRIu64 ",\"totals\":[",
                       self->layout.kind, self->import_id,
                       self->dry_run ? "true" : "false", s->applied ? "true" : "false",
                       self->rows, s->inserted, s->updated, s->unchanged, rejected,
                       self->local_rejected, s->rejected, s->customers_created,
                       s->accounts_changed, commit->seq);
        for (size_t t = 0; t < s->n_totals; t++) {
            char amount [MONEY_TEXT_MAX];
            money_format (s->totals [t]->amount_minor, s->totals [t]->currency, amount,
                          sizeof amount);
            strbuf_printf (&out, "%s{\"currency\":\"%s\",\"amount_minor\":%" PRId64
                           ",\"amount\":\"%s\"}", t ? "," : "", s->totals [t]->currency,
                           s->totals [t]->amount_minor, amount);
        }
        strbuf_puts (&out, "],\"reject_file\":");
        if (self->skip_invalid && rejected > 0)
            json_string (&out, self->reject_path);
        else
            strbuf_puts (&out, "null");
        strbuf_printf (&out, ",\"problems\":[%s]}\n",
                       self->problems_json.data ? self->problems_json.data : "");
        fputs (out.data, stdout);
        strbuf_free (&out);
        return;
    }
    const char *what = strcmp (self->layout.kind, "customers") == 0 ? "customers"
                     : strcmp (self->layout.kind, "invoices") == 0 ? "invoices"
                     : "payments";
    if (self->dry_run) {
        printf ("%s: dry run, nothing written: %" PRIu64 " rows; %u new %s, %u to update, "
                "%u already in the ledger, %" PRIu64 " with problems", self->path,
                self->rows, s->inserted, what, s->updated, s->unchanged, rejected);
        if (s->customers_created)
            printf ("; %u customers to create", s->customers_created);
        printf ("\n");
    }
    else if (!s->applied)
        printf ("%s: nothing imported: %" PRIu64 " of %" PRIu64 " rows have problems "
                "(fix them, or use --skip-invalid to import the others)\n", self->path,
                rejected, self->rows);
    else {
        printf ("%s: %" PRIu64 " rows: %u new %s, %u updated, %u unchanged, %" PRIu64
                " rejected", self->path, self->rows, s->inserted, what, s->updated,
                s->unchanged, rejected);
        if (s->customers_created)
            printf (", %u customers created", s->customers_created);
        printf ("; %u accounts changed\n", s->accounts_changed);
        for (size_t t = 0; t < s->n_totals; t++) {
            char amount [MONEY_TEXT_MAX];
            money_format (s->totals [t]->amount_minor, s->totals [t]->currency, amount,
                          sizeof amount);
            printf ("  total %s %s\n", amount, s->totals [t]->currency);
        }
        if (rejected > 0 && self->skip_invalid)
            printf ("  rejected rows with their reasons: %s\n", self->reject_path);
    }
}

//  ------------------------------------------------------------- command

static const char *
s_usage_text (void)
{
    return "usage: recoup import customers|invoices|payments FILE [--map FILE] "
           "[--dry-run] [--skip-invalid] [--reject-file FILE] [--create-customers] "
           "[--json]";
}

int
cmd_import (cli_t *cli, int argc, char **argv)
{
    import_t self;
    memset (&self, 0, sizeof self);
    self.cli = cli;
    const char *kind = NULL, *map_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv [i], "--dry-run") == 0)
            self.dry_run = 1;
        else if (strcmp (argv [i], "--skip-invalid") == 0)
            self.skip_invalid = 1;
        else if (strcmp (argv [i], "--create-customers") == 0)
            self.create_customers = 1;
        else if (strcmp (argv [i], "--map") == 0 && i + 1 < argc)
            map_path = argv [++i];
        else if (strcmp (argv [i], "--reject-file") == 0 && i + 1 < argc)
            self.reject_path = argv [++i];
        else if (strncmp (argv [i], "--", 2) == 0) {
            cli_fail ("import: unknown option %s\n%s", argv [i], s_usage_text ());
            return EXIT_USAGE;
        }
        else if (!kind)
            kind = argv [i];
        else if (!self.path)
            self.path = argv [i];
        else {
            cli_fail ("import: unexpected argument '%s'\n%s", argv [i], s_usage_text ());
            return EXIT_USAGE;
        }
    }
    if (!kind || !self.path) {
        cli_fail ("%s", s_usage_text ());
        return EXIT_USAGE;
    }
    layout_t *layout = &self.layout;
    layout->names = mapping_native_fields (kind);
    if (!layout->names) {
        cli_fail ("import: unknown kind '%s': customers, invoices or payments", kind);
        return EXIT_USAGE;
    }
    layout->kind = kind;
    layout->required = mapping_native_required (kind);
    layout->wire = strcmp (kind, "customers") == 0 ? RECOUP__IMPORT_KIND__IMPORT_CUSTOMERS
                 : strcmp (kind, "invoices") == 0 ? RECOUP__IMPORT_KIND__IMPORT_INVOICES
                 : RECOUP__IMPORT_KIND__IMPORT_PAYMENTS;
    if (self.create_customers && layout->wire == RECOUP__IMPORT_KIND__IMPORT_CUSTOMERS) {
        cli_fail ("import: --create-customers is for invoice and payment files");
        return EXIT_USAGE;
    }
    char err [1024];
    if (map_path) {
        self.map = mapping_load (map_path, err, sizeof err);
        if (!self.map) {
            cli_fail ("%s", err);
            return EXIT_USAGE;
        }
        if (mapping_kind (self.map) && strcmp (mapping_kind (self.map), kind) != 0) {
            cli_fail ("%s is a mapping for %s files, not %s", map_path,
                      mapping_kind (self.map), kind);
            mapping_destroy (&self.map);
            return EXIT_USAGE;
        }
    }
    self.money = mapping_money_format (self.map);
    self.date_format = mapping_date_format (self.map);
    self.iso_dates = strcmp (self.date_format, "YYYY-MM-DD") == 0;
    char reject_default [4096];
    if (self.skip_invalid && !self.reject_path) {
        snprintf (reject_default, sizeof reject_default, "%s.rejects.csv", self.path);
        self.reject_path = reject_default;
    }
    struct stat st;
    if (stat (self.path, &st) == 0 && S_ISREG (st.st_mode))
        self.file_size = (long long) st.st_size;
    self.progress = isatty (STDERR_FILENO) && !cli->json;
    strbuf_init (&self.problems_json);
    int rc = 0;
    //  Check that the file opens and has its columns before talking to
    //  the server.
    FILE *probe;
    csv_t *probe_csv = NULL;
    rc = s_open (&self, &probe, &probe_csv);
    if (rc == 0)
        rc = s_check_header (&self);
    csv_destroy (&probe_csv);
    if (probe)
        fclose (probe);
    if (rc == 0)
        rc = cli_connect (cli);
    Recoup__Reply *reply = NULL;
    if (rc == 0) {
        //  The default currency: the mapping's, else the server's base.
        Recoup__StatusRequest status = RECOUP__STATUS_REQUEST__INIT;
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
        request.status = &status;
        reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_STATUS, &rc);
        if (reply) {
            const char *base = *reply->status->base_currency ? reply->status->base_currency
                                                               : "USD";
            snprintf (self.currency, sizeof self.currency, "%s",
                      mapping_currency (self.map) ? mapping_currency (self.map) : base);
            recoup__reply__free_unpacked (reply, NULL);
        }
    }
    if (rc == 0) {
        Recoup__ImportBeginRequest begin = RECOUP__IMPORT_BEGIN_REQUEST__INIT;
        begin.kind = layout->wire;
        begin.file_name = (char *) self.path;
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.command_case = RECOUP__REQUEST__COMMAND_IMPORT_BEGIN;
        request.import_begin = &begin;
        reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_IMPORT_BEGIN, &rc);
        if (reply) {
            snprintf (self.import_id, sizeof self.import_id, "%s",
                      reply->import_begin->import_id);
            recoup__reply__free_unpacked (reply, NULL);
        }
    }
    s_chunk_init (&self.chunk);
    if (rc == 0)
        rc = s_read (&self);
    Recoup__Reply *committed = NULL;
    if (rc == 0) {
        if (self.progress)
            fprintf (stderr, "\r\033[Kimporting %s: %" PRIu64 " rows read; checking "
                     "against the ledger%s...", self.path, self.rows,
                     self.dry_run ? "" : " and applying");
        Recoup__ImportCommitRequest commit = RECOUP__IMPORT_COMMIT_REQUEST__INIT;
        commit.import_id = self.import_id;
        commit.rows = (uint32_t) self.sent;
        commit.rejected_locally = (uint32_t) self.local_rejected;
        commit.dry_run = self.dry_run;
        commit.skip_invalid = self.skip_invalid;
        commit.create_customers = self.create_customers;
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.command_case = RECOUP__REQUEST__COMMAND_IMPORT_COMMIT;
        request.import_commit = &commit;
        int timeout = cli->timeout_ms;
        if (!cli->timeout_given && cli->timeout_ms < COMMIT_TIMEOUT_MS)
            cli->timeout_ms = COMMIT_TIMEOUT_MS;
        committed = cli_call (cli, &request, RECOUP__REPLY__RESULT_IMPORT_COMMIT, &rc);
        cli->timeout_ms = timeout;
        if (self.progress)
            fputs ("\r\033[K", stderr);
    }
    if (committed) {
        self.server_rejected = committed->import_commit->summary->rejected;
        if (self.server_rejected > 0)
            rc = s_print_server_problems (&self);
        uint64_t rejected = self.local_rejected + self.server_rejected;
        if (rc == 0 && self.skip_invalid && rejected > 0)
            rc = s_write_rejects (&self);
        s_print_summary (&self, committed->import_commit);
        if (rc == 0 && rejected > 0 && !(self.skip_invalid && !self.dry_run))
            rc = EXIT_REFUSED;
        recoup__reply__free_unpacked (committed, NULL);
    }
    s_chunk_free (&self.chunk);
    for (size_t i = 0; layout->header && i < layout->header_count; i++)
        free (layout->header [i]);
    free (layout->header);
    strbuf_free (&self.problems_json);
    mapping_destroy (&self.map);
    cli_close (cli);
    return rc;
}
