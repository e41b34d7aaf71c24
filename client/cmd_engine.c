/* placeholder: being written */
#include "cli.h"
#define STUB(fn) int fn (cli_t *cli, int argc, char **argv) { (void) cli; (void) argc; (void) argv; cli_fail ("not yet"); return EXIT_USAGE; }
STUB (cmd_engine) STUB (cmd_worklist) STUB (cmd_outbox)
