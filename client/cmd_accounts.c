/* placeholder: being written */
#include "cli.h"
#define STUB(fn) int fn (cli_t *cli, int argc, char **argv) { (void) cli; (void) argc; (void) argv; cli_fail ("not yet"); return EXIT_USAGE; }
STUB (cmd_promise) STUB (cmd_plan) STUB (cmd_dispute) STUB (cmd_account) STUB (cmd_hold)
