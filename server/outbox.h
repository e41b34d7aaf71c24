/*  outbox: delivering what the engine queued. A sender (the `recoup
    outbox send` client, or a person printing letters) asks which queued
    emails may go out now (outbox_due: the contact rules judged in each
    customer's zone) and records each attempt (outbox_mark): a message
    sent is logged in the contact log as an outbound contact; a failure
    is kept with its error and tried again later. The outbox rows
    themselves never change: they are the copy of what was sent.        */
#ifndef RECOUP_OUTBOX_H
#define RECOUP_OUTBOX_H

#include "commands.h"

command_fn cmd_outbox_list, cmd_outbox_due, cmd_outbox_mark;

#endif
