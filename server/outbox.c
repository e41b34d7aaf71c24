/*  outbox: see outbox.h. (Scaffolding: handlers to be written.)       */
#include "outbox.h"

int
cmd_outbox_due (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    (void) request;
    return cmd_error (ctx, reply, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, "outbox_due",
                      "outbox_due is not implemented yet");
}

int
cmd_outbox_mark (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    (void) request;
    return cmd_error (ctx, reply, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, "outbox_mark",
                      "outbox_mark is not implemented yet");
}
