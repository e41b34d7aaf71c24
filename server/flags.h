/*  flags: sales flags. The customer's sales rep is told when the account
    is late (the policy's sales_flag step), disputes an invoice, breaks a
    promise or is put on hold; the rep acknowledges and adds notes; the
    collections lead sees the flags nobody has acknowledged.            */
#ifndef RECOUP_FLAGS_H
#define RECOUP_FLAGS_H

#include <stdint.h>

#include "commands.h"

//  Raises a flag for the customer `customer_id` of kind `kind` (late,
//  dispute, broken_promise, hold, ...) about `subject` (an invoice
//  number, a promise id, ...; "" for the account), addressed to the
//  customer's sales rep, with `text` for people. Idempotent: a flag with
//  the same customer, kind and subject is raised once; *raised (may be
//  NULL) says whether this call raised it. Emits flag.raised. Write
//  commands only. Returns 0 or -1.
int flags_raise (cmdctx_t *ctx, int64_t customer_id, const char *kind,
                 const char *subject, const char *text, int *raised);

command_fn cmd_flag_list, cmd_flag_ack, cmd_flag_note;

#endif
