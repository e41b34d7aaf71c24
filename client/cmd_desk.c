/*  cmd_desk: `recoup desk` (scaffolding: to be written).              */
#include "cli.h"

#include <stdio.h>

int
cmd_desk (cli_t *cli, int argc, char **argv)
{
    (void) cli, (void) argc, (void) argv;
    cli_fail ("desk: not written yet");
    return EXIT_USAGE;
}
