/*  pgembed: a private PostgreSQL cluster under recoupd's data directory.
    See pgembed.h.                                                       */
#define _GNU_SOURCE
#include "pgembed.h"
#include "../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG_DBNAME "recoup"
#define PG_SUPERUSER "recoup"
#define PG_START_TIMEOUT_MS 60000
#define PG_STOP_TIMEOUT_MS 30000

struct pgembed_t {
    char datadir [PATH_MAX];    //  recoupd's data directory
    char pgdata [PATH_MAX + 64];     //  DIR/pg
    char sockdir [PATH_MAX + 64];    //  where the Unix socket lives
    char logfile [PATH_MAX + 64];    //  DIR/log/postgresql.log
    char bindir [PATH_MAX];     //  PostgreSQL server binaries
    char conninfo [PATH_MAX + 256]; //  for the recoup database
    int as_other_user;          //  recoupd is root: drop to uid/gid
    uid_t uid;                  //  user the cluster runs as
    gid_t gid;                  //  its group
    char user_name [64];        //  its name, for messages
    pid_t pid;                  //  postmaster, 0 when not running
    long long last_restart_ms;  //  when supervise last tried to start it
};

static long long
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void
s_sleep_ms (int ms)
{
    struct timespec t = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep (&t, NULL);
}

//  Finds the directory with initdb and postgres: $RECOUP_PG_BINDIR, the
//  newest /usr/lib/postgresql/N/bin, or the PATH.
static int
s_find_bindir (char *bindir, size_t len)
{
    const char *env = getenv ("RECOUP_PG_BINDIR");
    if (env && *env) {
        snprintf (bindir, len, "%s", env);
        return 0;
    }
    DIR *dir = opendir ("/usr/lib/postgresql");
    int best = -1;
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir)) != NULL) {
            char *end;
            long version = strtol (entry->d_name, &end, 10);
            if (*end || end == entry->d_name)
                continue;
            char probe [PATH_MAX];
            snprintf (probe, sizeof probe, "/usr/lib/postgresql/%ld/bin/postgres",
                      version);
            if (access (probe, X_OK) == 0 && version > best)
                best = (int) version;
        }
        closedir (dir);
    }
    if (best >= 0) {
        snprintf (bindir, len, "/usr/lib/postgresql/%d/bin", best);
        return 0;
    }
    const char *path = getenv ("PATH");
    char copy [4096];
    snprintf (copy, sizeof copy, "%s", path ? path : "/usr/bin:/bin");
    for (char *save, *part = strtok_r (copy, ":", &save); part;
         part = strtok_r (NULL, ":", &save)) {
        char probe [PATH_MAX];
        snprintf (probe, sizeof probe, "%s/initdb", part);
        if (access (probe, X_OK) == 0) {
            snprintf (bindir, len, "%s", part);
            return 0;
        }
    }
    return -1;
}

