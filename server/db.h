/*  db: recoupd's PostgreSQL connections: connect with timeouts, schema
    migrations, and small helpers for parameterised statements. A db_t
    (like its PGconn) belongs to one thread.                             */
#ifndef RECOUP_DB_H
#define RECOUP_DB_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct db_t db_t;

//  One numbered migration, compiled into recoupd from server/migrations.
typedef struct {
    int version;                //  the file's number
    const char *name;           //  the file's name
    const char *sql;            //  its text
} migration_t;

extern const migration_t db_migrations [];
extern const size_t db_migrations_count;

//  New handle for `conninfo`; `role` names it in logs and in
//  application_name ("writer", "reader"). Not connected yet.
db_t *db_new (const char *conninfo, const char *role);
void db_destroy (db_t **self_p);

//  Connects (blocking, up to 5 s). Returns 0, or -1 with err.
int db_connect (db_t *self, char *err, size_t errlen);

//  Drops the connection.
void db_disconnect (db_t *self);

//  True while the connection is usable.
int db_ok (db_t *self);

//  The connection (NULL when not connected).
PGconn *db_conn (db_t *self);

//  Applies every migration newer than the database's schema version,
//  each in its own transaction, and refuses a schema newer than this
//  build knows. Returns 0, or -1 with err.
int db_migrate (db_t *self, char *err, size_t errlen);

//  Runs a statement with text parameters (NULL entries are SQL NULL).
//  Returns the result when its status is `expect`; otherwise logs the
//  error, clears the result and returns NULL. Caller PQclears.
PGresult *db_exec (db_t *self, ExecStatusType expect, const char *sql,
                   int nparams, const char *const *params);

//  Runs a statement that returns nothing of interest. Returns 0 or -1.
int db_command (db_t *self, const char *sql);

//  The last error message from the server or libpq.
const char *db_error (db_t *self);

//  SQLSTATE of the last failed statement ("" if none).
const char *db_sqlstate (db_t *self);

#endif
