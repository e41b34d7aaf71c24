/*  terms: payment terms as people write them, taken apart. See terms.h.

    The grammar, case-insensitive, with blanks (space, tab) allowed
    between any two parts:

        terms    = "due on receipt" | [discount [","]] net [days]
        discount = rate ( "/" | "%" ["/"] ) number
        net      = ("net" | "n") ["/"] number
        days     = "day" | "days"
        rate     = digits ["." 1-2 digits]        (percent, above 0, below 100)

    So "net 30", "Net30", "n30", "N/30", "net 30 days", "2/10 net 30",
    "2/10, n/30", "2% 10 net 30", "1.5/10 net 45". "net 0" means the same
    as "due on receipt" and is written that way.                         */
#include "terms.h"

#include <stdio.h>
#include <string.h>

#define TERMS_DAYS_MAX 3650
//  Longest terms text looked at: anything longer is not terms.
#define TERMS_INPUT_MAX 64

//  A cursor over the text being parsed.
typedef struct {
    const char *text;           //  the whole text (for messages)
    const char *p;              //  next character
} s_cursor_t;

static void
s_blanks (s_cursor_t *c)
{
    while (*c->p == ' ' || *c->p == '\t')
        c->p++;
}

static int
s_lower (int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

//  Takes `word` (lower case) case-insensitively after blanks. 1 if taken.
static int
s_word (s_cursor_t *c, const char *word)
{
    s_blanks (c);
    size_t len = strlen (word);
    for (size_t i = 0; i < len; i++)
        if (s_lower ((unsigned char) c->p [i]) != word [i])
            return 0;
    c->p += len;
    return 1;
}

//  Takes one character after blanks. 1 if taken.
static int
s_char (s_cursor_t *c, char ch)
{
    s_blanks (c);
    if (*c->p != ch)
        return 0;
    c->p++;
    return 1;
}

static int
s_digit (char ch)
{
    return ch >= '0' && ch <= '9';
}

//  Reads a whole number of days after blanks into *value (0..TERMS_DAYS_MAX).
//  Returns 0, or -1 with err saying what `what` should have been.
static int
s_days (s_cursor_t *c, int *value, const char *what, char *err, size_t errlen)
{
    s_blanks (c);
    if (!s_digit (*c->p)) {
        snprintf (err, errlen, "terms '%s': expected %s at character %d",
                  c->text, what, (int) (c->p - c->text) + 1);
        return -1;
    }
    long number = 0;
    while (s_digit (*c->p)) {
        if (number <= TERMS_DAYS_MAX)
            number = number * 10 + (*c->p - '0');
        c->p++;
    }
    if (number > TERMS_DAYS_MAX) {
        snprintf (err, errlen, "terms '%s': %s is above %d days", c->text, what,
                  TERMS_DAYS_MAX);
        return -1;
    }
    *value = (int) number;
    return 0;
}

//  Reads a discount rate in percent, up to two decimals, into basis
//  points. The cursor is on a digit. Returns 0 or -1 with err.
static int
s_rate (s_cursor_t *c, int *bp, char *err, size_t errlen)
{
    long whole = 0;
    while (s_digit (*c->p)) {
        if (whole < 1000)
            whole = whole * 10 + (*c->p - '0');
        c->p++;
    }
    long hundredths = 0;
    if (*c->p == '.') {
        c->p++;
        int decimals = 0;
        while (s_digit (*c->p)) {
            if (++decimals > 2) {
                snprintf (err, errlen, "terms '%s': a discount rate has at most "
                          "two decimals (1.25/10 net 30)", c->text);
                return -1;
            }
            hundredths = hundredths * 10 + (*c->p - '0');
            c->p++;
        }
        if (decimals == 0) {
            snprintf (err, errlen, "terms '%s': expected the decimals of the "
                      "discount rate after '.'", c->text);
            return -1;
        }
        if (decimals == 1)
            hundredths *= 10;
    }
    long value = whole * 100 + hundredths;
    if (value <= 0 || value >= 10000) {
        snprintf (err, errlen, "terms '%s': the discount rate must be above "
                  "0%% and below 100%%", c->text);
        return -1;
    }
    *bp = (int) value;
    return 0;
}

//  Writes the canonical text of terms into canonical [TERMS_TEXT_MAX].
static void
s_canonical (const terms_t *terms, char *canonical)
{
    if (terms->discount_bp == 0) {
        if (terms->days == 0)
            snprintf (canonical, TERMS_TEXT_MAX, "due on receipt");
        else
            snprintf (canonical, TERMS_TEXT_MAX, "net %d", terms->days);
        return;
    }
    char rate [16];
    int whole = terms->discount_bp / 100, frac = terms->discount_bp % 100;
    if (frac == 0)
        snprintf (rate, sizeof rate, "%d", whole);
    else if (frac % 10 == 0)
        snprintf (rate, sizeof rate, "%d.%d", whole, frac / 10);
    else
        snprintf (rate, sizeof rate, "%d.%02d", whole, frac);
    snprintf (canonical, TERMS_TEXT_MAX, "%s/%d net %d", rate,
              terms->discount_days, terms->days);
}

int
terms_parse (const char *text, terms_t *terms, char *canonical, char *err,
             size_t errlen)
{
    static const char *const examples =
        "write e.g. \"net 30\", \"2/10 net 30\" or \"due on receipt\"";
    if (!text) {
        snprintf (err, errlen, "terms are missing: %s", examples);
        return -1;
    }
    size_t len = strnlen (text, TERMS_INPUT_MAX + 1);
    if (len > TERMS_INPUT_MAX) {
        snprintf (err, errlen, "terms are longer than %d characters: %s",
                  TERMS_INPUT_MAX, examples);
        return -1;
    }
    s_cursor_t c = { text, text };
    s_blanks (&c);
    if (*c.p == '\0') {
        snprintf (err, errlen, "terms are empty: %s", examples);
        return -1;
    }
    terms_t out = { 0, 0, 0 };
    s_cursor_t start = c;
    if (s_word (&c, "due") && s_word (&c, "on") && s_word (&c, "receipt")) {
        s_blanks (&c);
        if (*c.p != '\0') {
            snprintf (err, errlen, "terms '%s': unexpected '%s' after \"due on "
                      "receipt\"", text, c.p);
            return -1;
        }
        *terms = out;
        if (canonical)
            s_canonical (&out, canonical);
        return 0;
    }
    c = start;
    if (s_digit (*c.p)) {
        //  A discount: rate, '/' or '%' (or both), the discount days.
        if (s_rate (&c, &out.discount_bp, err, errlen) != 0)
            return -1;
        int percent = s_char (&c, '%');
        int slash = s_char (&c, '/');
        if (!percent && !slash) {
            snprintf (err, errlen, "terms '%s': expected '/' or '%%' after the "
                      "discount rate at character %d (2/10 net 30)", text,
                      (int) (c.p - text) + 1);
            return -1;
        }
        if (s_days (&c, &out.discount_days, "the days of the discount window",
                    err, errlen) != 0)
            return -1;
        s_char (&c, ',');
    }
    if (!s_word (&c, "net") && !s_word (&c, "n")) {
        s_blanks (&c);
        if (c.p == start.p)
            snprintf (err, errlen, "terms '%s' not understood: %s", text, examples);
        else
            snprintf (err, errlen, "terms '%s': expected \"net\" and days at "
                      "character %d", text, (int) (c.p - text) + 1);
        return -1;
    }
    s_char (&c, '/');
    if (s_days (&c, &out.days, "the number of days after \"net\"", err, errlen) != 0)
        return -1;
    if (!s_word (&c, "days"))
        s_word (&c, "day");
    s_blanks (&c);
    if (*c.p != '\0') {
        snprintf (err, errlen, "terms '%s': unexpected '%s' at character %d",
                  text, c.p, (int) (c.p - text) + 1);
        return -1;
    }
    if (out.discount_bp > 0) {
        if (out.discount_days == 0) {
            snprintf (err, errlen, "terms '%s': the discount window must be at "
                      "least 1 day", text);
            return -1;
        }
        if (out.discount_days >= out.days) {
            snprintf (err, errlen, "terms '%s': the discount window (%d days) "
                      "must be shorter than the terms (%d days)", text,
                      out.discount_days, out.days);
            return -1;
        }
    }
    *terms = out;
    if (canonical)
        s_canonical (&out, canonical);
    return 0;
}
