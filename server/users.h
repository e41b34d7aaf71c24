/*  users: the in-memory copy of the users table that the ZAP handler and
    the command dispatcher consult on every handshake and request. It is
    reloaded after every change (recoupd's own, or by hand: a trigger
    NOTIFYs recoupd), so the table stays the single source of truth.
    Owned by the main thread.                                            */
#ifndef RECOUP_USERS_H
#define RECOUP_USERS_H

#include "db.h"
#include "../common/wire.h"

typedef struct {
    char name [64];             //  unique, also the ZAP User-Id
    Recoup__Role role;          //  what the user may do
    char public_key [41];       //  Z85 CURVE public key
    int active;                 //  0 once revoked
} user_entry_t;

typedef struct users_t users_t;

users_t *users_new (void);
void users_destroy (users_t **self_p);

//  Reloads from the database. Returns the number of users that were
//  active before and are not now (so their connections must be dropped),
//  or -1 on a database error (the old copy is kept).
int users_reload (users_t *self, db_t *db);

//  Active or revoked user with this key, or NULL.
const user_entry_t *users_by_key (users_t *self, const char *public_key);

//  User with this name, or NULL.
const user_entry_t *users_by_name (users_t *self, const char *name);

//  Number of users known.
size_t users_count (users_t *self);

#endif
