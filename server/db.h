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
//  Returns the result when its status is `expect`; otherwise records the
//  error, clears the result and returns NULL. Caller PQclears. Each
//  distinct statement text is prepared once per connection and executed
//  by name afterwards (transaction control and LISTEN are sent as is).
PGresult *db_exec (db_t *self, ExecStatusType expect, const char *sql,
                   int nparams, const char *const *params);

//  Runs a statement that returns nothing of interest. Returns 0 or -1.
int db_command (db_t *self, const char *sql);

//  One statement of a pipeline. values/lengths/formats as for
//  PQexecParams (lengths and formats may be NULL for all-text values).
typedef struct {
    const char *sql;            //  statement text (prepared on first use)
    int nparams;                //  number of parameters
    const char *const *values;  //  parameter values
    const int *lengths;         //  their lengths (binary ones)
    const int *formats;         //  0 text, 1 binary
    PGresult *result;           //  set by db_pipeline; caller PQclears
} db_stmt_t;

//  Sends the statements in one round trip (libpq pipeline mode) and
//  collects their results. Returns 0 when every statement succeeded,
//  -1 otherwise (the first error is recorded; results of statements
//  after it are NULL). Caller clears every non-NULL result.
int db_pipeline (db_t *self, db_stmt_t *stmts, int count);

//  A one-dimensional PostgreSQL array in binary wire format, to pass a
//  whole column of values as one parameter (INSERT ... SELECT unnest).
typedef struct {
    char *data;                 //  header and elements (malloc)
    size_t len;                 //  bytes used
    size_t cap;                 //  bytes allocated
    int count;                  //  elements
} db_array_t;

#define DB_OID_BYTEA 17
#define DB_OID_INT8 20
#define DB_OID_TEXT 25

void db_array_init (db_array_t *self, unsigned elem_oid);
void db_array_add (db_array_t *self, const void *data, size_t len);
void db_array_add_text (db_array_t *self, const char *text);
//  A NULL element.
void db_array_add_null (db_array_t *self);
void db_array_add_int8 (db_array_t *self, int64_t value);
//  Finishes the header; returns the bytes to pass as a binary parameter.
const char *db_array_finish (db_array_t *self, int *len);
void db_array_free (db_array_t *self);

//  The last error message from the server or libpq.
const char *db_error (db_t *self);

//  SQLSTATE of the last failed statement ("" if none).
const char *db_sqlstate (db_t *self);

#endif
