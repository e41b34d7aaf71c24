/*  zap: ZAP handler. See zap.h and https://rfc.zeromq.org/spec/27/.     */
#include "zap.h"
#include "../common/log.h"

#include <string.h>
#include <zmq.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_MAX_FRAMES 8

void *
zap_bind (void *ctx)
{
    void *socket = zmq_socket (ctx, ZMQ_REP);
    if (!socket)
        return NULL;
    int linger = 0;
    zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind (socket, ZAP_ENDPOINT) != 0) {
        zmq_close (socket);
        return NULL;
    }
    return socket;
}

//  Sends one reply frame; `more` for all but the last.
static void
s_send (void *socket, const void *data, size_t len, int more)
{
    zmq_send (socket, data, len, more ? ZMQ_SNDMORE : 0);
}

//  Decides one request. Returns the status code and fills user/text.
static const char *
s_decide (users_t *users, zmq_msg_t *frames, int count, const char **user,
          const char **text, char *key_out)
{
    *user = "";
    key_out [0] = 0;
    if (count < 7) {
        *text = "malformed ZAP request";
        return "500";
    }
    const char *mechanism = zmq_msg_data (&frames [5]);
    if (zmq_msg_size (&frames [5]) != 5 || memcmp (mechanism, "CURVE", 5) != 0) {
        *text = "only CURVE is accepted";
        return "400";
    }
    if (zmq_msg_size (&frames [6]) != 32) {
        *text = "malformed CURVE credentials";
        return "400";
    }
    zmq_z85_encode (key_out, zmq_msg_data (&frames [6]), 32);
    const user_entry_t *entry = users_by_key (users, key_out);
    if (!entry) {
        *text = "unknown key";
        return "400";
    }
    if (!entry->active) {
        *text = "user revoked";
        return "400";
    }
    size_t domain_len = zmq_msg_size (&frames [2]);
    const char *domain = zmq_msg_data (&frames [2]);
    int commands = domain_len == strlen (WIRE_ZAP_DOMAIN_COMMANDS)
                   && memcmp (domain, WIRE_ZAP_DOMAIN_COMMANDS, domain_len) == 0;
    int events = domain_len == strlen (WIRE_ZAP_DOMAIN_EVENTS)
                 && memcmp (domain, WIRE_ZAP_DOMAIN_EVENTS, domain_len) == 0;
    if (!commands && !events) {
        *text = "unknown domain";
        return "400";
    }
    if (events && entry->role == RECOUP__ROLE__IMPORTER) {
        *text = "importers may not read the event stream";
        return "400";
    }
    *user = entry->name;
    *text = "OK";
    return "200";
}

void
zap_handle (void *socket, users_t *users)
{
    while (1) {
        zmq_msg_t frames [ZAP_MAX_FRAMES];
        int count = 0, more = 1;
        while (more) {
            zmq_msg_t frame;
            zmq_msg_init (&frame);
            if (zmq_msg_recv (&frame, socket, count == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                zmq_msg_close (&frame);
                if (count == 0)
                    return;         //  nothing pending
                break;
            }
            more = zmq_msg_more (&frame);
            if (count < ZAP_MAX_FRAMES)
                frames [count++] = frame;
            else
                zmq_msg_close (&frame);
        }
        const char *user, *text;
        char key [41];
        const char *status = s_decide (users, frames, count, &user, &text, key);
        if (count >= 2) {
            s_send (socket, "1.0", 3, 1);
            s_send (socket, zmq_msg_data (&frames [1]), zmq_msg_size (&frames [1]), 1);
            s_send (socket, status, 3, 1);
            s_send (socket, text, strlen (text), 1);
            s_send (socket, user, strlen (user), 1);
            s_send (socket, "", 0, 0);
        }
        else
            s_send (socket, "", 0, 0);     //  keep REP's state machine sane
        if (strcmp (status, "200") != 0) {
            char address [64] = "", domain [64] = "";
            if (count >= 4) {
                size_t n = zmq_msg_size (&frames [3]);
                if (n >= sizeof address) n = sizeof address - 1;
                memcpy (address, zmq_msg_data (&frames [3]), n);
                address [n] = 0;
                n = zmq_msg_size (&frames [2]);
                if (n >= sizeof domain) n = sizeof domain - 1;
                memcpy (domain, zmq_msg_data (&frames [2]), n);
                domain [n] = 0;
            }
            log_warn ("handshake refused", "reason", text, "key", key,
                      "peer", address, "domain", domain);
        }
        for (int i = 0; i < count; i++)
            zmq_msg_close (&frames [i]);
    }
}
