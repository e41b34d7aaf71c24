/* placeholder: being written */
#include "import.h"
#define STUB(fn) int fn (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply) \
    { (void) request; return cmd_error (ctx, reply, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, NULL, "not yet"); }
STUB (cmd_import_begin) STUB (cmd_import_stage) STUB (cmd_import_commit) STUB (cmd_import_problems)
void import_prune (db_t *db) { (void) db; }
