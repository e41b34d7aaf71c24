/*  csv: streaming RFC 4180 reader and writer. See csv.h.

    The reader is a state machine over a read buffer. Runs of ordinary
    bytes are found with a 256-entry table and copied to the record
    buffer with one memcpy, so that the work per byte is a table lookup;
    only separators, quotes, line ends and non-ASCII bytes are looked at
    one by one. Fields are kept in the record buffer as NUL-terminated
    strings one after the other, remembered by offset while the buffer
    may still move, and turned into pointers when the record is complete.
    A bad record is read to its end with storing switched off, so that
    the next record starts where it should.                             */
#include "csv.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CSV_BUFFER_SIZE (256 * 1024)    //  read buffer
#define CSV_RECORD_INITIAL 4096         //  first size of the record buffer
#define CSV_FIELDS_INITIAL 64           //  first capacity of the field arrays
#define CSV_ERROR_MAX 256               //  a fatal error kept for later calls

//  Where the state machine is within a record.
typedef enum {
    STATE_FIELD_START,          //  at the first byte of a field
    STATE_UNQUOTED,             //  inside a field that did not start with "
    STATE_QUOTED,               //  inside a quoted field
    STATE_QUOTE_SEEN            //  after a " in a quoted field: "" or the end
} state_t;

struct csv_t {
    FILE *file;                 //  input, borrowed
    unsigned char *in;          //  read buffer, CSV_BUFFER_SIZE bytes
    size_t in_len;              //  bytes held in the read buffer
    size_t in_pos;              //  next unread byte in the read buffer
    long long in_base;          //  file offset of in [0]
    int eof;                    //  fread has met the end of the file
    int read_errno;             //  errno of a failed read, 0 if none
    int started;                //  the byte order mark has been looked for
    char separator;             //  field separator, ',' by default
    csv_encoding_t encoding;    //  encoding of the file
    unsigned char plain [256];  //  1: byte copied as is outside quotes
    unsigned char plain_quoted [256];   //  1: byte copied as is inside quotes
    char *rec;                  //  the record's fields, NUL-terminated
    size_t rec_len;             //  bytes used in rec
    size_t rec_cap;             //  bytes allocated for rec, <= CSV_RECORD_MAX
    size_t *starts;             //  offset in rec of each stored field
    char **fields;              //  the fields as handed to the caller
    size_t fields_cap;          //  capacity of starts and fields
    size_t field_no;            //  fields begun in this record (1-based index
                                //  of the current one)
    long line;                  //  line of the next unread byte, from 1
    long record_line;           //  line the last record started on
    int bad;                    //  this record has been rejected
    int discard;                //  stop storing: the record is bad or too big
    char *err;                  //  the caller's error buffer, during csv_next
    size_t errlen;              //  ... and its size
    int dead;                   //  cannot go on: every call returns -2
    char dead_err [CSV_ERROR_MAX];  //  why, for later calls
};

//  Windows-1252 code points of bytes 0x80 to 0x9F; 0 where undefined.
//  Bytes from 0xA0 up are the Latin-1 code points of the same value.
static const unsigned short s_cp1252 [32] = {
    0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
    0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
    0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
    0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178
};

//  Fills the byte classes for the current separator.
static void
s_classes_init (csv_t *self)
{
    for (int c = 0; c < 256; c++) {
        int ascii = c > 0 && c < 0x80;
        self->plain [c] = ascii && c != '"' && c != '\r' && c != '\n'
                          && c != (unsigned char) self->separator;
        self->plain_quoted [c] = ascii && c != '"' && c != '\n';
    }
}

csv_t *
csv_new (FILE *file)
{
    assert (file);
    csv_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->file = file;
    self->separator = ',';
    self->encoding = CSV_ENCODING_UTF8;
    self->line = 1;
    self->in = malloc (CSV_BUFFER_SIZE);
    self->rec = malloc (CSV_RECORD_INITIAL);
    self->rec_cap = CSV_RECORD_INITIAL;
    self->starts = malloc (CSV_FIELDS_INITIAL * sizeof *self->starts);
    self->fields = malloc (CSV_FIELDS_INITIAL * sizeof *self->fields);
    self->fields_cap = CSV_FIELDS_INITIAL;
    if (!self->in || !self->rec || !self->starts || !self->fields) {
        csv_destroy (&self);
        return NULL;
    }
    s_classes_init (self);
    return self;
}

