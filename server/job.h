/*  job: one request travelling through recoupd: received on the ROUTER by
    the main thread, run by the writer batch or the reader thread, and
    answered by the main thread (which alone touches the ROUTER).        */
#ifndef RECOUP_JOB_H
#define RECOUP_JOB_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "commands.h"

typedef struct {
    zmq_msg_t routing;          //  ROUTER routing id of the peer
    int delimiter;              //  peer sent an empty delimiter (REQ style)
    char user [64];             //  ZAP User-Id
    Recoup__Role role;          //  role at the time of receipt
    Recoup__Request *request;   //  unpacked request, owned
    const command_t *command;   //  what to run
    uint8_t *reply;             //  packed reply (malloc), owned
    size_t reply_len;           //  its size
    int store;                  //  keep the reply in `requests`
    uint8_t hash [32];          //  BLAKE2b of the request as received
    uint64_t published_seq;     //  last published seq when it arrived
} job_t;

//  Records the hash of the request bytes (to tell retries from reuse).
void job_hash (job_t *self, const void *data, size_t len);

//  Frees the job and everything it owns; sets *self_p to NULL.
void job_destroy (job_t **self_p);

//  Packs `reply` (protocol version and request id filled in) into the
//  job's reply buffer.
void job_set_reply (job_t *self, Recoup__Reply *reply);

//  Sets the job's reply to an error built on the stack.
void job_set_error (job_t *self, Recoup__ErrorCode code, const char *field,
                    const char *message);

#endif
