/*  db: PostgreSQL connections and migrations. See db.h.                 */
#include "db.h"
#include "../common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_STATEMENTS_MAX 512

struct db_t {
    char *conninfo;             //  libpq connection string
    char *prepared [DB_STATEMENTS_MAX];    //  statement texts prepared as "sN"
    int n_prepared;             //  entries used (reset on reconnect)
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
    //  No JIT: recoupd's statements are short, and compiling one costs
    //  more than running it (measured: the engine's agency check 0.6 ms
    //  without, 23-190 ms with; a day of the engine over 8,500 open
    //  invoices 1.45 s with, 0.62 s without: tests/bench/bench_engine.sh).
    PGresult *res = PQexec (self->conn,
                            "SET synchronous_commit = on;"
                            "SET TIME ZONE 'UTC';"
                            "SET client_min_messages = warning;"
                            "SET jit = off;"
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
    for (int i = 0; i < self->n_prepared; i++)
        free (self->prepared [i]);
    self->n_prepared = 0;
}

//  Statements that are sent as they are rather than prepared.
static int
s_unpreparable (const char *sql)
{
    return strncmp (sql, "BEGIN", 5) == 0 || strncmp (sql, "COMMIT", 6) == 0
           || strncmp (sql, "ROLLBACK", 8) == 0 || strncmp (sql, "LISTEN", 6) == 0
           || strncmp (sql, "SET ", 4) == 0 || strncmp (sql, "ANALYZE", 7) == 0;
}

//  Records the error of a failed result (or of the connection).
static void
s_record_failure (db_t *self, PGresult *res)
{
    const char *state = res ? PQresultErrorField (res, PG_DIAG_SQLSTATE) : NULL;
    snprintf (self->sqlstate, sizeof self->sqlstate, "%s", state ? state : "");
    s_set_error (self, res ? PQresultErrorMessage (res) : "");
    if (!*self->error)
        s_set_error (self, PQerrorMessage (self->conn));
}

//  Finds or makes the prepared statement for sql. Returns 1 with its
//  name, 0 when it is to be sent unprepared, -1 when preparing failed
//  (error recorded).
static int
s_prepared_name (db_t *self, const char *sql, int nparams, char *name,
                 size_t len)
{
    name [0] = 0;
    if (s_unpreparable (sql))
        return 0;
    for (int i = 0; i < self->n_prepared; i++)
        if (strcmp (self->prepared [i], sql) == 0) {
            snprintf (name, len, "s%d", i);
            return 1;
        }
    if (self->n_prepared == DB_STATEMENTS_MAX)
        return 0;
    snprintf (name, len, "s%d", self->n_prepared);
    PGresult *res = PQprepare (self->conn, name, sql, nparams, NULL);
    int ok = PQresultStatus (res) == PGRES_COMMAND_OK;
    if (!ok)
        s_record_failure (self, res);
    PQclear (res);
    if (!ok) {
        name [0] = 0;
        return -1;
    }
    self->prepared [self->n_prepared++] = strdup (sql);
    return 1;
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
    char name [16];
    PGresult *res;
    int prepared = s_prepared_name (self, sql, nparams, name, sizeof name);
    if (prepared < 0)
        return NULL;            //  a syntax error, a missing table: recorded
    if (prepared)
        res = PQexecPrepared (self->conn, name, nparams, params, NULL, NULL, 0);
    else
        res = PQexecParams (self->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus (res) == expect)
        return res;
    s_record_failure (self, res);
    PQclear (res);
    return NULL;
}

int
db_pipeline (db_t *self, db_stmt_t *stmts, int count)
{
    self->sqlstate [0] = 0;
    self->error [0] = 0;
    for (int i = 0; i < count; i++)
        stmts [i].result = NULL;
    if (!self->conn) {
        s_set_error (self, "not connected");
        return -1;
    }
    //  Prepare what is new first, outside the pipeline.
    char names [count][16];
    for (int i = 0; i < count; i++)
        if (s_prepared_name (self, stmts [i].sql, stmts [i].nparams, names [i],
                             sizeof names [i]) < 0)
            return -1;
    if (!PQenterPipelineMode (self->conn)) {
        s_set_error (self, PQerrorMessage (self->conn));
        return -1;
    }
    int sent = 0;
    for (int i = 0; i < count; i++) {
        db_stmt_t *stmt = &stmts [i];
        int ok = names [i][0]
            ? PQsendQueryPrepared (self->conn, names [i], stmt->nparams,
                                   stmt->values, stmt->lengths, stmt->formats, 0)
            : PQsendQueryParams (self->conn, stmt->sql, stmt->nparams, NULL,
                                 stmt->values, stmt->lengths, stmt->formats, 0);
        if (!ok)
            break;
        sent++;
    }
    int failed = sent < count;
    if (failed)
        s_set_error (self, PQerrorMessage (self->conn));
    if (!PQpipelineSync (self->conn))
        failed = 1;
    for (int i = 0; i < sent; i++) {
        PGresult *res = PQgetResult (self->conn);
        if (!res) {
            failed = 1;
            break;
        }
        ExecStatusType status = PQresultStatus (res);
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
            stmts [i].result = res;
        else {
            if (!failed)
                s_record_failure (self, res);
            failed = 1;
            PQclear (res);
        }
        //  Each statement's results end with a NULL.
        while ((res = PQgetResult (self->conn)) != NULL) {
            if (PQresultStatus (res) == PGRES_PIPELINE_SYNC) {
                PQclear (res);
                goto synced;
            }
            PQclear (res);
        }
    }
    PGresult *res;
    while ((res = PQgetResult (self->conn)) != NULL) {
        ExecStatusType status = PQresultStatus (res);
        PQclear (res);
        if (status == PGRES_PIPELINE_SYNC)
            break;
    }
synced:
    PQexitPipelineMode (self->conn);
    if (failed) {
        for (int i = 0; i < count; i++) {
            PQclear (stmts [i].result);
            stmts [i].result = NULL;
        }
        if (!*self->error)
            s_set_error (self, PQerrorMessage (self->conn));
        return -1;
    }
    return 0;
}

//  Appends a big-endian 32-bit integer.
static void
s_array_put32 (db_array_t *self, uint32_t value)
{
    unsigned char bytes [4] = { value >> 24, value >> 16, value >> 8, value };
    if (self->len + 4 > self->cap) {
        self->cap = (self->len + 4) * 2;
        self->data = realloc (self->data, self->cap);
        if (!self->data)
            abort ();
    }
    memcpy (self->data + self->len, bytes, 4);
    self->len += 4;
}

void
db_array_init (db_array_t *self, unsigned elem_oid)
{
    self->cap = 256;
    self->data = malloc (self->cap);
    if (!self->data)
        abort ();
    self->len = 0;
    self->count = 0;
    s_array_put32 (self, 1);            //  dimensions
    s_array_put32 (self, 0);            //  no NULLs
    s_array_put32 (self, elem_oid);
    s_array_put32 (self, 0);            //  size, set by db_array_finish
    s_array_put32 (self, 1);            //  lower bound
}

void
db_array_add (db_array_t *self, const void *data, size_t len)
{
    if (!data)
        return;
    size_t need = self->len + 4 + len;
    if (need > self->cap) {
        self->cap = need * 2;
        self->data = realloc (self->data, self->cap);
        if (!self->data)
            abort ();
    }
    unsigned char bytes [4] = { (unsigned char) (len >> 24), (unsigned char) (len >> 16),
                                (unsigned char) (len >> 8), (unsigned char) len };
    memcpy (self->data + self->len, bytes, 4);
    memcpy (self->data + self->len + 4, data, len);
    self->len = need;
    self->count++;
}

void
db_array_add_null (db_array_t *self)
{
    size_t need = self->len + 4;
    if (need > self->cap) {
        self->cap = need * 2;
        self->data = realloc (self->data, self->cap);
        if (!self->data)
            abort ();
    }
    memset (self->data + self->len, 0xff, 4);   //  length -1: NULL
    self->len = need;
    self->count++;
    self->data [7] = 1;                         //  header: has nulls
}

void
db_array_add_text (db_array_t *self, const char *text)
{
    db_array_add (self, text ? text : "", text ? strlen (text) : 0);
}

void
db_array_add_int8 (db_array_t *self, int64_t value)
{
    uint64_t v = (uint64_t) value;
    unsigned char bytes [8];
    for (int i = 7; i >= 0; i--) {
        bytes [i] = (unsigned char) v;
        v >>= 8;
    }
    db_array_add (self, bytes, 8);
}

const char *
db_array_finish (db_array_t *self, int *len)
{
    uint32_t count = (uint32_t) self->count;
    unsigned char bytes [4] = { count >> 24, count >> 16, count >> 8, count };
    memcpy (self->data + 12, bytes, 4);
    *len = (int) self->len;
    return self->data;
}

void
db_array_free (db_array_t *self)
{
    free (self->data);
    self->data = NULL;
    self->len = self->cap = 0;
    self->count = 0;
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