void
csv_destroy (csv_t **self_p)
{
    assert (self_p);
    csv_t *self = *self_p;
    if (self) {
        free (self->in);
        free (self->rec);
        free (self->starts);
        free (self->fields);
        free (self);
        *self_p = NULL;
    }
}

int
csv_set_separator (csv_t *self, char separator)
{
    assert (self);
    unsigned char c = (unsigned char) separator;
    if (c == 0 || c >= 0x80 || c == '"' || c == '\r' || c == '\n')
        return -1;
    self->separator = separator;
    s_classes_init (self);
    return 0;
}

void
csv_set_encoding (csv_t *self, csv_encoding_t encoding)
{
    assert (self);
    assert (encoding == CSV_ENCODING_UTF8
            || encoding == CSV_ENCODING_WINDOWS_1252);
    self->encoding = encoding;
}

long
csv_line (const csv_t *self)
{
    assert (self);
    return self->record_line;
}

long long
csv_offset (const csv_t *self)
{
    assert (self);
    return self->in_base + (long long) self->in_pos;
}

//  Makes at least need bytes (need <= 4) readable at in_pos when the file
//  has them, moving what is left to the front of the buffer and reading
//  more. Returns how many bytes are readable. A read error sets
//  read_errno and counts as the end of the file.
static size_t
s_fill (csv_t *self, size_t need)
{
    size_t avail = self->in_len - self->in_pos;
    if (avail >= need || self->eof)
        return avail;
    memmove (self->in, self->in + self->in_pos, avail);
    self->in_base += (long long) self->in_pos;
    self->in_pos = 0;
    self->in_len = avail;
    while (self->in_len < need && !self->eof) {
        size_t got = fread (self->in + self->in_len, 1,
                            CSV_BUFFER_SIZE - self->in_len, self->file);
        self->in_len += got;
        if (got == 0) {
            self->eof = 1;
            if (ferror (self->file))
                self->read_errno = errno ? errno : EIO;
        }
    }
    return self->in_len;
}

//  Stops the reader for good with a message, copied to the caller's
//  buffer now and on every later call. Returns -2.
static int
s_die (csv_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static int
s_die (csv_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->dead_err, sizeof self->dead_err, format, args);
    va_end (args);
    self->dead = 1;
    if (self->err && self->errlen)
        snprintf (self->err, self->errlen, "%s", self->dead_err);
    return -2;
}

