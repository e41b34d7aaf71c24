/*  engine: the daily collections engine. For a business date it derives
    each open invoice's and account's stage from the ledger, the contact
    log and the written policy (never from what an earlier run did),
    records the actions that fall due exactly once, catches up missed
    days, queues rendered messages in the outbox, and answers the
    worklist.                                                           */
#ifndef RECOUP_ENGINE_H
#define RECOUP_ENGINE_H

#include "commands.h"
#include "writer.h"

command_fn cmd_engine_run, cmd_worklist;

//  The automatic daily run: when the business date has not been run
//  yet, runs the engine for it (catching up the dates missed since the
//  last run) through the writer as the server itself ("recoupd"), like
//  any command: one transaction with its events, published on `pub`
//  (may be NULL: they go out with the next batch). Cheap when the date
//  is done (one indexed read): call it from the main loop at most once a
//  minute. Failures are logged; the next call tries again. Does nothing
//  when the environment has RECOUP_ENGINE_DAILY=off (tests that run the
//  engine date by date).
void engine_daily (db_t *db, writer_t *writer, void *pub);

#endif
