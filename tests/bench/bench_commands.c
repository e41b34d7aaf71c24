/*  bench_commands: how many small durable commands recoupd commits per
    second, and how long each one waits, against what the same database
    does with one commit per row.

    It starts a fresh recoupd (embedded PostgreSQL, ephemeral ports on
    127.0.0.1) in a temporary directory, makes a collector user, and runs
    N client threads for each N in --clients. Every client owns a DEALER
    connection (client_t) and sends note_post in a closed loop: the next
    request leaves when the previous reply is in. Each note_post inserts
    a note, an event and a stored reply in one transaction, so it is the
    smallest command that has to reach the disk.

    The baseline is measured on the same database in the same run: plain
    single-row INSERTs, each its own transaction (autocommit,
    synchronous_commit on), from one connection (before and after the
    command runs; the mean counts) and from several at once (for context).
    A third figure is the ceiling: the same 16 clients against a CURVE
    ROUTER that only echoes (no recoupd, no database), i.e. what ZeroMQ
    and CURVE alone allow on this machine.

    The targets: with 16 clients at least 5 times the single-row
    commit rate (the server batches commits: group commit), and p99 under
    20 ms. A miss is reported, not fatal (machines are noisy); an error
    in any call makes the run fail (exit 1). Output is a table for people
    and a last line of JSON for tools.

    The server's batch sizes are read back from the events table: the
    writer stamps every event of a batch (one transaction) with the same
    time.                                                               */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "client.h"
#include "identity.h"
#include "wire.h"

#ifndef BENCH_RECOUPD_PATH
#define BENCH_RECOUPD_PATH "recoupd"
#endif

#define TARGET_CLIENTS 16           //  the client count
#define TARGET_RATIO 5.0            //  x single-row commit rate, at least
#define TARGET_P99_MS 20.0          //  p99 latency, below
#define READY_TIMEOUT_MS 60000      //  for DIR/ready after start
#define STOP_TIMEOUT_MS 40000       //  for recoupd to exit after SIGTERM
#define CALL_TIMEOUT_MS 10000       //  one command, including resends
#define SETUP_TIMEOUT_MS 15000      //  user_add and warm-up calls
#define MAX_RUNS 16                 //  entries in --clients
#define MAX_CLIENTS 256             //  clients in one run
#define MAX_CONNECTIONS 32          //  baseline connections (max_connections=40)

typedef struct {
    const char *recoupd;        //  server binary
    double seconds;             //  length of one command run
    double baseline_seconds;    //  length of one baseline measurement
    int clients [MAX_RUNS];     //  client counts, in order
    size_t n_runs;              //  entries used in clients
    int connections;            //  concurrent baseline connections, 0: skip
    int keep;                   //  keep the temporary directory
} options_t;

typedef struct {
    char dir [PATH_MAX];        //  temporary directory (mode 0711)
    char data [PATH_MAX + 16];  //  recoupd --data
    char log [PATH_MAX + 16];   //  recoupd's stdout and stderr
    char conninfo [PATH_MAX + 256]; //  DIR/data/db.conninfo
    pid_t pid;                  //  recoupd, 0 when not running
    identity_t admin;           //  DIR/data/admin.identity
    identity_t bench;           //  the collector the clients use
} server_t;

typedef struct {
    int clients;                //  threads in the run
    uint64_t commands;          //  calls answered with a note_post result
    uint64_t errors;            //  calls that failed or got an error reply
    char first_error [512];     //  what the first failure said
    double elapsed_s;           //  start to the last reply
    double per_s;               //  commands / elapsed_s
    double p50_ms;              //  latency percentiles, ms
    double p99_ms;
    double max_ms;
    uint64_t batches;           //  server transactions holding the events
    uint64_t events;            //  events committed during the run
    uint64_t max_batch;         //  largest batch, events
} run_result_t;

//  Where the threads of a run wait until all of them are set up, so that
//  connection set-up is not measured.
typedef struct {
    pthread_mutex_t mutex;      //  guards the fields below
    pthread_cond_t cond;        //  signalled on every change
    int ready;                  //  threads set up (or failed to)
    int go;                     //  0 wait, 1 start, -1 give up
    int64_t deadline_us;        //  when go: stop starting calls at this time
} gate_t;

//  A thread of a command run or of the baseline.
typedef struct {
    pthread_t thread;           //  the thread
    int index;                  //  0..n-1
    int run;                    //  which run (for request ids)
    gate_t *gate;               //  where the threads wait to start (shared)
    void *ctx;                  //  ZeroMQ context (shared, borrowed)
    const identity_t *identity; //  who the client is (borrowed)
    const char *conninfo;       //  baseline: the database (borrowed)
    const char *echo_endpoint;  //  ceiling: the echo server (borrowed)
    int64_t *latency_us;        //  one entry per answered call (malloc)
    size_t n_latency;           //  entries used
    size_t cap_latency;         //  entries allocated
    uint64_t errors;            //  failed calls
    int setup_failed;           //  could not connect: took no part
    char error [512];           //  first failure
    int64_t end_us;             //  when the last call returned
} worker_t;

static volatile sig_atomic_t s_interrupted = 0;
static volatile pid_t s_server_pid = 0;

//  SIGINT/SIGTERM: stop starting calls; the run ends and cleans up.
static void
s_signal (int signum)
{
    (void) signum;
    s_interrupted = 1;
}

//  SIGALRM: the whole benchmark overran its time bound. Stops the server
//  and exits at once (the temporary directory is left behind and named).
static void
s_watchdog (int signum)
{
    (void) signum;
    static const char message [] =
        "bench_commands: time limit exceeded; stopping recoupd and exiting\n";
    if (write (2, message, sizeof message - 1) < 0)
        _exit (3);
    if (s_server_pid > 0)
        kill (s_server_pid, SIGTERM);
    _exit (3);
}

//  Monotonic clock, microseconds.
static int64_t
s_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static void
s_sleep_ms (int ms)
{
    struct timespec pause = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep (&pause, NULL);
}

