/* placeholder: being written */
#include "accounts.h"
#define STUB(fn) int fn (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply) \
    { (void) request; return cmd_error (ctx, reply, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, NULL, "not yet"); }
STUB (cmd_promise_add) STUB (cmd_plan_add) STUB (cmd_dispute_open) STUB (cmd_dispute_resolve)
STUB (cmd_account_reason) STUB (cmd_hold_place) STUB (cmd_hold_lift) STUB (cmd_account_show)
