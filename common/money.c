/*  money: minor units, ISO 4217 exponents, strict parsing. See money.h. */
#include "money.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char code [4];              //  ISO 4217 alphabetic code
    int exponent;               //  minor unit digits
} currency_t;

//  ISO 4217 list one (2024-06-25) codes with a minor unit, plus XCG
//  (amendment 176) and the withdrawn ANG, HRK, SLL and ZWL. Sorted by
//  code: looked up with bsearch, once per amount of an import.
static const currency_t s_currencies [] = {
    { "AED", 2 }, { "AFN", 2 }, { "ALL", 2 }, { "AMD", 2 }, { "ANG", 2 },
    { "AOA", 2 }, { "ARS", 2 }, { "AUD", 2 }, { "AWG", 2 }, { "AZN", 2 },
    { "BAM", 2 }, { "BBD", 2 }, { "BDT", 2 }, { "BGN", 2 }, { "BHD", 3 },
    { "BIF", 0 }, { "BMD", 2 }, { "BND", 2 }, { "BOB", 2 }, { "BOV", 2 },
    { "BRL", 2 }, { "BSD", 2 }, { "BTN", 2 }, { "BWP", 2 }, { "BYN", 2 },
    { "BZD", 2 }, { "CAD", 2 }, { "CDF", 2 }, { "CHE", 2 }, { "CHF", 2 },
    { "CHW", 2 }, { "CLF", 4 }, { "CLP", 0 }, { "CNY", 2 }, { "COP", 2 },
    { "COU", 2 }, { "CRC", 2 }, { "CUC", 2 }, { "CUP", 2 }, { "CVE", 2 },
    { "CZK", 2 }, { "DJF", 0 }, { "DKK", 2 }, { "DOP", 2 }, { "DZD", 2 },
    { "EGP", 2 }, { "ERN", 2 }, { "ETB", 2 }, { "EUR", 2 }, { "FJD", 2 },
    { "FKP", 2 }, { "GBP", 2 }, { "GEL", 2 }, { "GHS", 2 }, { "GIP", 2 },
    { "GMD", 2 }, { "GNF", 0 }, { "GTQ", 2 }, { "GYD", 2 }, { "HKD", 2 },
    { "HNL", 2 }, { "HRK", 2 }, { "HTG", 2 }, { "HUF", 2 }, { "IDR", 2 },
    { "ILS", 2 }, { "INR", 2 }, { "IQD", 3 }, { "IRR", 2 }, { "ISK", 0 },
    { "JMD", 2 }, { "JOD", 3 }, { "JPY", 0 }, { "KES", 2 }, { "KGS", 2 },
    { "KHR", 2 }, { "KMF", 0 }, { "KPW", 2 }, { "KRW", 0 }, { "KWD", 3 },
    { "KYD", 2 }, { "KZT", 2 }, { "LAK", 2 }, { "LBP", 2 }, { "LKR", 2 },
    { "LRD", 2 }, { "LSL", 2 }, { "LYD", 3 }, { "MAD", 2 }, { "MDL", 2 },
    { "MGA", 2 }, { "MKD", 2 }, { "MMK", 2 }, { "MNT", 2 }, { "MOP", 2 },
    { "MRU", 2 }, { "MUR", 2 }, { "MVR", 2 }, { "MWK", 2 }, { "MXN", 2 },
    { "MXV", 2 }, { "MYR", 2 }, { "MZN", 2 }, { "NAD", 2 }, { "NGN", 2 },
    { "NIO", 2 }, { "NOK", 2 }, { "NPR", 2 }, { "NZD", 2 }, { "OMR", 3 },
    { "PAB", 2 }, { "PEN", 2 }, { "PGK", 2 }, { "PHP", 2 }, { "PKR", 2 },
    { "PLN", 2 }, { "PYG", 0 }, { "QAR", 2 }, { "RON", 2 }, { "RSD", 2 },
    { "RUB", 2 }, { "RWF", 0 }, { "SAR", 2 }, { "SBD", 2 }, { "SCR", 2 },
    { "SDG", 2 }, { "SEK", 2 }, { "SGD", 2 }, { "SHP", 2 }, { "SLE", 2 },
    { "SLL", 2 }, { "SOS", 2 }, { "SRD", 2 }, { "SSP", 2 }, { "STN", 2 },
    { "SVC", 2 }, { "SYP", 2 }, { "SZL", 2 }, { "THB", 2 }, { "TJS", 2 },
    { "TMT", 2 }, { "TND", 3 }, { "TOP", 2 }, { "TRY", 2 }, { "TTD", 2 },
    { "TWD", 2 }, { "TZS", 2 }, { "UAH", 2 }, { "UGX", 0 }, { "USD", 2 },
    { "USN", 2 }, { "UYI", 0 }, { "UYU", 2 }, { "UYW", 4 }, { "UZS", 2 },
    { "VED", 2 }, { "VES", 2 }, { "VND", 0 }, { "VUV", 0 }, { "WST", 2 },
    { "XAF", 0 }, { "XCD", 2 }, { "XCG", 2 }, { "XOF", 0 }, { "XPF", 0 },
    { "YER", 2 }, { "ZAR", 2 }, { "ZMW", 2 }, { "ZWG", 2 }, { "ZWL", 2 },
};

