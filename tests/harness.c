/*  harness: real servers for integration tests. See harness.h.          */
#define _GNU_SOURCE
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#ifndef RECOUPD_PATH
#error "RECOUPD_PATH must be defined"
#endif

static void *s_ctx = NULL;

long long
th_now_ms (void)
{
    return wire_clock_ms ();
}

void
th_sleep_ms (int ms)
{
    struct timespec t = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep (&t, NULL);
}

void *
th_ctx (void)
{
    if (!s_ctx)
        s_ctx = zmq_ctx_new ();
    return s_ctx;
}

int
th_tempdir (char *dir, size_t len, const char *name)
{
    snprintf (dir, len, "/tmp/recoup-test-%s-XXXXXX", name);
    if (!mkdtemp (dir))
        return -1;
    return chmod (dir, 0711);
}

//  Reads DIR/ready into the endpoints. Returns 1 when present.
static int
s_read_ready (th_server_t *self)
{
    char path [PATH_MAX + 32];
    snprintf (path, sizeof path, "%s/ready", self->data);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line [200];
    while (fgets (line, sizeof line, file)) {
        line [strcspn (line, "\n")] = 0;
        if (strncmp (line, "commands=", 9) == 0)
            snprintf (self->commands, sizeof self->commands, "%s", line + 9);
        else if (strncmp (line, "events=", 7) == 0)
            snprintf (self->events, sizeof self->events, "%s", line + 7);
    }
    fclose (file);
    return *self->commands && *self->events;
}

//  Forks and execs recoupd; waits for ready. 0 or -1.
static int
s_spawn (th_server_t *self, const char *commands, const char *events)
{
    char path [PATH_MAX + 32];
    snprintf (path, sizeof path, "%s/ready", self->data);
    unlink (path);
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open (self->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2 (fd, 2);
            dup2 (fd, 1);
        }
        if (self->run_as && (setgid (self->run_as) != 0 || setuid (self->run_as) != 0))
            _exit (126);
        char *argv [12], copy [PATH_MAX + 32];
        int n = 0;
        argv [n++] = RECOUPD_PATH;
        if (self->run_as) {
            //  The build tree may sit where that user cannot go (a clone
            //  under /root): run a copy from the test's own directory.
            snprintf (copy, sizeof copy, "%s/recoupd", self->dir);
            argv [0] = copy;
        }
        argv [n++] = "--data";
        argv [n++] = self->data;
        argv [n++] = "--commands";
        argv [n++] = (char *) commands;
        argv [n++] = "--events";
        argv [n++] = (char *) events;
        if (*self->db) {
            argv [n++] = "--db";
            argv [n++] = self->db;
        }
        argv [n] = NULL;
        execv (argv [0], argv);
        _exit (127);
    }
    self->pid = pid;
    long long deadline = th_now_ms () + 90000;
    while (th_now_ms () < deadline) {
        int status;
        if (waitpid (pid, &status, WNOHANG) == pid) {
            self->pid = 0;
            fprintf (stderr, "harness: recoupd exited during start-up; log %s\n",
                     self->log);
            return -1;
        }
        if (s_read_ready (self))
            return 0;
        th_sleep_ms (20);
    }
    fprintf (stderr, "harness: recoupd not ready in time; log %s\n", self->log);
    return -1;
}

int
th_server_start (th_server_t *self, const char *name, const char *db)
{
    //  The daily engine runs by itself in production; tests that count
    //  events or drive dates turn it on themselves.
    setenv ("RECOUP_ENGINE_DAILY", "off", 0);
    uid_t run_as = self->run_as;
    memset (self, 0, sizeof *self);
    self->run_as = run_as;
    if (th_tempdir (self->dir, sizeof self->dir, name) != 0)
        return -1;
    snprintf (self->data, sizeof self->data, "%s/data", self->dir);
    snprintf (self->log, sizeof self->log, "%s/recoupd.log", self->dir);
    snprintf (self->db, sizeof self->db, "%s", db ? db : "");
    if (self->run_as) {
        //  The data directory must belong to the user recoupd runs as.
        mkdir (self->data, 0700);
        if (chown (self->data, self->run_as, self->run_as) != 0)
            return -1;
        char command [3 * PATH_MAX + 64];
        int len = snprintf (command, sizeof command,
                            "cp '%s' '%s/recoupd' && chmod 755 '%s/recoupd'",
                            RECOUPD_PATH, self->dir, self->dir);
        if (len < 0 || len >= (int) sizeof command || system (command) != 0)
            return -1;
    }
    if (s_spawn (self, "tcp://127.0.0.1:*", "tcp://127.0.0.1:*") != 0)
        return -1;
    char path [PATH_MAX + 32], err [512];
    snprintf (path, sizeof path, "%s/admin.identity", self->data);
    if (identity_load (&self->admin, path, 0, err, sizeof err) != 0) {
        fprintf (stderr, "harness: %s\n", err);
        return -1;
    }
    return 0;
}

