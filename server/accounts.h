/*  accounts: the collection state of each customer account beside its
    ledger: promises to pay and whether they were kept, payment plans and
    their instalments, disputes on invoices, the reason a customer does not
    pay, credit holds and cash-only, and `account_show`.                */
#ifndef RECOUP_ACCOUNTS_H
#define RECOUP_ACCOUNTS_H

#include "commands.h"

command_fn cmd_promise_add, cmd_plan_add, cmd_dispute_open, cmd_dispute_resolve;
command_fn cmd_account_reason, cmd_hold_place, cmd_hold_lift, cmd_account_show;

#endif
