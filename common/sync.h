/*  sync: the client side of recoup's durable Clone pattern. It keeps a
    local view in step with the server:

    1. subscribe to the event socket first;
    2. start from a snapshot (state as of seq S), from a saved sequence
       number (replay everything after it), or from "now";
    3. apply only events with seq = last + 1; an event further ahead, or a
       heartbeat announcing a higher seq, means a gap: replay the hole
       over the command socket, then go on;
    4. persist (stream id, last seq) after each sync_start and sync_poll
       when a state file is set, so a restart of the client resumes where
       it stopped (events applied since the last save are delivered again
       after a crash: apply them idempotently, by seq).
       A different stream id (the server's database was replaced) starts
       again from a snapshot.

    The caller provides callbacks for the snapshot and for each event.  */
#ifndef RECOUP_SYNC_H
#define RECOUP_SYNC_H

#include <stdint.h>

#include "client.h"
#include "identity.h"
#include "wire.h"

typedef struct sync_t sync_t;

//  Called with a snapshot when the view starts (again) from one.
typedef void (sync_snapshot_fn) (void *arg, const Recoup__SnapshotReply *snapshot);
//  Called for every event, in order, exactly once.
typedef void (sync_event_fn) (void *arg, const Recoup__Event *event);

typedef enum {
    SYNC_FROM_SNAPSHOT,         //  full state, then events
    SYNC_FROM_SEQ,              //  events after a given seq (replay)
    SYNC_FROM_NOW               //  only events after the current head
} sync_start_t;

//  New agent for the identity. `ctx` is borrowed. Returns NULL with err.
sync_t *sync_new (void *ctx, const identity_t *identity, char *err,
                  size_t errlen);
void sync_destroy (sync_t **self_p);

//  Callbacks (either may be NULL) and their argument.
void sync_set_handlers (sync_t *self, sync_snapshot_fn *on_snapshot,
                        sync_event_fn *on_event, void *arg);

//  Keeps "stream_id seq" in this file; if it exists at sync_start, the
//  agent resumes from it whatever `start` says.
void sync_set_state_file (sync_t *self, const char *path);

//  Subscribes and starts. With SYNC_FROM_SEQ, `after` is the last seq
//  already seen (0 = from the beginning). Returns 0, or -1 with err
//  (server unreachable, key refused, ...).
int sync_start (sync_t *self, sync_start_t start, uint64_t after, char *err,
                size_t errlen);

//  Waits up to timeout_ms for events and applies them (recovering gaps).
//  Returns the number applied, or -1 on a fatal error (key refused,
//  permission denied), with err.
int sync_poll (sync_t *self, int timeout_ms, char *err, size_t errlen);

//  Highest seq applied.
uint64_t sync_last_seq (sync_t *self);

//  Highest seq the server has announced (heartbeats, replies).
uint64_t sync_head_seq (sync_t *self);

//  Number of gaps detected and repaired so far.
uint64_t sync_gaps (sync_t *self);

//  The command connection the agent uses (borrowed).
client_t *sync_client (sync_t *self);

#endif
