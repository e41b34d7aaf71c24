/*  test_desk: (scaffolding, to be written).                            */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"

static void
test_placeholder (void **state)
{
    (void) state;
    skip ();
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_placeholder),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
