/*  reader: a thread with its own database connection that answers the
    read-only commands (status, snapshot, replay, user list), so a large
    snapshot never holds up the writer. The main thread hands it jobs
    over an inproc PAIR socket (a job_t pointer per message) and gets
    them back, answered, the same way.                                   */
#ifndef RECOUP_READER_H
#define RECOUP_READER_H

#include <stdint.h>

#include "job.h"

typedef struct reader_t reader_t;

//  Starts the thread. `pipe_endpoint` is the inproc endpoint the main
//  thread has bound a PAIR socket to. Returns NULL on failure.
reader_t *reader_new (void *ctx, const char *pipe_endpoint,
                      const char *conninfo, int64_t started_us);

//  Stops the thread (the main thread must send a NULL job first) and
//  frees it; sets *self_p to NULL.
void reader_destroy (reader_t **self_p);

#endif
