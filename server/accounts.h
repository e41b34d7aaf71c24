/*  accounts: the collection state of each customer account beside its
    ledger: promises to pay and whether they were kept, payment plans and
    their instalments, disputes on invoices, the reason a customer does not
    pay, credit holds and cash-only, and `account_show`.                */
#ifndef RECOUP_ACCOUNTS_H
#define RECOUP_ACCOUNTS_H

#include "commands.h"

//  Records what the ledger says as of `as_of` (YYYY-MM-DD) about promises
//  and plans whose outcome is not recorded yet, once per promise or plan:
//  promise.kept, promise.broken, plan.broken; a break also puts the
//  customer on credit hold and cash-only (account.state_changed when
//  that changed anything). Write commands only (ctx->writer set): the
//  daily engine and every write handler of this module call it. Returns
//  the number of promises and plans recorded, or -1 on a database
//  failure.
int accounts_evaluate (cmdctx_t *ctx, const char *as_of);

//  Fills the `collection` of each of `count` accounts (loaded by
//  ledger_accounts_load for the customers in `ids`, a PostgreSQL array
//  literal, or every customer when NULL) as of `as_of`: stage, hold,
//  cash-only, reason, pending promises, open disputes, flags not
//  acknowledged. Returns 0 or -1 on a database error.
int accounts_collection_fill (cmdctx_t *ctx, Recoup__Account **accounts, size_t count,
                              const char *ids, const char *as_of);

//  Handlers.
command_fn cmd_promise_add, cmd_plan_add, cmd_dispute_open, cmd_dispute_resolve;
command_fn cmd_account_reason, cmd_hold_place, cmd_hold_lift, cmd_account_show;

#endif
