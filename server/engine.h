/*  engine: the daily collections engine. For a business date it derives
    each open invoice's and account's stage from the ledger, the contact
    log and the written policy (never from what an earlier run did),
    records the actions that fall due exactly once, catches up missed
    days, queues rendered messages in the outbox, and answers the
    worklist.                                                           */
#ifndef RECOUP_ENGINE_H
#define RECOUP_ENGINE_H

#include "commands.h"

command_fn cmd_engine_run, cmd_worklist, cmd_outbox_list;

#endif
