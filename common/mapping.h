/*  mapping: how to read an export from another tool (QuickBooks, Xero,
    Fortnox, ...) as one of recoup's native import files.

    recoup's own import files have fixed column names, the Contract
    (deploy/IMPORT.md lists them per kind, with what each means):

      customers  customer,name  [email,phone,timezone,language,currency,
                                 terms,credit_limit,sales_rep,collector]
      invoices   customer,invoice,issued,due,amount
                                [currency,customer_name,terms]
      payments   customer,reference,received,amount
                                [invoice,currency,method]

    with dates as YYYY-MM-DD and amounts with '.' decimals. A mapping file
    says where another tool's export keeps each of those fields and how it
    writes dates and amounts:

      # QuickBooks Online, Reports > Invoice List, exported as CSV
      kind = invoices
      date_format = M/D/YYYY
      decimal = .
      thousands = ,
      currency = USD
      skip_rows = 3             # title lines before the header row
      stop_at = TOTAL           # the report's total row ends the data
      column invoice = Num
      column customer = Name | Customer     # first one present is taken

    One setting per line, `key = value` or `column FIELD = NAME`; blank
    lines and lines starting with '#' are ignored, and so is the rest of a
    line from a '#' that follows a blank. A value may be put in double
    quotes to keep blanks or a " #" in it: column x = "Account #". The
    keys, in full in deploy/IMPORT.md: kind, date_format, decimal,
    thousands, currency, skip_rows, separator, encoding, stop_at,
    line_items, and column. Each may be given once.                    */
#ifndef RECOUP_MAPPING_H
#define RECOUP_MAPPING_H

#include <stddef.h>

#include "csv.h"
#include "money.h"

//  The most rows skip_rows may skip.
#define MAPPING_SKIP_ROWS_MAX 1000

typedef struct mapping_t mapping_t;

//  Loads a mapping file. Returns NULL with err "FILE:LINE: what is wrong"
//  (unknown key, bad date format via date_format_check, bad separators via
//  money_format_check, unknown currency via money_currency_exponent, a column
//  for a field that the kind does not have, duplicate key). Also refused: a
//  line that is not a setting, an unknown kind, skip_rows outside
//  0..MAPPING_SKIP_ROWS_MAX, an unusable separator or encoding, and text that
//  is not UTF-8. A file that cannot be read gives "FILE: cannot open:
//  reason". When the file does not say its kind, a column must name a field
//  of some kind. The caller destroys the mapping.
mapping_t *mapping_load (const char *path, char *err, size_t errlen);

//  Destroys a mapping and sets *self_p to NULL. Safe with *self_p NULL.
void mapping_destroy (mapping_t **self_p);

//  The kind the file says it is for ("customers", "invoices", "payments"), or
//  NULL when it does not say.
const char *mapping_kind (const mapping_t *self);

//  The date format for date_parse_format. "YYYY-MM-DD" when not set; self may
//  be NULL.
const char *mapping_date_format (const mapping_t *self);

//  The separators for money_parse; the strings belong to the mapping.
//  MONEY_FORMAT_PLAIN when not set; self may be NULL.
money_format_t mapping_money_format (const mapping_t *self);

//  The default currency: that of rows that have no currency column or
//  leave it empty. NULL when not set; self may be NULL.
const char *mapping_currency (const mapping_t *self);

//  Rows (CSV records, blank lines included) before the header row; the
//  importer then passes over blank lines up to the header as well. 0 when not
//  set; self may be NULL.
int mapping_skip_rows (const mapping_t *self);

//  The field separator of the file: ',' when not set; self may be NULL.
char mapping_separator (const mapping_t *self);

//  The encoding of the file: CSV_ENCODING_UTF8 when not set; self may be
//  NULL.
csv_encoding_t mapping_encoding (const mapping_t *self);

//  Sets a reader up for the file the mapping describes: separator and
//  encoding. Call before the first csv_next. self may be NULL (a native
//  file: nothing to set).
void mapping_setup_reader (const mapping_t *self, csv_t *csv);

//  The text that marks the end of the data (a report's "TOTAL" row), or
//  NULL when not set; self may be NULL.
const char *mapping_stop_at (const mapping_t *self);

//  1 when a data row is where the data ends: stop_at is set and the
//  row's first field is that text, compared as header names are. The
//  importer reads no further rows then. self may be NULL (never the end).
int mapping_is_end (const mapping_t *self, char **fields, size_t count);

//  1 when the export writes one row per invoice line (line_items = yes),
//  repeating the invoice's own columns on each: the importer then takes
//  the first row of each run of rows with the same invoice number and
//  passes over the others. 0 when not set; self may be NULL.
int mapping_line_items (const mapping_t *self);

//  The column a native field is mapped to, as the file writes it
//  ("Name | Customer" for alternatives), for messages; NULL when the
//  field is not mapped or self is NULL.
const char *mapping_column_name (const mapping_t *self, const char *field);

//  For each native field name in `names` (NULL-terminated), sets index[i] to
//  the column of `header` (count entries) whose name matches the mapped
//  column name (or the native name itself when the mapping does not map it or
//  self is NULL), case-insensitively, blanks and a BOM trimmed; -1 when
//  absent. With alternatives the first that the header has is taken; when the
//  header has a name twice, its first column. Case is folded for ASCII and
//  for the Latin-1 letters (Ö matches ö). Blanks are spaces, tabs and
//  no-break spaces.
void mapping_find_columns (const mapping_t *self, char **header, size_t count, const char *const *names, int *index);

//  The native column names of a kind, NULL-terminated, the required ones
//  first: mapping_native_fields ("invoices") is customer, invoice,
//  issued, due, amount, currency, customer_name, terms. NULL for an
//  unknown kind. Static; suits names of mapping_find_columns.
const char *const *mapping_native_fields (const char *kind);

//  How many of mapping_native_fields (kind) are required (they come
//  first), or -1 for an unknown kind.
int mapping_native_required (const char *kind);

#endif
