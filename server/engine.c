/* placeholder: being written */
#include "engine.h"
#define STUB(fn) int fn (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply) \
    { (void) request; return cmd_error (ctx, reply, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, NULL, "not yet"); }
STUB (cmd_engine_run) STUB (cmd_worklist) STUB (cmd_outbox_list)