#define CURRENCY_COUNT (sizeof s_currencies / sizeof *s_currencies)

//  The no-break space and the narrow no-break space in UTF-8.
#define NBSP "\xc2\xa0"
#define NNBSP "\xe2\x80\xaf"

//  Writes a message into err (when there is one) and returns -1.
static int
s_fail (char *err, size_t errlen, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
s_fail (char *err, size_t errlen, const char *format, ...)
{
    if (err && errlen) {
        va_list args;
        va_start (args, format);
        vsnprintf (err, errlen, format, args);
        va_end (args);
    }
    return -1;
}

//  bsearch comparison of a code with a table entry.
static int
s_compare_code (const void *key, const void *item)
{
    return memcmp (key, ((const currency_t *) item)->code, 3);
}

//  1 when code is exactly three upper-case ASCII letters.
static int
s_code_valid (const char *code)
{
    if (!code)
        return 0;
    for (int i = 0; i < 3; i++)
        if (code [i] < 'A' || code [i] > 'Z')
            return 0;
    return code [3] == 0;
}

int
money_currency_exponent (const char *code)
{
    if (!s_code_valid (code))
        return -1;
    const currency_t *found = bsearch (code, s_currencies, CURRENCY_COUNT,
                                       sizeof *s_currencies, s_compare_code);
    return found ? found->exponent : -1;
}

const char *
money_currency_code (size_t index)
{
    return index < CURRENCY_COUNT ? s_currencies [index].code : NULL;
}

//  Says why a currency code has no exponent.
static int
s_currency_error (const char *code, char *err, size_t errlen)
{
    if (!code || !*code)
        return s_fail (err, errlen, "no currency given");
    if (!s_code_valid (code)) {
        //  Quote it only when that cannot garble the message.
        size_t len = strlen (code);
        int printable = len <= 16;
        for (size_t i = 0; printable && i < len; i++)
            printable = code [i] >= 0x20 && code [i] < 0x7f;
        if (printable)
            return s_fail (err, errlen, "invalid currency code \"%s\": "
                           "expected three upper-case letters (ISO 4217)",
                           code);
        return s_fail (err, errlen, "invalid currency code: expected three "
                       "upper-case letters (ISO 4217)");
    }
    return s_fail (err, errlen, "unknown currency \"%s\" (not an ISO 4217 "
                   "currency with a minor unit)", code);
}

//  Length of the UTF-8 sequence at p (at most end - p bytes) and its code
//  point in *cp, or 0 when it is not well-formed UTF-8.
static int
s_utf8_char (const char *p, const char *end, unsigned *cp)
{
    const unsigned char *s = (const unsigned char *) p;
    unsigned c = s [0];
    int len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2
            : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len == 0 || len > end - p)
        return 0;
    unsigned value = len == 1 ? c : c & (0x7f >> len);
    for (int i = 1; i < len; i++) {
        if ((s [i] & 0xc0) != 0x80)
            return 0;
        value = (value << 6) | (s [i] & 0x3f);
    }
    static const unsigned least [] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (value < least [len] || value > 0x10ffff
        || (value >= 0xd800 && value <= 0xdfff))
        return 0;
    *cp = value;
    return len;
}

