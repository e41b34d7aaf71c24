/* placeholder: being written */
#include "flags.h"
#define STUB(fn) int fn (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply) \
    { (void) request; return cmd_error (ctx, reply, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, NULL, "not yet"); }
STUB (cmd_flag_list) STUB (cmd_flag_ack) STUB (cmd_flag_note)
int flags_raise (cmdctx_t *ctx, int64_t customer_id, const char *kind, const char *subject,
                 const char *text, int *raised)
{ (void) ctx; (void) customer_id; (void) kind; (void) subject; (void) text; if (raised) *raised = 0; return -1; }
