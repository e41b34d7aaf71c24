/* placeholder: being written */
#include "cli.h"
int cmd_flag (cli_t *cli, int argc, char **argv) { (void) cli; (void) argc; (void) argv; cli_fail ("not yet"); return EXIT_USAGE; }