int
th_server_restart (th_server_t *self)
{
    char commands [256], events [256];
    snprintf (commands, sizeof commands, "%s", self->commands);
    snprintf (events, sizeof events, "%s", self->events);
    return s_spawn (self, commands, events);
}

int
th_server_stop (th_server_t *self)
{
    if (!self->pid)
        return -1;
    kill (self->pid, SIGTERM);
    int status = 0;
    waitpid (self->pid, &status, 0);
    self->pid = 0;
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

void
th_server_kill (th_server_t *self)
{
    if (!self->pid)
        return;
    kill (self->pid, SIGKILL);
    waitpid (self->pid, NULL, 0);
    self->pid = 0;
}

void
th_server_destroy (th_server_t *self)
{
    th_server_stop (self);
    identity_wipe (&self->admin);
    if (*self->dir && !getenv ("RECOUP_TEST_KEEP")) {
        //  The embedded cluster may still be shutting down after a kill.
        char command [PATH_MAX + 32];
        snprintf (command, sizeof command, "rm -rf '%s'", self->dir);
        for (int i = 0; i < 50 && system (command) != 0; i++)
            th_sleep_ms (100);
    }
}

void
th_identity_new (th_server_t *self, identity_t *out, const char *name)
{
    memset (out, 0, sizeof *out);
    snprintf (out->user, sizeof out->user, "%s", name);
    snprintf (out->commands, sizeof out->commands, "%s", self->commands);
    snprintf (out->events, sizeof out->events, "%s", self->events);
    snprintf (out->server_public, sizeof out->server_public, "%s",
              self->admin.server_public);
    identity_generate (out);
}

Recoup__Reply *
th_call (const identity_t *who, Recoup__Request *request, client_status_t *status)
{
    char err [512];
    client_t *client = client_new (th_ctx (), who, err, sizeof err);
    if (!client) {
        *status = CLIENT_FAILED;
        return NULL;
    }
    Recoup__Reply *reply = client_call (client, request, 10000, status, err,
                                        sizeof err);
    client_destroy (&client);
    return reply;
}

int
th_user_add (th_server_t *self, const char *name, Recoup__Role role,
             identity_t *out)
{
    th_identity_new (self, out, name);
    Recoup__UserAddRequest add = RECOUP__USER_ADD_REQUEST__INIT;
    add.name = (char *) name;
    add.role = role;
    add.public_key = out->public_key;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_USER_ADD;
    request.user_add = &add;
    client_status_t status;
    Recoup__Reply *reply = th_call (&self->admin, &request, &status);
    int ok = reply && reply->result_case == RECOUP__REPLY__RESULT_USER_ADD;
    if (reply)
        recoup__reply__free_unpacked (reply, NULL);
    return ok ? 0 : -1;
}

uint64_t
th_note (const identity_t *who, const char *text)
{
    Recoup__NotePostRequest post = RECOUP__NOTE_POST_REQUEST__INIT;
    post.text = (char *) text;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_NOTE_POST;
    request.note_post = &post;
    client_status_t status;
    Recoup__Reply *reply = th_call (who, &request, &status);
    uint64_t seq = 0;
    if (reply && reply->result_case == RECOUP__REPLY__RESULT_NOTE_POST)
        seq = reply->note_post->seq;
    if (reply)
        recoup__reply__free_unpacked (reply, NULL);
    return seq;
}

char *
th_sql (th_server_t *self, const char *sql)
{
    char path [PATH_MAX + 32], conninfo [PATH_MAX + 256] = "";
    snprintf (path, sizeof path, "%s/db.conninfo", self->data);
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    if (!fgets (conninfo, sizeof conninfo, file))
        conninfo [0] = 0;
    fclose (file);
    conninfo [strcspn (conninfo, "\n")] = 0;
    PGconn *conn = PQconnectdb (conninfo);
    char *value = NULL;
    if (PQstatus (conn) == CONNECTION_OK) {
        PGresult *res = PQexec (conn, sql);
        ExecStatusType st = PQresultStatus (res);
        if (st == PGRES_TUPLES_OK && PQntuples (res) > 0)
            value = strdup (PQgetvalue (res, 0, 0));
        else if (st == PGRES_COMMAND_OK)
            value = strdup ("");
        else
            fprintf (stderr, "harness: SQL failed: %s", PQerrorMessage (conn));
        PQclear (res);
    }
    else
        fprintf (stderr, "harness: cannot connect: %s", PQerrorMessage (conn));
    PQfinish (conn);
    return value;
}

//  Runs a program (as user postgres when self->as_postgres), its output
//  to the cluster's log. Returns its exit status, -1 if it did not run.
static int
s_pg_run (th_pg_t *self, char *const argv [])
{
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char log [PATH_MAX + 64];
        snprintf (log, sizeof log, "%s/tool.log", self->sockdir);
        int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
        }
        if (self->as_postgres) {
            struct passwd *pw = getpwnam ("postgres");
            if (!pw || setgid (pw->pw_gid) != 0 || setuid (pw->pw_uid) != 0)
                _exit (126);
        }
        execv (argv [0], argv);
        _exit (127);
    }
    int status;
    if (waitpid (pid, &status, 0) != pid)
        return -1;
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

