/*  sync: durable Clone-pattern client agent. See sync.h.                */
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SYNC_REPLAY_LIMIT 1000
#define SYNC_CALL_TIMEOUT_MS 15000

struct sync_t {
    void *ctx;                  //  borrowed context
    void *sub;                  //  event socket
    void *monitor;              //  its handshake events
    client_t *client;           //  command socket, for snapshot and replay
    char events_endpoint [256]; //  for messages
    sync_snapshot_fn *on_snapshot;
    sync_event_fn *on_event;
    void *arg;                  //  for the callbacks
    char state_file [PATH_MAX]; //  "" when not persisting
    char stream_id [64];        //  stream the view belongs to
    uint64_t last;              //  highest seq applied
    uint64_t saved;             //  last seq written to the state file
    uint64_t head;              //  highest seq announced by the server
    uint64_t gaps;              //  gaps repaired
    int ready;                  //  event socket handshake done
    int refused;                //  event socket handshake refused
};

sync_t *
sync_new (void *ctx, const identity_t *identity, char *err, size_t errlen)
{
    sync_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->ctx = ctx;
    snprintf (self->events_endpoint, sizeof self->events_endpoint, "%s",
              identity->events);
    self->client = client_new (ctx, identity, err, errlen);
    if (!self->client) {
        free (self);
        return NULL;
    }
    self->sub = zmq_socket (ctx, ZMQ_SUB);
    int linger = 0, reconnect = 100, reconnect_max = 1000, hwm = 100000;
    int heartbeat = 5000, heartbeat_timeout = 15000;
    zmq_setsockopt (self->sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (self->sub, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    zmq_setsockopt (self->sub, ZMQ_RECONNECT_IVL_MAX, &reconnect_max,
                    sizeof reconnect_max);
    zmq_setsockopt (self->sub, ZMQ_HEARTBEAT_IVL, &heartbeat, sizeof heartbeat);
    zmq_setsockopt (self->sub, ZMQ_HEARTBEAT_TIMEOUT, &heartbeat_timeout,
                    sizeof heartbeat_timeout);
    zmq_setsockopt (self->sub, ZMQ_CURVE_SERVERKEY, identity->server_public, 40);
    zmq_setsockopt (self->sub, ZMQ_CURVE_PUBLICKEY, identity->public_key, 40);
    zmq_setsockopt (self->sub, ZMQ_CURVE_SECRETKEY, identity->secret_key, 40);
    zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, "", 0);
    self->monitor = client_monitor_new (ctx, self->sub, "sub");
    if (!self->monitor || zmq_connect (self->sub, identity->events) != 0) {
        snprintf (err, errlen, "cannot connect to %s: %s", identity->events,
                  zmq_strerror (errno));
        sync_destroy (&self);
        return NULL;
    }
    return self;
}

void
sync_destroy (sync_t **self_p)
{
    sync_t *self = *self_p;
    if (!self)
        return;
    if (self->sub) {
        zmq_socket_monitor (self->sub, NULL, 0);
        zmq_close (self->sub);
    }
    if (self->monitor)
        zmq_close (self->monitor);
    client_destroy (&self->client);
    free (self);
    *self_p = NULL;
}

void
sync_set_handlers (sync_t *self, sync_snapshot_fn *on_snapshot,
                   sync_event_fn *on_event, void *arg)
{
    self->on_snapshot = on_snapshot;
    self->on_event = on_event;
    self->arg = arg;
}

void
sync_set_state_file (sync_t *self, const char *path)
{
    snprintf (self->state_file, sizeof self->state_file, "%s", path ? path : "");
}

uint64_t
sync_last_seq (sync_t *self)
{
    return self->last;
}

uint64_t
sync_head_seq (sync_t *self)
{
    return self->head;
}

uint64_t
sync_gaps (sync_t *self)
{
    return self->gaps;
}

client_t *
sync_client (sync_t *self)
{
    return self->client;
}

//  Writes the state file (temp file and rename) if the position moved.
static void
s_save_state (sync_t *self)
{
    if (!*self->state_file || self->saved == self->last)
        return;
    char temp [PATH_MAX + 8];
    snprintf (temp, sizeof temp, "%s.tmp", self->state_file);
    FILE *file = fopen (temp, "w");
    if (!file)
        return;
    fprintf (file, "%s %llu\n", self->stream_id, (unsigned long long) self->last);
    if (fclose (file) == 0 && rename (temp, self->state_file) == 0)
        self->saved = self->last;
}

//  Reads the state file. Returns 1 if it held a position.
static int
s_load_state (sync_t *self)
{
    if (!*self->state_file)
        return 0;
    FILE *file = fopen (self->state_file, "r");
    if (!file)
        return 0;
    char stream [64];
    unsigned long long seq;
    int ok = fscanf (file, "%63s %llu", stream, &seq) == 2;
    fclose (file);
    if (!ok)
        return 0;
    snprintf (self->stream_id, sizeof self->stream_id, "%s", stream);
    self->last = self->saved = seq;
    return 1;
}

//  Calls the server; returns the reply, or NULL with err (an error reply
//  is turned into a message too).
static Recoup__Reply *
s_call (sync_t *self, Recoup__Request *request, Recoup__Reply__ResultCase want,
        char *err, size_t errlen)
{
    client_status_t status;
    Recoup__Reply *reply = client_call (self->client, request,
                                        SYNC_CALL_TIMEOUT_MS, &status, err, errlen);
    if (!reply)
        return NULL;
    if (reply->result_case != want) {
        if (reply->result_case == RECOUP__REPLY__RESULT_ERROR)
            snprintf (err, errlen, "%s: %s", wire_error_name (reply->error->code),
                      reply->error->message);
        else
            snprintf (err, errlen, "unexpected reply from the server");
        recoup__reply__free_unpacked (reply, NULL);
        return NULL;
    }
    return reply;
}

static int s_take_snapshot (sync_t *self, char *err, size_t errlen);

//  Our stream is not the server's any more (its database was replaced):
//  start again, from a snapshot if the caller keeps state.
static int
s_reset (sync_t *self, const char *stream_id, char *err, size_t errlen)
{
    snprintf (self->stream_id, sizeof self->stream_id, "%s", stream_id);
    self->last = 0;
    self->saved = (uint64_t) -1;
    if (self->on_snapshot)
        return s_take_snapshot (self, err, errlen);
    return 0;
}

static int
s_take_snapshot (sync_t *self, char *err, size_t errlen)
{
    Recoup__SnapshotRequest snap = RECOUP__SNAPSHOT_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_SNAPSHOT;
    request.snapshot = &snap;
    Recoup__Reply *reply = s_call (self, &request, RECOUP__REPLY__RESULT_SNAPSHOT,
                                   err, errlen);
    if (!reply)
        return -1;
    snprintf (self->stream_id, sizeof self->stream_id, "%s",
              reply->snapshot->stream_id);
    self->last = reply->snapshot->seq;
    if (self->last > self->head)
        self->head = self->last;
    if (self->on_snapshot)
        self->on_snapshot (self->arg, reply->snapshot);
    recoup__reply__free_unpacked (reply, NULL);
    return 0;
}

//  Applies one event if it is the next one. Returns 1 if applied.
static int
s_apply (sync_t *self, const Recoup__Event *event)
{
    if (event->seq != self->last + 1)
        return 0;
    if (self->on_event)
        self->on_event (self->arg, event);
    self->last = event->seq;
    if (self->last > self->head)
        self->head = self->last;
    return 1;
}

//  Replays until the view has every event up to `target` (or the
//  server's head, whichever is higher). Returns events applied or -1.
static int
s_catch_up (sync_t *self, uint64_t target, char *err, size_t errlen)
{
    int applied = 0;
    while (self->last < target) {
        Recoup__ReplayRequest replay = RECOUP__REPLAY_REQUEST__INIT;
        replay.after = self->last;
        replay.limit = SYNC_REPLAY_LIMIT;
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.command_case = RECOUP__REQUEST__COMMAND_REPLAY;
        request.replay = &replay;
        Recoup__Reply *reply = s_call (self, &request,
                                       RECOUP__REPLY__RESULT_REPLAY, err, errlen);
        if (!reply)
            return -1;
        Recoup__ReplayReply *result = reply->replay;
        if (*self->stream_id && strcmp (result->stream_id, self->stream_id) != 0) {
            char stream [64];
            snprintf (stream, sizeof stream, "%s", result->stream_id);
            recoup__reply__free_unpacked (reply, NULL);
            if (s_reset (self, stream, err, errlen) != 0)
                return -1;
            continue;
        }
        snprintf (self->stream_id, sizeof self->stream_id, "%s", result->stream_id);
        if (result->last_seq < self->last) {
            //  The server's history ends before what we saw: its database
            //  was restored from an older backup. Start again.
            char stream [64];
            snprintf (stream, sizeof stream, "%s", result->stream_id);
            recoup__reply__free_unpacked (reply, NULL);
            if (s_reset (self, stream, err, errlen) != 0)
                return -1;
            target = 0;
            continue;
        }
        if (result->last_seq > self->head)
            self->head = result->last_seq;
        if (result->last_seq > target)
            target = result->last_seq;
        for (size_t i = 0; i < result->n_events; i++)
            applied += s_apply (self, result->events [i]);
        int stuck = result->n_events == 0;
        recoup__reply__free_unpacked (reply, NULL);
        if (stuck)
            break;              //  the server has nothing more (yet)
    }
    return applied;
}

int
sync_start (sync_t *self, sync_start_t start, uint64_t after, char *err,
            size_t errlen)
{
    if (s_load_state (self)) {
        start = SYNC_FROM_SEQ;
        after = self->last;
    }
    if (start == SYNC_FROM_SNAPSHOT) {
        int rc = s_take_snapshot (self, err, errlen);
        s_save_state (self);
        return rc;
    }
    if (start == SYNC_FROM_NOW) {
        Recoup__StatusRequest status = RECOUP__STATUS_REQUEST__INIT;
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
        request.status = &status;
        Recoup__Reply *reply = s_call (self, &request, RECOUP__REPLY__RESULT_STATUS,
                                       err, errlen);
        if (!reply)
            return -1;
        snprintf (self->stream_id, sizeof self->stream_id, "%s",
                  reply->status->stream_id);
        self->last = self->head = reply->status->seq;
        recoup__reply__free_unpacked (reply, NULL);
        s_save_state (self);
        return 0;
    }
    self->last = after;
    int rc = s_catch_up (self, after + 1, err, errlen) < 0 ? -1 : 0;
    s_save_state (self);
    return rc;
}

//  Handles one publication [topic, body]. Returns events applied or -1.
static int
s_receive (sync_t *self, char *err, size_t errlen)
{
    zmq_msg_t topic, body;
    zmq_msg_init (&topic);
    if (zmq_msg_recv (&topic, self->sub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&topic);
        return 0;
    }
    if (!zmq_msg_more (&topic)) {
        zmq_msg_close (&topic);
        return 0;
    }
    zmq_msg_init (&body);
    zmq_msg_recv (&body, self->sub, 0);
    while (zmq_msg_more (&body)) {      //  ignore extra frames
        zmq_msg_t extra;
        zmq_msg_init (&extra);
        zmq_msg_recv (&extra, self->sub, 0);
        int more = zmq_msg_more (&extra);
        zmq_msg_close (&extra);
        if (!more)
            break;
    }
    int applied = 0;
    size_t topic_len = zmq_msg_size (&topic);
    const char *topic_data = zmq_msg_data (&topic);
    size_t hb_len = strlen (WIRE_TOPIC_HEARTBEAT);
    if (topic_len == hb_len && memcmp (topic_data, WIRE_TOPIC_HEARTBEAT, hb_len) == 0) {
        Recoup__Heartbeat *beat = recoup__heartbeat__unpack (
            NULL, zmq_msg_size (&body), zmq_msg_data (&body));
        if (beat) {
            if (*self->stream_id && strcmp (beat->stream_id, self->stream_id) != 0)
                applied = s_reset (self, beat->stream_id, err, errlen) < 0 ? -1 : 0;
            if (applied >= 0) {
                if (beat->seq > self->head)
                    self->head = beat->seq;
                if (beat->seq > self->last) {
                    self->gaps++;
                    applied = s_catch_up (self, beat->seq, err, errlen);
                }
                else if (beat->seq < self->last)
                    //  Behind us: a race with a replay, or a database
                    //  restored from an older backup. A replay tells.
                    applied = s_catch_up (self, self->last + 1, err, errlen);
            }
            recoup__heartbeat__free_unpacked (beat, NULL);
        }
    }
    else {
        Recoup__Event *event = recoup__event__unpack (NULL, zmq_msg_size (&body),
                                                      zmq_msg_data (&body));
        if (event) {
            if (event->seq > self->head)
                self->head = event->seq;
            if (*self->stream_id && strcmp (event->stream_id, self->stream_id) != 0)
                applied = s_reset (self, event->stream_id, err, errlen) < 0 ? -1 : 0;
            else if (event->seq == self->last + 1)
                applied = s_apply (self, event);
            else if (event->seq > self->last + 1) {
                //  A hole: fetch what is missing, this event included.
                self->gaps++;
                applied = s_catch_up (self, event->seq, err, errlen);
            }
            recoup__event__free_unpacked (event, NULL);
        }
    }
    zmq_msg_close (&topic);
    zmq_msg_close (&body);
    return applied;
}

int
sync_poll (sync_t *self, int timeout_ms, char *err, size_t errlen)
{
    long long deadline = wire_clock_ms () + timeout_ms;
    int applied = 0;
    while (1) {
        long long now = wire_clock_ms ();
        long wait = applied > 0 ? 0 : (long) (deadline > now ? deadline - now : 0);
        zmq_pollitem_t items [] = {
            { self->sub, 0, ZMQ_POLLIN, 0 },
            { self->monitor, 0, ZMQ_POLLIN, 0 },
        };
        int rc = zmq_poll (items, 2, wait);
        if (rc < 0) {
            if (errno == EINTR) {
                snprintf (err, errlen, "interrupted");
                return -1;
            }
            break;
        }
        if (items [1].revents & ZMQ_POLLIN) {
            client_monitor_read (self->monitor, NULL, &self->ready, &self->refused,
                                 NULL);
            if (self->refused == 2)
                self->refused = 0;      //  counted by the command client
            if (self->refused) {
                snprintf (err, errlen,
                          "the server at %s refused this key on the event "
                          "socket (unknown, revoked, or a role that may not "
                          "read events)", self->events_endpoint);
                return -1;
            }
        }
        if (items [0].revents & ZMQ_POLLIN) {
            //  Drain what is waiting, then return.
            for (int i = 0; i < 10000; i++) {
                int events = 0;
                size_t len = sizeof events;
                int got = s_receive (self, err, errlen);
                if (got < 0)
                    return -1;
                applied += got;
                zmq_getsockopt (self->sub, ZMQ_EVENTS, &events, &len);
                if (!(events & ZMQ_POLLIN))
                    break;
            }
        }
        if (applied > 0 || rc == 0 || wire_clock_ms () >= deadline)
            break;
    }
    s_save_state (self);
    return applied;
}
