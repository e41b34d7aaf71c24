/*  accounts: the collection state of each customer account beside its
    ledger: promises to pay and whether they were kept, payment plans and
    their instalments, disputes on invoices, the reason a customer does not
    pay, credit holds and cash-only, and `account_show`.                */
#ifndef RECOUP_ACCOUNTS_H
#define RECOUP_ACCOUNTS_H

#include "commands.h"

//  The customers whose account a write command changed (its ledger or
//  its collection state), so that each gets exactly one account.changed,
//  after all of the command's own events: handlers touch customers as
//  they change them and emit once at the end. Lives in the command's
//  arena; starts as { NULL } (none).
typedef struct {
    int64_t *slots;             //  customers.id, open addressing, 0 empty (arena)
    size_t cap;                 //  slots
    size_t count;               //  customers in it
} accounts_touched_t;

//  Adds customer `customer_id` (customers.id as text) to `self`; a
//  customer already in it is not added again.
void accounts_touch (cmdctx_t *ctx, accounts_touched_t *self, const char *customer_id);

//  The customers in `self` as a PostgreSQL array literal ("{1,5}", in the
//  arena), or NULL when there are none.
const char *accounts_touched_ids (cmdctx_t *ctx, const accounts_touched_t *self);

//  Emits one account.changed per customer in `self` (ledger_emit_accounts)
//  and empties it. Write commands only. Returns 0 or -1.
int accounts_touched_emit (cmdctx_t *ctx, accounts_touched_t *self);

//  Records what the ledger says as of `as_of` (YYYY-MM-DD) about promises
//  and plans whose outcome is not recorded yet, once per promise or plan:
//  promise.kept, promise.broken, plan.broken; a break also puts the
//  customer on credit hold and cash-only (account.state_changed when
//  that changed anything) and raises a sales flag. Every customer whose
//  collection that changed is added to `touched`, whose account.changed
//  the caller emits. Write commands only (ctx->writer set): every write
//  handler of this module calls it. Returns the number of promises and
//  plans recorded, or -1 on a database failure.
int accounts_evaluate_touching (cmdctx_t *ctx, const char *as_of,
                                accounts_touched_t *touched);

//  The policy's credit_hold step: puts customer `customer_id` on credit
//  hold and cash-only with `why` as the hold reason (account.state_changed,
//  change "hold_placed", by "" = recoupd) and raises a `hold` flag whose
//  subject is `on` (the step's date), unless the account is on hold and
//  cash-only already. An account a person put on hold keeps its hold and
//  reason and becomes cash-only too (no second flag). Touches the
//  customer. Write commands only. Returns 1 when placed, 2 when only
//  cash-only was added, 0 when both were in place already, -1 on a
//  database failure.
int accounts_hold_by_policy (cmdctx_t *ctx, const char *customer_id, const char *why,
                             const char *on, accounts_touched_t *touched);

//  accounts_evaluate_touching, then the account.changed of the customers
//  it changed (the daily engine calls it once per date it runs). Returns
//  the number of promises and plans recorded, or -1.
int accounts_evaluate (cmdctx_t *ctx, const char *as_of);

//  Fills the `collection` of each of `count` accounts (loaded by
//  ledger_accounts_load, ordered by ref, for the customers in `ids`, a
//  PostgreSQL array literal of customers.id, or every customer when
//  NULL) as of `as_of`, with a handful of queries for all of them:
//  stage and days past due (as account_show computes them), hold,
//  cash-only and reason as recorded in account_state (a break that
//  evaluation has not recorded yet is not shown: account_show reports
//  it with a notice), pending promises, open disputes and the flags not
//  acknowledged (without their notes). Uses each account's aging to
//  skip customers with nothing past due. Returns 0 or -1 on a database
//  error.
int accounts_collection_fill (cmdctx_t *ctx, Recoup__Account **accounts, size_t count,
                              const char *ids, const char *as_of);

//  Handlers.
command_fn cmd_promise_add, cmd_plan_add, cmd_dispute_open, cmd_dispute_resolve;
command_fn cmd_account_reason, cmd_hold_place, cmd_hold_lift, cmd_account_show;

#endif
