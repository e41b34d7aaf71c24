/* placeholder: being written */
#include "resolution.h"
#define STUB(fn) int fn (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply) \
    { (void) request; return cmd_error (ctx, reply, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, NULL, "not yet"); }
STUB (cmd_settlement_offer) STUB (cmd_settlement_approve) STUB (cmd_agency_refer)
STUB (cmd_writeoff_request) STUB (cmd_writeoff_approve) STUB (cmd_credit_check_add) STUB (cmd_credit_reference_add)
