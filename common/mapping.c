/*  mapping: reading foreign exports as native import files. See
    mapping.h for the API and deploy/IMPORT.md for the file format.

    A mapping file is read line by line into settings; what depends on
    more than one line (a column against the kind, the two separators of
    an amount) is checked once the whole file is read, and reported at
    the line that completes the conflict.                               */
#include "mapping.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"

#define NBSP "\xc2\xa0"
#define NNBSP "\xe2\x80\xaf"
#define BOM "\xef\xbb\xbf"

//  Most alternatives one column setting may list.
#define MAPPING_ALTERNATIVES_MAX 16

//  One `column FIELD = NAME | NAME ...` setting.
typedef struct {
    char *field;                //  native field name, lower case
    char *spec;                 //  the value as written, for messages
    char **names;               //  column names to look for, in order
    size_t name_count;          //  entries in names
    int line;                   //  line of the setting
} column_t;

//  The settings other than columns; line 0 when not given.
typedef enum {
    KEY_KIND,
    KEY_DATE_FORMAT,
    KEY_DECIMAL,
    KEY_THOUSANDS,
    KEY_CURRENCY,
    KEY_SKIP_ROWS,
    KEY_SEPARATOR,
    KEY_ENCODING,
    KEY_STOP_AT,
    KEY_LINE_ITEMS,
    KEY_COUNT
} setting_t;

static const char *const s_key_names [KEY_COUNT] = {
    "kind", "date_format", "decimal", "thousands", "currency", "skip_rows",
    "separator", "encoding", "stop_at", "line_items"
};

struct mapping_t {
    char *path;                 //  the file, for messages
    char *kind;                 //  "customers", "invoices", "payments" or NULL
    char *date_format;          //  NULL: YYYY-MM-DD
    char *decimal;              //  NULL: "."
    char *thousands;            //  NULL: ""
    char *currency;             //  default currency or NULL
    char *stop_at;              //  end-of-data marker or NULL
    int skip_rows;              //  rows before the header
    char separator;             //  field separator
    csv_encoding_t encoding;    //  encoding of the file
    int line_items;             //  one row per invoice line
    int key_line [KEY_COUNT];   //  line each key was set on, 0 if not
    column_t *columns;          //  column settings, in file order
    size_t column_count;        //  entries in columns
};

//  The Contract: native fields per kind, required ones first.
static const char *const s_customer_fields [] = {
    "customer", "name", "email", "phone", "timezone", "language",
    "currency", "terms", "credit_limit", "sales_rep", "collector", NULL
};
static const char *const s_invoice_fields [] = {
    "customer", "invoice", "issued", "due", "amount", "currency",
    "customer_name", "terms", NULL
};
static const char *const s_payment_fields [] = {
    "customer", "reference", "received", "amount", "invoice", "currency",
    "method", NULL
};

static const struct {
    const char *kind;
    const char *const *fields;
    int required;
} s_kinds [] = {
    { "customers", s_customer_fields, 2 },
    { "invoices", s_invoice_fields, 5 },
    { "payments", s_payment_fields, 4 },
};

#define KIND_COUNT (sizeof s_kinds / sizeof *s_kinds)

const char *const *
mapping_native_fields (const char *kind)
{
    for (size_t i = 0; kind && i < KIND_COUNT; i++)
        if (strcmp (kind, s_kinds [i].kind) == 0)
            return s_kinds [i].fields;
    return NULL;
}

int
mapping_native_required (const char *kind)
{
    for (size_t i = 0; kind && i < KIND_COUNT; i++)
        if (strcmp (kind, s_kinds [i].kind) == 0)
            return s_kinds [i].required;
    return -1;
}

//  1 when field is a native field of kind, or of any kind when kind is
//  NULL.
static int
s_kind_has_field (const char *kind, const char *field)
{
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (kind && strcmp (kind, s_kinds [i].kind) != 0)
            continue;
        for (const char *const *f = s_kinds [i].fields; *f; f++)
            if (strcmp (*f, field) == 0)
                return 1;
    }
    return 0;
}

//  Writes "FILE:LINE: message" (or "FILE: message" for line 0) into err
//  and returns -1.
static int
s_fail (char *err, size_t errlen, const char *path, int line,
        const char *format, ...) __attribute__ ((format (printf, 5, 6)));