//  Describes the character at p for a message: 'x', or '€' (U+20AC) for
//  non-ASCII, or the byte's value when it is a control or not UTF-8.
static void
s_describe (const char *p, const char *end, char *buf, size_t len)
{
    unsigned cp = 0;
    int n = s_utf8_char (p, end, &cp);
    if (n == 1 && cp >= 0x20 && cp < 0x7f)
        snprintf (buf, len, "'%c'", (char) cp);
    else
    if (n > 1 && cp >= 0xa0)
        snprintf (buf, len, "'%.*s' (U+%04X)", n, p, cp);
    else
    if (n > 0)
        snprintf (buf, len, "control character U+%04X", cp);
    else
        snprintf (buf, len, "byte 0x%02X (not UTF-8)", (unsigned char) *p);
}

//  Describes a separator for a message.
static void
s_describe_sep (const char *sep, char *buf, size_t len)
{
    if (strlen (sep) == 1)
        snprintf (buf, len, "'%s'", sep);
    else {
        const char *end = sep + strlen (sep);
        unsigned cp;
        int n = s_utf8_char (sep, end, &cp);
        if (n > 0 && sep + n == end)
            snprintf (buf, len, "U+%04X", cp);
        else
            snprintf (buf, len, "\"%s\"", sep);
    }
}

//  Position of p in text, counted in UTF-8 characters from 1.
static int
s_position (const char *text, const char *p)
{
    int position = 1;
    for (const char *s = text; s < p; s++)
        if ((*s & 0xc0) != 0x80)
            position++;
    return position;
}

//  Length of a blank (space, tab, no-break space) at p, or 0.
static size_t
s_blank_at (const char *p, const char *end)
{
    if (p < end && (*p == ' ' || *p == '\t'))
        return 1;
    if (end - p >= 2 && memcmp (p, NBSP, 2) == 0)
        return 2;
    return 0;
}

//  Length of a blank ending at end (not before start), or 0.
static size_t
s_blank_before (const char *start, const char *end)
{
    if (end > start && (end [-1] == ' ' || end [-1] == '\t'))
        return 1;
    if (end - start >= 2 && memcmp (end - 2, NBSP, 2) == 0)
        return 2;
    return 0;
}

//  First character at or after p that is not a blank.
static const char *
s_skip_blanks (const char *p, const char *end)
{
    size_t n;
    while ((n = s_blank_at (p, end)) > 0)
        p += n;
    return p;
}

//  End of [start, end) without its trailing blanks.
static const char *
s_trim_blanks (const char *start, const char *end)
{
    size_t n;
    while ((n = s_blank_before (start, end)) > 0)
        end -= n;
    return end;
}

//  Length of a space, no-break space or narrow no-break space at p, or 0:
//  the spellings of a space-like thousands separator.
static size_t
s_space_at (const char *p, const char *end)
{
    if (p < end && *p == ' ')
        return 1;
    if (end - p >= 2 && memcmp (p, NBSP, 2) == 0)
        return 2;
    if (end - p >= 3 && memcmp (p, NNBSP, 3) == 0)
        return 3;
    return 0;
}

//  1 when sep is one of the space-like thousands separators.
static int
s_space_like (const char *sep)
{
    return strcmp (sep, " ") == 0 || strcmp (sep, NBSP) == 0
        || strcmp (sep, NNBSP) == 0;
}