//  Directory of the newest installed PostgreSQL server binaries.
static const char *
s_pg_bindir (void)
{
    static char bindir [256] = "";
    if (*bindir)
        return bindir;
    for (int version = 30; version >= 10; version--) {
        snprintf (bindir, sizeof bindir, "/usr/lib/postgresql/%d/bin", version);
        char probe [300];
        snprintf (probe, sizeof probe, "%s/pg_ctl", bindir);
        if (access (probe, X_OK) == 0)
            return bindir;
    }
    snprintf (bindir, sizeof bindir, "/usr/bin");
    return bindir;
}

int
th_pg_start (th_pg_t *self, const char *name)
{
    memset (self, 0, sizeof *self);
    char base [PATH_MAX];
    if (th_tempdir (base, sizeof base, name) != 0)
        return -1;
    snprintf (self->dir, sizeof self->dir, "%s/pg", base);
    snprintf (self->sockdir, sizeof self->sockdir, "%s", base);
    self->as_postgres = geteuid () == 0;
    if (self->as_postgres) {
        struct passwd *pw = getpwnam ("postgres");
        if (!pw || chown (base, pw->pw_uid, pw->pw_gid) != 0)
            return -1;
    }
    char initdb [300], pg_ctl [300], log [PATH_MAX + 64], options [PATH_MAX + 128];
    snprintf (initdb, sizeof initdb, "%s/initdb", s_pg_bindir ());
    snprintf (pg_ctl, sizeof pg_ctl, "%s/pg_ctl", s_pg_bindir ());
    snprintf (log, sizeof log, "%s/postgresql.log", self->sockdir);
    snprintf (options, sizeof options,
              "-c listen_addresses= -c unix_socket_directories=%s", self->sockdir);
    char *init_argv [] = { initdb, "-D", self->dir, "-U", "postgres", "-A", "trust",
                           "--no-instructions", NULL };
    if (s_pg_run (self, init_argv) != 0)
        return -1;
    char *start_argv [] = { pg_ctl, "-D", self->dir, "-l", log, "-w", "-o", options,
                            "start", NULL };
    if (s_pg_run (self, start_argv) != 0)
        return -1;
    snprintf (self->conninfo, sizeof self->conninfo,
              "host=%s dbname=postgres user=postgres", self->sockdir);
    return 0;
}

int
th_pg_restart (th_pg_t *self)
{
    char pg_ctl [300];
    snprintf (pg_ctl, sizeof pg_ctl, "%s/pg_ctl", s_pg_bindir ());
    char *argv [] = { pg_ctl, "-D", self->dir, "-m", "fast", "-w", "restart", NULL };
    return s_pg_run (self, argv) == 0 ? 0 : -1;
}

void
th_pg_stop (th_pg_t *self)
{
    if (!*self->dir)
        return;
    char pg_ctl [300];
    snprintf (pg_ctl, sizeof pg_ctl, "%s/pg_ctl", s_pg_bindir ());
    char *argv [] = { pg_ctl, "-D", self->dir, "-m", "immediate", "-w", "stop", NULL };
    s_pg_run (self, argv);
    if (!getenv ("RECOUP_TEST_KEEP")) {
        char command [PATH_MAX + 64];
        snprintf (command, sizeof command, "rm -rf '%s'", self->sockdir);
        if (system (command) != 0)
            fprintf (stderr, "harness: cannot remove %s\n", self->sockdir);
    }
}

//  Reads a whole (small) file into buf.
static void
s_slurp (const char *path, char *buf, size_t len)
{
    buf [0] = 0;
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    size_t n = fread (buf, 1, len - 1, file);
    buf [n] = 0;
    fclose (file);
}