//  Writes a fresh JSON-safe copy of text (quotes, backslashes and control
//  characters escaped) into out [len].
static void
s_json_escape (char *out, size_t len, const char *text)
{
    size_t used = 0;
    for (const char *p = text; *p && used + 7 < len; p++) {
        unsigned char c = (unsigned char) *p;
        if (c == '"' || c == '\\') {
            out [used++] = '\\';
            out [used++] = (char) c;
        }
        else if (c < 0x20)
            used += (size_t) snprintf (out + used, len - used, "\\u%04x", c);
        else
            out [used++] = (char) c;
    }
    out [used] = 0;
}

// ------------------------------------------------------------- options

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: bench_commands [--recoupd PATH] [--seconds S] [--clients LIST]\n"
        "                      [--baseline-seconds S] [--connections N] [--keep]\n"
        "\n"
        "Starts recoupd in a temporary directory and measures note_post\n"
        "commands/s and latency with N concurrent clients, against single-row\n"
        "commits/s on the same database. Exits 1 if any call failed.\n"
        "\n"
        "  --recoupd PATH        server binary (default %s)\n"
        "  --seconds S           length of each client run (default 5)\n"
        "  --clients LIST        client counts, comma separated (default 1,4,16)\n"
        "  --baseline-seconds S  length of each baseline measurement (default 3)\n"
        "  --connections N       concurrent connections for the second baseline\n"
        "                        (default 16; 0 skips it)\n"
        "  --keep                keep the temporary directory (and its logs)\n",
        BENCH_RECOUPD_PATH);
}

//  Parses a positive number of seconds no larger than an hour. 0 or -1.
static int
s_parse_seconds (const char *text, double *out)
{
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || end == text || *end || !(value > 0 && value <= 3600))
        return -1;
    *out = value;
    return 0;
}

//  Parses "1,4,16" into options->clients. 0 or -1.
static int
s_parse_clients (const char *text, options_t *options)
{
    options->n_runs = 0;
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        long value = strtol (p, &end, 10);
        if (errno || end == p || value < 1 || value > MAX_CLIENTS
            || options->n_runs == MAX_RUNS || (*end && *end != ','))
            return -1;
        options->clients [options->n_runs++] = (int) value;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return -1;                  //  trailing comma
    }
    return options->n_runs > 0 ? 0 : -1;
}

