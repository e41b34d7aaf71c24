/*  pgembed: the embedded PostgreSQL cluster that recoupd runs when it is
    not given --db. The cluster lives in DIR/pg, its Unix socket in DIR/run
    (no TCP listener), its log in DIR/log/postgresql.log. initdb runs on
    first start; the postmaster is recoupd's child, started and stopped
    with it, and restarted if it dies.

    PostgreSQL refuses to run as root, so when recoupd is root the cluster
    runs as an unprivileged system user (default "postgres", else
    "nobody"), which must be able to reach DIR.                          */
#ifndef RECOUP_PGEMBED_H
#define RECOUP_PGEMBED_H

#include <stddef.h>

typedef struct pgembed_t pgembed_t;

//  Prepares an embedded cluster in `datadir`. `db_user` names the system
//  user to run PostgreSQL as when recoupd is root (NULL: default).
//  Returns NULL with a message in err when the binaries or user are
//  missing.
pgembed_t *pgembed_new (const char *datadir, const char *db_user,
                        char *err, size_t errlen);

//  Runs initdb if needed, starts the postmaster, waits until it accepts
//  connections and the recoup database exists. Returns 0, or -1 with a
//  message in err.
int pgembed_start (pgembed_t *self, char *err, size_t errlen);

//  libpq connection string for the recoup database.
const char *pgembed_conninfo (pgembed_t *self);

//  Checks the postmaster; if it has exited, starts it again. Call
//  regularly. Returns 0 when running, 1 when it was restarted, -1 when
//  it is down and could not be restarted yet.
int pgembed_supervise (pgembed_t *self);

//  Postmaster process id, or 0 when not running.
int pgembed_pid (pgembed_t *self);

//  Stops the cluster (fast shutdown) and frees everything; sets *self_p
//  to NULL.
void pgembed_destroy (pgembed_t **self_p);

#endif
