/*  csv: a streaming reader and a writer of comma-separated values as RFC
    4180 describes them, for imports of any size in constant memory.

    The reader takes a file one record at a time through a 256 KiB read
    buffer and one record buffer that grows to at most CSV_RECORD_MAX:
    a million-row file needs no more memory than a ten-row one. Fields may
    be quoted ("..."), and a quoted field may hold separators, doubled
    quotes ("" for ") and line breaks, kept as they are (CRLF or LF). A
    record ends at CRLF, at LF, or at the end of the file. A UTF-8 byte
    order mark at the very start is skipped.

    The reader is strict, because a CSV file that is only nearly right
    is how amounts land in the wrong column: text must be UTF-8 (no
    overlong forms, no UTF-16 surrogates, no truncated sequences, no NUL
    bytes); a quote may not appear inside an unquoted field, nor anything
    but a separator or a line end after a closing quote; a carriage
    return must be followed by a line feed unless it is quoted. Such a
    record is rejected with what is wrong and where ("line 12, field 3:
    invalid UTF-8 at byte 7"), and reading goes on with the next record,
    so that one import reports all of its bad lines at once.

    Lines are physical lines of the file counted from 1: a record whose
    quoted field holds two line breaks takes three of them.             */
#ifndef RECOUP_CSV_H
#define RECOUP_CSV_H

#include <stddef.h>
#include <stdio.h>

//  The largest record the reader keeps, field text and one NUL per field
//  counted. A longer record is rejected and skipped to its end.
#define CSV_RECORD_MAX (1024 * 1024)

//  The most fields a record may have; more is a bad record.
#define CSV_FIELDS_MAX 65536

//  Text encodings the reader takes (csv_set_encoding).
typedef enum {
    CSV_ENCODING_UTF8 = 0,      //  UTF-8, checked; the default
    CSV_ENCODING_WINDOWS_1252   //  Windows-1252 (a superset of Latin-1 in
                                //  practice), converted to UTF-8
} csv_encoding_t;

typedef struct csv_t csv_t;

//  Reads records from `file` (borrowed, opened "rb"). Returns NULL on
//  allocation failure.
csv_t *csv_new (FILE *file);

//  Destroys a reader and sets *self_p to NULL; the file stays open. Safe
//  to call with *self_p NULL.
void csv_destroy (csv_t **self_p);

//  Sets the field separator, ',' unless set: ';' and '\t' are what
//  spreadsheets in decimal-comma locales write. Not a quote, CR, LF,
//  NUL or a non-ASCII byte. Call before the first csv_next. Returns 0,
//  or -1 for a separator that cannot be one.
int csv_set_separator (csv_t *self, char separator);

//  Sets the encoding of the file, CSV_ENCODING_UTF8 unless set. With
//  CSV_ENCODING_WINDOWS_1252 every byte is converted to UTF-8 (the five
//  bytes that Windows-1252 leaves undefined, and NUL, are errors) and no
//  byte order mark is looked for. Call before the first csv_next.
void csv_set_encoding (csv_t *self, csv_encoding_t encoding);

//  Reads the next record. Returns 1 and sets *fields (array of NUL-terminated
//  strings, owned by the reader, valid until the next call) and *count; 0 at
//  end of file; -1 for a bad record: err says what and where ("line 12, field
//  3: invalid UTF-8 at byte 7"), the reader has skipped to the next record
//  and can go on; -2 when it cannot go on (a quoted field never closed before
//  end of file: name the line where it opened; a read error). An empty line
//  is a record of one empty field (count 1, ""); callers skip those. The line
//  in a message is the line of the offending byte (csv_line gives the line
//  the record started on); bytes of a field are counted from 1 in its text,
//  quotes removed. A record with several faults is reported by its first.
//  After -2 every call returns -2 again with the same message. err may be
//  NULL when errlen is 0.
int csv_next (csv_t *self, char ***fields, size_t *count, char *err, size_t errlen);

//  Line number (1-based, physical lines) where the last record returned (or
//  rejected) started.
long csv_line (const csv_t *self);

//  Bytes consumed so far (for progress bars).
long long csv_offset (const csv_t *self);

//  Writes one record to `out` as RFC 4180 (quotes only where needed: comma,
//  quote, CR, LF, leading/trailing space), CRLF line end. Returns 0 or -1. A
//  leading or trailing tab is quoted too, and a NULL field is written empty.
//  A record of one empty field comes out as an empty line, which csv_next
//  reads back as just that. -1 means a write error (ferror).
int csv_write (FILE *out, const char *const *fields, size_t count);

//  Length of the well-formed UTF-8 at the start of text [0, len): len
//  when all of it is, else the offset of the first byte that is not part
//  of a well-formed character (overlong forms, surrogates, truncated
//  sequences and NUL count as not well-formed). The check csv_next
//  applies to every field, for text from elsewhere (mapping files).
size_t csv_utf8_valid (const char *text, size_t len);

#endif
