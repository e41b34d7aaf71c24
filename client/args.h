/*  args: a subcommand's command line taken apart: options that take a
    value ("--opt VALUE" or "--opt=VALUE"), each given at most once, one
    option that may repeat, flags (options without a value), and a few
    positional arguments. Shared by the client's command files.         */
#ifndef RECOUP_ARGS_H
#define RECOUP_ARGS_H

#define CLI_ARGS_OPTIONS 16         //  most known options
#define CLI_ARGS_REPEATS 256        //  most values of the repeating option
#define CLI_ARGS_POSITIONAL 4       //  most positional arguments
#define CLI_ARGS_FLAGS 8            //  most known flags

typedef struct {
    const char *const *known;                   //  options taking a value, NULL-ended
    const char *values [CLI_ARGS_OPTIONS];      //  value of known [i], or NULL
    const char *repeats [CLI_ARGS_REPEATS];     //  values of the repeating option
    int n_repeats;                              //  how many
    const char *positional [CLI_ARGS_POSITIONAL];   //  arguments that are not options
    int n_positional;                           //  how many
    const char *const *flags;                   //  options without a value, NULL-ended, or NULL
    int flagged [CLI_ARGS_FLAGS];               //  times flags [i] was given
} cli_args_t;

//  Parses argv [first..] against `known` (at most CLI_ARGS_OPTIONS);
//  `repeat` (may be NULL) is the one option that may come more than once;
//  at most `max_positional` (<= CLI_ARGS_POSITIONAL) other arguments.
//  Returns 0, or -1 after saying what is wrong on stderr.
int cli_args_parse (cli_args_t *self, int argc, char **argv, int first,
                    const char *const *known, const char *repeat, int max_positional);

//  For a command that takes no positional argument: parses argv [first..]
//  against `known` as cli_args_parse does, and `flags` (NULL-ended, at
//  most CLI_ARGS_FLAGS): options without a value, each of which may come
//  any number of times. Words what is wrong as the full-screen clients
//  (dashboard, desk) always have: anything that is not one of their
//  options is an "unexpected argument '...'", an option given twice is
//  "--opt given twice". Returns 0, or -1 after saying what is wrong on
//  stderr.
int cli_args_parse_flags (cli_args_t *self, int argc, char **argv, int first,
                          const char *const *known, const char *const *flags);

//  The value of an option, or NULL when it was not given.
const char *cli_args_get (const cli_args_t *self, const char *name);

//  The value of an option, or "" (for protobuf string fields).
char *cli_args_opt (const cli_args_t *self, const char *name);

//  Whether a flag was given (at least once).
int cli_args_flag (const cli_args_t *self, const char *name);

#endif
