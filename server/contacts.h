/*  contacts: the contact log (every call, email, letter, visit or meeting
    with a customer; append-only, each record's BLAKE2b hash chained to
    the previous one), the contact rules checked when a contact is logged
    (quiet hours in the customer's time zone, gaps between attempts, call
    limits, cease-contact and opt-outs), and the audit of the chain.     */
#ifndef RECOUP_CONTACTS_H
#define RECOUP_CONTACTS_H

#include "commands.h"

command_fn cmd_contact_log, cmd_contact_prefs, cmd_audit_verify;

#endif