//  Length of the separator sep at p, or 0.
static size_t
s_sep_at (const char *sep, const char *p, const char *end)
{
    size_t len = strlen (sep);
    if (len == 0 || (size_t) (end - p) < len || memcmp (p, sep, len) != 0)
        return 0;
    return len;
}

int
money_format_check (const money_format_t *format, char *err, size_t errlen)
{
    if (!format || !format->decimal_sep || !*format->decimal_sep)
        return s_fail (err, errlen, "the decimal separator must not be empty");
    const char *seps [2] = { format->decimal_sep,
                             format->thousands_sep ? format->thousands_sep : "" };
    for (int i = 0; i < 2; i++)
        if (strpbrk (seps [i], "0123456789+-()"))
            return s_fail (err, errlen, "the %s separator \"%s\" must not "
                           "hold digits, signs or parentheses",
                           i == 0 ? "decimal" : "thousands", seps [i]);
    const char *dec = seps [0], *end = dec + strlen (dec);
    if (s_blank_at (dec, end) || s_space_at (dec, end))
        return s_fail (err, errlen, "the decimal separator must not be a "
                       "space");
    size_t common = strlen (seps [1]) < strlen (dec) ? strlen (seps [1])
                                                     : strlen (dec);
    if (common > 0 && memcmp (dec, seps [1], common) == 0)
        return s_fail (err, errlen, "the decimal and thousands separators "
                       "must differ (\"%s\", \"%s\")", dec, seps [1]);
    return 0;
}

//  Writes the error for an unexpected character at p, with a hint about
//  separators when it looks like one.
static int
s_unexpected (const char *text, const char *p, const char *end,
              const money_format_t *format, char *err, size_t errlen)
{
    char what [48], dec [24], thou [24];
    s_describe (p, end, what, sizeof what);
    if (strchr (".,' ", *p) || s_space_at (p, end)) {
        s_describe_sep (format->decimal_sep, dec, sizeof dec);
        if (format->thousands_sep && *format->thousands_sep) {
            s_describe_sep (format->thousands_sep, thou, sizeof thou);
            return s_fail (err, errlen, "unexpected %s at character %d "
                           "(decimal separator %s, thousands separator %s)",
                           what, s_position (text, p), dec, thou);
        }
        return s_fail (err, errlen, "unexpected %s at character %d (decimal "
                       "separator %s, no thousands separator)",
                       what, s_position (text, p), dec);
    }
    return s_fail (err, errlen, "unexpected %s at character %d (an amount "
                   "is digits, separators and a sign; no currency symbols "
                   "or letters)", what, s_position (text, p));
}

//  Writes the error for an amount beyond int64.
static int
s_out_of_range (const char *currency, int negative, char *err, size_t errlen)
{
    char limit [MONEY_TEXT_MAX];
    money_format (negative ? INT64_MIN : INT64_MAX, currency, limit,
                  sizeof limit);
    return s_fail (err, errlen, "amount out of range: the %s %s amount is %s",
                   negative ? "smallest" : "largest", currency, limit);
}

