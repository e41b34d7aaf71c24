/*  flags: sales flags. The customer's sales rep is told when the account
    is late (the policy's sales_flag step), disputes an invoice, breaks a
    promise or is put on hold; the rep acknowledges and adds notes; the
    collections lead sees the flags nobody has acknowledged.            */
#ifndef RECOUP_FLAGS_H
#define RECOUP_FLAGS_H

#include <stdint.h>

#include "accounts.h"
#include "commands.h"

//  Raises a flag for the customer `customer_id` of kind `kind` (late,
//  dispute, broken_promise, hold, ...) about `subject` (an invoice
//  number, a promise id, ...; "" for the account), addressed to the
//  customer's sales rep, with `text` for people. Idempotent: a flag with
//  the same customer, kind and subject is raised once; *raised (may be
//  NULL) says whether this call raised it. Emits flag.raised and, when
//  raised, the customer's account.changed (its open flags changed).
//  Write commands only. Returns 0 or -1.
int flags_raise (cmdctx_t *ctx, int64_t customer_id, const char *kind,
                 const char *subject, const char *text, int *raised);

//  flags_raise for a command that changes more of the account: a raised
//  flag adds the customer to `touched` instead of emitting
//  account.changed, which the caller does once at its end
//  (accounts_touched_emit).
int flags_raise_touching (cmdctx_t *ctx, int64_t customer_id, const char *kind,
                          const char *subject, const char *text, int *raised,
                          accounts_touched_t *touched);

//  The flags not acknowledged as of `as_of` (raised by then, and not
//  acknowledged by then) of the customers in `ids` (a PostgreSQL array
//  literal of customers.id; NULL: every customer), without their notes,
//  grouped by customer (by customers.id), oldest first within each; as of
//  `as_of` also for days_open. Sets *flags (an array in the arena) and
//  *count. Returns 0 or -1 on a database error.
int flags_open_load (cmdctx_t *ctx, const char *ids, const char *as_of,
                     Recoup__SalesFlag ***flags, size_t *count);

command_fn cmd_flag_list, cmd_flag_ack, cmd_flag_note;

#endif
