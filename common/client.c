/*  client: request/reply over the command socket. See client.h.        */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  Resend an unanswered request this often (same request id: the server
//  answers a repeat from its stored reply).
#define CLIENT_RESEND_MS 3000
#define CLIENT_UNAVAILABLE_PAUSE_MS 200

struct client_t {
    void *ctx;                  //  borrowed context
    void *dealer;               //  command socket
    void *monitor;              //  its handshake events
    char endpoint [256];        //  for messages
    int connected;              //  ever had a TCP connection
    int ready;                  //  ever completed a handshake
    int refused;                //  1: refused by ZAP; 2: failed, no detail
    int bad_handshakes;         //  failures without detail so far
};

void *
client_monitor_new (void *ctx, void *socket, const char *tag)
{
    char endpoint [128];
    static int counter = 0;
    snprintf (endpoint, sizeof endpoint, "inproc://monitor-%s-%p-%d", tag,
              socket, __sync_fetch_and_add (&counter, 1));
    if (zmq_socket_monitor (socket, endpoint,
                            ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
                            | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                            | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                            | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
        return NULL;
    void *monitor = zmq_socket (ctx, ZMQ_PAIR);
    int linger = 0;
    zmq_setsockopt (monitor, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect (monitor, endpoint) != 0) {
        zmq_close (monitor);
        return NULL;
    }
    return monitor;
}

void
client_monitor_read (void *monitor, int *connected, int *ready, int *refused,
                     int *disconnected)
{
    while (1) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size (&frame) >= 2)
            memcpy (&event, zmq_msg_data (&frame), 2);
        int more = zmq_msg_more (&frame);
        zmq_msg_close (&frame);
        while (more) {              //  the endpoint frame
            zmq_msg_init (&frame);
            zmq_msg_recv (&frame, monitor, 0);
            more = zmq_msg_more (&frame);
            zmq_msg_close (&frame);
        }
        if (event == ZMQ_EVENT_CONNECTED && connected)
            *connected = 1;
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && ready)
            *ready = 1;
        if ((event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
             || event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) && refused)
            *refused = 1;
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL && refused && !*refused)
            *refused = 2;
        if (event == ZMQ_EVENT_DISCONNECTED && disconnected)
            *disconnected = 1;
    }
}