int
money_parse (const char *text, const char *currency,
             const money_format_t *format, int64_t *minor,
             char *err, size_t errlen)
{
    int exponent = money_currency_exponent (currency);
    if (exponent < 0)
        return s_currency_error (currency, err, errlen);
    money_format_t plain = MONEY_FORMAT_PLAIN;
    if (!format)
        format = &plain;
    if (money_format_check (format, err, errlen))
        return -1;
    if (!text)
        return s_fail (err, errlen, "no amount given");

    //  Blanks, then the sign: "12-", "(12)", "-12", "+12"; at most one.
    const char *start = s_skip_blanks (text, text + strlen (text));
    const char *end = s_trim_blanks (start, text + strlen (text));
    if (start == end)
        return s_fail (err, errlen, "empty amount");
    const char *trailing = NULL, *paren = NULL, *leading = NULL;
    if (end [-1] == '-') {
        trailing = end - 1;
        end = s_trim_blanks (start, end - 1);
    }
    if (start < end && *start == '(') {
        if (end - start < 2 || end [-1] != ')')
            return s_fail (err, errlen, "'(' at character %d has no closing "
                           "')'", s_position (text, start));
        paren = start;
        end = s_trim_blanks (start + 1, end - 1);
        start = s_skip_blanks (start + 1, end);
    }
    else
    if (start < end && end [-1] == ')')
        return s_fail (err, errlen, "')' at character %d has no opening '('",
                       s_position (text, end - 1));
    if (start < end && (*start == '-' || *start == '+')) {
        leading = start;
        start = s_skip_blanks (start + 1, end);
    }
    if (paren && leading)
        return s_fail (err, errlen, "sign '%c' at character %d inside "
                       "parentheses (they already make it negative)",
                       *leading, s_position (text, leading));
    if (trailing && (paren || leading))
        return s_fail (err, errlen, "second sign '-' at character %d",
                       s_position (text, trailing));
    int negative = paren || trailing || (leading && *leading == '-');
    if (start == end) {
        if (paren)
            return s_fail (err, errlen, "no digits inside the parentheses at "
                           "character %d", s_position (text, paren));
        return s_fail (err, errlen, "no digits in the amount, only the sign "
                       "at character %d",
                       s_position (text, trailing ? trailing : leading));
    }

    //  Digits, decimal separator, thousands separators.
    const char *thousands = format->thousands_sep ? format->thousands_sep : "";
    int spaces = *thousands && s_space_like (thousands);
    uint64_t value = 0;
    int int_digits = 0;         //  digits before the decimal separator
    int frac_digits = 0;        //  digits after it
    int group = -1;             //  digits since the last thousands separator
    const char *decimal = NULL; //  where the decimal separator is
    const char *group_at = NULL;//  where the last thousands separator is
    const char *excess = NULL;  //  the first decimal beyond the exponent
    const char *p = start;
    while (p < end) {
        size_t n;
        if (*p >= '0' && *p <= '9') {
            if (decimal) {
                //  Reported after the scan, so that a misread format
                //  ("1.234,56" as US) is named for what it is.
                if (++frac_digits > exponent) {
                    if (!excess)
                        excess = p;
                    p++;
                    continue;
                }
            }
            else {
                int_digits++;
                if (group >= 0 && ++group > 3)
                    return s_fail (err, errlen, "the group after the "
                                   "thousands separator at character %d has "
                                   "more than 3 digits",
                                   s_position (text, group_at));
            }
            if (__builtin_mul_overflow (value, 10, &value)
                || __builtin_add_overflow (value, (uint64_t) (*p - '0'), &value))
                return s_out_of_range (currency, negative, err, errlen);
            p++;
        }
        else
        if ((n = s_sep_at (format->decimal_sep, p, end)) > 0) {
            if (decimal)
                return s_fail (err, errlen, "second decimal separator at "
                               "character %d (the first is at character %d)",
                               s_position (text, p),
                               s_position (text, decimal));
            if (exponent == 0)
                return s_fail (err, errlen, "%s has no decimals, but there is "
                               "a decimal separator at character %d",
                               currency, s_position (text, p));
            if (int_digits == 0)
                return s_fail (err, errlen, "decimal separator at character "
                               "%d without a digit before it",
                               s_position (text, p));
            if (group >= 0 && group != 3)
                return s_fail (err, errlen, "the group after the thousands "
                               "separator at character %d has %d digit%s, "
                               "not 3", s_position (text, group_at), group,
                               group == 1 ? "" : "s");
            decimal = p;
            p += n;
        }
        else
        if (*thousands && (n = spaces ? s_space_at (p, end)
                                      : s_sep_at (thousands, p, end)) > 0) {
            if (decimal)
                return s_fail (err, errlen, "thousands separator at character "
                               "%d after the decimal separator (is the "
                               "format's decimal separator right?)",
                               s_position (text, p));
            if (int_digits == 0)
                return s_fail (err, errlen, "thousands separator at character "
                               "%d without a digit before it",
                               s_position (text, p));
            if (group < 0 && int_digits > 3)
                return s_fail (err, errlen, "%d digits before the thousands "
                               "separator at character %d (at most 3)",
                               int_digits, s_position (text, p));
            if (group >= 0 && group != 3)
                return s_fail (err, errlen, "the group after the thousands "
                               "separator at character %d has %d digit%s, "
                               "not 3", s_position (text, group_at), group,
                               group == 1 ? "" : "s");
            group = 0;
            group_at = p;
            p += n;
        }
        else
            return s_unexpected (text, p, end, format, err, errlen);
    }
    if (int_digits == 0)
        return s_fail (err, errlen, "no digits in the amount");
    if (group >= 0 && group != 3)
        return s_fail (err, errlen, "the group after the thousands separator "
                       "at character %d has %d digit%s, not 3",
                       s_position (text, group_at), group,
                       group == 1 ? "" : "s");
    if (decimal && frac_digits == 0)
        return s_fail (err, errlen, "decimal separator at character %d "
                       "without a digit after it",
                       s_position (text, decimal));
    if (excess)
        return s_fail (err, errlen, "too many decimals at character %d: %s "
                       "has %d, the amount has %d (amounts are never rounded)",
                       s_position (text, excess), currency, exponent,
                       frac_digits);

    //  Scale to minor units: "12.3" USD is 1230.
    for (int i = frac_digits; i < exponent; i++)
        if (__builtin_mul_overflow (value, 10, &value))
            return s_out_of_range (currency, negative, err, errlen);
    if (value > (uint64_t) INT64_MAX + (negative ? 1u : 0u))
        return s_out_of_range (currency, negative, err, errlen);
    *minor = negative ? (int64_t) (0 - value) : (int64_t) value;
    return 0;
}