//  Makes `path` a directory owned by the cluster's user with `mode`.
static int
s_make_dir (pgembed_t *self, const char *path, mode_t mode, char *err,
            size_t errlen)
{
    if (mkdir (path, mode) != 0 && errno != EEXIST) {
        snprintf (err, errlen, "cannot create %s: %s", path, strerror (errno));
        return -1;
    }
    if (self->as_other_user && chown (path, self->uid, self->gid) != 0) {
        snprintf (err, errlen, "cannot give %s to user %s: %s", path,
                  self->user_name, strerror (errno));
        return -1;
    }
    if (chmod (path, mode) != 0) {
        snprintf (err, errlen, "cannot chmod %s: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

//  In a forked child: become the cluster's user, if recoupd is root.
static void
s_child_drop_privileges (pgembed_t *self)
{
    if (!self->as_other_user)
        return;
    if (setgroups (0, NULL) != 0 || setgid (self->gid) != 0
        || setuid (self->uid) != 0) {
        fprintf (stderr, "recoupd: cannot switch to user %s: %s\n",
                 self->user_name, strerror (errno));
        _exit (126);
    }
}

//  As the cluster's user, checks that it can reach and write `path`;
//  when not, names the first directory on the way that stops it.
static int
s_check_reachable (pgembed_t *self, const char *path, char *err, size_t errlen)
{
    if (!self->as_other_user)
        return 0;
    int fds [2];
    if (pipe (fds) != 0) {
        snprintf (err, errlen, "pipe: %s", strerror (errno));
        return -1;
    }
    pid_t pid = fork ();
    if (pid < 0) {
        snprintf (err, errlen, "fork: %s", strerror (errno));
        close (fds [0]);
        close (fds [1]);
        return -1;
    }
    if (pid == 0) {
        close (fds [0]);
        s_child_drop_privileges (self);
        if (access (path, R_OK | W_OK | X_OK) == 0)
            _exit (0);
        //  Walk down from / to find the first directory that blocks.
        char prefix [PATH_MAX];
        snprintf (prefix, sizeof prefix, "%s", path);
        for (char *slash = strchr (prefix + 1, '/'); ; slash = strchr (slash + 1, '/')) {
            if (slash)
                *slash = 0;
            if (access (prefix, X_OK) != 0) {
                if (write (fds [1], prefix, strlen (prefix)) < 0)
                    _exit (2);
                _exit (1);
            }
            if (!slash)
                break;
            *slash = '/';
        }
        if (write (fds [1], path, strlen (path)) < 0)
            _exit (2);
        _exit (1);
    }
    close (fds [1]);
    char blocked [PATH_MAX] = "";
    ssize_t got = read (fds [0], blocked, sizeof blocked - 1);
    blocked [got > 0 ? got : 0] = 0;
    close (fds [0]);
    int status;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return 0;
    snprintf (err, errlen,
              "recoupd runs as root, so its database runs as user '%s', "
              "which cannot reach %s (blocked at %s). Use a data directory "
              "that user can reach, e.g. --data /var/lib/recoup, or give it "
              "search permission (chmod o+x %s), or run recoupd as a normal "
              "user",
              self->user_name, path, blocked, blocked);
    return -1;
}

//  Runs a program (argv[0] is a path) as the cluster's user, with stdout
//  and stderr appended to the log file. Returns its exit status, -1 on
//  failure to start.
static int
s_run (pgembed_t *self, char *const argv [])
{
    int logfd = open (self->logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                      0600);
    if (logfd >= 0 && self->as_other_user)
        if (fchown (logfd, self->uid, self->gid) != 0)
            log_warn ("cannot chown log file", "file", self->logfile);
    pid_t pid = fork ();
    if (pid < 0) {
        if (logfd >= 0)
            close (logfd);
        return -1;
    }
    if (pid == 0) {
        if (logfd >= 0) {
            dup2 (logfd, 1);
            dup2 (logfd, 2);
        }
        int null = open ("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2 (null, 0);
        s_child_drop_privileges (self);
        execv (argv [0], argv);
        fprintf (stderr, "recoupd: cannot run %s: %s\n", argv [0],
                 strerror (errno));
        _exit (127);
    }
    if (logfd >= 0)
        close (logfd);
    int status;
    while (waitpid (pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128;
}

//  Quotes a value for a libpq connection string.
static void
s_conn_quote (char *out, size_t len, const char *value)
{
    size_t j = 0;
    if (j < len - 1)
        out [j++] = '\'';
    for (const char *p = value; *p && j < len - 3; p++) {
        if (*p == '\'' || *p == '\\')
            out [j++] = '\\';
        out [j++] = *p;
    }
    out [j++] = '\'';
    out [j] = 0;
}

pgembed_t *
pgembed_new (const char *datadir, const char *db_user, char *err, size_t errlen)
{
    pgembed_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    if (!realpath (datadir, self->datadir)) {
        snprintf (err, errlen, "cannot resolve %s: %s", datadir,
                  strerror (errno));
        free (self);
        return NULL;
    }
    if (s_find_bindir (self->bindir, sizeof self->bindir) != 0) {
        snprintf (err, errlen,
                  "PostgreSQL server binaries not found (looked in "
                  "$RECOUP_PG_BINDIR, /usr/lib/postgresql/*/bin, PATH); "
                  "install the 'postgresql' package or pass --db");
        free (self);
        return NULL;
    }
    snprintf (self->pgdata, sizeof self->pgdata, "%s/pg", self->datadir);
    snprintf (self->logfile, sizeof self->logfile, "%s/log/postgresql.log",
              self->datadir);
    //  A Unix socket path is limited to 107 bytes; with a long data
    //  directory the socket goes to a private directory under /tmp.
    snprintf (self->sockdir, sizeof self->sockdir, "%s/run", self->datadir);
    if (strlen (self->sockdir) + strlen ("/.s.PGSQL.5432") + 1
        > sizeof ((struct sockaddr_un *) 0)->sun_path) {
        char tmpl [] = "/tmp/recoup-pg-XXXXXX";
        if (!mkdtemp (tmpl)) {
            snprintf (err, errlen, "mkdtemp: %s", strerror (errno));
            free (self);
            return NULL;
        }
        snprintf (self->sockdir, sizeof self->sockdir, "%s", tmpl);
    }
    if (geteuid () == 0) {
        const char *name = db_user;
        struct passwd *pw = NULL;
        if (name)
            pw = getpwnam (name);
        else {
            pw = getpwnam ((name = "postgres"));
            if (!pw)
                pw = getpwnam ((name = "nobody"));
        }
        if (!pw || pw->pw_uid == 0) {
            snprintf (err, errlen,
                      "recoupd runs as root and PostgreSQL may not: no "
                      "unprivileged user '%s' to run it as (use --db-user)",
                      name ? name : "postgres");
            free (self);
            return NULL;
        }
        self->as_other_user = 1;
        self->uid = pw->pw_uid;
        self->gid = pw->pw_gid;
        snprintf (self->user_name, sizeof self->user_name, "%s", pw->pw_name);
    }
    else {
        struct passwd *pw = getpwuid (geteuid ());
        snprintf (self->user_name, sizeof self->user_name, "%s",
                  pw ? pw->pw_name : "self");
    }
    char quoted [PATH_MAX + 8];
    s_conn_quote (quoted, sizeof quoted, self->sockdir);
    snprintf (self->conninfo, sizeof self->conninfo,
              "host=%s port=5432 dbname=" PG_DBNAME " user=" PG_SUPERUSER,
              quoted);
    return self;
}

//  Waits for a postmaster left behind by an earlier recoupd (killed hard)
//  to go away, asking it to stop first.
static void
s_stop_leftover (pgembed_t *self)
{
    char pidfile [PATH_MAX + 128];
    snprintf (pidfile, sizeof pidfile, "%s/postmaster.pid", self->pgdata);
    FILE *file = fopen (pidfile, "r");
    if (!file)
        return;
    long pid = 0;
    if (fscanf (file, "%ld", &pid) != 1)
        pid = 0;
    fclose (file);
    if (pid <= 0 || kill ((pid_t) pid, 0) != 0)
        return;
    char pidtext [32];
    snprintf (pidtext, sizeof pidtext, "%ld", pid);
    log_warn ("stopping a PostgreSQL left running by an earlier recoupd",
              "pid", pidtext);
    kill ((pid_t) pid, SIGINT);
    long long deadline = s_now_ms () + PG_STOP_TIMEOUT_MS;
    while (kill ((pid_t) pid, 0) == 0 && s_now_ms () < deadline)
        s_sleep_ms (50);
}

//  Forks the postmaster. Returns 0 or -1.
static int
s_spawn (pgembed_t *self, char *err, size_t errlen)
{
    s_stop_leftover (self);
    int logfd = open (self->logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                      0600);
    if (logfd < 0) {
        snprintf (err, errlen, "cannot open %s: %s", self->logfile,
                  strerror (errno));
        return -1;
    }
    if (self->as_other_user && fchown (logfd, self->uid, self->gid) != 0)
        log_warn ("cannot chown log file", "file", self->logfile);
    char postgres [PATH_MAX + 16], sockopt [PATH_MAX + 128];
    snprintf (postgres, sizeof postgres, "%s/postgres", self->bindir);
    snprintf (sockopt, sizeof sockopt, "unix_socket_directories=%s",
              self->sockdir);
    char *argv [] = {
        postgres, "-D", self->pgdata,
        "-c", "listen_addresses=",
        "-c", sockopt,
        "-c", "unix_socket_permissions=0700",
        "-c", "max_connections=40",
        "-c", "logging_collector=off",
        NULL
    };
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        snprintf (err, errlen, "fork: %s", strerror (errno));
        close (logfd);
        return -1;
    }
    if (pid == 0) {
        //  Its own process group: a Ctrl-C on recoupd's terminal reaches
        //  recoupd, which then stops PostgreSQL in order.
        setpgid (0, 0);
        dup2 (logfd, 1);
        dup2 (logfd, 2);
        int null = open ("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2 (null, 0);
        s_child_drop_privileges (self);
        //  If recoupd dies without stopping it, PostgreSQL shuts down fast.
        //  Set after the uid change, which clears it.
        prctl (PR_SET_PDEATHSIG, SIGINT);
        if (getppid () != parent)
            _exit (1);
        execv (postgres, argv);
        fprintf (stderr, "recoupd: cannot run %s: %s\n", postgres,
                 strerror (errno));
        _exit (127);
    }
    close (logfd);
    self->pid = pid;
    char pidtext [32];
    snprintf (pidtext, sizeof pidtext, "%d", (int) pid);
    log_info ("postgresql started", "pid", pidtext, "data", self->pgdata,
              "socket", self->sockdir);
    return 0;
}

//  Waits until the postmaster answers, or it exits, or time runs out.
static int
s_wait_ready (pgembed_t *self, const char *conninfo, char *err, size_t errlen)
{
    long long deadline = s_now_ms () + PG_START_TIMEOUT_MS;
    while (s_now_ms () < deadline) {
        int status;
        if (self->pid && waitpid (self->pid, &status, WNOHANG) == self->pid) {
            self->pid = 0;
            snprintf (err, errlen,
                      "PostgreSQL exited during start-up; see %s",
                      self->logfile);
            return -1;
        }
        if (PQping (conninfo) == PQPING_OK)
            return 0;
        s_sleep_ms (50);
    }
    snprintf (err, errlen, "PostgreSQL did not start within %d s; see %s",
              PG_START_TIMEOUT_MS / 1000, self->logfile);
    return -1;
}

//  Creates the recoup database if it does not exist yet.
static int
s_create_database (pgembed_t *self, char *err, size_t errlen)
{
    char quoted [PATH_MAX + 8], conninfo [PATH_MAX + 128];
    s_conn_quote (quoted, sizeof quoted, self->sockdir);
    snprintf (conninfo, sizeof conninfo,
              "host=%s port=5432 dbname=postgres user=" PG_SUPERUSER, quoted);
    PGconn *conn = PQconnectdb (conninfo);
    if (PQstatus (conn) != CONNECTION_OK) {
        snprintf (err, errlen, "cannot connect to the embedded PostgreSQL: %s",
                  PQerrorMessage (conn));
        PQfinish (conn);
        return -1;
    }
    PGresult *res = PQexec (conn,
                            "SELECT 1 FROM pg_database WHERE datname = '"
                            PG_DBNAME "'");
    int exists = PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1;
    PQclear (res);
    int rc = 0;
    if (!exists) {
        res = PQexec (conn, "CREATE DATABASE " PG_DBNAME
                            " TEMPLATE template0 ENCODING 'UTF8'");
        if (PQresultStatus (res) != PGRES_COMMAND_OK) {
            snprintf (err, errlen, "cannot create database: %s",
                      PQerrorMessage (conn));
            rc = -1;
        }
        PQclear (res);
    }
    PQfinish (conn);
    return rc;
}

int
pgembed_start (pgembed_t *self, char *err, size_t errlen)
{
    char logdir [PATH_MAX + 8];
    snprintf (logdir, sizeof logdir, "%s/log", self->datadir);
    if (mkdir (logdir, 0700) != 0 && errno != EEXIST) {
        snprintf (err, errlen, "cannot create %s: %s", logdir, strerror (errno));
        return -1;
    }
    if (self->as_other_user) {
        //  The cluster's user must be able to pass through DIR (it cannot
        //  list it or read the key files, which are 0600).
        struct stat st;
        if (stat (self->datadir, &st) == 0 && (st.st_mode & 0001) == 0)
            chmod (self->datadir, (st.st_mode & 07777) | 0001);
        if (stat (logdir, &st) == 0)
            chmod (logdir, 0711);
    }
    if (s_make_dir (self, self->sockdir, 0700, err, errlen) != 0)
        return -1;
    char version_file [PATH_MAX + 128];
    snprintf (version_file, sizeof version_file, "%s/PG_VERSION", self->pgdata);
    int fresh = access (version_file, F_OK) != 0;
    if (fresh) {
        //  initdb wants an empty directory it can own.
        if (s_make_dir (self, self->pgdata, 0700, err, errlen) != 0)
            return -1;
        if (s_check_reachable (self, self->pgdata, err, errlen) != 0)
            return -1;
        char initdb [PATH_MAX + 16];
        snprintf (initdb, sizeof initdb, "%s/initdb", self->bindir);
        char *argv [] = {
            initdb, "-D", self->pgdata, "-U", PG_SUPERUSER, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-instructions", NULL
        };
        log_info ("initialising embedded PostgreSQL", "data", self->pgdata,
                  "user", self->user_name);
        int status = s_run (self, argv);
        if (status != 0) {
            snprintf (err, errlen, "initdb failed (status %d); see %s", status,
                      self->logfile);
            return -1;
        }
    }
    else if (s_check_reachable (self, self->pgdata, err, errlen) != 0)
        return -1;

    char quoted [PATH_MAX + 8], probe [PATH_MAX + 128];
    s_conn_quote (quoted, sizeof quoted, self->sockdir);
    snprintf (probe, sizeof probe,
              "host=%s port=5432 dbname=postgres user=" PG_SUPERUSER
              " connect_timeout=2", quoted);
    if (s_spawn (self, err, errlen) != 0)
        return -1;
    if (s_wait_ready (self, probe, err, errlen) != 0)
        return -1;
    self->last_restart_ms = s_now_ms ();
    return s_create_database (self, err, errlen);
}

const char *
pgembed_conninfo (pgembed_t *self)
{
    return self->conninfo;
}

int
pgembed_pid (pgembed_t *self)
{
    return (int) self->pid;
}

int
pgembed_supervise (pgembed_t *self)
{
    if (self->pid) {
        int status;
        pid_t done = waitpid (self->pid, &status, WNOHANG);
        if (done != self->pid)
            return 0;
        char code [32];
        snprintf (code, sizeof code, "%d",
                  WIFEXITED (status) ? WEXITSTATUS (status)
                                     : 128 + WTERMSIG (status));
        log_error ("postgresql exited; restarting it", "status", code,
                   "log", self->logfile);
        self->pid = 0;
    }
    //  At most one start attempt a second.
    if (s_now_ms () - self->last_restart_ms < 1000)
        return -1;
    self->last_restart_ms = s_now_ms ();
    char err [512];
    if (s_spawn (self, err, sizeof err) != 0) {
        log_error ("cannot restart postgresql", "error", err);
        return -1;
    }
    return 1;
}

void
pgembed_destroy (pgembed_t **self_p)
{
    pgembed_t *self = *self_p;
    if (!self)
        return;
    if (self->pid) {
        kill (self->pid, SIGINT);
        long long deadline = s_now_ms () + PG_STOP_TIMEOUT_MS;
        int status;
        while (waitpid (self->pid, &status, WNOHANG) == 0) {
            if (s_now_ms () > deadline) {
                log_warn ("postgresql did not stop in time; sending SIGQUIT");
                kill (self->pid, SIGQUIT);
                waitpid (self->pid, &status, 0);
                break;
            }
            s_sleep_ms (20);
        }
        log_info ("postgresql stopped");
    }
    free (self);
    *self_p = NULL;
}