client_t *
client_new (void *ctx, const identity_t *identity, char *err, size_t errlen)
{
    client_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->ctx = ctx;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", identity->commands);
    self->dealer = zmq_socket (ctx, ZMQ_DEALER);
    int linger = 0, reconnect = 100, reconnect_max = 1000;
    int heartbeat = 5000, heartbeat_timeout = 15000;
    zmq_setsockopt (self->dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->dealer, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    zmq_setsockopt (self->dealer, ZMQ_RECONNECT_IVL_MAX, &reconnect_max,
                    sizeof reconnect_max);
    zmq_setsockopt (self->dealer, ZMQ_HEARTBEAT_IVL, &heartbeat, sizeof heartbeat);
    zmq_setsockopt (self->dealer, ZMQ_HEARTBEAT_TIMEOUT, &heartbeat_timeout,
                    sizeof heartbeat_timeout);
    zmq_setsockopt (self->dealer, ZMQ_CURVE_SERVERKEY, identity->server_public, 40);
    zmq_setsockopt (self->dealer, ZMQ_CURVE_PUBLICKEY, identity->public_key, 40);
    zmq_setsockopt (self->dealer, ZMQ_CURVE_SECRETKEY, identity->secret_key, 40);
    self->monitor = client_monitor_new (ctx, self->dealer, "cmd");
    if (!self->monitor || zmq_connect (self->dealer, identity->commands) != 0) {
        snprintf (err, errlen, "cannot connect to %s: %s", identity->commands,
                  zmq_strerror (errno));
        client_destroy (&self);
        return NULL;
    }
    return self;
}

void
client_destroy (client_t **self_p)
{
    client_t *self = *self_p;
    if (!self)
        return;
    if (self->dealer) {
        zmq_socket_monitor (self->dealer, NULL, 0);
        zmq_close (self->dealer);
    }
    if (self->monitor)
        zmq_close (self->monitor);
    free (self);
    *self_p = NULL;
}

void *
client_socket (client_t *self)
{
    return self->dealer;
}

Recoup__Reply *
client_call (client_t *self, Recoup__Request *request, int timeout_ms,
             client_status_t *status, char *err, size_t errlen)
{
    char request_id [33];
    char *original_id = request->request_id;
    if (!request->request_id || !*request->request_id) {
        wire_request_id (request_id);
        request->request_id = request_id;
    }
    request->protocol_version = PROTOCOL_VERSION;
    size_t len;
    uint8_t *packed = wire_pack (&request->base, &len);
    Recoup__Reply *reply = NULL;
    *status = CLIENT_FAILED;
    if (!packed) {
        snprintf (err, errlen, "out of memory");
        goto done;
    }
    long long deadline = wire_clock_ms () + timeout_ms;
    long long resend_at = 0;
    while (1) {
        long long now = wire_clock_ms ();
        if (now >= resend_at) {
            if (zmq_send (self->dealer, packed, len, ZMQ_DONTWAIT) < 0
                && errno != EAGAIN) {
                snprintf (err, errlen, "send: %s", zmq_strerror (errno));
                goto done;
            }
            resend_at = now + CLIENT_RESEND_MS;
        }
        if (now >= deadline)
            break;
        long long wake = deadline < resend_at ? deadline : resend_at;
        zmq_pollitem_t items [] = {
            { self->dealer, 0, ZMQ_POLLIN, 0 },
            { self->monitor, 0, ZMQ_POLLIN, 0 },
        };
        int rc = zmq_poll (items, 2, (long) (wake - now));
        if (rc < 0) {
            if (errno == EINTR) {
                snprintf (err, errlen, "interrupted");
                goto done;
            }
            continue;
        }
        if (items [1].revents & ZMQ_POLLIN) {
            int disconnected = 0;
            client_monitor_read (self->monitor, &self->connected, &self->ready,
                                 &self->refused, &disconnected);
            if (self->refused == 1) {
                *status = CLIENT_REFUSED;
                snprintf (err, errlen,
                          "the server at %s refused this key: the user is "
                          "unknown, revoked, or not allowed on this socket",
                          self->endpoint);
                goto done;
            }
            //  Handshakes that fail without a word, again and again: the
            //  identity's server key is not this server's.
            if (self->refused == 2 && ++self->bad_handshakes >= 3 && !self->ready) {
                *status = CLIENT_REFUSED;
                snprintf (err, errlen,
                          "the CURVE handshake with %s keeps failing: is "
                          "server_public_key in the identity file this "
                          "server's key?", self->endpoint);
                goto done;
            }
            if (self->refused == 2)
                self->refused = 0;
            //  The connection dropped: whatever we sent may be lost.
            if (disconnected)
                resend_at = 0;
        }
        if (!(items [0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, self->dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            continue;
        }
        //  Skip an empty delimiter, should the server echo one.
        if (zmq_msg_size (&msg) == 0 && zmq_msg_more (&msg)) {
            zmq_msg_close (&msg);
            zmq_msg_init (&msg);
            zmq_msg_recv (&msg, self->dealer, 0);
        }
        Recoup__Reply *got = recoup__reply__unpack (NULL, zmq_msg_size (&msg),
                                                    zmq_msg_data (&msg));
        zmq_msg_close (&msg);
        if (!got) {
            *status = CLIENT_BAD_REPLY;
            snprintf (err, errlen, "the server sent a reply that does not parse");
            goto done;
        }
        //  An error without a request id is the server saying it could
        //  not read ours (too large, not protobuf): it answers this call.
        int ours = strcmp (got->request_id, request->request_id) == 0
                   || (*got->request_id == 0
                       && got->result_case == RECOUP__REPLY__RESULT_ERROR);
        if (!ours) {
            recoup__reply__free_unpacked (got, NULL);
            continue;               //  a late reply to an earlier request
        }
        if (got->result_case == RECOUP__REPLY__RESULT_ERROR
            && got->error->code == RECOUP__ERROR_CODE__UNAVAILABLE
            && wire_clock_ms () + CLIENT_UNAVAILABLE_PAUSE_MS < deadline) {
            recoup__reply__free_unpacked (got, NULL);
            zmq_poll (NULL, 0, CLIENT_UNAVAILABLE_PAUSE_MS);
            resend_at = 0;
            continue;
        }
        reply = got;
        *status = CLIENT_OK;
        goto done;
    }
    client_monitor_read (self->monitor, &self->connected, &self->ready,
                         &self->refused, NULL);
    if (self->refused == 1) {
        *status = CLIENT_REFUSED;
        snprintf (err, errlen, "the server at %s refused this key: the user "
                  "is unknown, revoked, or not allowed on this socket",
                  self->endpoint);
    }
    else if (!self->connected) {
        *status = CLIENT_UNREACHABLE;
        snprintf (err, errlen, "cannot reach the server at %s (is recoupd "
                  "running?)", self->endpoint);
    }
    else {
        *status = CLIENT_TIMEOUT;
        snprintf (err, errlen, "no reply from the server at %s within %d ms",
                  self->endpoint, timeout_ms);
    }
done:
    free (packed);
    request->request_id = original_id;
    return reply;
}
