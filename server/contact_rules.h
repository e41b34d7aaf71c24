/*  contact_rules: the contact rules of contacts.c (cease_contact,
    opt_out, quiet_hours, attempt_gap, call_after_conversation,
    call_limit) as a check that other modules can ask without logging a
    contact: the daily engine shows in the worklist which rule holds a
    step back and when it becomes allowed.                              */
#ifndef RECOUP_CONTACT_RULES_H
#define RECOUP_CONTACT_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "commands.h"

//  Checks an outbound contact by `channel` (phone, email, letter,
//  certified_letter, sms, visit, meeting) to customer `customer_id` (the
//  customers.id as text) at `at_us` (unix microseconds) against the
//  customer's preferences and the newest policy's contact rules, exactly
//  as contact_log would. Sets names to the broken rules (comma-separated,
//  "" when the contact is allowed) and message to the first one's
//  explanation for people (with when it becomes allowed, except for
//  cease_contact and opt_out, which never lapse). Read or write
//  commands. Returns 0, or -1 on a database failure.
int contacts_rules_check (cmdctx_t *ctx, const char *customer_id,
                          const char *channel, int64_t at_us, char *names,
                          size_t names_len, char *message, size_t message_len);

#endif
