/*  money: amounts as an integer count of a currency's minor unit, with
    the currency's ISO 4217 code beside them. Never floating point.

    Each currency has its own exponent (ISO 4217 "minor unit"): JPY and
    KRW have 0 decimals, USD, EUR, SEK and RUB 2, KWD and BHD 3; so
    12.34 USD is 1234 and 1234 JPY is 1234. The table holds the codes of
    ISO 4217 list one (published 2024-06-25) that have a minor unit, plus
    XCG (amendment 176, 2025) and the recently withdrawn ANG, HRK, SLL and
    ZWL, which old invoices still carry. Codes without a minor unit
    (gold XAU, the IMF's XDR, "no currency" XXX, ...) are not money here
    and count as unknown.

    Amounts written for people are parsed strictly: more decimals than
    the currency has is an error, never a rounding; so is anything that
    is not digits, separators and a sign. Amounts in different currencies
    are never added together: the caller keeps the code with the number. */
#ifndef RECOUP_MONEY_H
#define RECOUP_MONEY_H

#include <stddef.h>
#include <stdint.h>

//  Buffer size that holds any money_format output, NUL included
//  ("-9223372036854775808" with a decimal separator).
#define MONEY_TEXT_MAX 24

//  How amounts are written in a file. Strings, so that a separator can
//  be more than one byte (the no-break space U+00A0 is "\xc2\xa0").
typedef struct {
    const char *decimal_sep;    //  decimal separator, not empty: "." or ","
    const char *thousands_sep;  //  thousands separator, "" for none
} money_format_t;

//  Plain amounts: '.' decimals, no thousands separator ("-1234.56"), as
//  the native import format and money_format write them. Usable as an
//  initializer and as &MONEY_FORMAT_PLAIN.
#define MONEY_FORMAT_PLAIN ((money_format_t) { ".", "" })

//  Returns the number of decimals (ISO 4217 minor unit digits) of a
//  currency, 0 to 4, or -1 when code is NULL, not exactly three upper-case
//  letters, or not a currency with a minor unit.
int money_currency_exponent (const char *code);

//  The known currency codes in alphabetical order, one per index from 0;
//  NULL past the last one. For listing and for tests.
const char *money_currency_code (size_t index);

//  Checks that a format can be used by money_parse: decimal separator
//  not empty, separators without digits, signs or parentheses, neither a
//  prefix of the other. Returns 0, or -1 with the reason in err.
int money_format_check (const money_format_t *format, char *err, size_t errlen);

//  Parses an amount written for people into minor units of currency.
//  format says which separators the text uses; NULL means
//  MONEY_FORMAT_PLAIN. Accepted:
//    - blanks (space, tab, U+00A0) around the amount and around a sign;
//    - a negative sign as a leading '-', a trailing '-' ("12.50-"), or
//      parentheses ("(12.50)"), as accounting exports write them; a
//      leading '+' for positive amounts; at most one sign;
//    - digits, with at least one on each side of a decimal separator
//      (".5" and "5." are errors) and at most the currency's decimals:
//      "12", "12.3" (= 12.30), "12.34";
//    - with a thousands separator set, groups of exactly three digits
//      after the first ("1,234,567.89"; "1234567.89" too). When the
//      thousands separator is a space, U+00A0 or U+202F, any of those
//      three is taken for it (Swedish and Russian exports mix them).
//  Errors, with what is wrong and at which character (counted in UTF-8
//  characters from 1): an empty amount or a lone sign; two signs, or a
//  sign inside parentheses; letters, currency symbols and other
//  characters; a second decimal separator; a decimal separator in a
//  currency without decimals (JPY "1000.0" is an error: strict, so that
//  a decimal-comma file read with the wrong format fails instead of
//  scaling amounts); more decimals than the currency has, trailing zeros
//  included (USD "12.340"); misplaced thousands separators; values beyond
//  int64; an unknown currency; an unusable format. Returns 0 and sets
//  *minor, or -1 with the reason in err and *minor untouched.
int money_parse (const char *text, const char *currency,
                 const money_format_t *format, int64_t *minor,
                 char *err, size_t errlen);

//  Writes minor units of currency as canonical text: '-' for negatives,
//  no thousands separator, exactly the currency's decimals ("-1234.56",
//  "0.05", "1234" for JPY). Returns 0, or -1 (buf set to "" when len > 0)
//  for an unknown currency or a buffer shorter than needed;
//  MONEY_TEXT_MAX is always enough. money_parse reads the text back.
int money_format (int64_t minor, const char *currency, char *buf, size_t len);

//  Room for money_format_grouped's text, NUL included.
#define MONEY_GROUPED_MAX (MONEY_TEXT_MAX + 8)

//  As money_format, with a comma between groups of three digits for
//  people ("-1,234,567.89", "0.05", "1,234" for JPY): for displays, not
//  for money_parse. `len` must be at least MONEY_GROUPED_MAX. Returns 0,
//  or -1 for an unknown currency (buf then holds the minor units as a
//  plain integer) or a short buffer.
int money_format_grouped (int64_t minor, const char *currency, char *buf, size_t len);

//  *out = a + b, both in the same currency. Returns 0, or -1 on int64
//  overflow with *out untouched.
int money_add (int64_t a, int64_t b, int64_t *out);

//  *out = a - b, both in the same currency. Returns 0, or -1 on int64
//  overflow with *out untouched.
int money_sub (int64_t a, int64_t b, int64_t *out);

#endif