//  Fills options from argv. Returns 0, 1 after --help, or -1 on a usage
//  error (already reported).
static int
s_parse_options (int argc, char *argv [], options_t *options)
{
    static const struct option long_options [] = {
        { "recoupd", required_argument, NULL, 'r' },
        { "seconds", required_argument, NULL, 's' },
        { "clients", required_argument, NULL, 'c' },
        { "baseline-seconds", required_argument, NULL, 'b' },
        { "connections", required_argument, NULL, 'n' },
        { "keep", no_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    memset (options, 0, sizeof *options);
    options->recoupd = BENCH_RECOUPD_PATH;
    options->seconds = 5;
    options->baseline_seconds = 3;
    options->connections = 16;
    s_parse_clients ("1,4,16", options);
    int opt;
    while ((opt = getopt_long (argc, argv, "h", long_options, NULL)) != -1) {
        char *end;
        switch (opt) {
            case 'r':
                options->recoupd = optarg;
                break;
            case 's':
                if (s_parse_seconds (optarg, &options->seconds) != 0) {
                    fprintf (stderr, "bench_commands: --seconds wants a number "
                             "of seconds above 0, up to 3600 (got '%s')\n", optarg);
                    return -1;
                }
                break;
            case 'b':
                if (s_parse_seconds (optarg, &options->baseline_seconds) != 0) {
                    fprintf (stderr, "bench_commands: --baseline-seconds wants "
                             "a number of seconds above 0, up to 3600 (got "
                             "'%s')\n", optarg);
                    return -1;
                }
                break;
            case 'c':
                if (s_parse_clients (optarg, options) != 0) {
                    fprintf (stderr, "bench_commands: --clients wants up to %d "
                             "counts of 1 to %d, comma separated (got '%s')\n",
                             MAX_RUNS, MAX_CLIENTS, optarg);
                    return -1;
                }
                break;
            case 'n':
                errno = 0;
                options->connections = (int) strtol (optarg, &end, 10);
                if (errno || end == optarg || *end || options->connections < 0
                    || options->connections > MAX_CONNECTIONS) {
                    fprintf (stderr, "bench_commands: --connections wants 0 to "
                             "%d (got '%s')\n", MAX_CONNECTIONS, optarg);
                    return -1;
                }
                break;
            case 'k':
                options->keep = 1;
                break;
            case 'h':
                s_usage (stdout);
                return 1;
            default:
                s_usage (stderr);
                return -1;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "bench_commands: unexpected argument '%s'\n",
                 argv [optind]);
        s_usage (stderr);
        return -1;
    }
    return 0;
}

// ------------------------------------------------------------- the server

//  Reads DIR/ready. Returns 1 when it names both endpoints.
static int
s_server_ready (server_t *self)
{
    char path [PATH_MAX + 32];
    snprintf (path, sizeof path, "%s/ready", self->data);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line [512];
    int commands = 0, events = 0;
    while (fgets (line, sizeof line, file)) {
        commands |= strncmp (line, "commands=", 9) == 0 && line [9] != '\n';
        events |= strncmp (line, "events=", 7) == 0 && line [7] != '\n';
    }
    fclose (file);
    return commands && events;
}

//  Reads the first line of a file into buf. 0 or -1.
static int
s_read_line (const char *path, char *buf, size_t len)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    int rc = fgets (buf, (int) len, file) ? 0 : -1;
    fclose (file);
    buf [strcspn (buf, "\r\n")] = 0;
    return rc == 0 && *buf ? 0 : -1;
}

//  Makes the temporary directory, starts recoupd on ephemeral ports and
//  waits until it serves; loads the admin identity and the database's
//  conninfo. Returns 0, or -1 having said why on stderr.
static int
s_server_start (server_t *self, const char *recoupd)
{
    //  0711: when we are root the embedded database runs as postgres,
    //  which must be able to reach the data directory below.
    snprintf (self->dir, sizeof self->dir, "/tmp/recoup-bench-XXXXXX");
    if (!mkdtemp (self->dir) || chmod (self->dir, 0711) != 0) {
        fprintf (stderr, "bench_commands: cannot make a temporary directory: "
                 "%s\n", strerror (errno));
        self->dir [0] = 0;
        return -1;
    }
    snprintf (self->data, sizeof self->data, "%s/data", self->dir);
    snprintf (self->log, sizeof self->log, "%s/recoupd.log", self->dir);
    if (access (recoupd, X_OK) != 0) {
        fprintf (stderr, "bench_commands: cannot run %s: %s\n", recoupd,
                 strerror (errno));
        return -1;
    }
    pid_t pid = fork ();
    if (pid < 0) {
        fprintf (stderr, "bench_commands: fork: %s\n", strerror (errno));
        return -1;
    }
    if (pid == 0) {
        int fd = open (self->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
            close (fd);
        }
        execl (recoupd, recoupd, "--data", self->data,
               "--commands", "tcp://127.0.0.1:*",
               "--events", "tcp://127.0.0.1:*", (char *) NULL);
        _exit (127);
    }
    self->pid = pid;
    s_server_pid = pid;
    int64_t deadline = s_now_us () + (int64_t) READY_TIMEOUT_MS * 1000;
    while (!s_server_ready (self)) {
        int status;
        if (waitpid (pid, &status, WNOHANG) == pid) {
            self->pid = 0;
            s_server_pid = 0;
            fprintf (stderr, "bench_commands: recoupd exited during start-up "
                     "(status %d); see %s\n", status, self->log);
            return -1;
        }
        if (s_now_us () > deadline || s_interrupted) {
            fprintf (stderr, "bench_commands: recoupd not ready within %d s; "
                     "see %s\n", READY_TIMEOUT_MS / 1000, self->log);
            return -1;
        }
        s_sleep_ms (20);
    }
    char path [PATH_MAX + 32], err [512];
    snprintf (path, sizeof path, "%s/admin.identity", self->data);
    if (identity_load (&self->admin, path, 0, err, sizeof err) != 0) {
        fprintf (stderr, "bench_commands: %s\n", err);
        return -1;
    }
    snprintf (path, sizeof path, "%s/db.conninfo", self->data);
    if (s_read_line (path, self->conninfo, sizeof self->conninfo) != 0) {
        fprintf (stderr, "bench_commands: cannot read %s\n", path);
        return -1;
    }
    return 0;
}

//  Stops recoupd with SIGTERM and waits for it (it stops the embedded
//  database first). Returns its exit status, or -1 if it had to be
//  killed or was not running.
static int
s_server_stop (server_t *self)
{
    if (!self->pid)
        return -1;
    kill (self->pid, SIGTERM);
    int64_t deadline = s_now_us () + (int64_t) STOP_TIMEOUT_MS * 1000;
    int status = 0;
    while (waitpid (self->pid, &status, WNOHANG) == 0) {
        if (s_now_us () > deadline) {
            fprintf (stderr, "bench_commands: recoupd did not stop within %d s; "
                     "killing it\n", STOP_TIMEOUT_MS / 1000);
            kill (self->pid, SIGKILL);
            waitpid (self->pid, NULL, 0);
            self->pid = 0;
            s_server_pid = 0;
            return -1;
        }
        s_sleep_ms (20);
    }
    self->pid = 0;
    s_server_pid = 0;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  nftw callback: removes one entry (children come first).
static int
s_remove_entry (const char *path, const struct stat *st, int flag,
                struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    if (remove (path) != 0 && errno != ENOENT)
        fprintf (stderr, "bench_commands: cannot remove %s: %s\n", path,
                 strerror (errno));
    return 0;
}

//  Removes the temporary directory and everything in it.
static void
s_remove_tree (const char *dir)
{
    if (*dir)
        nftw (dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

//  Sends one request as `who` on a throw-away connection. Returns the
//  reply (caller frees) or NULL having said why into err.
static Recoup__Reply *
s_call_once (void *ctx, const identity_t *who, Recoup__Request *request,
             char *err, size_t errlen)
{
    client_t *client = client_new (ctx, who, err, errlen);
    if (!client)
        return NULL;
    client_status_t status;
    Recoup__Reply *reply = client_call (client, request, SETUP_TIMEOUT_MS,
                                        &status, err, errlen);
    client_destroy (&client);
    return reply;
}

//  Makes the collector the clients use (user "bench", a new keypair) with
//  user_add as admin. Returns 0, or -1 having said why on stderr.
static int
s_bench_user (server_t *self, void *ctx)
{
    self->bench = self->admin;
    snprintf (self->bench.user, sizeof self->bench.user, "bench");
    if (identity_generate (&self->bench) != 0) {
        fprintf (stderr, "bench_commands: cannot generate a keypair\n");
        return -1;
    }
    Recoup__UserAddRequest add = RECOUP__USER_ADD_REQUEST__INIT;
    add.name = "bench";
    add.role = RECOUP__ROLE__COLLECTOR;
    add.public_key = self->bench.public_key;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_USER_ADD;
    request.user_add = &add;
    char err [512] = "";
    Recoup__Reply *reply = s_call_once (ctx, &self->admin, &request, err,
                                        sizeof err);
    if (!reply) {
        fprintf (stderr, "bench_commands: user_add: %s\n", err);
        return -1;
    }
    int ok = reply->result_case == RECOUP__REPLY__RESULT_USER_ADD;
    if (!ok)
        fprintf (stderr, "bench_commands: user_add refused: %s\n",
                 reply->result_case == RECOUP__REPLY__RESULT_ERROR
                 ? reply->error->message : "unexpected reply");
    recoup__reply__free_unpacked (reply, NULL);
    return ok ? 0 : -1;
}

// ------------------------------------------------------------- database

//  Connects to the server's database for the baseline and the batch
//  figures, with durable commits. Returns NULL having said why into err.
static PGconn *
s_db_connect (const char *conninfo, char *err, size_t errlen)
{
    PGconn *conn = PQconnectdb (conninfo);
    if (PQstatus (conn) != CONNECTION_OK) {
        snprintf (err, errlen, "cannot connect to the database: %s",
                  PQerrorMessage (conn));
        PQfinish (conn);
        return NULL;
    }
    PGresult *res = PQexec (conn, "SET synchronous_commit = on");
    int ok = PQresultStatus (res) == PGRES_COMMAND_OK;
    PQclear (res);
    if (!ok) {
        snprintf (err, errlen, "cannot set synchronous_commit: %s",
                  PQerrorMessage (conn));
        PQfinish (conn);
        return NULL;
    }
    return conn;
}

//  Runs a query returning one value into buf. 0 or -1 (message in buf).
static int
s_db_value (PGconn *conn, const char *sql, char *buf, size_t len)
{
    PGresult *res = PQexec (conn, sql);
    int ok = PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1;
    snprintf (buf, len, "%s", ok ? PQgetvalue (res, 0, 0) : PQerrorMessage (conn));
    buf [strcspn (buf, "\n")] = 0;
    PQclear (res);
    return ok ? 0 : -1;
}

//  Highest event sequence number committed so far, or -1.
static int64_t
s_db_last_seq (PGconn *conn)
{
    char value [64];
    if (s_db_value (conn, "SELECT coalesce(max(seq), 0) FROM events", value,
                    sizeof value) != 0)
        return -1;
    return strtoll (value, NULL, 10);
}

//  Counts events after `after` and the server transactions (batches)
//  that committed them: the writer stamps one time on every event
//  of a batch. 0 or -1.
static int
s_db_batches (PGconn *conn, int64_t after, run_result_t *result)
{
    char after_text [24];
    snprintf (after_text, sizeof after_text, "%" PRId64, after);
    const char *params [] = { after_text };
    PGresult *res = PQexecParams (conn,
        "SELECT coalesce(sum(n), 0), count(*), coalesce(max(n), 0) "
        "FROM (SELECT count(*) AS n FROM events WHERE seq > $1::bigint "
        "GROUP BY at) AS batch", 1, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1;
    if (ok) {
        result->events = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
        result->batches = strtoull (PQgetvalue (res, 0, 1), NULL, 10);
        result->max_batch = strtoull (PQgetvalue (res, 0, 2), NULL, 10);
    }
    PQclear (res);
    return ok ? 0 : -1;
}

// ------------------------------------------------------------- workers

//  Records one latency. Aborts when memory runs out (nothing to measure).
static void
s_worker_record (worker_t *self, int64_t latency_us)
{
    if (self->n_latency == self->cap_latency) {
        size_t cap = self->cap_latency ? self->cap_latency * 2 : 4096;
        int64_t *grown = realloc (self->latency_us, cap * sizeof *grown);
        if (!grown)
            abort ();
        self->latency_us = grown;
        self->cap_latency = cap;
    }
    self->latency_us [self->n_latency++] = latency_us;
}

//  Notes a failed call; keeps the first message.
static void
s_worker_fail (worker_t *self, const char *message)
{
    if (self->errors++ == 0)
        snprintf (self->error, sizeof self->error, "%s", message);
}

//  Says the thread is set up and waits for the start. Returns the time
//  to stop at (0 when the run was called off).
static int64_t
s_worker_start (worker_t *self)
{
    gate_t *gate = self->gate;
    pthread_mutex_lock (&gate->mutex);
    gate->ready++;
    pthread_cond_broadcast (&gate->cond);
    while (gate->go == 0)
        pthread_cond_wait (&gate->cond, &gate->mutex);
    int64_t deadline = gate->go > 0 ? gate->deadline_us : 0;
    pthread_mutex_unlock (&gate->mutex);
    return deadline;
}

//  A client thread: connects, checks its key with a status call (not
//  measured), then sends note_post in a closed loop until the deadline.
static void *
s_client_thread (void *arg)
{
    worker_t *self = arg;
    char err [512] = "";
    client_t *client = client_new (self->ctx, self->identity, err, sizeof err);
    if (client) {
        Recoup__StatusRequest status_request = RECOUP__STATUS_REQUEST__INIT;
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
        request.status = &status_request;
        client_status_t status;
        Recoup__Reply *reply = client_call (client, &request, SETUP_TIMEOUT_MS,
                                            &status, err, sizeof err);
        if (!reply || reply->result_case != RECOUP__REPLY__RESULT_STATUS) {
            if (reply)
                snprintf (err, sizeof err, "warm-up status call refused: %s",
                          reply->result_case == RECOUP__REPLY__RESULT_ERROR
                          ? reply->error->message : "unexpected reply");
            client_destroy (&client);
        }
        if (reply)
            recoup__reply__free_unpacked (reply, NULL);
    }
    if (!client) {
        self->setup_failed = 1;
        s_worker_fail (self, err);
    }
    int64_t deadline = s_worker_start (self);
    char text [64], request_id [WIRE_REQUEST_ID_MAX + 1], prefix [33];
    //  Request ids only need to be unique per user: a random prefix per
    //  thread, then a counter (cheaper than 16 random bytes a call).
    wire_request_id (prefix);
    prefix [12] = 0;
    uint64_t sequence = 0;
    while (client && !s_interrupted && s_now_us () < deadline) {
        Recoup__NotePostRequest post = RECOUP__NOTE_POST_REQUEST__INIT;
        snprintf (text, sizeof text, "bench note %" PRIu64 " from client %d",
                  sequence, self->index);
        post.subject = "bench";
        post.text = text;
        snprintf (request_id, sizeof request_id, "bench-%s-%d-%d-%" PRIu64,
                  prefix, self->run, self->index, sequence++);
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.request_id = request_id;
        request.command_case = RECOUP__REQUEST__COMMAND_NOTE_POST;
        request.note_post = &post;
        client_status_t status;
        int64_t started = s_now_us ();
        Recoup__Reply *reply = client_call (client, &request, CALL_TIMEOUT_MS,
                                            &status, err, sizeof err);
        int64_t finished = s_now_us ();
        if (!reply)
            s_worker_fail (self, err);
        else if (reply->result_case != RECOUP__REPLY__RESULT_NOTE_POST) {
            char message [400];
            snprintf (message, sizeof message, "note_post answered %s: %s",
                      reply->result_case == RECOUP__REPLY__RESULT_ERROR
                      ? wire_error_name (reply->error->code) : "a wrong result",
                      reply->result_case == RECOUP__REPLY__RESULT_ERROR
                      ? reply->error->message : "");
            s_worker_fail (self, message);
        }
        else if (reply->replayed)
            s_worker_fail (self, "note_post answered as a replay of an "
                           "earlier request (request id reused?)");
        else
            s_worker_record (self, finished - started);
        if (reply)
            recoup__reply__free_unpacked (reply, NULL);
    }
    self->end_us = s_now_us ();
    client_destroy (&client);
    return NULL;
}

static int s_run_workers (int count, double seconds, void *(*body) (void *),
                          const worker_t *prototype, run_result_t *result);

//  The ceiling: a CURVE ROUTER that only echoes, with no database and no
//  recoupd behind it, so the run shows what ZeroMQ and CURVE alone allow
//  on this machine with the same clients.
typedef struct {
    void *socket;               //  bound ROUTER (owned by the thread)
    volatile int stop;          //  set by main to end the thread
} echo_server_t;

static void *
s_echo_server (void *arg)
{
    echo_server_t *self = arg;
    while (!self->stop) {
        zmq_pollitem_t item = { self->socket, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 100) <= 0)
            continue;
        zmq_msg_t id, body;
        zmq_msg_init (&id);
        zmq_msg_init (&body);
        if (zmq_msg_recv (&id, self->socket, 0) >= 0
            && zmq_msg_recv (&body, self->socket, 0) >= 0) {
            zmq_msg_send (&id, self->socket, ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_msg_send (&body, self->socket, ZMQ_DONTWAIT);
        }
        zmq_msg_close (&id);
        zmq_msg_close (&body);
    }
    zmq_close (self->socket);
    return NULL;
}

//  A ceiling client: like a command client, but each call is a 120-byte
//  message echoed back (about a note_post request's size).
static void *
s_echo_thread (void *arg)
{
    worker_t *self = arg;
    void *dealer = zmq_socket (self->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (dealer, ZMQ_CURVE_SERVERKEY, self->identity->server_public, 40);
    zmq_setsockopt (dealer, ZMQ_CURVE_PUBLICKEY, self->identity->public_key, 40);
    zmq_setsockopt (dealer, ZMQ_CURVE_SECRETKEY, self->identity->secret_key, 40);
    char buf [256];
    memset (buf, 'x', sizeof buf);
    if (zmq_connect (dealer, self->echo_endpoint) != 0) {
        self->setup_failed = 1;
        s_worker_fail (self, "cannot connect to the echo server");
    }
    int64_t deadline = s_worker_start (self);
    while (!self->setup_failed && !s_interrupted && s_now_us () < deadline) {
        int64_t started = s_now_us ();
        zmq_send (dealer, buf, 120, 0);
        zmq_pollitem_t item = { dealer, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, CALL_TIMEOUT_MS) != 1
            || zmq_recv (dealer, buf, sizeof buf, 0) < 0) {
            s_worker_fail (self, "no echo in time");
            break;
        }
        s_worker_record (self, s_now_us () - started);
    }
    self->end_us = s_now_us ();
    zmq_close (dealer);
    return NULL;
}

//  Measures the echo ceiling with `clients` clients. Returns 0 or -1.
static int
s_echo_ceiling (void *ctx, const identity_t *server_keys, const identity_t *client,
                int clients, double seconds, run_result_t *result)
{
    echo_server_t server = { .socket = zmq_socket (ctx, ZMQ_ROUTER), .stop = 0 };
    int yes = 1, linger = 0;
    zmq_setsockopt (server.socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (server.socket, ZMQ_CURVE_SERVER, &yes, sizeof yes);
    zmq_setsockopt (server.socket, ZMQ_CURVE_SECRETKEY, server_keys->secret_key, 40);
    char endpoint [128];
    size_t len = sizeof endpoint;
    if (zmq_bind (server.socket, "tcp://127.0.0.1:*") != 0
        || zmq_getsockopt (server.socket, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0) {
        zmq_close (server.socket);
        return -1;
    }
    identity_t keys = *client;
    memcpy (keys.server_public, server_keys->public_key, sizeof keys.server_public);
    pthread_t thread;
    if (pthread_create (&thread, NULL, s_echo_server, &server) != 0) {
        zmq_close (server.socket);
        return -1;
    }
    worker_t prototype;
    memset (&prototype, 0, sizeof prototype);
    prototype.ctx = ctx;
    prototype.identity = &keys;
    prototype.echo_endpoint = endpoint;
    int rc = s_run_workers (clients, seconds, s_echo_thread, &prototype, result);
    server.stop = 1;
    pthread_join (thread, NULL);
    identity_wipe (&keys);
    return rc;
}

//  A baseline thread: one connection doing single-row INSERTs, each its
//  own transaction (autocommit), until the deadline.
static void *
s_commit_thread (void *arg)
{
    worker_t *self = arg;
    char err [512] = "";
    PGconn *conn = s_db_connect (self->conninfo, err, sizeof err);
    if (conn) {
        PGresult *res = PQprepare (conn, "bench_insert",
            "INSERT INTO bench_single_commit (connection, payload) "
            "VALUES ($1, $2)", 2, NULL);
        if (PQresultStatus (res) != PGRES_COMMAND_OK) {
            snprintf (err, sizeof err, "prepare: %s", PQerrorMessage (conn));
            PQfinish (conn);
            conn = NULL;
        }
        PQclear (res);
    }
    if (!conn) {
        self->setup_failed = 1;
        s_worker_fail (self, err);
    }
    int64_t deadline = s_worker_start (self);
    char connection [16], payload [64];
    snprintf (connection, sizeof connection, "%d", self->index);
    uint64_t sequence = 0;
    while (conn && !s_interrupted && s_now_us () < deadline) {
        snprintf (payload, sizeof payload, "bench row %" PRIu64
                  " from connection %d", sequence++, self->index);
        const char *values [] = { connection, payload };
        int64_t started = s_now_us ();
        PGresult *res = PQexecPrepared (conn, "bench_insert", 2, values, NULL,
                                        NULL, 0);
        int64_t finished = s_now_us ();
        if (PQresultStatus (res) == PGRES_COMMAND_OK)
            s_worker_record (self, finished - started);
        else
            s_worker_fail (self, PQerrorMessage (conn));
        PQclear (res);
    }
    self->end_us = s_now_us ();
    if (conn)
        PQfinish (conn);
    return NULL;
}

//  qsort order of latencies.
static int
s_compare_latency (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

//  Fills the latency figures of result from the workers' records.
static void
s_collect (worker_t *workers, int count, int64_t start_us, run_result_t *result)
{
    int64_t end_us = start_us;
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        total += workers [i].n_latency;
        result->errors += workers [i].errors;
        if (workers [i].errors && !*result->first_error)
            snprintf (result->first_error, sizeof result->first_error, "%s",
                      workers [i].error);
        if (workers [i].end_us > end_us)
            end_us = workers [i].end_us;
    }
    result->commands = total;
    result->elapsed_s = (double) (end_us - start_us) / 1e6;
    result->per_s = result->elapsed_s > 0 ? total / result->elapsed_s : 0;
    if (total == 0)
        return;
    int64_t *all = malloc (total * sizeof *all);
    if (!all)
        abort ();
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        memcpy (all + used, workers [i].latency_us,
                workers [i].n_latency * sizeof *all);
        used += workers [i].n_latency;
    }
    qsort (all, total, sizeof *all, s_compare_latency);
    //  Nearest rank: the smallest latency with at least p% of the calls
    //  at or below it.
    size_t p50 = (total * 50 + 99) / 100, p99 = (total * 99 + 99) / 100;
    result->p50_ms = all [p50 - 1] / 1000.0;
    result->p99_ms = all [p99 - 1] / 1000.0;
    result->max_ms = all [total - 1] / 1000.0;
    free (all);
}

//  Runs `count` threads of `body`, copies of `prototype`, for `seconds`
//  once all of them are set up, and fills result (zeroed first). A thread
//  that could not set up counts as an error. Returns 0, or -1 when the
//  threads could not be started.
static int
s_run_workers (int count, double seconds, void *(*body) (void *),
               const worker_t *prototype, run_result_t *result)
{
    memset (result, 0, sizeof *result);
    result->clients = count;
    worker_t *workers = calloc ((size_t) count, sizeof *workers);
    if (!workers)
        return -1;
    gate_t gate;
    memset (&gate, 0, sizeof gate);
    pthread_mutex_init (&gate.mutex, NULL);
    pthread_cond_init (&gate.cond, NULL);
    int started = 0;
    for (int i = 0; i < count; i++) {
        workers [i] = *prototype;
        workers [i].index = i;
        workers [i].gate = &gate;
        if (pthread_create (&workers [i].thread, NULL, body, &workers [i]) != 0)
            break;
        started++;
    }
    //  Every thread set up (or failed to); then the clock starts.
    pthread_mutex_lock (&gate.mutex);
    while (gate.ready < started)
        pthread_cond_wait (&gate.cond, &gate.mutex);
    int64_t start_us = s_now_us ();
    gate.deadline_us = start_us + (int64_t) (seconds * 1e6);
    gate.go = started == count ? 1 : -1;
    pthread_cond_broadcast (&gate.cond);
    pthread_mutex_unlock (&gate.mutex);
    for (int i = 0; i < started; i++)
        pthread_join (workers [i].thread, NULL);
    if (started == count)
        s_collect (workers, count, start_us, result);
    else
        fprintf (stderr, "bench_commands: cannot start %d threads\n", count);
    for (int i = 0; i < count; i++)
        free (workers [i].latency_us);
    free (workers);
    pthread_cond_destroy (&gate.cond);
    pthread_mutex_destroy (&gate.mutex);
    return started == count ? 0 : -1;
}

// ------------------------------------------------------------- report

//  Prints a baseline measurement as one line.
static void
s_print_baseline (const char *label, const run_result_t *result)
{
    //  The echo ceiling counts round trips, the others commits.
    const char *unit = strstr (label, "echo") ? "trips/s  " : "commits/s";
    printf ("  %-34s %9.0f %s  p50 %6.2f ms  p99 %6.2f ms  max %7.2f ms"
            "%s\n", label, result->per_s, unit, result->p50_ms, result->p99_ms,
            result->max_ms, result->errors ? "  ERRORS" : "");
    if (result->errors)
        printf ("    %" PRIu64 " failed, first: %s\n", result->errors,
                result->first_error);
    fflush (stdout);
}

//  Prints one command run as a row of the table.
static void
s_print_run (const run_result_t *result)
{
    double batches_per_s = result->elapsed_s > 0
                           ? result->batches / result->elapsed_s : 0;
    double mean_batch = result->batches
                        ? (double) result->events / result->batches : 0;
    printf ("  %7d %9" PRIu64 " %7" PRIu64 " %9.0f %8.2f %8.2f %8.2f %10.0f "
            "%10.1f %10" PRIu64 "\n", result->clients, result->commands,
            result->errors, result->per_s, result->p50_ms, result->p99_ms,
            result->max_ms, batches_per_s, mean_batch, result->max_batch);
    if (result->errors)
        printf ("    %" PRIu64 " failed, first: %s\n", result->errors,
                result->first_error);
    fflush (stdout);
}

//  Prints the figures of a run as a JSON object (no newline).
static void
s_json_run (const run_result_t *result, int with_batches)
{
    char error [1024];
    s_json_escape (error, sizeof error, result->first_error);
    printf ("{\"clients\":%d,\"count\":%" PRIu64 ",\"errors\":%" PRIu64
            ",\"seconds\":%.3f,\"per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
            "\"max_ms\":%.3f", result->clients, result->commands,
            result->errors, result->elapsed_s, result->per_s, result->p50_ms,
            result->p99_ms, result->max_ms);
    if (with_batches)
        printf (",\"batches\":%" PRIu64 ",\"mean_batch\":%.2f,\"max_batch\":%"
                PRIu64, result->batches,
                result->batches ? (double) result->events / result->batches : 0,
                result->max_batch);
    if (result->errors)
        printf (",\"first_error\":\"%s\"", error);
    printf ("}");
}

//  How many 8 KB write + fdatasync pairs per second the disk under `dir`
//  does over `seconds`: the least a durable commit waits for, and what
//  group commit saves. Returns the rate, or -1 when it cannot measure.
static double
s_fdatasync_rate (const char *dir, double seconds)
{
    char path [PATH_MAX + 32];
    snprintf (path, sizeof path, "%s/fdatasync.probe", dir);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char block [8192];
    memset (block, 'x', sizeof block);
    int64_t start = s_now_us (), end = start;
    int64_t deadline = start + (int64_t) (seconds * 1e6);
    uint64_t count = 0;
    int failed = 0;
    while (!s_interrupted && (end = s_now_us ()) < deadline) {
        if (pwrite (fd, block, sizeof block, 0) != (ssize_t) sizeof block
            || fdatasync (fd) != 0) {
            failed = 1;
            break;
        }
        count++;
    }
    close (fd);
    unlink (path);
    return failed || end <= start ? -1 : count / ((end - start) / 1e6);
}

//  Reads a setting (SHOW name) into buf, "?" when it cannot.
static void
s_db_setting (PGconn *conn, const char *name, char *buf, size_t len)
{
    char sql [96];
    snprintf (sql, sizeof sql, "SHOW %s", name);
    if (s_db_value (conn, sql, buf, len) != 0)
        snprintf (buf, len, "?");
}

// ------------------------------------------------------------- main

int
main (int argc, char *argv [])
{
    options_t options;
    int parsed = s_parse_options (argc, argv, &options);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;
    if (sodium_init () < 0) {
        fprintf (stderr, "bench_commands: libsodium cannot start\n");
        return 2;
    }
    struct sigaction action;
    memset (&action, 0, sizeof action);
    sigemptyset (&action.sa_mask);
    action.sa_handler = s_signal;
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    action.sa_handler = s_watchdog;
    sigaction (SIGALRM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
    //  Everything is bounded: start, each call, each run, each stop.
    //  This catches what slips through anyway.
    double budget = READY_TIMEOUT_MS / 1000.0 + 2.0 * SETUP_TIMEOUT_MS / 1000.0
                  + STOP_TIMEOUT_MS / 1000.0 + 60
                  + 3 * (options.baseline_seconds + 10);
    for (size_t i = 0; i < options.n_runs; i++)
        budget += options.seconds + 2.0 * CALL_TIMEOUT_MS / 1000.0
                + SETUP_TIMEOUT_MS / 1000.0;
    alarm ((unsigned) budget);

    int exit_code = 0;
    server_t server;
    memset (&server, 0, sizeof server);
    void *ctx = NULL;
    PGconn *db = NULL;
    run_result_t runs [MAX_RUNS], before, after, concurrent, ceiling;
    memset (runs, 0, sizeof runs);
    memset (&before, 0, sizeof before);
    memset (&after, 0, sizeof after);
    memset (&concurrent, 0, sizeof concurrent);
    memset (&ceiling, 0, sizeof ceiling);
    char err [512] = "";

    if (s_server_start (&server, options.recoupd) != 0) {
        exit_code = 2;
        goto done;
    }
    ctx = zmq_ctx_new ();
    if (!ctx || s_bench_user (&server, ctx) != 0) {
        exit_code = 2;
        goto done;
    }
    db = s_db_connect (server.conninfo, err, sizeof err);
    if (!db) {
        fprintf (stderr, "bench_commands: %s\n", err);
        exit_code = 2;
        goto done;
    }
    PGresult *res = PQexec (db,
        "CREATE TABLE bench_single_commit ("
        " id bigserial PRIMARY KEY,"
        " connection integer NOT NULL,"
        " payload text NOT NULL,"
        " at timestamptz NOT NULL DEFAULT now())");
    if (PQresultStatus (res) != PGRES_COMMAND_OK) {
        fprintf (stderr, "bench_commands: cannot create the baseline table: %s",
                 PQerrorMessage (db));
        PQclear (res);
        exit_code = 2;
        goto done;
    }
    PQclear (res);
    char version [64], fsync [16], sync_commit [16], sync_method [32],
         commit_delay [16];
    s_db_setting (db, "server_version", version, sizeof version);
    s_db_setting (db, "fsync", fsync, sizeof fsync);
    s_db_setting (db, "synchronous_commit", sync_commit, sizeof sync_commit);
    s_db_setting (db, "wal_sync_method", sync_method, sizeof sync_method);
    s_db_setting (db, "commit_delay", commit_delay, sizeof commit_delay);
    double fdatasync_rate = s_fdatasync_rate (server.dir, 1.0);

    printf ("recoup bench_commands: note_post from closed-loop clients, "
            "%.1f s per run\n", options.seconds);
    printf ("  server    %s (pid %d), data %s\n", options.recoupd,
            (int) server.pid, server.dir);
    printf ("  database  PostgreSQL %s, fsync=%s, synchronous_commit=%s, "
            "wal_sync_method=%s, commit_delay=%s\n", version, fsync,
            sync_commit, sync_method, commit_delay);
    printf ("  disk      8 KB write + fdatasync in the data directory: %.0f/s\n",
            fdatasync_rate);
    printf ("\nbaseline: single-row INSERTs, one transaction each, %.1f s\n",
            options.baseline_seconds);
    fflush (stdout);

    worker_t prototype;
    memset (&prototype, 0, sizeof prototype);
    prototype.conninfo = server.conninfo;
    if (s_run_workers (1, options.baseline_seconds, s_commit_thread,
                       &prototype, &before) != 0) {
        exit_code = 2;
        goto done;
    }
    s_print_baseline ("1 connection, before the runs", &before);

    printf ("\nclients   commands  errors     cmd/s   p50 ms   p99 ms   max ms"
            "  batches/s  avg batch  max batch\n");
    fflush (stdout);
    memset (&prototype, 0, sizeof prototype);
    prototype.ctx = ctx;
    prototype.identity = &server.bench;
    for (size_t i = 0; i < options.n_runs && !s_interrupted; i++) {
        int64_t last_seq = s_db_last_seq (db);
        prototype.run = (int) i;
        if (s_run_workers (options.clients [i], options.seconds,
                           s_client_thread, &prototype, &runs [i]) != 0) {
            exit_code = 2;
            goto done;
        }
        if (last_seq < 0 || s_db_batches (db, last_seq, &runs [i]) != 0)
            fprintf (stderr, "bench_commands: cannot read batch sizes: %s",
                     PQerrorMessage (db));
        s_print_run (&runs [i]);
    }
    printf ("\n");
    memset (&prototype, 0, sizeof prototype);
    prototype.conninfo = server.conninfo;
    if (!s_interrupted
        && s_run_workers (1, options.baseline_seconds, s_commit_thread,
                          &prototype, &after) == 0)
        s_print_baseline ("1 connection, after the runs", &after);
    char label [64];
    snprintf (label, sizeof label, "%d connections at once",
              options.connections);
    if (!s_interrupted && options.connections > 0
        && s_run_workers (options.connections, options.baseline_seconds,
                          s_commit_thread, &prototype, &concurrent) == 0)
        s_print_baseline (label, &concurrent);
    identity_t echo_keys;
    memset (&echo_keys, 0, sizeof echo_keys);
    identity_generate (&echo_keys);
    snprintf (label, sizeof label, "CURVE echo, no db, %d clients",
              TARGET_CLIENTS);
    if (!s_interrupted
        && s_echo_ceiling (ctx, &echo_keys, &server.bench, TARGET_CLIENTS,
                           options.baseline_seconds, &ceiling) == 0)
        s_print_baseline (label, &ceiling);
    identity_wipe (&echo_keys);
    if (s_interrupted) {
        fprintf (stderr, "bench_commands: interrupted\n");
        exit_code = 130;
        goto done;
    }

    //  The figures the issue asks for.
    double single = after.commands ? (before.per_s + after.per_s) / 2
                                    : before.per_s;
    const run_result_t *target = NULL;
    for (size_t i = 0; i < options.n_runs; i++)
        if (!target || runs [i].clients == TARGET_CLIENTS
            || (target->clients != TARGET_CLIENTS
                && runs [i].clients > target->clients))
            target = &runs [i];
    double ratio = single > 0 ? target->per_s / single : 0;
    int ratio_pass = ratio >= TARGET_RATIO;
    int p99_pass = target->commands > 0 && target->p99_ms < TARGET_P99_MS;
    uint64_t errors = before.errors + after.errors + concurrent.errors
                      + ceiling.errors;
    for (size_t i = 0; i < options.n_runs; i++)
        errors += runs [i].errors;
    printf ("\nsingle-row commits, 1 connection (mean of before and after): "
            "%.0f/s\n", single);
    if (target->clients != TARGET_CLIENTS)
        printf ("(the targets are for %d clients; measured at %d)\n",
                TARGET_CLIENTS, target->clients);
    printf ("%d clients: %.0f commands/s = %.2fx the single-row commit rate "
            "(target >= %.0fx): %s\n", target->clients, target->per_s, ratio,
            TARGET_RATIO, ratio_pass ? "PASS" : "FAIL");
    printf ("%d clients: p99 %.2f ms (target < %.0f ms): %s\n",
            target->clients, target->p99_ms, TARGET_P99_MS,
            p99_pass ? "PASS" : "FAIL");
    if (ceiling.per_s > 0)
        printf ("%d clients: %.0f commands/s = %.2f of the bare CURVE echo "
                "ceiling (%.0f/s = %.2fx the single-row commit rate)\n",
                target->clients, target->per_s, target->per_s / ceiling.per_s,
                ceiling.per_s, single > 0 ? ceiling.per_s / single : 0);
    if (errors) {
        printf ("ERRORS: %" PRIu64 " calls failed; the figures above do not "
                "count\n", errors);
        exit_code = 1;
    }
    else
        printf ("errors: none\n");

    char json_version [sizeof version * 6], json_fsync [sizeof fsync * 6],
         json_commit [sizeof sync_commit * 6], json_method [sizeof sync_method * 6];
    s_json_escape (json_version, sizeof json_version, version);
    s_json_escape (json_fsync, sizeof json_fsync, fsync);
    s_json_escape (json_commit, sizeof json_commit, sync_commit);
    s_json_escape (json_method, sizeof json_method, sync_method);
    printf ("{\"benchmark\":\"bench_commands\",\"command\":\"note_post\","
            "\"run_seconds\":%.3f,\"baseline_seconds\":%.3f,"
            "\"postgres\":\"%s\",\"fsync\":\"%s\",\"synchronous_commit\":\"%s\","
            "\"wal_sync_method\":\"%s\",\"fdatasync_per_s\":%.1f,\"runs\":[",
            options.seconds, options.baseline_seconds, json_version, json_fsync,
            json_commit, json_method, fdatasync_rate);
    for (size_t i = 0; i < options.n_runs; i++) {
        if (i > 0)
            printf (",");
        s_json_run (&runs [i], 1);
    }
    printf ("],\"baseline\":{\"single_commits_per_s\":%.1f,\"before\":", single);
    s_json_run (&before, 0);
    printf (",\"after\":");
    s_json_run (&after, 0);
    if (options.connections > 0) {
        printf (",\"concurrent\":");
        s_json_run (&concurrent, 0);
    }
    printf (",\"curve_echo\":");
    s_json_run (&ceiling, 0);
    printf ("},\"target\":{\"clients\":%d,\"measured_clients\":%d,"
            "\"ratio_min\":%.1f,\"p99_max_ms\":%.1f},\"ratio\":%.3f,"
            "\"ratio_pass\":%s,\"p99_pass\":%s,\"pass\":%s,\"errors\":%" PRIu64
            "}\n", TARGET_CLIENTS, target->clients, TARGET_RATIO,
            TARGET_P99_MS, ratio, ratio_pass ? "true" : "false",
            p99_pass ? "true" : "false",
            ratio_pass && p99_pass && !errors ? "true" : "false", errors);
    fflush (stdout);

done:
    if (db)
        PQfinish (db);
    if (ctx)
        zmq_ctx_term (ctx);
    if (server.pid) {
        int status = s_server_stop (&server);
        if (status != 0) {
            fprintf (stderr, "bench_commands: recoupd stopped with status %d; "
                     "see %s\n", status, server.log);
            if (exit_code == 0)
                exit_code = 1;
            options.keep = 1;
        }
    }
    if (*server.dir) {
        //  A start-up failure keeps the server's log, if there is one.
        if (options.keep || (exit_code == 2 && access (server.log, F_OK) == 0))
            fprintf (stderr, "bench_commands: kept %s (recoupd.log there)\n",
                     server.dir);
        else
            s_remove_tree (server.dir);
    }
    identity_wipe (&server.admin);
    identity_wipe (&server.bench);
    return exit_code;
}