//  Rejects the current record with "line L, field F: " and a message,
//  unless it was rejected already (the first fault is the one reported),
//  and stops storing it.
static void
s_reject (csv_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_reject (csv_t *self, const char *format, ...)
{
    if (self->bad)
        return;
    self->bad = 1;
    self->discard = 1;
    if (self->err && self->errlen) {
        int n = snprintf (self->err, self->errlen, "line %ld, field %zu: ",
                          self->line, self->field_no);
        if (n >= 0 && (size_t) n < self->errlen) {
            va_list args;
            va_start (args, format);
            vsnprintf (self->err + n, self->errlen - (size_t) n, format, args);
            va_end (args);
        }
    }
}

//  Rejects a record that has grown beyond CSV_RECORD_MAX.
static void
s_reject_size (csv_t *self)
{
    if (self->bad)
        return;
    self->bad = 1;
    self->discard = 1;
    if (self->err && self->errlen)
        snprintf (self->err, self->errlen, "line %ld: a record longer than "
                  "%d bytes (1 MiB); skipped", self->record_line,
                  CSV_RECORD_MAX);
}

//  Appends n bytes to the record, unless it is being discarded. Returns
//  0, or -1 when memory ran out (the reader is dead then).
static inline int
s_append (csv_t *self, const void *bytes, size_t n)
{
    if (self->discard)
        return 0;
    if (n > CSV_RECORD_MAX - self->rec_len) {
        s_reject_size (self);
        return 0;
    }
    if (self->rec_len + n > self->rec_cap) {
        size_t cap = self->rec_cap;
        while (cap < self->rec_len + n)
            cap *= 2;
        if (cap > CSV_RECORD_MAX)
            cap = CSV_RECORD_MAX;
        char *rec = realloc (self->rec, cap);
        if (!rec) {
            s_die (self, "line %ld: out of memory", self->line);
            return -1;
        }
        self->rec = rec;
        self->rec_cap = cap;
    }
    memcpy (self->rec + self->rec_len, bytes, n);
    self->rec_len += n;
    return 0;
}

//  Starts a field. Returns 0, or -1 when memory ran out.
static int
s_field_begin (csv_t *self)
{
    self->field_no++;
    if (self->field_no > CSV_FIELDS_MAX) {
        s_reject (self, "more than %d fields in one record", CSV_FIELDS_MAX);
        return 0;
    }
    if (self->discard)
        return 0;
    if (self->field_no > self->fields_cap) {
        size_t cap = self->fields_cap * 2;
        size_t *starts = realloc (self->starts, cap * sizeof *starts);
        if (starts)
            self->starts = starts;
        char **fields = starts ? realloc (self->fields, cap * sizeof *fields)
                               : NULL;
        if (!fields) {
            s_die (self, "line %ld: out of memory", self->line);
            return -1;
        }
        self->fields = fields;
        self->fields_cap = cap;
    }
    self->starts [self->field_no - 1] = self->rec_len;
    return 0;
}

//  Ends a field with its NUL. Returns 0, or -1 when memory ran out.
static int
s_field_end (csv_t *self)
{
    return s_append (self, "", 1);
}

//  Checks the UTF-8 character at p, of which avail >= 1 bytes can be
//  read. Returns its length, 1 to 4, or 0 with the fault in *why.
static int
s_utf8_check (const unsigned char *p, size_t avail, const char **why)
{
    unsigned c = p [0];
    if (c == 0) {
        *why = "a NUL byte";
        return 0;
    }
    if (c < 0x80)
        return 1;
    int len;
    unsigned low = 0x80, high = 0xbf;   //  range of the second byte
    const char *narrow = NULL;          //  what a second byte outside it means
    if (c < 0xc0) {
        *why = "a continuation byte that does not follow a lead byte";
        return 0;
    }
    if (c < 0xc2) {
        *why = "an overlong encoding";
        return 0;
    }
    if (c < 0xe0)
        len = 2;
    else
    if (c < 0xf0) {
        len = 3;
        if (c == 0xe0)
            low = 0xa0, narrow = "an overlong encoding";
        else
        if (c == 0xed)
            high = 0x9f, narrow = "a UTF-16 surrogate";
    }
    else
    if (c < 0xf5) {
        len = 4;
        if (c == 0xf0)
            low = 0x90, narrow = "an overlong encoding";
        else
        if (c == 0xf4)
            high = 0x8f, narrow = "a code point beyond U+10FFFF";
    }
    else {
        *why = "a byte that never appears in UTF-8";
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t) i >= avail || (p [i] & 0xc0) != 0x80) {
            *why = "a truncated sequence";
            return 0;
        }
    }
    if (p [1] < low || p [1] > high) {
        *why = narrow;
        return 0;
    }
    return len;
}

size_t
csv_utf8_valid (const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *) text;
    size_t at = 0;
    while (at < len) {
        if (p [at] > 0 && p [at] < 0x80) {
            at++;
            continue;
        }
        const char *why;
        int n = s_utf8_check (p + at, len - at, &why);
        if (n == 0)
            return at;
        at += (size_t) n;
    }
    return len;
}

//  Byte of the current field the next stored byte will be, from 1.
static size_t
s_field_byte (const csv_t *self)
{
    if (self->discard || self->field_no == 0
    ||  self->field_no > CSV_FIELDS_MAX)
        return 0;
    return self->rec_len - self->starts [self->field_no - 1] + 1;
}

