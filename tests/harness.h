/*  harness: what the integration tests share. Starts real recoupd
    processes (embedded PostgreSQL, or --db against a PostgreSQL cluster
    the harness runs itself), makes users with real keys, and talks to
    the server over real CURVE sockets. Nothing is mocked.

    Every test gets its own temporary directory under /tmp (mode 0711, so
    the embedded database's unprivileged user can reach it when the tests
    run as root) and ephemeral ports.                                    */
#ifndef RECOUP_HARNESS_H
#define RECOUP_HARNESS_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"
#include "identity.h"
#include "sync.h"
#include "wire.h"

typedef struct {
    char dir [PATH_MAX];        //  the test's temporary directory
    char data [PATH_MAX + 16];  //  recoupd --data
    char db [PATH_MAX + 256];   //  --db conninfo, "" for embedded
    char commands [256];        //  bound command endpoint
    char events [256];          //  bound event endpoint
    char log [PATH_MAX + 16];   //  recoupd's stderr
    pid_t pid;                  //  recoupd, 0 when stopped
    uid_t run_as;               //  uid to run recoupd as (0: as we are)
    identity_t admin;           //  DIR/admin.identity
} th_server_t;

typedef struct {
    char dir [PATH_MAX + 16];   //  cluster directory
    char sockdir [PATH_MAX + 32];   //  Unix socket directory
    char conninfo [PATH_MAX + 128]; //  to its "postgres" database
    int as_postgres;            //  run as user postgres (we are root)
} th_pg_t;

//  Makes a fresh temporary directory for a test into `dir`. 0 or -1.
int th_tempdir (char *dir, size_t len, const char *name);

//  Starts recoupd with --data in a new temp dir (embedded database when
//  db is NULL). Waits until DIR/ready; loads admin.identity. 0 or -1.
int th_server_start (th_server_t *self, const char *name, const char *db);

//  Starts recoupd again on the same data directory and endpoints.
int th_server_restart (th_server_t *self);

//  SIGTERM and wait. Returns recoupd's exit status.
int th_server_stop (th_server_t *self);

//  SIGKILL (no clean shutdown) and wait.
void th_server_kill (th_server_t *self);

//  Stops the server and removes its directory.
void th_server_destroy (th_server_t *self);

//  An identity for the same server with a new keypair.
void th_identity_new (th_server_t *self, identity_t *out, const char *name);

//  Makes a user with a new key and the given role. 0 or -1.
int th_user_add (th_server_t *self, const char *name, Recoup__Role role,
                 identity_t *out);

//  One request as `who`: returns the reply (caller frees) or NULL with
//  *status. New context per call is wasteful, so the harness keeps one.
Recoup__Reply *th_call (const identity_t *who, Recoup__Request *request,
                        client_status_t *status);

//  th_call for a test: the reply (caller frees), or the test fails at
//  the caller's file and line, showing the client status, when none comes.
#define th_request(who, request) th_request_at ((who), (request), __FILE__, __LINE__)
Recoup__Reply *th_request_at (const identity_t *who, Recoup__Request *request,
                              const char *file, int line);

//  The shared ZeroMQ context of the harness.
void *th_ctx (void);

//  Posts a note as `who`; returns the event seq or 0 on failure.
uint64_t th_note (const identity_t *who, const char *text);

//  Runs psql-like SQL on the server's database; returns the first column
//  of the first row as a new string (caller frees) or NULL.
char *th_sql (th_server_t *self, const char *sql);

//  Starts a PostgreSQL cluster in a temp dir (for --db tests). 0 or -1.
int th_pg_start (th_pg_t *self, const char *name);
//  pg_ctl restart -m fast.
int th_pg_restart (th_pg_t *self);
void th_pg_stop (th_pg_t *self);

//  What a run of the `recoup` client printed and returned.
typedef struct {
    int status;                 //  exit status (-1: killed)
    char out [262144];          //  stdout
    char err [262144];          //  stderr
} th_run_t;

//  Runs `recoup ARGS` through the shell in the server's directory (so
//  ARGS may name files there relatively and use `env X=Y` first),
//  capturing output and status. `identity` is the identity file to use
//  (NULL: the admin's). Returns run->status.
int th_run (th_server_t *self, th_run_t *run, const char *identity,
            const char *format, ...) __attribute__ ((format (printf, 4, 5)));

//  Fails the test at the caller's file and line unless the run exited
//  with `want` and, when needle is not NULL, printed needle on stdout or
//  stderr. On failure prints what was expected and both streams.
#define th_expect_run(run, want, needle) \
    th_expect_run_at ((run), (want), (needle), __FILE__, __LINE__)
void th_expect_run_at (const th_run_t *run, int want, const char *needle,
                       const char *file, int line);

//  Runs `recoup ARGS` as the admin for a test's setup. 0, or -1 after
//  printing the command and its output to stderr.
int th_admin (th_server_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Saves `who` with its secret key as DIR/NAME.identity for th_run;
//  puts the path into path. 0 or -1.
int th_identity_file (th_server_t *self, const identity_t *who, const char *name,
                      char *path, size_t len);

//  The first column of the first row of the SQL that format makes, read
//  as a number (th_sql_int) or as a new string the caller frees
//  (th_sql_text). When the SQL gives nothing, fails the test at the
//  caller's file and line, showing the SQL.
#define th_sql_int(server, ...) th_sql_int_at (__FILE__, __LINE__, (server), __VA_ARGS__)
long long th_sql_int_at (const char *file, int line, th_server_t *self,
                         const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
#define th_sql_text(server, ...) th_sql_text_at (__FILE__, __LINE__, (server), __VA_ARGS__)
char *th_sql_text_at (const char *file, int line, th_server_t *self,
                      const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

//  Fails the test at the caller's file and line unless the SQL that
//  format makes gives exactly `want`; shows the SQL and what it gave.
#define th_expect_sql(server, want, ...) \
    th_expect_sql_at (__FILE__, __LINE__, (server), (want), __VA_ARGS__)
void th_expect_sql_at (const char *file, int line, th_server_t *self, const char *want,
                       const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

//  How many events of `kind` the server's log holds.
long long th_events (th_server_t *self, const char *kind);

//  Writes text to DIR/name (the server's test directory); returns the
//  full path in a static buffer, or NULL.
const char *th_write_file (th_server_t *self, const char *name, const char *text);

//  Milliseconds since an arbitrary start.
long long th_now_ms (void);
void th_sleep_ms (int ms);

#endif
