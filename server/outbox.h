/*  outbox: what the daily engine queued (email, letter, certified
    letter; the rows never change: they are the copy of what was sent)
    and its delivery. recoupd sends nothing itself: a sender (`recoup
    outbox send`, or a person printing letters) asks which queued emails
    may go out now (outbox_due: the contact rules judged in each
    customer's zone) and records each attempt (outbox_mark): a message
    sent is logged in the contact log as an outbound contact, through
    the same path as contact_log; a failure is kept with its error and
    the email offered again after a backoff. See outbox.c and
    PROTOCOL.md 7.35-7.37.                                              */
#ifndef RECOUP_OUTBOX_H
#define RECOUP_OUTBOX_H

#include "commands.h"

//  outbox_list (read): the messages with their delivery state.
//  outbox_due (read): the emails a sender may deliver at an instant.
//  outbox_mark (write): records a delivery attempt; sent logs a contact.
command_fn cmd_outbox_list, cmd_outbox_due, cmd_outbox_mark;

#endif
