/*  contacts: the contact log (every call, email, letter, visit or meeting
    with a customer; append-only, each record's BLAKE2b hash chained to
    the previous one), the contact rules checked when a contact is logged
    (quiet hours in the customer's time zone, gaps between attempts, call
    limits, cease-contact and opt-outs), and the audit of the chain.

    contacts_record is contact_log's path for other write commands that
    make a contact (outbox_mark: an email or letter sent), so that every
    contact is judged by the same rules and lands in the same chain.    */
#ifndef RECOUP_CONTACTS_H
#define RECOUP_CONTACTS_H

#include <stddef.h>
#include <stdint.h>

#include "commands.h"

command_fn cmd_contact_log, cmd_contact_prefs, cmd_audit_verify;

//  A contact to record. Strings are borrowed.
typedef struct {
    const char *customer;       //  the customer's ref
    const char *channel;        //  phone, email, letter, certified_letter, sms,
                                //  visit, meeting
    const char *direction;      //  in, out
    const char *outcome;        //  no_answer, left_message, spoke, promised,
                                //  disputed, refused, wrong_number, sent,
                                //  delivered, returned
    const char *note;           //  0 to 4000 characters
    int64_t at_us;              //  when it happened, unix microseconds
    const char *override_reason;    //  "" none, else 1 to 500 characters
} contacts_entry_t;

//  Records a contact exactly as contact_log does, inside the caller's
//  write command: checks an outbound contact against the customer's
//  preferences and the contact rules at entry->at_us, appends it to the
//  hash chain (logged by ctx->user) and emits contact.logged. `command`
//  names the fields of errors: NOT_FOUND on "<command>.customer",
//  FORBIDDEN_BY_RULE on "<command>" naming the rule and when it allows
//  the contact. Text lengths are the caller's to check (contact_log's
//  limits); a channel, direction or outcome outside the lists is refused
//  with INVALID_ARGUMENT on "<command>".
//  Returns 0 with *contact (in the arena), *seq (the event) and *warning
//  (what was overridden, or "") set; or 0 with an error in reply and
//  nothing recorded; or -1 on a database failure.
int contacts_record (cmdctx_t *ctx, Recoup__Reply *reply, const char *command,
                     const contacts_entry_t *entry, Recoup__Contact **contact,
                     uint64_t *seq, const char **warning);

//  Parses an ISO 8601 time with a zone (YYYY-MM-DDTHH:MM[:SS[.fraction]]
//  then Z or an offset) into unix microseconds, as contact_log.at.
//  Returns 0, or -1 with what is wrong in err.
int contacts_parse_time (const char *text, int64_t *us, char *err, size_t errlen);

//  Unix microseconds as ISO 8601 UTC ("2026-11-22T14:05:00Z", a fraction
//  only when there is one), in ctx's arena.
const char *contacts_time_text (cmdctx_t *ctx, int64_t us);

#endif