static int
s_fail (char *err, size_t errlen, const char *path, int line,
        const char *format, ...)
{
    if (!err || errlen == 0)
        return -1;
    int n = line > 0 ? snprintf (err, errlen, "%s:%d: ", path, line)
                     : snprintf (err, errlen, "%s: ", path);
    if (n >= 0 && (size_t) n < errlen) {
        va_list args;
        va_start (args, format);
        vsnprintf (err + n, errlen - (size_t) n, format, args);
        va_end (args);
    }
    return -1;
}

//  Length of a blank (space, tab, CR, LF, no-break space) at p, or 0.
static size_t
s_blank_at (const char *p, const char *end)
{
    if (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        return 1;
    if (end - p >= 2 && memcmp (p, NBSP, 2) == 0)
        return 2;
    return 0;
}

//  Trims blanks, and a byte order mark in front, off [*start, *end).
static void
s_trim (const char **start, const char **end)
{
    const char *p = *start, *e = *end;
    if (e - p >= 3 && memcmp (p, BOM, 3) == 0)
        p += 3;
    size_t n;
    while ((n = s_blank_at (p, e)) > 0)
        p += n;
    for (;;) {
        if (e > p && (e [-1] == ' ' || e [-1] == '\t' || e [-1] == '\r'
                  ||  e [-1] == '\n'))
            e--;
        else
        if (e - p >= 2 && memcmp (e - 2, NBSP, 2) == 0)
            e -= 2;
        else
            break;
    }
    *start = p;
    *end = e;
}

//  Folds the byte c, which follows prev, to lower case: ASCII letters,
//  and the second byte of the UTF-8 Latin-1 capitals (U+00C0..U+00DE but
//  the multiplication sign), whose small letters are 0x20 above them.
static inline unsigned char
s_fold (unsigned char prev, unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return (unsigned char) (c + 0x20);
    if (prev == 0xc3 && c >= 0x80 && c <= 0x9e && c != 0x97)
        return (unsigned char) (c + 0x20);
    return c;
}

//  1 when two texts are equal with case folded by s_fold.
static int
s_equal_fold (const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    unsigned char prev_a = 0, prev_b = 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char) a [i], y = (unsigned char) b [i];
        if (s_fold (prev_a, x) != s_fold (prev_b, y))
            return 0;
        prev_a = x;
        prev_b = y;
    }
    return 1;
}

//  1 when a header cell is name, both trimmed, case folded.
static int
s_name_matches (const char *cell, const char *name)
{
    if (!cell)
        cell = "";
    const char *start = cell, *end = cell + strlen (cell);
    const char *name_start = name, *name_end = name + strlen (name);
    s_trim (&start, &end);
    s_trim (&name_start, &name_end);
    return s_equal_fold (start, (size_t) (end - start), name_start,
                         (size_t) (name_end - name_start));
}

//  Copies [start, end) into a new string; NULL when memory runs out.
static char *
s_strndup (const char *start, const char *end)
{
    size_t len = (size_t) (end - start);
    char *copy = malloc (len + 1);
    if (copy) {
        memcpy (copy, start, len);
        copy [len] = 0;
    }
    return copy;
}

//  Parses the value part of a setting, [p, end) with the comment already
//  cut off, into items: one, or for a list several separated by '|'.
//  Each item is trimmed, or written in double quotes and taken as it is.
//  Returns the item count, or -1 with the reason in why.
static int
s_parse_items (const char *p, const char *end, int list, char **items,
               int max, const char **why)
{
    int count = 0;
    for (;;) {
        const char *start, *stop;
        size_t n;
        while ((n = s_blank_at (p, end)) > 0)
            p += n;
        if (p < end && *p == '"') {
            start = ++p;
            while (p < end && *p != '"')
                p++;
            if (p == end) {
                *why = "a quote that is not closed";
                goto fail;
            }
            stop = p++;
            if (start == stop) {
                *why = list ? "an empty column name" : "an empty value";
                goto fail;
            }
            while ((n = s_blank_at (p, end)) > 0)
                p += n;
            if (p < end && !(list && *p == '|')) {
                *why = "text after a quoted value";
                goto fail;
            }
        }
        else {
            start = p;
            while (p < end && !(list && *p == '|'))
                p++;
            stop = p;
            s_trim (&start, &stop);
            if (start == stop) {
                *why = list ? "an empty column name" : "no value after '='";
                goto fail;
            }
        }
        if (count == max) {
            *why = "too many alternatives";
            goto fail;
        }
        items [count] = s_strndup (start, stop);
        if (!items [count]) {
            *why = "out of memory";
            goto fail;
        }
        count++;
        if (p == end)
            return count;
        p++;                    //  past the '|'
    }
fail:
    while (count > 0)
        free (items [--count]);
    return -1;
}

