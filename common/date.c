/*  date: days since 1970-01-01, proleptic Gregorian. See date.h.       */
#include "date.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *s_month_names [] = {
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December"
};

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

int
date_is_leap (int year)
{
    return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

int
date_days_in_month (int year, int month)
{
    static const int days [] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (month < 1 || month > 12)
        return 0;
    return month == 2 && date_is_leap (year) ? 29 : days [month - 1];
}

//  Howard Hinnant's days_from_civil: the day count of a valid date. The
//  year is shifted to start in March, so the leap day ends it; eras are
//  the 400-year cycles of 146097 days.
static int64_t
s_days_from_civil (int64_t year, unsigned month, unsigned day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    unsigned year_of_era = (unsigned) (year - era * 400);              //  0..399
    unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5
                         + day - 1;                                     //  0..365
    unsigned day_of_era = year_of_era * 365 + year_of_era / 4
                        - year_of_era / 100 + day_of_year;              //  0..146096
    return era * 146097 + (int64_t) day_of_era - 719468;
}

//  Checks a date's parts, saying which one is wrong. Returns 0/-1.
static int
s_check_ymd (int year, int month, int day, char *err, size_t errlen)
{
    if (year < DATE_YEAR_MIN || year > DATE_YEAR_MAX)
        return s_fail (err, errlen, "year %d out of range (%d to %d)", year,
                       DATE_YEAR_MIN, DATE_YEAR_MAX);
    if (month < 1 || month > 12)
        return s_fail (err, errlen, "month %d out of range (1 to 12)", month);
    int days = date_days_in_month (year, month);
    if (day < 1 || day > days) {
        if (month == 2 && day == 29)
            return s_fail (err, errlen, "day 29 is not in February %d, which "
                           "has 28 days (%d is not a leap year)", year, year);
        return s_fail (err, errlen, "day %d is not in %s %d, which has %d days",
                       day, s_month_names [month - 1], year, days);
    }
    return 0;
}

int
date_from_ymd (int year, int month, int day, int32_t *days)
{
    if (s_check_ymd (year, month, day, NULL, 0))
        return -1;
    *days = (int32_t) s_days_from_civil (year, (unsigned) month, (unsigned) day);
    return 0;
}

//  Howard Hinnant's civil_from_days, the inverse of s_days_from_civil.
void
date_to_ymd (int32_t days, int *year, int *month, int *day)
{
    int64_t z = (int64_t) days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned day_of_era = (unsigned) (z - era * 146097);               //  0..146096
    unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524
                            - day_of_era / 146096) / 365;              //  0..399
    unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4
                                         - year_of_era / 100);          //  0..365
    unsigned month_from_march = (5 * day_of_year + 2) / 153;           //  0..11
    unsigned m = month_from_march < 10 ? month_from_march + 3
                                       : month_from_march - 9;
    *day = (int) (day_of_year - (153 * month_from_march + 2) / 5 + 1);
    *month = (int) m;
    *year = (int) ((int64_t) year_of_era + era * 400 + (m <= 2));
}

void
date_format_iso (int32_t days, char buf [DATE_ISO_LEN + 1])
{
    int year, month, day;
    date_to_ymd (days, &year, &month, &day);
    if (year < 0 || year > 9999)
        memcpy (buf, DATE_ISO_INVALID, DATE_ISO_LEN + 1);
    else
        snprintf (buf, DATE_ISO_LEN + 1, "%04d-%02d-%02d", year, month, day);
}

//  One piece of a date format: a field or a literal separator.
typedef struct {
    char field;                 //  'Y', 'M', 'D', or 0 for a literal
    char literal;               //  the separator, when field is 0
    int min_digits;             //  digits the field needs
    int max_digits;             //  digits the field takes at most
} date_token_t;

#define DATE_FORMAT_MAX 16      //  longest format accepted, in characters

