/*  cmd_dashboard: `recoup dashboard` (scaffolding: to be written).    */
#include "cli.h"

#include <stdio.h>

int
cmd_dashboard (cli_t *cli, int argc, char **argv)
{
    (void) cli, (void) argc, (void) argv;
    cli_fail ("dashboard: not written yet");
    return EXIT_USAGE;
}
