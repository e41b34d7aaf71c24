/*  Unit tests of terms: every accepted way of writing payment terms, the
    canonical text each one becomes, and the errors (with what the
    message must say). A failing check prints the input, what was
    expected and what came back.                                         */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "terms.h"

//  Checks that text parses to (days, bp, discount days) with canonical text.
#define expect_terms(text, days, bp, ddays, canonical) \
    s_expect_terms (text, days, bp, ddays, canonical, __FILE__, __LINE__)

static void
s_expect_terms (const char *text, int days, int bp, int ddays,
                const char *canonical, const char *file, int line)
{
    terms_t got = { -1, -1, -1 };
    char text_out [TERMS_TEXT_MAX];
    char err [256] = "";
    memset (text_out, 'x', sizeof text_out);
    if (terms_parse (text, &got, text_out, err, sizeof err) != 0) {
        print_error ("terms_parse (\"%s\") failed: %s\n", text, err);
        _fail (file, line);
    }
    if (got.days != days || got.discount_bp != bp || got.discount_days != ddays) {
        print_error ("terms_parse (\"%s\") gave days %d, discount %d bp for %d "
                     "days; expected %d, %d bp, %d\n", text, got.days,
                     got.discount_bp, got.discount_days, days, bp, ddays);
        _fail (file, line);
    }
    if (strcmp (text_out, canonical) != 0) {
        print_error ("terms_parse (\"%s\") wrote \"%s\", expected \"%s\"\n",
                     text, text_out, canonical);
        _fail (file, line);
    }
    //  The canonical text reads back to itself.
    terms_t again;
    char twice [TERMS_TEXT_MAX];
    if (terms_parse (canonical, &again, twice, err, sizeof err) != 0
        || strcmp (twice, canonical) != 0 || again.days != days
        || again.discount_bp != bp || again.discount_days != ddays) {
        print_error ("canonical \"%s\" does not read back to itself\n", canonical);
        _fail (file, line);
    }
}

//  Checks that text is refused with a message holding `needle`, and that
//  *terms is left alone.
#define expect_error(text, needle) \
    s_expect_error (text, needle, __FILE__, __LINE__)

static void
s_expect_error (const char *text, const char *needle, const char *file, int line)
{
    terms_t got = { -7, -7, -7 };
    char err [256] = "";
    if (terms_parse (text, &got, NULL, err, sizeof err) == 0) {
        print_error ("terms_parse (\"%s\") accepted it (days %d, %d bp for %d "
                     "days); expected an error with \"%s\"\n", text, got.days,
                     got.discount_bp, got.discount_days, needle);
        _fail (file, line);
    }
    if (!strstr (err, needle)) {
        print_error ("terms_parse (\"%s\") said \"%s\"; expected it to say "
                     "\"%s\"\n", text ? text : "(null)", err, needle);
        _fail (file, line);
    }
    if (got.days != -7 || got.discount_bp != -7 || got.discount_days != -7) {
        print_error ("terms_parse (\"%s\") failed but changed the terms\n", text);
        _fail (file, line);
    }
}

static void
test_net (void **state)
{
    (void) state;
    expect_terms ("net 30", 30, 0, 0, "net 30");
    expect_terms ("Net30", 30, 0, 0, "net 30");
    expect_terms ("NET 30", 30, 0, 0, "net 30");
    expect_terms ("n30", 30, 0, 0, "net 30");
    expect_terms ("N/30", 30, 0, 0, "net 30");
    expect_terms ("net/60", 60, 0, 0, "net 60");
    expect_terms ("  net \t 45  ", 45, 0, 0, "net 45");
    expect_terms ("net 30 days", 30, 0, 0, "net 30");
    expect_terms ("Net 1 day", 1, 0, 0, "net 1");
    expect_terms ("net 030", 30, 0, 0, "net 30");
    expect_terms ("net 3650", 3650, 0, 0, "net 3650");
    expect_terms ("net 7", 7, 0, 0, "net 7");
}

static void
test_due_on_receipt (void **state)
{
    (void) state;
    expect_terms ("due on receipt", 0, 0, 0, "due on receipt");
    expect_terms ("Due On Receipt", 0, 0, 0, "due on receipt");
    expect_terms ("  due   on receipt ", 0, 0, 0, "due on receipt");
    //  Net 0 is the same thing, and is written the same way.
    expect_terms ("net 0", 0, 0, 0, "due on receipt");
    expect_terms ("n0", 0, 0, 0, "due on receipt");
}

static void
test_discount (void **state)
{
    (void) state;
    expect_terms ("2/10 net 30", 30, 200, 10, "2/10 net 30");
    expect_terms ("2/10net30", 30, 200, 10, "2/10 net 30");
    expect_terms ("2/10, n/30", 30, 200, 10, "2/10 net 30");
    expect_terms ("2 / 10 N 30", 30, 200, 10, "2/10 net 30");
    expect_terms ("2% 10 net 30", 30, 200, 10, "2/10 net 30");
    expect_terms ("2%10 net 30", 30, 200, 10, "2/10 net 30");
    expect_terms ("2%/10 net 30", 30, 200, 10, "2/10 net 30");
    expect_terms ("1.5/10 net 45", 45, 150, 10, "1.5/10 net 45");
    expect_terms ("1.50/10 net 45", 45, 150, 10, "1.5/10 net 45");
    expect_terms ("1.25/15 net 60", 60, 125, 15, "1.25/15 net 60");
    expect_terms ("0.5/5 net 30 days", 30, 50, 5, "0.5/5 net 30");
    expect_terms ("99.99/1 net 2", 2, 9999, 1, "99.99/1 net 2");
    expect_terms ("3/29 net 30", 30, 300, 29, "3/29 net 30");
}

static void
test_errors (void **state)
{
    (void) state;
    expect_error (NULL, "missing");
    expect_error ("", "empty");
    expect_error ("   ", "empty");
    expect_error ("thirty days", "not understood");
    expect_error ("net", "number of days");
    expect_error ("net thirty", "number of days");
    expect_error ("net 30 please", "unexpected 'please'");
    expect_error ("net 3651", "above 3650");
    expect_error ("net 99999999999999999999", "above 3650");
    expect_error ("net -30", "number of days");
    expect_error ("due", "not understood");
    expect_error ("due on receipt today", "unexpected 'today'");
    expect_error ("eom", "not understood");
    expect_error ("2 10 net 30", "'/' or '%'");
    expect_error ("2/ net 30", "days of the discount window");
    expect_error ("2/10", "expected \"net\"");
    expect_error ("2/10 30", "expected \"net\"");
    expect_error ("0/10 net 30", "above 0%");
    expect_error ("100/10 net 30", "below 100%");
    expect_error ("1.234/10 net 30", "two decimals");
    expect_error ("1./10 net 30", "decimals");
    expect_error ("2/0 net 30", "at least 1 day");
    expect_error ("2/30 net 30", "shorter than the terms");
    expect_error ("2/40 net 30", "shorter than the terms");
    expect_error ("2/10 due on receipt", "expected \"net\"");
    expect_error ("2/10 net 0", "shorter than the terms");
    expect_error ("net 30 net 30", "unexpected");
    expect_error ("net 30 days days", "unexpected");
    expect_error ("net\n30", "number of days");
    char long_text [100];
    memset (long_text, ' ', sizeof long_text - 1);
    long_text [sizeof long_text - 1] = '\0';
    memcpy (long_text + 80, "net 30", 6);
    expect_error (long_text, "longer than");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_net),
        cmocka_unit_test (test_due_on_receipt),
        cmocka_unit_test (test_discount),
        cmocka_unit_test (test_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
