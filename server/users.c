/*  users: cached users table. See users.h.                              */
#include "users.h"
#include "../common/log.h"

#include <stdlib.h>
#include <string.h>

struct users_t {
    user_entry_t *entries;      //  array of count entries
    size_t count;               //  users known
};

users_t *
users_new (void)
{
    return calloc (1, sizeof (users_t));
}

void
users_destroy (users_t **self_p)
{
    if (!*self_p)
        return;
    free ((*self_p)->entries);
    free (*self_p);
    *self_p = NULL;
}

int
users_reload (users_t *self, db_t *db)
{
    PGresult *res = db_exec (db, PGRES_TUPLES_OK,
                             "SELECT name, role, public_key, active FROM users "
                             "ORDER BY name", 0, NULL);
    if (!res)
        return -1;
    size_t count = (size_t) PQntuples (res);
    user_entry_t *entries = calloc (count ? count : 1, sizeof *entries);
    if (!entries) {
        PQclear (res);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        user_entry_t *entry = &entries [i];
        snprintf (entry->name, sizeof entry->name, "%s", PQgetvalue (res, (int) i, 0));
        entry->role = wire_role_parse (PQgetvalue (res, (int) i, 1));
        snprintf (entry->public_key, sizeof entry->public_key, "%s",
                  PQgetvalue (res, (int) i, 2));
        entry->active = PQgetvalue (res, (int) i, 3) [0] == 't';
    }
    PQclear (res);
    int revoked = 0;
    for (size_t i = 0; i < self->count; i++) {
        if (!self->entries [i].active)
            continue;
        int still = 0;
        for (size_t j = 0; j < count; j++)
            if (strcmp (entries [j].public_key, self->entries [i].public_key) == 0
                && strcmp (entries [j].name, self->entries [i].name) == 0
                && entries [j].active && entries [j].role == self->entries [i].role)
                still = 1;
        //  A role change counts too: open connections were authorised
        //  for the old role.
        if (!still)
            revoked++;
    }
    free (self->entries);
    self->entries = entries;
    self->count = count;
    return revoked;
}

const user_entry_t *
users_by_key (users_t *self, const char *public_key)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->entries [i].public_key, public_key) == 0)
            return &self->entries [i];
    return NULL;
}

const user_entry_t *
users_by_name (users_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->entries [i].name, name) == 0)
            return &self->entries [i];
    return NULL;
}

size_t
users_count (users_t *self)
{
    return self->count;
}
