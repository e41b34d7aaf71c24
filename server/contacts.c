/* placeholder: being written */
#include "contacts.h"
#define STUB(fn) int fn (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply) \
    { (void) request; return cmd_error (ctx, reply, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, NULL, "not yet"); }
STUB (cmd_contact_log) STUB (cmd_contact_prefs) STUB (cmd_audit_verify)
