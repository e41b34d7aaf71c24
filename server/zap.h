/*  zap: recoupd's RFC 27 ZAP handler. It is bound (inproc) before any
    CURVE socket binds, so no handshake is ever accepted unchecked. A
    handshake passes when its public key belongs to an active user and,
    on the event socket's domain, the user's role may read events
    (importers may not). The reply's User-Id is the user's name, which
    libzmq attaches to every message from that connection.              */
#ifndef RECOUP_ZAP_H
#define RECOUP_ZAP_H

#include "users.h"

//  Binds the handler socket in ctx. Returns it, or NULL (errno set).
void *zap_bind (void *ctx);

//  Answers every pending ZAP request without blocking.
void zap_handle (void *socket, users_t *users);

#endif
