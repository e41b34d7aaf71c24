/*  db: PostgreSQL connections and migrations. See db.h.                 */
#include "db.h"
#include "../common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct db_t {
    char *conninfo;             //  libpq connection string
    char role [32];             //  "writer", "reader", ...
    PGconn *conn;               //  NULL when not connected
    char error [1024];          //  last error message
    char sqlstate [8];          //  last SQLSTATE
};

db_t *
db_new (const char *conninfo, const char *role)
{
    db_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->conninfo = strdup (conninfo);
    snprintf (self->role, sizeof self->role, "%s", role);
    return self;
}

void
db_destroy (db_t **self_p)
{
    db_t *self = *self_p;
    if (!self)
        return;
    db_disconnect (self);
    free (self->conninfo);
    free (self);
    *self_p = NULL;
}

//  Keeps the first line of a libpq message (they end with newlines).
static void
s_set_error (db_t *self, const char *message)
{
    snprintf (self->error, sizeof self->error, "%s", message ? message : "");
    size_t len = strlen (self->error);
    while (len > 0 && (self->error [len - 1] == '\n' || self->error [len - 1] == ' '))
        self->error [--len] = 0;
}

int
db_connect (db_t *self, char *err, size_t errlen)
{
    db_disconnect (self);
    char application [64];
    snprintf (application, sizeof application, "recoupd-%s", self->role);
    const char *keys [] = { "dbname", "connect_timeout", "application_name",
                            "keepalives_idle", "keepalives_interval",
                            "keepalives_count", NULL };
    const char *values [] = { self->conninfo, "5", application, "10", "5",
                              "3", NULL };
    self->conn = PQconnectdbParams (keys, values, 1);
    if (PQstatus (self->conn) != CONNECTION_OK) {
        s_set_error (self, PQerrorMessage (self->conn));
        snprintf (err, errlen, "cannot connect to PostgreSQL: %s", self->error);
        PQfinish (self->conn);
        self->conn = NULL;
        return -1;
    }
    //  Durable commits, UTC timestamps, and no statement may hang forever.
    PGresult *res = PQexec (self->conn,
                            "SET synchronous_commit = on;"
                            "SET TIME ZONE 'UTC';"
                            "SET client_min_messages = warning;"
                            "SET idle_in_transaction_session_timeout = '60s'");
    int ok = PQresultStatus (res) == PGRES_COMMAND_OK;
    PQclear (res);
    if (!ok) {
        s_set_error (self, PQerrorMessage (self->conn));
        snprintf (err, errlen, "cannot set up session: %s", self->error);
        PQfinish (self->conn);
        self->conn = NULL;
        return -1;
    }
    return 0;
}

void
db_disconnect (db_t *self)
{
    if (self->conn) {
        PQfinish (self->conn);
        self->conn = NULL;
    }
}

int
db_ok (db_t *self)
{
    return self->conn && PQstatus (self->conn) == CONNECTION_OK;
}

PGconn *
db_conn (db_t *self)
{
    return self->conn;
}

const char *
db_error (db_t *self)
{
    return self->error;
}

const char *
db_sqlstate (db_t *self)
{
    return self->sqlstate;
}

PGresult *
db_exec (db_t *self, ExecStatusType expect, const char *sql, int nparams,
         const char *const *params)
{
    self->sqlstate [0] = 0;
    if (!self->conn) {
        s_set_error (self, "not connected");
        return NULL;
    }
    PGresult *res = PQexecParams (self->conn, sql, nparams, NULL, params,
                                  NULL, NULL, 0);
    if (PQresultStatus (res) == expect)
        return res;
    const char *state = PQresultErrorField (res, PG_DIAG_SQLSTATE);
    snprintf (self->sqlstate, sizeof self->sqlstate, "%s", state ? state : "");
    s_set_error (self, res ? PQresultErrorMessage (res)
                           : PQerrorMessage (self->conn));
    if (!*self->error)
        s_set_error (self, PQerrorMessage (self->conn));
    PQclear (res);
    return NULL;
}

int
db_command (db_t *self, const char *sql)
{
    PGresult *res = db_exec (self, PGRES_COMMAND_OK, sql, 0, NULL);
    if (!res)
        return -1;
    PQclear (res);
    return 0;
}

int
db_migrate (db_t *self, char *err, size_t errlen)
{
    int known = db_migrations_count
                ? db_migrations [db_migrations_count - 1].version : 0;
    //  Serialise concurrent starters on one database.
    PGresult *res = db_exec (self, PGRES_TUPLES_OK,
                             "SELECT pg_advisory_lock(7650001)", 0, NULL);
    if (!res) {
        snprintf (err, errlen, "migration lock: %s", self->error);
        return -1;
    }
    PQclear (res);
    res = db_exec (self, PGRES_COMMAND_OK,
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL);
    if (!res) {
        snprintf (err, errlen, "cannot create schema_version: %s", self->error);
        goto fail;
    }
    PQclear (res);
    res = db_exec (self, PGRES_TUPLES_OK,
                   "SELECT coalesce(max(version), 0) FROM schema_version",
                   0, NULL);
    if (!res) {
        snprintf (err, errlen, "cannot read schema_version: %s", self->error);
        goto fail;
    }
    int current = atoi (PQgetvalue (res, 0, 0));
    PQclear (res);
    if (current > known) {
        snprintf (err, errlen,
                  "the database schema is version %d but this recoupd knows "
                  "only up to %d: run a newer recoupd", current, known);
        goto fail;
    }
    for (size_t i = 0; i < db_migrations_count; i++) {
        const migration_t *m = &db_migrations [i];
        if (m->version <= current)
            continue;
        if (db_command (self, "BEGIN") != 0)
            goto sql_fail;
        PGresult *run = PQexec (self->conn, m->sql);
        if (PQresultStatus (run) != PGRES_COMMAND_OK
            && PQresultStatus (run) != PGRES_TUPLES_OK) {
            s_set_error (self, PQresultErrorMessage (run));
            PQclear (run);
            snprintf (err, errlen, "migration %s failed: %s", m->name,
                      self->error);
            db_command (self, "ROLLBACK");
            goto fail;
        }
        PQclear (run);
        char version [16];
        snprintf (version, sizeof version, "%d", m->version);
        const char *params [] = { version, m->name };
        res = db_exec (self, PGRES_COMMAND_OK,
                       "INSERT INTO schema_version (version, name) "
                       "VALUES ($1, $2)", 2, params);
        if (!res)
            goto sql_fail;
        PQclear (res);
        if (db_command (self, "COMMIT") != 0)
            goto sql_fail;
        log_info ("migration applied", "name", m->name);
    }
    PQclear (db_exec (self, PGRES_TUPLES_OK,
                      "SELECT pg_advisory_unlock(7650001)", 0, NULL));
    return 0;

sql_fail:
    snprintf (err, errlen, "migration: %s", self->error);
    db_command (self, "ROLLBACK");
fail:
    PQclear (db_exec (self, PGRES_TUPLES_OK,
                      "SELECT pg_advisory_unlock(7650001)", 0, NULL));
    return -1;
}