//  Cuts a line at its comment: a '#' at the start or after a blank,
//  outside double quotes. Returns the end of the setting.
static const char *
s_cut_comment (const char *line, const char *end)
{
    int quoted = 0;
    for (const char *p = line; p < end; p++) {
        if (*p == '"')
            quoted = !quoted;
        else
        if (*p == '#' && !quoted
        && (p == line || p [-1] == ' ' || p [-1] == '\t'))
            return p;
    }
    return end;
}

//  The thousands or decimal separator a value names: the word forms are
//  for separators that cannot be seen. NULL for a word that is none.
static const char *
s_separator_text (const char *value)
{
    if (strcmp (value, "none") == 0)
        return "";
    if (strcmp (value, "space") == 0)
        return " ";
    if (strcmp (value, "nbsp") == 0)
        return NBSP;
    if (strcmp (value, "narrow_nbsp") == 0)
        return NNBSP;
    return value;
}

void
mapping_destroy (mapping_t **self_p)
{
    assert (self_p);
    mapping_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->column_count; i++) {
        column_t *column = &self->columns [i];
        free (column->field);
        free (column->spec);
        for (size_t j = 0; j < column->name_count; j++)
            free (column->names [j]);
        free (column->names);
    }
    free (self->columns);
    free (self->path);
    free (self->kind);
    free (self->date_format);
    free (self->decimal);
    free (self->thousands);
    free (self->currency);
    free (self->stop_at);
    free (self);
    *self_p = NULL;
}

//  Takes `column FIELD = NAME | ...` at line. Returns 0 or -1 with err.
static int
s_load_column (mapping_t *self, const char *field_start,
               const char *field_end, const char *value, const char *end,
               int line, char *err, size_t errlen)
{
    char field [64];
    size_t len = (size_t) (field_end - field_start);
    if (len == 0 || len >= sizeof field)
        return s_fail (err, errlen, self->path, line, "expected \"column "
                       "FIELD = NAME\", with FIELD a native field name");
    for (size_t i = 0; i < len; i++) {
        char c = field_start [i];
        field [i] = c >= 'A' && c <= 'Z' ? (char) (c + 0x20) : c;
    }
    field [len] = 0;
    for (size_t i = 0; i < self->column_count; i++)
        if (strcmp (self->columns [i].field, field) == 0)
            return s_fail (err, errlen, self->path, line, "column %s given "
                           "twice (first on line %d)", field,
                           self->columns [i].line);
    char *items [MAPPING_ALTERNATIVES_MAX];
    const char *why = NULL;
    int count = s_parse_items (value, end, 1, items,
                               MAPPING_ALTERNATIVES_MAX, &why);
    if (count < 0)
        return s_fail (err, errlen, self->path, line, "column %s: %s",
                       field, why);
    //  The value as written, trimmed, is what messages show.
    const char *spec_start = value, *spec_end = end;
    s_trim (&spec_start, &spec_end);
    column_t column = {
        .field = strdup (field),
        .spec = s_strndup (spec_start, spec_end),
        .names = malloc ((size_t) count * sizeof (char *)),
        .name_count = (size_t) count,
        .line = line
    };
    column_t *columns = realloc (self->columns, (self->column_count + 1)
                                                * sizeof *columns);
    if (columns)
        self->columns = columns;
    if (!columns || !column.field || !column.spec || !column.names) {
        free (column.field);
        free (column.spec);
        free (column.names);
        while (count > 0)
            free (items [--count]);
        return s_fail (err, errlen, self->path, line, "out of memory");
    }
    memcpy (column.names, items, (size_t) count * sizeof (char *));
    self->columns [self->column_count++] = column;
    return 0;
}

