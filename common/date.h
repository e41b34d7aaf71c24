/*  date: calendar dates as a count of days since 1970-01-01, in the
    proleptic Gregorian calendar. Ledger rows carry the business date they
    take effect on; reports work as of a date. No time of day and no time
    zone: a date is the same day everywhere, so the difference of two
    dates in days is plain integer subtraction (due - issued, as_of - due).

    The conversions are Howard Hinnant's days_from_civil and
    civil_from_days (exact for every int32 day count); no libc time zone
    functions are involved. Dates that are parsed or built from parts must
    lie in the years DATE_YEAR_MIN..DATE_YEAR_MAX.                       */
#ifndef RECOUP_DATE_H
#define RECOUP_DATE_H

#include <stddef.h>
#include <stdint.h>

#define DATE_YEAR_MIN 1900
#define DATE_YEAR_MAX 9999
#define DATE_MIN (-25567)       //  1900-01-01
#define DATE_MAX 2932896        //  9999-12-31
#define DATE_ISO_LEN 10         //  "YYYY-MM-DD" without the NUL

//  1 when year is a Gregorian leap year (2000 and 2024 are, 1900 is not).
int date_is_leap (int year);

//  Days in a month (1..12) of a year: 28 to 31, or 0 for a bad month.
int date_days_in_month (int year, int month);

//  Sets *days to the date year-month-day. Returns 0, or -1 when the year
//  is outside DATE_YEAR_MIN..DATE_YEAR_MAX, the month outside 1..12, or
//  the day not in that month (2023-02-29); *days untouched then.
int date_from_ymd (int year, int month, int day, int32_t *days);

//  Splits a day count into year, month (1..12) and day (1..31). Works for
//  any int32, not only DATE_MIN..DATE_MAX.
void date_to_ymd (int32_t days, int *year, int *month, int *day);

//  What date_format_iso writes for a day it cannot write as a date.
#define DATE_ISO_INVALID "\?\?\?\?-\?\?-\?\?"

//  Writes the date as "YYYY-MM-DD" and a NUL into buf. Days whose year is
//  outside 0..9999 (which no parser produces) come out as DATE_ISO_INVALID
//  ("????-??-??"), so that they never pass for a real date.
void date_format_iso (int32_t days, char buf [DATE_ISO_LEN + 1]);

//  Parses exactly "YYYY-MM-DD" (ISO 8601, the native import format):
//  no blanks, no time. Returns 0 and sets *days, or -1 with what is
//  wrong in err (the character, or which of year, month, day is out of
//  range: "day 30 is not in February 2013, which has 28 days").
int date_parse_iso (const char *text, int32_t *days, char *err, size_t errlen);

//  Parses a date written in format, for exports from other tools. A
//  format is made of the fields YYYY (4 digits), MM and DD (exactly 2
//  digits), M and D (1 or 2 digits), each exactly once, and the literal
//  separators '-', '/', '.' and ' '. A 1-or-2-digit field must be
//  followed by a separator or end the format. So "YYYY-MM-DD",
//  "MM/DD/YYYY", "M/D/YYYY" (US), "DD.MM.YYYY" (Swedish, Russian,
//  German), "DD/MM/YYYY" and "YYYY/MM/DD" all work. The text must match
//  the whole format, with the same validation as date_parse_iso. Returns
//  0 and sets *days, or -1 with the reason in err (an unusable format
//  included).
int date_parse_format (const char *text, const char *format, int32_t *days,
                       char *err, size_t errlen);

//  Checks that a format can be used by date_parse_format. Returns 0, or
//  -1 with the reason in err.
int date_format_check (const char *format, char *err, size_t errlen);

//  Today's date in UTC.
int32_t date_today_utc (void);

#endif
