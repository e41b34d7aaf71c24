/* placeholder: being written */
#include "cli.h"
#define STUB(fn) int fn (cli_t *cli, int argc, char **argv) { (void) cli; (void) argc; (void) argv; cli_fail ("not yet"); return EXIT_USAGE; }
STUB (cmd_customer) STUB (cmd_invoice) STUB (cmd_payment) STUB (cmd_entry)