//  Takes `key = value` at line. Returns 0 or -1 with err.
static int
s_load_setting (mapping_t *self, setting_t key, const char *value,
                const char *end, int line, char *err, size_t errlen)
{
    const char *name = s_key_names [key];
    if (self->key_line [key])
        return s_fail (err, errlen, self->path, line, "%s given twice (first "
                       "on line %d)", name, self->key_line [key]);
    self->key_line [key] = line;
    char *text = NULL;
    const char *why = NULL;
    if (s_parse_items (value, end, 0, &text, 1, &why) < 0)
        return s_fail (err, errlen, self->path, line, "%s: %s", name, why);

    char reason [200] = "";
    int rc = 0;
    switch (key) {
        case KEY_KIND:
            if (!mapping_native_fields (text))
                rc = s_fail (err, errlen, self->path, line, "kind \"%s\" is "
                             "not customers, invoices or payments", text);
            else {
                self->kind = text;
                text = NULL;
            }
            break;
        case KEY_DATE_FORMAT:
            if (date_format_check (text, reason, sizeof reason) != 0)
                rc = s_fail (err, errlen, self->path, line, "date_format "
                             "\"%s\": %s", text, reason);
            else {
                self->date_format = text;
                text = NULL;
            }
            break;
        case KEY_DECIMAL:
        case KEY_THOUSANDS: {
            //  Checked with the other separator once the file is read.
            char *copy = strdup (s_separator_text (text));
            if (!copy)
                rc = s_fail (err, errlen, self->path, line, "out of memory");
            else
            if (key == KEY_DECIMAL)
                self->decimal = copy;
            else
                self->thousands = copy;
            break;
        }
        case KEY_CURRENCY:
            if (money_currency_exponent (text) < 0)
                rc = s_fail (err, errlen, self->path, line, "currency \"%s\" "
                             "is not an ISO 4217 currency code (USD, EUR, "
                             "SEK, ...)", text);
            else {
                self->currency = text;
                text = NULL;
            }
            break;
        case KEY_SKIP_ROWS: {
            char *stop;
            errno = 0;
            long rows = strtol (text, &stop, 10);
            if (*stop || stop == text || errno || text [0] == '-'
            ||  text [0] == '+' || rows > MAPPING_SKIP_ROWS_MAX)
                rc = s_fail (err, errlen, self->path, line, "skip_rows \"%s\" "
                             "is not a whole number from 0 to %d", text,
                             MAPPING_SKIP_ROWS_MAX);
            else
                self->skip_rows = (int) rows;
            break;
        }
        case KEY_SEPARATOR: {
            char separator = strcmp (text, "tab") == 0 ? '\t'
                           : strcmp (text, "comma") == 0 ? ','
                           : strcmp (text, "semicolon") == 0 ? ';'
                           : strcmp (text, "pipe") == 0 ? '|'
                           : strlen (text) == 1 ? text [0] : 0;
            unsigned char c = (unsigned char) separator;
            if (c == 0 || c >= 0x80 || c == '"' || c == ' '
            ||  (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
            ||  (c >= 'a' && c <= 'z'))
                rc = s_fail (err, errlen, self->path, line, "separator \"%s\" "
                             "cannot separate fields: use one punctuation "
                             "character, or tab", text);
            else
                self->separator = separator;
            break;
        }
        case KEY_ENCODING: {
            char lower [32];
            size_t len = strlen (text);
            for (size_t i = 0; i < len && i < sizeof lower - 1; i++)
                lower [i] = text [i] >= 'A' && text [i] <= 'Z'
                          ? (char) (text [i] + 0x20) : text [i];
            lower [len < sizeof lower - 1 ? len : sizeof lower - 1] = 0;
            if (strcmp (lower, "utf-8") == 0 || strcmp (lower, "utf8") == 0)
                self->encoding = CSV_ENCODING_UTF8;
            else
            if (strcmp (lower, "windows-1252") == 0
            ||  strcmp (lower, "cp1252") == 0
            ||  strcmp (lower, "latin1") == 0
            ||  strcmp (lower, "latin-1") == 0
            ||  strcmp (lower, "iso-8859-1") == 0)
                self->encoding = CSV_ENCODING_WINDOWS_1252;
            else
                rc = s_fail (err, errlen, self->path, line, "encoding \"%s\" "
                             "is not utf-8 or windows-1252", text);
            break;
        }
        case KEY_STOP_AT:
            self->stop_at = text;
            text = NULL;
            break;
        case KEY_LINE_ITEMS:
            if (strcmp (text, "yes") == 0)
                self->line_items = 1;
            else
            if (strcmp (text, "no") == 0)
                self->line_items = 0;
            else
                rc = s_fail (err, errlen, self->path, line, "line_items "
                             "\"%s\" is not yes or no", text);
            break;
        case KEY_COUNT:
            assert (0);
            break;
    }
    free (text);
    return rc;
}

//  Takes one line of the file. Returns 0 or -1 with err.
static int
s_load_line (mapping_t *self, const char *text, size_t len, int line,
             char *err, size_t errlen)
{
    size_t bad = csv_utf8_valid (text, len);
    if (bad < len)
        return s_fail (err, errlen, self->path, line, "not UTF-8 at byte "
                       "%zu; save the mapping file as UTF-8", bad + 1);
    const char *start = text;
    const char *end = s_cut_comment (text, text + len);
    s_trim (&start, &end);
    if (start == end)
        return 0;               //  blank line or comment

    const char *word_end = start;
    while (word_end < end && (*word_end == '_'
           || (*word_end >= 'a' && *word_end <= 'z')
           || (*word_end >= 'A' && *word_end <= 'Z')))
        word_end++;
    char word [32];
    size_t word_len = (size_t) (word_end - start);
    if (word_len == 0 || word_len >= sizeof word)
        return s_fail (err, errlen, self->path, line, "expected \"key = "
                       "value\" or \"column FIELD = NAME\"");
    for (size_t i = 0; i < word_len; i++)
        word [i] = start [i] >= 'A' && start [i] <= 'Z'
                 ? (char) (start [i] + 0x20) : start [i];
    word [word_len] = 0;

    const char *equals = memchr (start, '=', (size_t) (end - start));
    if (strcmp (word, "column") == 0) {
        const char *field = word_end;
        size_t n;
        while ((n = s_blank_at (field, end)) > 0)
            field += n;
        const char *field_end = field;
        while (field_end < end && (*field_end == '_'
               || (*field_end >= 'a' && *field_end <= 'z')
               || (*field_end >= 'A' && *field_end <= 'Z')))
            field_end++;
        const char *after = field_end;
        while ((n = s_blank_at (after, end)) > 0)
            after += n;
        if (field == word_end || field_end == field || !equals
        ||  after != equals)
            return s_fail (err, errlen, self->path, line, "expected \"column "
                           "FIELD = NAME\", with FIELD a native field name");
        return s_load_column (self, field, field_end, equals + 1, end, line,
                              err, errlen);
    }
    int key = 0;
    while (key < KEY_COUNT && strcmp (word, s_key_names [key]) != 0)
        key++;
    if (key == KEY_COUNT)
        return s_fail (err, errlen, self->path, line, "unknown key \"%s\" "
                       "(known: kind, date_format, decimal, thousands, "
                       "currency, skip_rows, separator, encoding, stop_at, "
                       "line_items, column)", word);
    const char *after = word_end;
    size_t n;
    while ((n = s_blank_at (after, end)) > 0)
        after += n;
    if (after == end || *after != '=')
        return s_fail (err, errlen, self->path, line, "expected \"%s = "
                       "value\"", word);
    return s_load_setting (self, (setting_t) key, after + 1, end, line, err,
                           errlen);
}

//  Checks what takes the whole file: the two separators of an amount
//  together, and each column against the kind. Returns 0 or -1 with err.
static int
s_check_file (mapping_t *self, char *err, size_t errlen)
{
    money_format_t format = mapping_money_format (self);
    char reason [200];
    if (money_format_check (&format, reason, sizeof reason) != 0) {
        int decimal = self->key_line [KEY_DECIMAL];
        int thousands = self->key_line [KEY_THOUSANDS];
        int line = decimal > thousands ? decimal : thousands;
        return s_fail (err, errlen, self->path, line, "decimal and thousands "
                       "separators: %s", reason);
    }
    for (size_t i = 0; i < self->column_count; i++) {
        const column_t *column = &self->columns [i];
        if (s_kind_has_field (self->kind, column->field))
            continue;
        if (self->kind) {
            char fields [200] = "";
            for (const char *const *f = mapping_native_fields (self->kind);
                 *f; f++) {
                size_t used = strlen (fields);
                snprintf (fields + used, sizeof fields - used, "%s%s",
                          used ? ", " : "", *f);
            }
            return s_fail (err, errlen, self->path, column->line, "%s have "
                           "no field \"%s\" (fields: %s)", self->kind,
                           column->field, fields);
        }
        return s_fail (err, errlen, self->path, column->line, "no kind has "
                       "a field \"%s\"", column->field);
    }
    return 0;
}

mapping_t *
mapping_load (const char *path, char *err, size_t errlen)
{
    assert (path);
    mapping_t *self = calloc (1, sizeof *self);
    char *text = NULL;
    size_t size = 0;
    FILE *file = NULL;
    if (!self || !(self->path = strdup (path))) {
        s_fail (err, errlen, path, 0, "out of memory");
        goto fail;
    }
    self->separator = ',';
    self->encoding = CSV_ENCODING_UTF8;
    file = fopen (path, "rb");
    if (!file) {
        s_fail (err, errlen, path, 0, "cannot open: %s", strerror (errno));
        goto fail;
    }
    ssize_t len;
    int line = 0;
    while ((len = getline (&text, &size, file)) >= 0) {
        line++;
        const char *start = text;
        if (line == 1 && len >= 3 && memcmp (text, BOM, 3) == 0) {
            start += 3;
            len -= 3;
        }
        if (s_load_line (self, start, (size_t) len, line, err, errlen) != 0)
            goto fail;
    }
    if (ferror (file)) {
        s_fail (err, errlen, path, 0, "cannot read: %s", strerror (errno));
        goto fail;
    }
    if (s_check_file (self, err, errlen) != 0)
        goto fail;
    free (text);
    fclose (file);
    return self;
fail:
    free (text);
    if (file)
        fclose (file);
    mapping_destroy (&self);
    return NULL;
}

const char *
mapping_kind (const mapping_t *self)
{
    return self ? self->kind : NULL;
}

const char *
mapping_date_format (const mapping_t *self)
{
    return self && self->date_format ? self->date_format : "YYYY-MM-DD";
}

money_format_t
mapping_money_format (const mapping_t *self)
{
    money_format_t format = MONEY_FORMAT_PLAIN;
    if (self && self->decimal)
        format.decimal_sep = self->decimal;
    if (self && self->thousands)
        format.thousands_sep = self->thousands;
    return format;
}

const char *
mapping_currency (const mapping_t *self)
{
    return self ? self->currency : NULL;
}

int
mapping_skip_rows (const mapping_t *self)
{
    return self ? self->skip_rows : 0;
}

char
mapping_separator (const mapping_t *self)
{
    return self ? self->separator : ',';
}

csv_encoding_t
mapping_encoding (const mapping_t *self)
{
    return self ? self->encoding : CSV_ENCODING_UTF8;
}

void
mapping_setup_reader (const mapping_t *self, csv_t *csv)
{
    assert (csv);
    if (!self)
        return;
    int rc = csv_set_separator (csv, self->separator);
    assert (rc == 0);           //  mapping_load took only usable ones
    (void) rc;
    csv_set_encoding (csv, self->encoding);
}

const char *
mapping_stop_at (const mapping_t *self)
{
    return self ? self->stop_at : NULL;
}

int
mapping_is_end (const mapping_t *self, char **fields, size_t count)
{
    if (!self || !self->stop_at || count == 0)
        return 0;
    return s_name_matches (fields [0], self->stop_at);
}

int
mapping_line_items (const mapping_t *self)
{
    return self ? self->line_items : 0;
}

//  The column setting of a native field, or NULL.
static const column_t *
s_column (const mapping_t *self, const char *field)
{
    for (size_t i = 0; self && i < self->column_count; i++)
        if (strcmp (self->columns [i].field, field) == 0)
            return &self->columns [i];
    return NULL;
}

const char *
mapping_column_name (const mapping_t *self, const char *field)
{
    assert (field);
    const column_t *column = s_column (self, field);
    return column ? column->spec : NULL;
}

//  Index of the first header cell named name, or -1.
static int
s_find_header (char **header, size_t count, const char *name)
{
    for (size_t j = 0; j < count && j <= INT_MAX; j++)
        if (s_name_matches (header [j], name))
            return (int) j;
    return -1;
}

void
mapping_find_columns (const mapping_t *self, char **header, size_t count,
                      const char *const *names, int *index)
{
    assert (header || count == 0);
    assert (names);
    assert (index);
    for (size_t i = 0; names [i]; i++) {
        const column_t *column = s_column (self, names [i]);
        index [i] = -1;
        if (!column)
            index [i] = s_find_header (header, count, names [i]);
        else
            for (size_t k = 0; k < column->name_count && index [i] < 0; k++)
                index [i] = s_find_header (header, count, column->names [k]);
    }
}
