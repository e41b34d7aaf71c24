/*  resolution: how the collection of an account ends, and the credit
    records that should have prevented it: settlement offers (manager
    approval below the policy's floor), agency referrals (recoveries gross
    and net of the agency's fee), write-offs (requested by the desk,
    approved by a manager) and later recoveries; credit checks and trade
    and bank references.                                                 */
#ifndef RECOUP_RESOLUTION_H
#define RECOUP_RESOLUTION_H

#include "commands.h"

command_fn cmd_settlement_offer, cmd_settlement_approve, cmd_agency_refer;
command_fn cmd_writeoff_request, cmd_writeoff_approve;
command_fn cmd_credit_check_add, cmd_credit_reference_add;

#endif
