/*  Unit tests of money (ISO 4217 exponents, strict parsing, canonical
    text, overflow) and date (validation, foreign formats, the day count
    conversions). A failing check prints the input, what was expected
    and what came back.                                                  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "money.h"

#define NBSP "\xc2\xa0"
#define NNBSP "\xe2\x80\xaf"

static const money_format_t s_us = { ".", "," };        //  1,234.50
static const money_format_t s_swedish = { ",", " " };   //  1 234,50
static const money_format_t s_nbsp = { ",", NBSP };     //  1 234,50
static const money_format_t s_german = { ",", "." };    //  1.234,50
static const money_format_t s_comma = { ",", "" };      //  1234,50

//  Checks that text parses to want minor units.
#define expect_amount(text, currency, format, want) \
    s_expect_amount (text, currency, format, want, __FILE__, __LINE__)

static void
s_expect_amount (const char *text, const char *currency,
                 const money_format_t *format, int64_t want,
                 const char *file, int line)
{
    int64_t got = -4242;
    char err [256] = "";
    if (money_parse (text, currency, format, &got, err, sizeof err) != 0) {
        print_error ("money_parse (\"%s\", %s) failed: %s; expected %" PRId64
                     "\n", text, currency, err, want);
        _fail (file, line);
    }
    if (got != want) {
        print_error ("money_parse (\"%s\", %s) gave %" PRId64 ", expected %"
                     PRId64 "\n", text, currency, got, want);
        _fail (file, line);
    }
}

//  Checks that text is rejected with a message holding each of the
//  NULL-terminated needles, and that *minor is left alone.
#define expect_error(text, currency, format, ...) \
    s_expect_error (text, currency, format, __FILE__, __LINE__, __VA_ARGS__, NULL)

static void
s_expect_error (const char *text, const char *currency,
                const money_format_t *format, const char *file, int line, ...)
{
    int64_t got = -4242;
    char err [256] = "";
    if (money_parse (text, currency, format, &got, err, sizeof err) == 0) {
        print_error ("money_parse (\"%s\", %s) gave %" PRId64 ", expected an "
                     "error\n", text ? text : "(null)", currency, got);
        _fail (file, line);
    }
    if (got != -4242) {
        print_error ("money_parse (\"%s\", %s) failed but changed *minor to %"
                     PRId64 "\n", text ? text : "(null)", currency, got);
        _fail (file, line);
    }
    va_list args;
    va_start (args, line);
    const char *needle;
    while ((needle = va_arg (args, const char *)) != NULL)
        if (!strstr (err, needle)) {
            print_error ("money_parse (\"%s\", %s) said \"%s\", expected it to "
                         "say \"%s\"\n", text ? text : "(null)", currency, err,
                         needle);
            va_end (args);
            _fail (file, line);
        }
    va_end (args);
}

//  Checks money_format's text for minor units of a currency.
#define expect_text(minor, currency, want) \
    s_expect_text (minor, currency, want, __FILE__, __LINE__)

static void
s_expect_text (int64_t minor, const char *currency, const char *want,
               const char *file, int line)
{
    char buf [MONEY_TEXT_MAX];
    if (money_format (minor, currency, buf, sizeof buf) != 0
        || strcmp (buf, want) != 0) {
        print_error ("money_format (%" PRId64 ", %s) gave \"%s\", expected "
                     "\"%s\"\n", minor, currency, buf, want);
        _fail (file, line);
    }
}

//  Checks that a date parses (format NULL: date_parse_iso) to want.
#define expect_date(text, format, want) \
    s_expect_date (text, format, want, __FILE__, __LINE__)

static void
s_expect_date (const char *text, const char *format, int32_t want,
               const char *file, int line)
{
    int32_t got = -4242;
    char err [256] = "";
    int rc = format ? date_parse_format (text, format, &got, err, sizeof err)
                    : date_parse_iso (text, &got, err, sizeof err);
    if (rc != 0 || got != want) {
        print_error ("parsing date \"%s\" (%s) gave %s%s%d, expected %d\n",
                     text, format ? format : "ISO", rc ? err : "",
                     rc ? "; days " : "", got, want);
        _fail (file, line);
    }
}

//  Checks that a date is rejected with a message holding needle.
#define expect_date_error(text, format, needle) \
    s_expect_date_error (text, format, needle, __FILE__, __LINE__)

static void
s_expect_date_error (const char *text, const char *format, const char *needle,
                     const char *file, int line)
{
    int32_t got = -4242;
    char err [256] = "";
    int rc = format ? date_parse_format (text, format, &got, err, sizeof err)
                    : date_parse_iso (text, &got, err, sizeof err);
    if (rc == 0) {
        print_error ("date \"%s\" (%s) gave %d, expected an error saying "
                     "\"%s\"\n", text ? text : "(null)", format ? format : "ISO", got, needle);
        _fail (file, line);
    }
    if (got != -4242 || !strstr (err, needle)) {
        print_error ("date \"%s\" (%s) said \"%s\" (days %d), expected it to "
                     "say \"%s\" and leave days alone\n",
                     text ? text : "(null)", format ? format : "ISO", err, got,
                     needle);
        _fail (file, line);
    }
}

//  Days of year-month-day, failing the test when it is not a valid date.
static int32_t
s_days (int year, int month, int day)
{
    int32_t days = 0;
    assert_int_equal (date_from_ymd (year, month, day, &days), 0);
    return days;
}

//  ---------------------------------------------------------------------
//  Money

static void
test_exponents (void **state)
{
    (void) state;
    const char *two [] = { "USD", "EUR", "GBP", "SEK", "NOK", "DKK", "RUB",
                           "CHF", "CAD", "AUD", "NZD", "CNY", "INR", "BRL",
                           "MXN", "ZAR", "PLN", "CZK", "HUF", "TRY", "AED",
                           "SAR", "ILS", "SGD", "HKD", "IDR", "XCG", NULL };
    const char *zero [] = { "JPY", "KRW", "CLP", "ISK", "VND", "XOF", "XAF",
                            "XPF", "PYG", "UGX", NULL };
    const char *three [] = { "KWD", "BHD", "OMR", "JOD", "TND", "LYD", "IQD",
                             NULL };
    for (int i = 0; two [i]; i++)
        if (money_currency_exponent (two [i]) != 2)
            fail_msg ("%s: exponent %d, expected 2", two [i],
                      money_currency_exponent (two [i]));
    for (int i = 0; zero [i]; i++)
        if (money_currency_exponent (zero [i]) != 0)
            fail_msg ("%s: exponent %d, expected 0", zero [i],
                      money_currency_exponent (zero [i]));
    for (int i = 0; three [i]; i++)
        if (money_currency_exponent (three [i]) != 3)
            fail_msg ("%s: exponent %d, expected 3", three [i],
                      money_currency_exponent (three [i]));
    assert_int_equal (money_currency_exponent ("CLF"), 4);
    assert_int_equal (money_currency_exponent ("UYW"), 4);
}

static void
test_unknown_currency_codes (void **state)
{
    (void) state;
    //  Not currencies, or no minor unit (gold, SDR, "no currency").
    const char *bad [] = { "XYZ", "ABC", "XAU", "XDR", "XXX", "usd", "Usd",
                           "US", "USDX", "", "US1", "U D", NULL };
    for (int i = 0; bad [i]; i++)
        if (money_currency_exponent (bad [i]) != -1)
            fail_msg ("\"%s\": exponent %d, expected -1", bad [i],
                      money_currency_exponent (bad [i]));
    assert_int_equal (money_currency_exponent (NULL), -1);
}

static void
test_currency_table_sorted (void **state)
{
    (void) state;
    //  bsearch needs the table sorted: every code must find itself.
    size_t count = 0;
    const char *previous = NULL, *code;
    while ((code = money_currency_code (count)) != NULL) {
        if (previous && strcmp (previous, code) >= 0)
            fail_msg ("table out of order: %s before %s", previous, code);
        if (money_currency_exponent (code) < 0)
            fail_msg ("%s is in the table but not found", code);
        previous = code;
        count++;
    }
    assert_true (count >= 150);
    assert_null (money_currency_code (count + 1));
}

static void
test_parse_two_decimals (void **state)
{
    (void) state;
    expect_amount ("12.34", "USD", NULL, 1234);
    expect_amount ("12.3", "USD", NULL, 1230);
    expect_amount ("12", "USD", NULL, 1200);
    expect_amount ("0.05", "EUR", NULL, 5);
    expect_amount ("0", "SEK", NULL, 0);
    expect_amount ("007.10", "RUB", NULL, 710);
    expect_amount ("  12.34\t", "GBP", NULL, 1234);
    expect_amount (NBSP "12.34" NBSP, "GBP", NULL, 1234);
    expect_amount ("12.34", "USD", &MONEY_FORMAT_PLAIN, 1234);
    expect_amount ("12,34", "SEK", &s_comma, 1234);
}

static void
test_parse_zero_decimals (void **state)
{
    (void) state;
    expect_amount ("1000", "JPY", NULL, 1000);
    expect_amount ("1", "KRW", NULL, 1);
    expect_amount ("1,000,000", "KRW", &s_us, 1000000);
    expect_amount ("25000", "CLP", NULL, 25000);
    expect_amount ("1 500", "ISK", &s_swedish, 1500);
    expect_amount ("-300", "VND", NULL, -300);
    expect_amount ("(50)", "XOF", NULL, -50);
    expect_amount ("7", "XAF", NULL, 7);
}

static void
test_parse_three_decimals (void **state)
{
    (void) state;
    expect_amount ("1.234", "KWD", NULL, 1234);
    expect_amount ("1.2", "KWD", NULL, 1200);
    expect_amount ("1", "BHD", NULL, 1000);
    expect_amount ("0.001", "OMR", NULL, 1);
    expect_amount ("1,234.567", "JOD", &s_us, 1234567);
    expect_amount ("-2.5", "TND", NULL, -2500);
    expect_amount ("3.05", "LYD", NULL, 3050);
    expect_amount ("1 000,125", "IQD", &s_swedish, 1000125);
}

static void
test_format_canonical (void **state)
{
    (void) state;
    expect_text (-123456, "USD", "-1234.56");
    expect_text (5, "EUR", "0.05");
    expect_text (-5, "EUR", "-0.05");
    expect_text (0, "USD", "0.00");
    expect_text (123456789, "SEK", "1234567.89");
    expect_text (1234, "JPY", "1234");
    expect_text (0, "JPY", "0");
    expect_text (-7, "KRW", "-7");
    expect_text (1, "KWD", "0.001");
    expect_text (-1234567, "BHD", "-1234.567");
    expect_text (12345, "CLF", "1.2345");
    expect_text (INT64_MAX, "USD", "92233720368547758.07");
    expect_text (INT64_MIN, "USD", "-92233720368547758.08");
    expect_text (INT64_MIN, "JPY", "-9223372036854775808");
    expect_text (INT64_MIN, "KWD", "-9223372036854775.808");
}

static void
test_format_errors (void **state)
{
    (void) state;
    char buf [MONEY_TEXT_MAX] = "x";
    assert_int_equal (money_format (100, "XYZ", buf, sizeof buf), -1);
    assert_string_equal (buf, "");
    assert_int_equal (money_format (100, NULL, buf, sizeof buf), -1);
    //  "-1234.56" needs 9 bytes with the NUL.
    assert_int_equal (money_format (-123456, "USD", buf, 8), -1);
    assert_string_equal (buf, "");
    assert_int_equal (money_format (-123456, "USD", buf, 9), 0);
    assert_string_equal (buf, "-1234.56");
    assert_int_equal (money_format (1, "USD", buf, 0), -1);
    assert_int_equal (money_format (1, "USD", NULL, 10), -1);
}

static void
test_round_trips (void **state)
{
    (void) state;
    const char *currencies [] = { "JPY", "USD", "KWD", "CLF" };
    const int64_t values [] = { 0, 1, -1, 9, 10, 99, 100, 101, 999, 1000,
                                1001, 123456, -123456, 1000000007,
                                INT64_MAX, INT64_MIN, INT64_MAX - 1,
                                INT64_MIN + 1 };
    for (size_t c = 0; c < sizeof currencies / sizeof *currencies; c++)
        for (size_t v = 0; v < sizeof values / sizeof *values; v++) {
            char text [MONEY_TEXT_MAX];
            assert_int_equal (money_format (values [v], currencies [c], text,
                                            sizeof text), 0);
            expect_amount (text, currencies [c], NULL, values [v]);
        }
    //  And text -> minor -> the same canonical text.
    const char *canonical [][2] = {
        { "JPY", "1234" }, { "JPY", "-1" }, { "USD", "0.01" },
        { "USD", "-1234.56" }, { "KWD", "12.345" }, { "KWD", "-0.001" },
    };
    for (size_t i = 0; i < sizeof canonical / sizeof *canonical; i++) {
        int64_t minor;
        char err [128], back [MONEY_TEXT_MAX];
        assert_int_equal (money_parse (canonical [i][1], canonical [i][0],
                                       NULL, &minor, err, sizeof err), 0);
        expect_text (minor, canonical [i][0], canonical [i][1]);
        assert_int_equal (money_format (minor, canonical [i][0], back,
                                        sizeof back), 0);
    }
}

static void
test_too_many_decimals (void **state)
{
    (void) state;
    expect_error ("12.345", "USD", NULL, "USD has 2", "the amount has 3",
                  "character 6", "never rounded");
    expect_error ("12.999", "EUR", NULL, "EUR has 2", "has 3");
    expect_error ("12.3450", "USD", NULL, "has 4");
    expect_error ("12.340", "USD", NULL, "has 3");      //  zeros count too
    expect_error ("1.2345", "KWD", NULL, "KWD has 3", "has 4");
    expect_error ("1 234,567", "SEK", &s_swedish, "SEK has 2", "character 9");
}

static void
test_zero_exponent_rejects_decimals (void **state)
{
    (void) state;
    expect_error ("1000.0", "JPY", NULL, "JPY has no decimals", "character 5");
    expect_error ("1000.", "JPY", NULL, "JPY has no decimals");
    expect_error ("1000.5", "KRW", NULL, "KRW has no decimals");
    expect_error ("1000,00", "ISK", &s_comma, "ISK has no decimals",
                  "character 5");
}

static void
test_negatives (void **state)
{
    (void) state;
    expect_amount ("-12.50", "USD", NULL, -1250);
    expect_amount ("12.50-", "USD", NULL, -1250);
    expect_amount ("(12.50)", "USD", NULL, -1250);
    expect_amount ("( 12.50 )", "USD", NULL, -1250);
    expect_amount ("- 12.50", "USD", NULL, -1250);
    expect_amount ("12.50 -", "USD", NULL, -1250);
    expect_amount ("  -12.50  ", "USD", NULL, -1250);
    expect_amount ("+12.50", "USD", NULL, 1250);
    expect_amount ("-0", "USD", NULL, 0);
    expect_amount ("(1,234.50)", "USD", &s_us, -123450);
    expect_amount ("1,234.50-", "USD", &s_us, -123450);
    expect_amount ("-1 234,50", "SEK", &s_swedish, -123450);
    expect_amount ("(1 234,50)", "SEK", &s_swedish, -123450);
    expect_amount ("1.234,50-", "EUR", &s_german, -123450);
}

static void
test_sign_errors (void **state)
{
    (void) state;
    expect_error ("-", "USD", NULL, "no digits", "character 1");
    expect_error ("+", "USD", NULL, "no digits");
    expect_error (" - ", "USD", NULL, "no digits", "character 2");
    expect_error ("()", "USD", NULL, "no digits inside the parentheses");
    expect_error ("(12.50", "USD", NULL, "'(' at character 1 has no closing");
    expect_error ("12.50)", "USD", NULL, "')' at character 6 has no opening");
    expect_error ("-12.50-", "USD", NULL, "second sign", "character 7");
    expect_error ("+12-", "USD", NULL, "second sign");
    expect_error ("(-12.50)", "USD", NULL, "inside parentheses", "character 2");
    expect_error ("(12.50)-", "USD", NULL, "second sign '-' at character 8");
    expect_error ("--12", "USD", NULL, "unexpected '-' at character 2");
    expect_error ("1-2", "USD", NULL, "unexpected '-' at character 2");
}

static void
test_empty (void **state)
{
    (void) state;
    expect_error ("", "USD", NULL, "empty amount");
    expect_error ("   ", "USD", NULL, "empty amount");
    expect_error (NBSP, "USD", NULL, "empty amount");
    expect_error (NULL, "USD", NULL, "no amount");
}

static void
test_letters_and_symbols (void **state)
{
    (void) state;
    expect_error ("12a", "USD", NULL, "unexpected 'a' at character 3");
    expect_error ("abc", "USD", NULL, "unexpected 'a' at character 1");
    expect_error ("$12.00", "USD", NULL, "unexpected '$' at character 1",
                  "no currency symbols");
    expect_error ("12.00 USD", "USD", NULL, "at character 6");
    expect_error ("USD 12.00", "USD", NULL, "unexpected 'U' at character 1");
    expect_error ("\xe2\x82\xac" "12", "EUR", NULL,
                  "'\xe2\x82\xac' (U+20AC) at character 1");
    expect_error ("12\xe2\x82\xac", "EUR", NULL, "(U+20AC) at character 3");
    expect_error ("\xc2\xa3" "5", "GBP", NULL, "(U+00A3) at character 1");
    expect_error ("1e5", "USD", NULL, "unexpected 'e' at character 2");
    expect_error ("0x10", "USD", NULL, "unexpected 'x' at character 2");
    expect_error ("12\xff", "USD", NULL, "byte 0xFF (not UTF-8) at character 3");
    expect_error ("1\t2", "USD", NULL, "control character U+0009",
                  "character 2");
    //  A separator the format does not have: the hint says which it has.
    expect_error ("12,50", "SEK", NULL, "unexpected ',' at character 3",
                  "decimal separator '.', no thousands separator");
    expect_error ("1 234.50", "SEK", &s_swedish, "unexpected '.' at character 6",
                  "decimal separator ','");
}

static void
test_two_decimal_separators (void **state)
{
    (void) state;
    expect_error ("1.2.3", "USD", NULL, "second decimal separator at "
                  "character 4", "first is at character 2");
    expect_error ("1,2,3", "SEK", &s_comma, "second decimal separator at "
                  "character 4");
    expect_error ("1.234,56", "USD", &s_us, "thousands separator at character 6 "
                  "after the decimal separator");
}

static void
test_decimal_separator_needs_digits (void **state)
{
    (void) state;
    expect_error (".5", "USD", NULL, "decimal separator at character 1 "
                  "without a digit before it");
    expect_error ("-.5", "USD", NULL, "character 2 without a digit before");
    expect_error ("5.", "USD", NULL, "decimal separator at character 2 "
                  "without a digit after it");
    expect_error ("5.-", "USD", NULL, "without a digit after it");
}

static void
test_thousands_us (void **state)
{
    (void) state;
    expect_amount ("1,234.50", "USD", &s_us, 123450);
    expect_amount ("1,234,567.89", "USD", &s_us, 123456789);
    expect_amount ("1234.50", "USD", &s_us, 123450);
    expect_amount ("12,345", "USD", &s_us, 1234500);
    expect_amount ("999.99", "USD", &s_us, 99999);
    expect_amount ("1,000,000", "USD", &s_us, 100000000);
    expect_amount ("0.01", "USD", &s_us, 1);
}

static void
test_thousands_misplaced (void **state)
{
    (void) state;
    expect_error ("12,34", "USD", &s_us, "group after the thousands separator "
                  "at character 3 has 2 digits, not 3");
    expect_error ("1,23.45", "USD", &s_us, "character 2 has 2 digits");
    expect_error ("1,2345", "USD", &s_us, "character 2 has more than 3 digits");
    expect_error ("12345,678", "USD", &s_us, "5 digits before the thousands "
                  "separator at character 6");
    expect_error (",123", "USD", &s_us, "thousands separator at character 1 "
                  "without a digit before it");
    expect_error ("1,,234", "USD", &s_us, "character 2 has 0 digits");
    expect_error ("1,234,", "USD", &s_us, "character 6 has 0 digits");
    expect_error ("-,5", "USD", &s_us, "without a digit before it");
    expect_error ("1 234", "USD", &s_us, "unexpected ' ' at character 2",
                  "thousands separator ','");
}

static void
test_thousands_swedish (void **state)
{
    (void) state;
    expect_amount ("1 234,50", "SEK", &s_swedish, 123450);
    expect_amount ("1" NBSP "234,50", "SEK", &s_swedish, 123450);
    expect_amount ("1" NBSP "234,50", "SEK", &s_nbsp, 123450);
    expect_amount ("1 234,50", "SEK", &s_nbsp, 123450);
    expect_amount ("1" NNBSP "234,50", "SEK", &s_swedish, 123450);
    expect_amount ("12 345 678,90", "SEK", &s_swedish, 1234567890);
    expect_amount ("1234,50", "SEK", &s_swedish, 123450);
    expect_amount (NBSP "1" NBSP "234,5" NBSP, "SEK", &s_nbsp, 123450);
    //  Characters count as characters, not bytes: the NBSP is one.
    expect_error ("1" NBSP "234,567", "SEK", &s_nbsp, "character 9");
    expect_error ("1" NBSP "23,45", "SEK", &s_nbsp, "character 2 has 2 digits");
}

static void
test_thousands_russian (void **state)
{
    (void) state;
    expect_amount ("1 234,50", "RUB", &s_swedish, 123450);
    expect_amount ("1" NBSP "234,50", "RUB", &s_nbsp, 123450);
    expect_amount ("-1" NBSP "234" NBSP "567,89", "RUB", &s_nbsp, -123456789);
    expect_amount ("999,99", "RUB", &s_nbsp, 99999);
}

static void
test_thousands_dot (void **state)
{
    (void) state;
    expect_amount ("1.234,50", "EUR", &s_german, 123450);
    expect_amount ("1.234.567,89", "EUR", &s_german, 123456789);
    expect_amount ("1.234", "EUR", &s_german, 123400);
    expect_amount ("12,5", "EUR", &s_german, 1250);
    expect_error ("1.23,45", "EUR", &s_german, "has 2 digits, not 3");
}

static void
test_overflow (void **state)
{
    (void) state;
    expect_amount ("92233720368547758.07", "USD", NULL, INT64_MAX);
    expect_amount ("-92233720368547758.08", "USD", NULL, INT64_MIN);
    expect_amount ("(92,233,720,368,547,758.08)", "USD", &s_us, INT64_MIN);
    expect_error ("92233720368547758.08", "USD", NULL, "out of range",
                  "largest USD amount is 92233720368547758.07");
    expect_error ("-92233720368547758.09", "USD", NULL, "out of range",
                  "smallest USD amount is -92233720368547758.08");
    expect_error ("92233720368547759", "USD", NULL, "out of range");
    expect_amount ("9223372036854775807", "JPY", NULL, INT64_MAX);
    expect_amount ("-9223372036854775808", "JPY", NULL, INT64_MIN);
    expect_error ("9223372036854775808", "JPY", NULL, "out of range");
    expect_error ("18446744073709551616", "JPY", NULL, "out of range");
    expect_error ("99999999999999999999999999", "JPY", NULL, "out of range");
    expect_amount ("9223372036854775.807", "KWD", NULL, INT64_MAX);
    expect_error ("9223372036854775.808", "KWD", NULL, "out of range");
    //  Fits before scaling, not after: 10^17 dollars is 10^19 cents.
    expect_error ("100000000000000000", "USD", NULL, "out of range");
    expect_amount ("0000000000000000000000000001", "USD", NULL, 100);
}

static void
test_unknown_currency (void **state)
{
    (void) state;
    expect_error ("12.00", "XYZ", NULL, "unknown currency \"XYZ\"");
    expect_error ("12.00", "XAU", NULL, "unknown currency \"XAU\"");
    expect_error ("12.00", "usd", NULL, "invalid currency code \"usd\"",
                  "three upper-case letters");
    expect_error ("12.00", "", NULL, "no currency");
    expect_error ("12.00", NULL, NULL, "no currency");
    expect_error ("12.00", "\xe2\x82\xac", NULL, "invalid currency code");
}

static void
test_bad_format (void **state)
{
    (void) state;
    char err [128];
    const money_format_t empty = { "", "" }, same = { ",", "," };
    const money_format_t digit = { ".", "0" }, space = { " ", "" };
    const money_format_t prefix = { ".", ".." }, null_dec = { NULL, "" };
    const money_format_t null_thousands = { ".", NULL };
    expect_error ("1", "USD", &empty, "decimal separator must not be empty");
    expect_error ("1", "USD", &same, "must differ");
    expect_error ("1", "USD", &prefix, "must differ");
    expect_error ("1", "USD", &digit, "digits, signs or parentheses");
    expect_error ("1", "USD", &space, "must not be a space");
    expect_error ("1", "USD", &null_dec, "must not be empty");
    assert_int_equal (money_format_check (&null_thousands, err, sizeof err), 0);
    expect_amount ("1.5", "USD", &null_thousands, 150);
    assert_int_equal (money_format_check (&MONEY_FORMAT_PLAIN, err, sizeof err), 0);
    assert_int_equal (money_format_check (&s_nbsp, err, sizeof err), 0);
    assert_int_equal (money_format_check (NULL, err, sizeof err), -1);
}

static void
test_error_buffer_optional (void **state)
{
    (void) state;
    int64_t minor = 7;
    char tiny [8];
    assert_int_equal (money_parse ("x", "USD", NULL, &minor, NULL, 0), -1);
    assert_int_equal (money_parse ("x", "USD", NULL, &minor, tiny, sizeof tiny), -1);
    assert_int_equal (strlen (tiny), sizeof tiny - 1);    //  truncated, ended
    assert_int_equal (minor, 7);
}

static void
test_add_sub (void **state)
{
    (void) state;
    int64_t out = 42;
    assert_int_equal (money_add (1250, -250, &out), 0);
    assert_int_equal (out, 1000);
    assert_int_equal (money_sub (1000, 2500, &out), 0);
    assert_int_equal (out, -1500);
    assert_int_equal (money_add (INT64_MAX - 1, 1, &out), 0);
    assert_true (out == INT64_MAX);
    out = 42;
    assert_int_equal (money_add (INT64_MAX, 1, &out), -1);
    assert_int_equal (money_add (INT64_MIN, -1, &out), -1);
    assert_int_equal (money_sub (INT64_MIN, 1, &out), -1);
    assert_int_equal (money_sub (0, INT64_MIN, &out), -1);
    assert_int_equal (money_sub (INT64_MAX, -1, &out), -1);
    assert_int_equal (out, 42);
    assert_int_equal (money_sub (-1, INT64_MIN, &out), 0);
    assert_true (out == INT64_MAX);
}

//  ---------------------------------------------------------------------
//  Dates

static void
test_date_known_values (void **state)
{
    (void) state;
    expect_date ("1970-01-01", NULL, 0);
    expect_date ("1969-12-31", NULL, -1);
    expect_date ("1970-01-02", NULL, 1);
    expect_date ("2000-03-01", NULL, 11017);
    expect_date ("2024-02-29", NULL, 19782);
    expect_date ("2026-11-22", NULL, 20779);
    expect_date ("1900-01-01", NULL, DATE_MIN);
    expect_date ("9999-12-31", NULL, DATE_MAX);
    assert_int_equal (s_days (1900, 1, 1), -25567);
    assert_int_equal (s_days (9999, 12, 31), 2932896);
    char buf [DATE_ISO_LEN + 1];
    date_format_iso (20779, buf);
    assert_string_equal (buf, "2026-11-22");
    date_format_iso (-1, buf);
    assert_string_equal (buf, "1969-12-31");
    date_format_iso (DATE_MIN, buf);
    assert_string_equal (buf, "1900-01-01");
    //  Days between two dates are a subtraction.
    assert_int_equal (s_days (2024, 3, 1) - s_days (2024, 2, 1), 29);
    assert_int_equal (s_days (2023, 3, 1) - s_days (2023, 2, 1), 28);
    assert_int_equal (s_days (2025, 1, 1) - s_days (2024, 1, 1), 366);
}

static void
test_date_leap_years (void **state)
{
    (void) state;
    assert_true (date_is_leap (2024));
    assert_true (date_is_leap (2000));
    assert_true (date_is_leap (1600));
    assert_false (date_is_leap (1900));
    assert_false (date_is_leap (2100));
    assert_false (date_is_leap (2023));
    expect_date ("2024-02-29", NULL, 19782);
    expect_date ("2000-02-29", NULL, 11016);
    expect_date_error ("2023-02-29", NULL, "day 29 is not in February 2023, "
                       "which has 28 days (2023 is not a leap year)");
    expect_date_error ("1900-02-29", NULL, "1900 is not a leap year");
    expect_date_error ("2100-02-29", NULL, "2100 is not a leap year");
    expect_date_error ("2024-02-30", NULL, "day 30 is not in February 2024, "
                       "which has 29 days");
}

static void
test_date_month_lengths (void **state)
{
    (void) state;
    static const int lengths [] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int32_t days;
    for (int year = 2023; year <= 2024; year++)
        for (int month = 1; month <= 12; month++) {
            int last = lengths [month - 1] + (month == 2 && year == 2024);
            assert_int_equal (date_days_in_month (year, month), last);
            if (date_from_ymd (year, month, last, &days) != 0)
                fail_msg ("%d-%02d-%02d rejected", year, month, last);
            if (date_from_ymd (year, month, last + 1, &days) == 0)
                fail_msg ("%d-%02d-%02d accepted", year, month, last + 1);
            if (date_from_ymd (year, month, 0, &days) == 0)
                fail_msg ("%d-%02d-00 accepted", year, month);
        }
    assert_int_equal (date_days_in_month (2024, 0), 0);
    assert_int_equal (date_days_in_month (2024, 13), 0);
    expect_date_error ("2013-02-30", NULL, "day 30 is not in February 2013, "
                       "which has 28 days");
    expect_date_error ("2023-04-31", NULL, "day 31 is not in April 2023, "
                       "which has 30 days");
    expect_date_error ("2023-13-01", NULL, "month 13 out of range (1 to 12)");
    expect_date_error ("2023-00-10", NULL, "month 0 out of range");
    expect_date_error ("2023-01-00", NULL, "day 0 is not in January 2023");
    expect_date_error ("2023-01-32", NULL, "day 32 is not in January 2023");
    expect_date ("2023-12-31", NULL, s_days (2023, 12, 31));
}

static void
test_date_year_bounds (void **state)
{
    (void) state;
    int32_t days = 7;
    expect_date_error ("1899-12-31", NULL, "year 1899 out of range (1900 to 9999)");
    expect_date_error ("0000-01-01", NULL, "year 0 out of range");
    expect_date_error ("10000-01-01", NULL, "expected a 4-digit year at "
                       "character 1, found more digits");
    expect_date ("1900-01-01", NULL, DATE_MIN);
    expect_date ("9999-12-31", NULL, DATE_MAX);
    assert_int_equal (date_from_ymd (1899, 12, 31, &days), -1);
    assert_int_equal (date_from_ymd (10000, 1, 1, &days), -1);
    assert_int_equal (date_from_ymd (2024, 13, 1, &days), -1);
    assert_int_equal (days, 7);
}

static void
test_date_iso_malformed (void **state)
{
    (void) state;
    expect_date_error ("", NULL, "empty date");
    expect_date_error (NULL, NULL, "empty date");
    expect_date_error ("2024-1-05", NULL, "expected a 2-digit month at "
                       "character 6, found only 1 digit");
    expect_date_error ("2024-01-5", NULL, "expected a 2-digit day at "
                       "character 9, found only 1 digit");
    expect_date_error ("2024-01-005", NULL, "expected a 2-digit day at "
                       "character 9, found more digits");
    expect_date_error ("2024/01/05", NULL, "expected '-' at character 5, "
                       "found '/'");
    expect_date_error ("24-01-05", NULL, "expected a 4-digit year at "
                       "character 1, found only 2 digits");
    expect_date_error ("2024-01-05T00:00:00", NULL, "unexpected 'T' at "
                       "character 11 after the date");
    expect_date_error ("2024-01-05 ", NULL, "unexpected ' ' at character 11");
    expect_date_error (" 2024-01-05", NULL, "expected a 4-digit year at "
                       "character 1, found ' '");
    expect_date_error ("abcd-01-01", NULL, "found 'a'");
    expect_date_error ("2024-01", NULL, "expected '-' at character 8, found "
                       "the end");
    expect_date_error ("2024-\xc3\xa9-01", NULL, "found a non-ASCII character");
}

static void
test_date_us_formats (void **state)
{
    (void) state;
    int32_t march7 = s_days (2024, 3, 7);
    expect_date ("3/7/2024", "M/D/YYYY", march7);
    expect_date ("03/07/2024", "M/D/YYYY", march7);
    expect_date ("03/7/2024", "M/D/YYYY", march7);
    expect_date ("12/31/2024", "M/D/YYYY", s_days (2024, 12, 31));
    expect_date ("03/07/2024", "MM/DD/YYYY", march7);
    expect_date_error ("3/7/2024", "MM/DD/YYYY", "expected a 2-digit month at "
                       "character 1, found only 1 digit");
    expect_date_error ("2/29/2023", "M/D/YYYY", "2023 is not a leap year");
    expect_date_error ("13/1/2024", "M/D/YYYY", "month 13 out of range");
    expect_date_error ("3/7/24", "M/D/YYYY", "expected a 4-digit year at "
                       "character 5, found only 2 digits");
    expect_date_error ("123/7/2024", "M/D/YYYY", "expected a 1- or 2-digit "
                       "month at character 1, found more digits");
    expect_date_error ("3-7-2024", "M/D/YYYY", "expected '/' at character 2");
}

static void
test_date_european_formats (void **state)
{
    (void) state;
    expect_date ("22.11.2026", "DD.MM.YYYY", 20779);
    expect_date ("29.02.2024", "DD.MM.YYYY", 19782);
    expect_date_error ("31.04.2024", "DD.MM.YYYY", "day 31 is not in April 2024");
    expect_date_error ("22.11.26", "DD.MM.YYYY", "4-digit year");
    expect_date ("22/11/2026", "DD/MM/YYYY", 20779);
    expect_date ("2026/11/22", "YYYY/MM/DD", 20779);
    expect_date ("2026-11-22", "YYYY-MM-DD", 20779);
    expect_date ("1.2.2024", "D.M.YYYY", s_days (2024, 2, 1));
    expect_date ("20261122", "YYYYMMDD", 20779);
    expect_date ("22 11 2026", "DD MM YYYY", 20779);
    //  The same text is another day in the other order.
    expect_date ("03/07/2024", "DD/MM/YYYY", s_days (2024, 7, 3));
    expect_date ("03/07/2024", "MM/DD/YYYY", s_days (2024, 3, 7));
    expect_date_error ("11/22/2026", "DD/MM/YYYY", "month 22 out of range");
}

static void
test_date_bad_formats (void **state)
{
    (void) state;
    char err [160];
    const char *good [] = { "YYYY-MM-DD", "MM/DD/YYYY", "M/D/YYYY",
                            "DD.MM.YYYY", "DD/MM/YYYY", "YYYY/MM/DD", NULL };
    for (int i = 0; good [i]; i++)
        if (date_format_check (good [i], err, sizeof err) != 0)
            fail_msg ("format %s rejected: %s", good [i], err);
    expect_date_error ("24-01-05", "YY-MM-DD", "the year is YYYY");
    expect_date_error ("2024-01", "YYYY-MM", "needs a year, a month and a day");
    expect_date_error ("2024-01-05", "YYYY-MM-DD-DD", "has 'D' twice");
    expect_date_error ("202415", "YYYYMD", "M must be followed by a separator");
    expect_date_error ("2024_01_05", "YYYY_MM_DD", "unexpected '_'");
    expect_date_error ("Mar 7 2024", "MMM D YYYY", "MMM is not a field");
    expect_date_error ("2024-01-05", "", "empty date format");
    expect_date_error ("2024-01-05", "YYYY-MM-DD-----------", "too long");
    assert_int_equal (date_format_check (NULL, err, sizeof err), -1);
    assert_non_null (strstr (err, "empty date format"));
}

static void
test_date_round_trip_range (void **state)
{
    (void) state;
    //  Walk the calendar day by day: each date is one more than the last,
    //  splits back into itself, and formats to text that parses back.
    int32_t expected = s_days (1900, 1, 1);
    for (int year = 1900; year <= 2100; year++)
        for (int month = 1; month <= 12; month++)
            for (int day = 1; day <= date_days_in_month (year, month); day++) {
                int32_t days = 0;
                if (date_from_ymd (year, month, day, &days) != 0
                    || days != expected)
                    fail_msg ("%04d-%02d-%02d is %d, expected %d", year,
                              month, day, days, expected);
                int y, m, d;
                date_to_ymd (days, &y, &m, &d);
                if (y != year || m != month || d != day)
                    fail_msg ("%d splits into %04d-%02d-%02d, expected "
                              "%04d-%02d-%02d", days, y, m, d, year, month,
                              day);
                char text [DATE_ISO_LEN + 1], err [128];
                int32_t back = 0;
                date_format_iso (days, text);
                if (date_parse_iso (text, &back, err, sizeof err) != 0
                    || back != days)
                    fail_msg ("%d formats as %s, which parses to %d (%s)",
                              days, text, back, err);
                expected++;
            }
    assert_int_equal (expected, s_days (2101, 1, 1));
}

static void
test_date_full_range (void **state)
{
    (void) state;
    //  Every day 1900-01-01..9999-12-31 splits into a valid date that
    //  converts back to the same count.
    int previous_day = 31;
    for (int32_t days = DATE_MIN; days <= DATE_MAX; days++) {
        int y, m, d;
        date_to_ymd (days, &y, &m, &d);
        int32_t back = 0;
        if (date_from_ymd (y, m, d, &back) != 0 || back != days)
            fail_msg ("%d -> %04d-%02d-%02d -> %d", days, y, m, d, back);
        if (d != previous_day + 1 && d != 1)
            fail_msg ("%d is day %d after day %d", days, d, previous_day);
        previous_day = d;
    }
    //  Far outside the parsed range the split still works (no overflow)
    //  and the text says it is no date.
    int y, m, d;
    date_to_ymd (INT32_MIN, &y, &m, &d);
    assert_true (y < -5000000 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
    date_to_ymd (INT32_MAX, &y, &m, &d);
    assert_true (y > 5000000 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
    char buf [DATE_ISO_LEN + 1];
    date_format_iso (INT32_MAX, buf);
    assert_string_equal (buf, DATE_ISO_INVALID);
    date_format_iso (s_days (1900, 1, 1) - 700000, buf);
    assert_string_equal (buf, DATE_ISO_INVALID);
}

static void
test_date_today (void **state)
{
    (void) state;
    int32_t before = (int32_t) (time (NULL) / 86400);
    int32_t today = date_today_utc ();
    int32_t after = (int32_t) (time (NULL) / 86400);
    assert_in_range (today, before, after);
    assert_true (today > s_days (2024, 1, 1));
}

//  Thousands separators for people, on money_format's digits.
static void
test_format_grouped (void **state)
{
    (void) state;
    char buf [MONEY_GROUPED_MAX];
    static const struct { int64_t minor; const char *currency, *want; } cases [] = {
        { 123456789, "USD", "1,234,567.89" }, { -123456789, "USD", "-1,234,567.89" },
        { 5, "USD", "0.05" }, { 99900, "USD", "999.00" }, { 100000, "USD", "1,000.00" },
        { 1234, "JPY", "1,234" }, { 123, "JPY", "123" }, { 1234567, "KWD", "1,234.567" },
        { INT64_MAX, "USD", "92,233,720,368,547,758.07" },
        { INT64_MIN, "USD", "-92,233,720,368,547,758.08" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal (money_format_grouped (cases [i].minor, cases [i].currency, buf,
                                                sizeof buf), 0);
        assert_string_equal (buf, cases [i].want);
    }
    assert_int_equal (money_format_grouped (1234, "XYZ", buf, sizeof buf), -1);
    assert_string_equal (buf, "1234");
    assert_int_equal (money_format_grouped (1234, "USD", buf, 8), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_exponents),
        cmocka_unit_test (test_unknown_currency_codes),
        cmocka_unit_test (test_currency_table_sorted),
        cmocka_unit_test (test_parse_two_decimals),
        cmocka_unit_test (test_parse_zero_decimals),
        cmocka_unit_test (test_parse_three_decimals),
        cmocka_unit_test (test_format_canonical),
        cmocka_unit_test (test_format_errors),
        cmocka_unit_test (test_round_trips),
        cmocka_unit_test (test_too_many_decimals),
        cmocka_unit_test (test_zero_exponent_rejects_decimals),
        cmocka_unit_test (test_negatives),
        cmocka_unit_test (test_sign_errors),
        cmocka_unit_test (test_empty),
        cmocka_unit_test (test_letters_and_symbols),
        cmocka_unit_test (test_two_decimal_separators),
        cmocka_unit_test (test_decimal_separator_needs_digits),
        cmocka_unit_test (test_thousands_us),
        cmocka_unit_test (test_thousands_misplaced),
        cmocka_unit_test (test_thousands_swedish),
        cmocka_unit_test (test_thousands_russian),
        cmocka_unit_test (test_thousands_dot),
        cmocka_unit_test (test_overflow),
        cmocka_unit_test (test_unknown_currency),
        cmocka_unit_test (test_bad_format),
        cmocka_unit_test (test_error_buffer_optional),
        cmocka_unit_test (test_add_sub),
        cmocka_unit_test (test_date_known_values),
        cmocka_unit_test (test_date_leap_years),
        cmocka_unit_test (test_date_month_lengths),
        cmocka_unit_test (test_date_year_bounds),
        cmocka_unit_test (test_date_iso_malformed),
        cmocka_unit_test (test_date_us_formats),
        cmocka_unit_test (test_date_european_formats),
        cmocka_unit_test (test_date_bad_formats),
        cmocka_unit_test (test_date_round_trip_range),
        cmocka_unit_test (test_date_full_range),
        cmocka_unit_test (test_date_today),
        cmocka_unit_test (test_format_grouped),
    };
    return cmocka_run_group_tests_name ("money", tests, NULL, NULL);
}
