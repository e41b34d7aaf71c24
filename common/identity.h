/*  identity: a user's key file, and the server's.

    An identity file is UTF-8 text, one `key = value` per line, '#' starts
    a comment. It holds the server's endpoints and public key, and the
    user's CURVE keypair, all keys in Z85 (40 characters):

        user = alice
        commands = tcp://127.0.0.1:7650
        events = tcp://127.0.0.1:7651
        server_public_key = ...
        public_key = ...
        secret_key = ...

    Files holding a secret key are written with mode 0600 and refused by
    identity_load when others can read them. Secrets are wiped with
    identity_wipe.                                                       */
#ifndef RECOUP_IDENTITY_H
#define RECOUP_IDENTITY_H

#include <stddef.h>

#define IDENTITY_KEY_LEN 40

//  What identity_load requires of a file.
#define IDENTITY_FULL 0         //  endpoints, server key and keypair
#define IDENTITY_KEYS 1         //  only a keypair (the server's key file)
#define IDENTITY_SERVER 2       //  endpoints and server key; keypair optional

typedef struct {
    char user [64];                             //  advisory name, may be ""
    char commands [256];                        //  command socket endpoint
    char events [256];                          //  event socket endpoint
    char server_public [IDENTITY_KEY_LEN + 1];  //  server's public key
    char public_key [IDENTITY_KEY_LEN + 1];     //  this user's public key
    char secret_key [IDENTITY_KEY_LEN + 1];     //  this user's secret key
} identity_t;

//  Reads an identity file; `mode` (IDENTITY_FULL, _KEYS, _SERVER) says
//  what must be in it. A file holding a secret key must not be readable
//  by group or others. Returns 0, or -1 with a message naming the file
//  and line in err.
int identity_load (identity_t *self, const char *path, int mode,
                   char *err, size_t errlen);

//  Writes the identity to path (atomically: temp file and rename): with
//  IDENTITY_FULL everything, with IDENTITY_KEYS the keypair, both mode
//  0600; with IDENTITY_SERVER only the endpoints and server key, mode
//  0644 (nothing secret: what `recoup keygen --server-from` needs). With
//  `exclusive`, refuses to replace an existing file. Returns 0, or -1
//  with a message in err.
int identity_save (const identity_t *self, const char *path, int mode,
                   int exclusive, char *err, size_t errlen);

//  Fills public_key and secret_key with a new CURVE keypair. Returns 0/-1.
int identity_generate (identity_t *self);

//  Zeroes the secret key (and everything else).
void identity_wipe (identity_t *self);

//  The identity path to use when none is given: $RECOUP_IDENTITY, else
//  ~/.config/recoup/identity. Writes into buf; returns buf.
const char *identity_default_path (char *buf, size_t len);

//  True if `key` is 40 Z85 characters that decode to 32 bytes.
int identity_key_valid (const char *key);

#endif
