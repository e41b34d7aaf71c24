/* placeholder: being written */
#include "ledger.h"
#include <stdio.h>
#include <stdlib.h>
#define STUB(fn) int fn (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply) \
    { (void) request; return cmd_error (ctx, reply, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, NULL, "not yet"); }
STUB (cmd_customer_create) STUB (cmd_customer_update) STUB (cmd_customer_show)
STUB (cmd_invoice_issue) STUB (cmd_payment_post) STUB (cmd_credit_note) STUB (cmd_entry_reverse)