//  Takes the NUL or non-ASCII byte at in_pos: checks and copies a UTF-8
//  character, or converts a Windows-1252 byte. Returns 0, or -1 when
//  memory ran out.
static int
s_take_special (csv_t *self)
{
    size_t avail = s_fill (self, 4);
    const unsigned char *p = self->in + self->in_pos;
    if (*p == 0) {
        s_reject (self, "a NUL byte at byte %zu; if the file is UTF-16, "
                  "save it as UTF-8", s_field_byte (self));
        self->in_pos++;
        return 0;
    }
    if (self->encoding == CSV_ENCODING_WINDOWS_1252) {
        unsigned cp = *p;
        if (cp < 0xa0)
            cp = s_cp1252 [cp - 0x80];
        if (cp == 0) {
            s_reject (self, "byte 0x%02X at byte %zu is not a Windows-1252 "
                      "character", *p, s_field_byte (self));
            self->in_pos++;
            return 0;
        }
        unsigned char utf8 [3];
        size_t n;
        if (cp < 0x800) {
            utf8 [0] = (unsigned char) (0xc0 | (cp >> 6));
            utf8 [1] = (unsigned char) (0x80 | (cp & 0x3f));
            n = 2;
        }
        else {
            utf8 [0] = (unsigned char) (0xe0 | (cp >> 12));
            utf8 [1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
            utf8 [2] = (unsigned char) (0x80 | (cp & 0x3f));
            n = 3;
        }
        self->in_pos++;
        return s_append (self, utf8, n);
    }
    const char *why;
    int n = s_utf8_check (p, avail, &why);
    if (n == 0) {
        s_reject (self, "invalid UTF-8 at byte %zu (0x%02X: %s)",
                  s_field_byte (self), *p, why);
        self->in_pos++;
        return 0;
    }
    self->in_pos += (size_t) n;
    return s_append (self, p, (size_t) n);
}

//  Looks at the start of the file: skips a UTF-8 byte order mark, and
//  stops at a UTF-16 one, which would give nothing but errors. Returns 0
//  or -2.
static int
s_start (csv_t *self)
{
    self->started = 1;
    if (self->encoding != CSV_ENCODING_UTF8)
        return 0;
    size_t avail = s_fill (self, 3);
    const unsigned char *p = self->in + self->in_pos;
    if (avail >= 3 && p [0] == 0xef && p [1] == 0xbb && p [2] == 0xbf)
        self->in_pos += 3;
    else
    if (avail >= 2 && ((p [0] == 0xff && p [1] == 0xfe)
                   ||  (p [0] == 0xfe && p [1] == 0xff)))
        return s_die (self, "line 1: the file is UTF-16 (it starts with a "
                      "UTF-16 byte order mark); save it as UTF-8");
    return 0;
}

//  Consumes a CR at in_pos. Returns 1 when a LF follows (the record
//  ends; both are consumed), else 0 after rejecting the record and
//  keeping the CR as text.
static int
s_take_cr (csv_t *self)
{
    if (s_fill (self, 2) >= 2 && self->in [self->in_pos + 1] == '\n') {
        self->in_pos += 2;
        self->line++;
        return 1;
    }
    s_reject (self, "a carriage return (CR) without a line feed (LF) after "
              "it; quote the field, or end lines with CRLF or LF");
    self->in_pos++;
    return 0;
}

int
csv_next (csv_t *self, char ***fields, size_t *count, char *err, size_t errlen)
{
    assert (self);
    assert (fields);
    assert (count);
    self->err = err;
    self->errlen = err ? errlen : 0;
    if (self->dead) {
        if (self->errlen)
            snprintf (err, errlen, "%s", self->dead_err);
        return -2;
    }
    if (!self->started && s_start (self) != 0)
        return -2;
    self->rec_len = 0;
    self->field_no = 0;
    self->bad = 0;
    self->discard = 0;
    if (s_fill (self, 1) == 0) {
        if (self->read_errno)
            return s_die (self, "line %ld: cannot read the file: %s",
                          self->line, strerror (self->read_errno));
        return 0;
    }
    self->record_line = self->line;
    if (s_field_begin (self) != 0)
        return -2;

    const unsigned char separator = (unsigned char) self->separator;
    state_t state = STATE_FIELD_START;
    long quote_line = 0;        //  where the open quoted field started
    for (;;) {
        if (self->in_pos == self->in_len && s_fill (self, 1) == 0) {
            if (self->read_errno)
                return s_die (self, "line %ld: cannot read the file: %s",
                              self->line, strerror (self->read_errno));
            if (state == STATE_QUOTED)
                return s_die (self, "line %ld, field %zu: this quoted field "
                              "is never closed: the file ends inside it",
                              quote_line, self->field_no);
            break;              //  the last record, without a line end
        }
        const unsigned char *p = self->in + self->in_pos;
        const unsigned char *end = self->in + self->in_len;
        if (state == STATE_FIELD_START) {
            if (*p == '"') {
                state = STATE_QUOTED;
                quote_line = self->line;
                self->in_pos++;
                continue;
            }
            state = STATE_UNQUOTED;
        }
        if (state == STATE_UNQUOTED) {
            const unsigned char *q = p;
            while (q < end && self->plain [*q])
                q++;
            if (q > p) {
                if (s_append (self, p, (size_t) (q - p)) != 0)
                    return -2;
                self->in_pos += (size_t) (q - p);
                if (q == end)
                    continue;
            }
            unsigned char c = *q;
            if (c == separator) {
                self->in_pos++;
                if (s_field_end (self) != 0 || s_field_begin (self) != 0)
                    return -2;
                state = STATE_FIELD_START;
            }
            else
            if (c == '\n') {
                self->in_pos++;
                self->line++;
                break;
            }
            else
            if (c == '\r') {
                if (s_take_cr (self))
                    break;
            }
            else
            if (c == '"') {
                s_reject (self, "a quote inside an unquoted field; quote "
                          "the whole field");
                self->in_pos++;
            }
            else
            if (s_take_special (self) != 0)
                return -2;
        }
        else
        if (state == STATE_QUOTED) {
            const unsigned char *q = p;
            while (q < end && self->plain_quoted [*q])
                q++;
            if (q > p) {
                if (s_append (self, p, (size_t) (q - p)) != 0)
                    return -2;
                self->in_pos += (size_t) (q - p);
                if (q == end)
                    continue;
            }
            unsigned char c = *q;
            if (c == '"') {
                self->in_pos++;
                state = STATE_QUOTE_SEEN;
            }
            else
            if (c == '\n') {
                if (s_append (self, "\n", 1) != 0)
                    return -2;
                self->in_pos++;
                self->line++;
            }
            else
            if (s_take_special (self) != 0)
                return -2;
        }
        else {
            assert (state == STATE_QUOTE_SEEN);
            unsigned char c = *p;
            if (c == '"') {             //  "" stands for one quote
                if (s_append (self, "\"", 1) != 0)
                    return -2;
                self->in_pos++;
                state = STATE_QUOTED;
            }
            else
            if (c == separator) {
                self->in_pos++;
                if (s_field_end (self) != 0 || s_field_begin (self) != 0)
                    return -2;
                state = STATE_FIELD_START;
            }
            else
            if (c == '\n') {
                self->in_pos++;
                self->line++;
                break;
            }
            else
            if (c == '\r')
                state = STATE_UNQUOTED;     //  CRLF ends it, a lone CR is bad
            else {
                //  What follows is taken as more of the field, up to the
                //  next separator, so that the next field is the next one.
                s_reject (self, "text after the closing quote; quote the "
                          "whole field, and double each quote inside it");
                state = STATE_UNQUOTED;
            }
        }
    }
    if (s_field_end (self) != 0)
        return -2;
    if (self->bad)
        return -1;
    for (size_t i = 0; i < self->field_no; i++)
        self->fields [i] = self->rec + self->starts [i];
    *fields = self->fields;
    *count = self->field_no;
    return 1;
}

//  1 when a field must be quoted to be read back as it is.
static int
s_needs_quotes (const char *field)
{
    size_t len = strlen (field);
    if (len == 0)
        return 0;
    if (field [0] == ' ' || field [0] == '\t'
    ||  field [len - 1] == ' ' || field [len - 1] == '\t')
        return 1;
    return strpbrk (field, ",\"\r\n") != NULL;
}

int
csv_write (FILE *out, const char *const *fields, size_t count)
{
    assert (out);
    assert (fields || count == 0);
    for (size_t i = 0; i < count; i++) {
        const char *field = fields [i] ? fields [i] : "";
        if (i > 0)
            putc (',', out);
        if (!s_needs_quotes (field)) {
            fputs (field, out);
            continue;
        }
        putc ('"', out);
        const char *quote;
        while ((quote = strchr (field, '"')) != NULL) {
            fwrite (field, 1, (size_t) (quote - field) + 1, out);
            putc ('"', out);
            field = quote + 1;
        }
        fputs (field, out);
        putc ('"', out);
    }
    fputs ("\r\n", out);
    return ferror (out) ? -1 : 0;
}
