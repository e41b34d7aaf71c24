/*  writer: the only code that changes the database. It runs the write
    commands of a batch in one transaction (group commit), gives every
    event the next sequence number, stores each command's reply under its
    request id in the same transaction, and after COMMIT publishes the
    events in sequence order. A request id seen before is answered from
    the stored reply without running the command again.

    One writer per database (an advisory lock makes sure), on the main
    thread.                                                              */
#ifndef RECOUP_WRITER_H
#define RECOUP_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "job.h"

//  New writer on `db` (borrowed; connected by the caller).
writer_t *writer_new (db_t *db);
void writer_destroy (writer_t **self_p);

//  After every (re)connect: takes the writer lock, prepares statements,
//  reads stream id, tenant and the next sequence number. Returns 0, or
//  -1 with err.
int writer_prepare (writer_t *self, char *err, size_t errlen);

//  Runs a batch of write jobs and fills in each job's reply. Committed
//  events wait in the writer until writer_publish.
void writer_run (writer_t *self, job_t **jobs, size_t count);

//  Publishes every committed event not yet published, in order, on the
//  PUB socket. After a reconnect it reads them from the database, so an
//  event whose commit outcome was unknown is published if it exists.
//  Returns 0, or -1 when the database could not be read.
int writer_publish (writer_t *self, void *pub);

//  Sends a heartbeat with the last published sequence number.
void writer_heartbeat (writer_t *self, void *pub);

//  Last published sequence number.
uint64_t writer_last_published (writer_t *self);

//  True (once) if a committed batch changed the users table.
int writer_take_users_changed (writer_t *self);

//  Deletes stored replies older than the idempotency window.
void writer_prune (writer_t *self);

//  The database's stream id and tenant ("" before writer_prepare).
const char *writer_stream_id (writer_t *self);
const char *writer_tenant (writer_t *self);

#endif
