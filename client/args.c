/*  args: subcommand command lines. See args.h.                          */
#include "args.h"
#include "cli.h"

#include <assert.h>
#include <string.h>

//  What s_scan found wrong; the public parsers word it.
typedef enum {
    S_ARGS_OK,
    S_ARGS_UNEXPECTED,      //  a positional argument too many
    S_ARGS_UNKNOWN,         //  an option that is not known
    S_ARGS_NO_VALUE,        //  an option last on the line, without its value
    S_ARGS_TOO_MANY,        //  the repeating option beyond CLI_ARGS_REPEATS
    S_ARGS_TWICE            //  an option given twice
} s_args_error_t;

//  Takes argv [first..] apart into self (see cli_args_parse; `flags` may
//  be NULL). Returns S_ARGS_OK, or what is wrong with *bad_p the argument
//  (borrowed from argv) and *len_p how long its option name is (up to
//  any '='). Says nothing.
static s_args_error_t
s_scan (cli_args_t *self, int argc, char **argv, int first, const char *const *known,
        const char *const *flags, const char *repeat, int max_positional,
        const char **bad_p, int *len_p)
{
    memset (self, 0, sizeof *self);
    self->known = known;
    self->flags = flags;
    assert (max_positional <= CLI_ARGS_POSITIONAL);
    for (int i = first; i < argc; i++) {
        const char *arg = argv [i];
        *bad_p = arg;
        *len_p = (int) strlen (arg);
        if (strncmp (arg, "--", 2) != 0) {
            if (self->n_positional >= max_positional)
                return S_ARGS_UNEXPECTED;
            self->positional [self->n_positional++] = arg;
            continue;
        }
        int flag = -1;
        for (int k = 0; flags && flags [k]; k++) {
            assert (k < CLI_ARGS_FLAGS);
            if (strcmp (flags [k], arg) == 0)
                flag = k;
        }
        if (flag >= 0) {
            self->flagged [flag]++;
            continue;
        }
        const char *eq = strchr (arg, '=');
        size_t len = eq ? (size_t) (eq - arg) : strlen (arg);
        *len_p = (int) len;
        int index = -1;
        for (int k = 0; known [k]; k++) {
            assert (k < CLI_ARGS_OPTIONS);
            if (strlen (known [k]) == len && strncmp (known [k], arg, len) == 0)
                index = k;
        }
        if (index < 0)
            return S_ARGS_UNKNOWN;
        const char *value;
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv [++i];
        else
            return S_ARGS_NO_VALUE;
        if (repeat && strcmp (known [index], repeat) == 0) {
            if (self->n_repeats >= CLI_ARGS_REPEATS)
                return S_ARGS_TOO_MANY;
            self->repeats [self->n_repeats++] = value;
        }
        else if (self->values [index])
            return S_ARGS_TWICE;
        else
            self->values [index] = value;
    }
    return S_ARGS_OK;
}

//  Says what s_scan found wrong, in the words of cli_args_parse.
static void
s_say (s_args_error_t error, const char *bad, int len, const char *repeat)
{
    switch (error) {
    case S_ARGS_OK:
        break;
    case S_ARGS_UNEXPECTED:
        cli_fail ("unexpected argument '%s'", bad);
        break;
    case S_ARGS_UNKNOWN:
        cli_fail ("unknown option %.*s", len, bad);
        break;
    case S_ARGS_NO_VALUE:
        cli_fail ("%s needs a value", bad);
        break;
    case S_ARGS_TOO_MANY:
        cli_fail ("%s: at most %d of them", repeat, CLI_ARGS_REPEATS);
        break;
    case S_ARGS_TWICE:
        cli_fail ("%.*s is given twice", len, bad);
        break;
    }
}

int
cli_args_parse (cli_args_t *self, int argc, char **argv, int first,
                const char *const *known, const char *repeat, int max_positional)
{
    const char *bad = NULL;
    int len = 0;
    s_args_error_t error = s_scan (self, argc, argv, first, known, NULL, repeat,
                                   max_positional, &bad, &len);
    s_say (error, bad, len, repeat);
    return error == S_ARGS_OK ? 0 : -1;
}

int
cli_args_parse_flags (cli_args_t *self, int argc, char **argv, int first,
                      const char *const *known, const char *const *flags)
{
    const char *bad = NULL;
    int len = 0;
    s_args_error_t error = s_scan (self, argc, argv, first, known, flags, NULL, 0,
                                   &bad, &len);
    //  The full-screen clients' words differ in two places.
    if (error == S_ARGS_UNEXPECTED || error == S_ARGS_UNKNOWN)
        cli_fail ("unexpected argument '%s'", bad);
    else if (error == S_ARGS_TWICE)
        cli_fail ("%.*s given twice", len, bad);
    else
        s_say (error, bad, len, NULL);
    return error == S_ARGS_OK ? 0 : -1;
}

const char *
cli_args_get (const cli_args_t *self, const char *name)
{
    for (int k = 0; self->known [k]; k++)
        if (strcmp (self->known [k], name) == 0)
            return self->values [k];
    return NULL;
}

char *
cli_args_opt (const cli_args_t *self, const char *name)
{
    const char *value = cli_args_get (self, name);
    return (char *) (value ? value : "");
}

int
cli_args_flag (const cli_args_t *self, const char *name)
{
    for (int k = 0; self->flags && self->flags [k]; k++)
        if (strcmp (self->flags [k], name) == 0)
            return self->flagged [k] > 0;
    return 0;
}