int
money_format (int64_t minor, const char *currency, char *buf, size_t len)
{
    int exponent = money_currency_exponent (currency);
    if (!buf || len == 0)
        return -1;
    buf [0] = 0;
    if (exponent < 0)
        return -1;
    //  Magnitude as unsigned, so that INT64_MIN has one.
    uint64_t magnitude = minor < 0 ? 0 - (uint64_t) minor : (uint64_t) minor;
    char digits [24];           //  least significant first
    int count = 0;
    do {
        digits [count++] = (char) ('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    while (count <= exponent)
        digits [count++] = '0';
    size_t need = (minor < 0) + (size_t) count + (exponent > 0) + 1;
    if (need > len)
        return -1;
    char *out = buf;
    if (minor < 0)
        *out++ = '-';
    for (int i = count - 1; i >= 0; i--) {
        *out++ = digits [i];
        if (i == exponent && exponent > 0)
            *out++ = '.';
    }
    *out = 0;
    return 0;
}

int
money_format_grouped (int64_t minor, const char *currency, char *buf, size_t len)
{
    char plain [MONEY_TEXT_MAX];
    if (!buf || len < MONEY_GROUPED_MAX)
        return -1;
    if (money_format (minor, currency, plain, sizeof plain) != 0) {
        snprintf (buf, len, "%" PRId64, minor);
        return -1;
    }
    const char *digits = plain + (*plain == '-');
    size_t whole = strcspn (digits, ".");
    char *out = buf;
    if (*plain == '-')
        *out++ = '-';
    for (size_t i = 0; i < whole; i++) {
        if (i && (whole - i) % 3 == 0)
            *out++ = ',';
        *out++ = digits [i];
    }
    snprintf (out, len - (size_t) (out - buf), "%s", digits + whole);
    return 0;
}

int
money_add (int64_t a, int64_t b, int64_t *out)
{
    int64_t sum;
    if (__builtin_add_overflow (a, b, &sum))
        return -1;
    *out = sum;
    return 0;
}

int
money_sub (int64_t a, int64_t b, int64_t *out)
{
    int64_t difference;
    if (__builtin_sub_overflow (a, b, &difference))
        return -1;
    *out = difference;
    return 0;
}
