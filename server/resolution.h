/*  resolution: how the collection of an account ends, and the credit
    records that should have prevented it: settlement offers (manager
    approval below the policy's floor), agency referrals (recoveries gross
    and net of the agency's fee), write-offs (requested by the desk,
    approved by a manager) and later recoveries; credit checks and trade
    and bank references.                                                 */
#ifndef RECOUP_RESOLUTION_H
#define RECOUP_RESOLUTION_H

#include "commands.h"
#include "accounts.h"

//  Brings settlements, write-offs and agency referrals up to date as of
//  `as_of` (YYYY-MM-DD): completes approved settlements whose payments
//  covered their amount before expiry (the rest written off as
//  `settlement` entries, dated the day the amount was covered), expires
//  the others past their expiry, turns unapplied cash received after a
//  write-off into a recovery on it, and records the agency recoveries
//  not announced yet. Emits settlement.completed, settlement.expired,
//  writeoff.recovered, agency.recovered and account.changed. Idempotent:
//  a second call with nothing new does nothing. Write commands only (the
//  resolution handlers call it; the daily engine may). Returns the
//  number of changes, or -1 on a database failure.
int resolution_evaluate (cmdctx_t *ctx, const char *as_of);

//  The credit alerts of invoice `invoice` just issued to customer
//  `customer_id` (the customers.id, as text), as of the business date:
//  credit.limit_exceeded when the customer has a credit limit above zero
//  and its open total in its account currency is above it;
//  credit.invoice_on_hold when the account is on credit hold or cash
//  only; either raises one `credit` flag (subject: the invoice) for the
//  rep and the collections lead, and touches the customer. Write
//  commands only. Returns 1 when alerted, 0 when not, -1 on a database
//  failure.
int resolution_credit_alert (cmdctx_t *ctx, const char *customer_id, const char *invoice,
                             accounts_touched_t *touched);

command_fn cmd_settlement_offer, cmd_settlement_approve, cmd_agency_refer;
command_fn cmd_writeoff_request, cmd_writeoff_approve;
command_fn cmd_credit_check_add, cmd_credit_reference_add;

#endif