//  Splits a format into tokens. Returns the number of tokens, or -1
//  with the reason in err.
static int
s_tokenize (const char *format, date_token_t *tokens, char *err, size_t errlen)
{
    if (!format || !*format)
        return s_fail (err, errlen, "empty date format");
    if (strlen (format) > DATE_FORMAT_MAX)
        return s_fail (err, errlen, "date format too long (at most %d "
                       "characters)", DATE_FORMAT_MAX);
    int count = 0, seen_y = 0, seen_m = 0, seen_d = 0;
    for (const char *p = format; *p; ) {
        date_token_t *token = &tokens [count++];
        memset (token, 0, sizeof *token);
        if (*p == 'Y' || *p == 'M' || *p == 'D') {
            int run = 1;
            while (p [run] == *p)
                run++;
            int *seen = *p == 'Y' ? &seen_y : *p == 'M' ? &seen_m : &seen_d;
            if (*seen)
                return s_fail (err, errlen, "date format \"%s\" has '%c' "
                               "twice", format, *p);
            *seen = 1;
            if (*p == 'Y' && run != 4)
                return s_fail (err, errlen, "date format \"%s\": the year is "
                               "YYYY (4 digits)", format);
            if (*p != 'Y' && run > 2)
                return s_fail (err, errlen, "date format \"%s\": %.*s is not "
                               "a field (use %c%c or %c)", format, run, p,
                               *p, *p, *p);
            token->field = *p;
            token->min_digits = *p == 'Y' ? 4 : run;
            token->max_digits = *p == 'Y' ? 4 : 2;
            //  A 1-or-2-digit field needs a separator to end it.
            if (token->min_digits != token->max_digits
                && (p [run] == 'Y' || p [run] == 'M' || p [run] == 'D'))
                return s_fail (err, errlen, "date format \"%s\": %c must be "
                               "followed by a separator", format, *p);
            p += run;
        }
        else
        if (strchr ("-/. ", *p)) {
            token->literal = *p;
            p++;
        }
        else
            return s_fail (err, errlen, "date format \"%s\": unexpected '%c' "
                           "(fields are YYYY, MM, M, DD, D; separators - / . "
                           "and space)", format, *p);
    }
    if (!seen_y || !seen_m || !seen_d)
        return s_fail (err, errlen, "date format \"%s\" needs a year, a month "
                       "and a day (YYYY, MM or M, DD or D)", format);
    return count;
}

int
date_format_check (const char *format, char *err, size_t errlen)
{
    date_token_t tokens [DATE_FORMAT_MAX];
    return s_tokenize (format, tokens, err, errlen) < 0 ? -1 : 0;
}

//  Describes the character at p for a message.
static void
s_describe (const char *p, char *buf, size_t len)
{
    unsigned char c = (unsigned char) *p;
    if (c == 0)
        snprintf (buf, len, "the end");
    else
    if (c >= 0x20 && c < 0x7f)
        snprintf (buf, len, "'%c'", c);
    else
    if (c >= 0x80)
        snprintf (buf, len, "a non-ASCII character");
    else
        snprintf (buf, len, "control character U+%04X", c);
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

int
date_parse_format (const char *text, const char *format, int32_t *days,
                   char *err, size_t errlen)
{
    date_token_t tokens [DATE_FORMAT_MAX];
    int count = s_tokenize (format, tokens, err, errlen);
    if (count < 0)
        return -1;
    if (!text || !*text)
        return s_fail (err, errlen, "empty date (expected %s)", format);
    static const char *names [] = { ['Y'] = "year", ['M'] = "month",
                                    ['D'] = "day" };
    int parts [128] = { 0 };    //  by field letter
    const char *p = text;
    char found [32];
    for (int i = 0; i < count; i++) {
        const date_token_t *token = &tokens [i];
        if (!token->field) {
            if (*p != token->literal) {
                s_describe (p, found, sizeof found);
                return s_fail (err, errlen, "expected '%c' at character %d, "
                               "found %s (date format %s)", token->literal,
                               s_position (text, p), found, format);
            }
            p++;
            continue;
        }
        const char *start = p;
        int value = 0;
        while (p - start < token->max_digits && *p >= '0' && *p <= '9')
            value = value * 10 + (*p++ - '0');
        int digits = (int) (p - start);
        //  Too few digits, or a field that runs on into more digits.
        int more = *p >= '0' && *p <= '9'
                && (i + 1 == count || !tokens [i + 1].field);
        if (digits < token->min_digits || more) {
            char want [32];
            if (token->min_digits == token->max_digits)
                snprintf (want, sizeof want, "%d-digit", token->min_digits);
            else
                snprintf (want, sizeof want, "1- or 2-digit");
            if (more)
                snprintf (found, sizeof found, "more digits");
            else
            if (digits > 0)
                snprintf (found, sizeof found, "only %d digit%s", digits,
                          digits == 1 ? "" : "s");
            else
                s_describe (start, found, sizeof found);
            return s_fail (err, errlen, "expected a %s %s at character %d, "
                           "found %s (date format %s)", want,
                           names [(int) token->field], s_position (text, start),
                           found, format);
        }
        parts [(int) token->field] = value;
    }
    if (*p) {
        s_describe (p, found, sizeof found);
        return s_fail (err, errlen, "unexpected %s at character %d after the "
                       "date (date format %s)", found, s_position (text, p),
                       format);
    }
    if (s_check_ymd (parts ['Y'], parts ['M'], parts ['D'], err, errlen))
        return -1;
    *days = (int32_t) s_days_from_civil (parts ['Y'], (unsigned) parts ['M'],
                                         (unsigned) parts ['D']);
    return 0;
}

int
date_parse_iso (const char *text, int32_t *days, char *err, size_t errlen)
{
    return date_parse_format (text, "YYYY-MM-DD", days, err, errlen);
}

int32_t
date_today_utc (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    int64_t seconds = (int64_t) now.tv_sec;
    //  Floor division, should the clock ever be before 1970.
    int64_t days = seconds / 86400 - (seconds % 86400 < 0);
    return (int32_t) days;
}