int
th_run (th_server_t *self, th_run_t *run, const char *identity, const char *format, ...)
{
    char args [8192], command [16384], out [PATH_MAX + 64], err [PATH_MAX + 64];
    char admin [PATH_MAX + 64];
    va_list ap;
    va_start (ap, format);
    vsnprintf (args, sizeof args, format, ap);
    va_end (ap);
    snprintf (admin, sizeof admin, "%s/admin.identity", self->data);
    snprintf (out, sizeof out, "%s/run.out", self->dir);
    snprintf (err, sizeof err, "%s/run.err", self->dir);
    int len = snprintf (command, sizeof command, "cd '%s' && %s --identity '%s' %s >%s 2>%s </dev/null",
                        self->dir, RECOUP_PATH, identity ? identity : admin, args, out, err);
    if (len <= 0 || len >= (int) sizeof command) {
        run->status = -1;
        return -1;
    }
    int status = system (command);
    run->status = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
    s_slurp (out, run->out, sizeof run->out);
    s_slurp (err, run->err, sizeof run->err);
    return run->status;
}

const char *
th_write_file (th_server_t *self, const char *name, const char *text)
{
    static char path [PATH_MAX + 256];
    snprintf (path, sizeof path, "%s/%s", self->dir, name);
    FILE *file = fopen (path, "wb");
    if (!file)
        return NULL;
    fputs (text, file);
    fclose (file);
    return path;
}

void
th_expect_run_at (const th_run_t *run, int want, const char *needle,
                  const char *file, int line)
{
    if (run->status != want
        || (needle && !strstr (run->out, needle) && !strstr (run->err, needle))) {
        print_error ("expected exit %d%s%s, got %d\nstdout: %s\nstderr: %s\n", want,
                     needle ? " with " : "", needle ? needle : "", run->status,
                     run->out, run->err);
        _fail (file, line);
    }
}

int
th_admin (th_server_t *self, const char *format, ...)
{
    char args [8192];
    va_list ap;
    va_start (ap, format);
    vsnprintf (args, sizeof args, format, ap);
    va_end (ap);
    th_run_t run;
    if (th_run (self, &run, NULL, "%s", args) != 0) {
        fprintf (stderr, "setup: recoup %s: %s%s\n", args, run.out, run.err);
        return -1;
    }
    return 0;
}

int
th_identity_file (th_server_t *self, const identity_t *who, const char *name,
                  char *path, size_t len)
{
    snprintf (path, len, "%s/%s.identity", self->dir, name);
    char err [256];
    return identity_save (who, path, IDENTITY_FULL, 0, err, sizeof err);
}

//  The SQL that format makes (caller frees); fails the test when it
//  cannot be made.
static char *
s_sql_format (const char *file, int line, const char *format, va_list ap)
{
    char *sql = NULL;
    if (vasprintf (&sql, format, ap) < 0) {
        print_error ("cannot format SQL %s\n", format);
        _fail (file, line);
    }
    return sql;
}

//  th_sql of the formatted SQL; fails the test when it gives nothing.
static char *
s_sql_value (const char *file, int line, th_server_t *self, const char *format,
             va_list ap)
{
    char *sql = s_sql_format (file, line, format, ap);
    char *value = th_sql (self, sql);
    if (!value) {
        print_error ("SQL gave nothing: %s\n", sql);
        free (sql);
        _fail (file, line);
    }
    free (sql);
    return value;
}

long long
th_sql_int_at (const char *file, int line, th_server_t *self, const char *format, ...)
{
    va_list ap;
    va_start (ap, format);
    char *value = s_sql_value (file, line, self, format, ap);
    va_end (ap);
    long long number = strtoll (value, NULL, 10);
    free (value);
    return number;
}

char *
th_sql_text_at (const char *file, int line, th_server_t *self, const char *format, ...)
{
    va_list ap;
    va_start (ap, format);
    char *value = s_sql_value (file, line, self, format, ap);
    va_end (ap);
    return value;
}

void
th_expect_sql_at (const char *file, int line, th_server_t *self, const char *want,
                  const char *format, ...)
{
    va_list ap;
    va_start (ap, format);
    char *sql = s_sql_format (file, line, format, ap);
    va_end (ap);
    char *value = th_sql (self, sql);
    if (!value || strcmp (value, want) != 0) {
        print_error ("SQL %s\ngave '%s', expected '%s'\n", sql, value ? value : "(null)",
                     want);
        free (sql);
        free (value);
        _fail (file, line);
    }
    free (sql);
    free (value);
}

long long
th_events (th_server_t *self, const char *kind)
{
    return th_sql_int (self, "SELECT count (*) FROM events WHERE kind = '%s'", kind);
}

Recoup__Reply *
th_request_at (const identity_t *who, Recoup__Request *request, const char *file, int line)
{
    client_status_t status;
    Recoup__Reply *reply = th_call (who, request, &status);
    if (!reply) {
        print_error ("no reply (client status %d)\n", (int) status);
        _fail (file, line);
    }
    return reply;
}
