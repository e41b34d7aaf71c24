/*  client: a connection to recoupd's command socket (DEALER, CURVE
    client) that sends a request and waits for its reply, resending with
    the same request id when the connection drops, and tells apart the
    ways a call can fail: server unreachable, key refused, timed out.   */
#ifndef RECOUP_CLIENT_H
#define RECOUP_CLIENT_H

#include <stddef.h>

#include "identity.h"
#include "wire.h"

typedef enum {
    CLIENT_OK = 0,
    CLIENT_UNREACHABLE,         //  no TCP connection to the server
    CLIENT_REFUSED,             //  the server refused our key (ZAP)
    CLIENT_TIMEOUT,             //  connected, but no reply in time
    CLIENT_BAD_REPLY,           //  reply did not parse
    CLIENT_FAILED               //  local failure (socket, memory)
} client_status_t;

typedef struct client_t client_t;

//  Connects to the identity's command endpoint (asynchronously). `ctx`
//  is a ZeroMQ context (borrowed). Returns NULL with err on failure.
client_t *client_new (void *ctx, const identity_t *identity, char *err,
                      size_t errlen);
void client_destroy (client_t **self_p);

//  Sends `request` (protocol_version and, if empty, request_id are
//  filled in) and waits up to timeout_ms for its reply. UNAVAILABLE
//  replies are retried until the deadline. Returns the reply (caller
//  frees with recoup__reply__free_unpacked), or NULL with *status and a
//  message in err.
Recoup__Reply *client_call (client_t *self, Recoup__Request *request,
                            int timeout_ms, client_status_t *status,
                            char *err, size_t errlen);

//  The underlying DEALER socket (for tests that need raw access).
void *client_socket (client_t *self);

//  Watches a socket's handshakes: creates a monitor for it. Shared with
//  the sync agent. Returns the PAIR socket that receives events.
void *client_monitor_new (void *ctx, void *socket, const char *tag);

//  Reads pending monitor events: sets *connected on a TCP connect,
//  *ready on a successful handshake, *refused to 1 on an auth failure
//  (or 2 on a handshake failure without detail, e.g. a wrong server key),
//  *disconnected on a disconnect. Flags are only ever set, not cleared.
void client_monitor_read (void *monitor, int *connected, int *ready,
                          int *refused, int *disconnected);

#endif
