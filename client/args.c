/*  args: subcommand command lines. See args.h.                          */
#include "args.h"
#include "cli.h"

#include <assert.h>
#include <string.h>

int
cli_args_parse (cli_args_t *self, int argc, char **argv, int first,
                const char *const *known, const char *repeat, int max_positional)
{
    memset (self, 0, sizeof *self);
    self->known = known;
    assert (max_positional <= CLI_ARGS_POSITIONAL);
    for (int i = first; i < argc; i++) {
        const char *arg = argv [i];
        if (strncmp (arg, "--", 2) != 0) {
            if (self->n_positional >= max_positional) {
                cli_fail ("unexpected argument '%s'", arg);
                return -1;
            }
            self->positional [self->n_positional++] = arg;
            continue;
        }
        const char *eq = strchr (arg, '=');
        size_t len = eq ? (size_t) (eq - arg) : strlen (arg);
        int index = -1;
        for (int k = 0; known [k]; k++) {
            assert (k < CLI_ARGS_OPTIONS);
            if (strlen (known [k]) == len && strncmp (known [k], arg, len) == 0)
                index = k;
        }
        if (index < 0) {
            cli_fail ("unknown option %.*s", (int) len, arg);
            return -1;
        }
        const char *value;
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv [++i];
        else {
            cli_fail ("%s needs a value", arg);
            return -1;
        }
        if (repeat && strcmp (known [index], repeat) == 0) {
            if (self->n_repeats >= CLI_ARGS_REPEATS) {
                cli_fail ("%s: at most %d of them", repeat, CLI_ARGS_REPEATS);
                return -1;
            }
            self->repeats [self->n_repeats++] = value;
        }
        else if (self->values [index]) {
            cli_fail ("%s is given twice", known [index]);
            return -1;
        }
        else
            self->values [index] = value;
    }
    return 0;
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
