/*  server: start-up, the main loop, and shutdown. See server.h.         */
#define _GNU_SOURCE
#include "engine.h"
#include "policy.h"
#include "server.h"
#include "db.h"
#include "job.h"
#include "pgembed.h"
#include "reader.h"
#include "users.h"
#include "writer.h"
#include "zap.h"
#include "../common/identity.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH_MAX 256
#define HEARTBEAT_MS 1000
#define RECONNECT_MS 500
#define PRUNE_MS (3600 * 1000)
#define READER_ENDPOINT "inproc://recoupd-reader"
//  Longest a batch waits for more writers (adaptive group commit).
#define GATHER_US 300
//  Routing ids remembered from the previous batch, for that estimate.
#define PEERS_MAX 64

typedef struct {
    const server_config_t *config;
    char datadir [PATH_MAX];    //  absolute data directory
    void *ctx;                  //  ZeroMQ context
    void *zap;                  //  ZAP handler (REP)
    void *router;               //  command socket
    void *pub;                  //  event socket
    void *reader_pipe;          //  PAIR to the reader thread
    reader_t *reader;           //  the reader thread
    int reader_busy;            //  jobs handed to the reader, not yet back
    char commands_bound [256];  //  resolved command endpoint
    char events_bound [256];    //  resolved event endpoint
    identity_t keys;            //  server keypair
    pgembed_t *pg;              //  embedded cluster, or NULL with --db
    char conninfo [PATH_MAX + 128]; //  the database
    db_t *db;                   //  writer connection
    writer_t *writer;           //  batches, sequencing, publishing
    users_t *users;             //  cached users table
    int users_dirty;            //  reload users before the next request
    int64_t started_us;         //  for status uptime
    char peers [PEERS_MAX][16]; //  routing ids of the previous batch
    size_t n_peers;             //  how many
} server_t;

static volatile sig_atomic_t s_interrupted = 0;

static void
s_signal (int signum)
{
    (void) signum;
    s_interrupted = 1;
}

//  Writes a small text file atomically with the given mode.
static int
s_write_file (const char *path, const char *text, mode_t mode)
{
    char temp [PATH_MAX + 16];
    snprintf (temp, sizeof temp, "%s.tmp", path);
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    fchmod (fd, mode);
    size_t len = strlen (text);
    int rc = write (fd, text, len) == (ssize_t) len ? 0 : -1;
    if (close (fd) != 0)
        rc = -1;
    if (rc == 0 && rename (temp, path) != 0)
        rc = -1;
    if (rc != 0)
        unlink (temp);
    return rc;
}

//  Loads DIR/server.key, creating it (and DIR/server.pub) on first start.
static int
s_load_keys (server_t *self)
{
    char path [PATH_MAX + 16], err [512];
    snprintf (path, sizeof path, "%s/server.key", self->datadir);
    if (access (path, F_OK) != 0) {
        identity_t keys;
        memset (&keys, 0, sizeof keys);
        if (identity_generate (&keys) != 0
            || identity_save (&keys, path, IDENTITY_KEYS, 1, err, sizeof err) != 0) {
            log_error ("cannot create server key", "error", err);
            identity_wipe (&keys);
            return -1;
        }
        identity_wipe (&keys);
        log_info ("server keypair created", "file", path);
    }
    if (identity_load (&self->keys, path, IDENTITY_KEYS, err, sizeof err) != 0) {
        log_error ("cannot load server key", "error", err);
        return -1;
    }
    char pub_path [PATH_MAX + 16], text [64];
    snprintf (pub_path, sizeof pub_path, "%s/server.pub", self->datadir);
    snprintf (text, sizeof text, "%s\n", self->keys.public_key);
    s_write_file (pub_path, text, 0644);
    log_info ("server key loaded", "public_key", self->keys.public_key);
    return 0;
}

//  Connects the writer and brings it up to date. Returns 0 or -1.
static int
s_db_connect (server_t *self, char *err, size_t errlen)
{
    if (db_connect (self->db, err, errlen) != 0)
        return -1;
    if (writer_prepare (self->writer, err, errlen) != 0
        || db_command (self->db, "LISTEN recoup_users") != 0) {
        if (!*err)
            snprintf (err, errlen, "%s", db_error (self->db));
        db_disconnect (self->db);
        return -1;
    }
    self->users_dirty = 1;
    return 0;
}

//  Creates a CURVE server socket of `type` and binds it. Returns NULL on
//  failure, logging why.
static void *
s_bind (server_t *self, int type, const char *endpoint, const char *domain,
        int patient, char *bound, size_t bound_len)
{
    void *socket = zmq_socket (self->ctx, type);
    int yes = 1, linger = 0;
    int heartbeat = 5000, heartbeat_timeout = 15000, handshake = 5000;
    zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (socket, ZMQ_CURVE_SERVER, &yes, sizeof yes);
    zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, self->keys.secret_key, 40);
    zmq_setsockopt (socket, ZMQ_ZAP_DOMAIN, domain, strlen (domain));
    zmq_setsockopt (socket, ZMQ_HEARTBEAT_IVL, &heartbeat, sizeof heartbeat);
    zmq_setsockopt (socket, ZMQ_HEARTBEAT_TIMEOUT, &heartbeat_timeout,
                    sizeof heartbeat_timeout);
    zmq_setsockopt (socket, ZMQ_HANDSHAKE_IVL, &handshake, sizeof handshake);
    if (type == ZMQ_ROUTER) {
        int64_t maxsize = WIRE_MAX_FRAME;
        int hwm = 10000;
        zmq_setsockopt (socket, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
        zmq_setsockopt (socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt (socket, ZMQ_ROUTER_MANDATORY, &yes, sizeof yes);
    }
    else {
        //  Subscribers only send subscriptions; a slow one loses events
        //  past this mark and recovers them by replay.
        int64_t maxsize = 1024;
        int hwm = 100000;
        zmq_setsockopt (socket, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
        zmq_setsockopt (socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    }
    //  A rebind right after closing the previous socket may find the
    //  port still held for a moment (`patient`); at start-up a port in use
    //  is another program's.
    int rc = -1;
    for (int attempt = 0; attempt < (patient ? 100 : 1); attempt++) {
        rc = zmq_bind (socket, endpoint);
        if (rc == 0 || errno != EADDRINUSE)
            break;
        struct timespec pause = { 0, 20 * 1000000L };
        nanosleep (&pause, NULL);
    }
    if (rc != 0) {
        log_error ("cannot bind", "endpoint", endpoint, "error",
                   zmq_strerror (errno));
        zmq_close (socket);
        return NULL;
    }
    size_t len = bound_len;
    zmq_getsockopt (socket, ZMQ_LAST_ENDPOINT, bound, &len);
    return socket;
}

//  Opens both public sockets on their endpoints. Returns 0 or -1.
static int
s_open_sockets (server_t *self, const char *commands, const char *events,
                int patient)
{
    char bound [256];
    self->router = s_bind (self, ZMQ_ROUTER, commands, WIRE_ZAP_DOMAIN_COMMANDS,
                           patient, bound, sizeof bound);
    if (!self->router)
        return -1;
    snprintf (self->commands_bound, sizeof self->commands_bound, "%s", bound);
    self->pub = s_bind (self, ZMQ_PUB, events, WIRE_ZAP_DOMAIN_EVENTS, patient,
                        bound, sizeof bound);
    if (!self->pub)
        return -1;
    snprintf (self->events_bound, sizeof self->events_bound, "%s", bound);
    return 0;
}

//  Closes both public sockets; `linger_ms` lets queued replies and
//  events go out first.
static void
s_close_sockets (server_t *self, int linger_ms)
{
    if (self->router)
        zmq_setsockopt (self->router, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    if (self->pub)
        zmq_setsockopt (self->pub, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    if (self->router) {
        zmq_unbind (self->router, self->commands_bound);
        zmq_close (self->router);
        self->router = NULL;
    }
    if (self->pub) {
        zmq_unbind (self->pub, self->events_bound);
        zmq_close (self->pub);
        self->pub = NULL;
    }
}

//  Drops every open connection by replacing both sockets: libzmq has no
//  way to disconnect one peer, and every client reconnects by itself
//  (through ZAP again, which now refuses revoked keys). Clients retry
//  unanswered commands with the same request id and replay missed events.
static void
s_rotate_sockets (server_t *self)
{
    char commands [256], events [256];
    snprintf (commands, sizeof commands, "%s", self->commands_bound);
    snprintf (events, sizeof events, "%s", self->events_bound);
    s_close_sockets (self, 100);
    if (s_open_sockets (self, commands, events, 1) != 0) {
        log_error ("cannot reopen sockets after a revocation; stopping");
        s_interrupted = 1;
        return;
    }
    log_info ("all connections dropped after a revocation");
}

//  Reloads users if they changed; rotates sockets if anyone lost access.
static void
s_reload_users (server_t *self)
{
    if (!self->users_dirty || !db_ok (self->db))
        return;
    int revoked = users_reload (self->users, self->db);
    if (revoked < 0)
        return;
    self->users_dirty = 0;
    if (revoked > 0 && self->router)
        s_rotate_sockets (self);
}

//  Sends a job's reply to its peer and frees the job.
static void
s_reply (server_t *self, job_t **job_p)
{
    job_t *job = *job_p;
    if (job->reply && self->router) {
        int rc = zmq_msg_send (&job->routing, self->router,
                               ZMQ_SNDMORE | ZMQ_DONTWAIT);
        if (rc >= 0 && job->delimiter)
            rc = zmq_send (self->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        if (rc >= 0)
            rc = zmq_send (self->router, job->reply, job->reply_len, ZMQ_DONTWAIT);
        if (rc < 0 && errno != EHOSTUNREACH)
            log_warn ("reply not sent", "error", zmq_strerror (errno));
    }
    job_destroy (job_p);
}

//  Answers a job at once with an error.
static void
s_refuse (server_t *self, job_t **job_p, Recoup__ErrorCode code,
          const char *field, const char *message)
{
    job_set_error (*job_p, code, field, message);
    s_reply (self, job_p);
}

//  Reads one message from the ROUTER. Returns a job ready to run, or NULL
//  when the message was answered (with an error) or dropped, or when
//  nothing was waiting (*empty set).
static job_t *
s_receive (server_t *self, int *empty)
{
    zmq_msg_t frames [3];
    int count = 0, more = 1, extra = 0;
    *empty = 0;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, self->router, count == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close (&frame);
            if (count == 0)
                *empty = 1;
            break;
        }
        more = zmq_msg_more (&frame);
        if (count < 3)
            frames [count++] = frame;
        else {
            extra = 1;
            zmq_msg_close (&frame);
        }
    }
    if (count == 0)
        return NULL;
    job_t *job = calloc (1, sizeof *job);
    if (!job)
        abort ();
    zmq_msg_init (&job->routing);
    zmq_msg_move (&job->routing, &frames [0]);
    zmq_msg_close (&frames [0]);
    int shape_ok = !extra && (count == 2
                   || (count == 3 && zmq_msg_size (&frames [1]) == 0));
    job->delimiter = count == 3;
    if (!shape_ok) {
        //  No way to tell what the peer expects back: drop it.
        log_warn ("dropped a message with unexpected framing");
        for (int i = 1; i < count; i++)
            zmq_msg_close (&frames [i]);
        job_destroy (&job);
        return NULL;
    }
    zmq_msg_t *payload = &frames [count - 1];
    const char *user = zmq_msg_gets (payload, "User-Id");
    snprintf (job->user, sizeof job->user, "%s", user ? user : "");
    size_t size = zmq_msg_size (payload);
    if (size > WIRE_MAX_REQUEST) {
        char message [128];
        snprintf (message, sizeof message,
                  "request of %zu bytes is above the limit of %d bytes", size,
                  WIRE_MAX_REQUEST);
        for (int i = 1; i < count; i++)
            zmq_msg_close (&frames [i]);
        s_refuse (self, &job, RECOUP__ERROR_CODE__TOO_LARGE, NULL, message);
        return NULL;
    }
    job_hash (job, zmq_msg_data (payload), size);
    job->published_seq = writer_last_published (self->writer);
    job->request = recoup__request__unpack (NULL, size, zmq_msg_data (payload));
    for (int i = 1; i < count; i++)
        zmq_msg_close (&frames [i]);
    Recoup__Request *request = job->request;
    if (!request) {
        s_refuse (self, &job, RECOUP__ERROR_CODE__BAD_REQUEST, NULL,
                  "message is not a recoup.Request (protobuf parse failed)");
        return NULL;
    }
    if (request->protocol_version != PROTOCOL_VERSION) {
        char message [128];
        snprintf (message, sizeof message,
                  "protocol_version %u is not supported; this server speaks %d",
                  request->protocol_version, PROTOCOL_VERSION);
        s_refuse (self, &job, RECOUP__ERROR_CODE__UNSUPPORTED_VERSION,
                  "protocol_version", message);
        return NULL;
    }
    char path [160];
    if (wire_check_utf8 (&request->base, path, sizeof path) != 0) {
        char message [200];
        snprintf (message, sizeof message, "%s is not valid UTF-8", path);
        s_refuse (self, &job, RECOUP__ERROR_CODE__INVALID_ARGUMENT, path, message);
        return NULL;
    }
    if (!wire_request_id_valid (request->request_id)) {
        s_refuse (self, &job, RECOUP__ERROR_CODE__BAD_REQUEST, "request_id",
                  "request_id must be 1 to 64 printable ASCII characters");
        return NULL;
    }
    if (request->command_case == RECOUP__REQUEST__COMMAND__NOT_SET) {
        if (request->base.n_unknown_fields > 0)
            s_refuse (self, &job, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, "command",
                      "this server does not know that command (newer client?)");
        else
            s_refuse (self, &job, RECOUP__ERROR_CODE__BAD_REQUEST, "command",
                      "request carries no command");
        return NULL;
    }
    job->command = commands_find (request->command_case);
    if (!job->command) {
        s_refuse (self, &job, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, "command",
                  "this server does not know that command");
        return NULL;
    }
    s_reload_users (self);
    const user_entry_t *entry = users_by_name (self->users, job->user);
    if (!entry || !entry->active) {
        s_refuse (self, &job, RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL,
                  "your key has been revoked");
        return NULL;
    }
    job->role = entry->role;
    if (!(job->command->roles & ROLE_BIT (entry->role))) {
        char message [160];
        snprintf (message, sizeof message, "role %s may not run %s",
                  wire_role_name (entry->role), job->command->name);
        s_refuse (self, &job, RECOUP__ERROR_CODE__PERMISSION_DENIED,
                  job->command->name, message);
        return NULL;
    }
    return job;
}

//  The peer's routing id (ZeroMQ makes them 5 bytes) as a short key.
static void
s_peer_key (job_t *job, char *key)
{
    memset (key, 0, 16);
    size_t len = zmq_msg_size (&job->routing);
    memcpy (key, zmq_msg_data (&job->routing), len < 15 ? len : 15);
}

//  How many writers are active: distinct peers in the previous batch and
//  this one. Closed-loop clients settle into groups that alternate
//  between batches; waiting a moment for the other group doubles the
//  batch for a fraction of a round trip.
static size_t
s_expected_writers (server_t *self, job_t **batch, size_t count)
{
    size_t expected = self->n_peers;
    for (size_t i = 0; i < count; i++) {
        char key [16];
        s_peer_key (batch [i], key);
        int known = 0;
        for (size_t j = 0; j < self->n_peers && !known; j++)
            known = memcmp (self->peers [j], key, 16) == 0;
        expected += !known;
    }
    return expected;
}

//  Reads waiting requests into the batch (writes) or hands them to the
//  reader (reads). Returns the new batch size.
static size_t
s_take_requests (server_t *self, job_t **batch, size_t count)
{
    int empty = 0;
    while (count < BATCH_MAX && !empty) {
        job_t *job = s_receive (self, &empty);
        if (!job)
            continue;
        if (job->command->writes)
            batch [count++] = job;
        else if (zmq_send (self->reader_pipe, &job, sizeof job, ZMQ_DONTWAIT)
                 == sizeof job)
            self->reader_busy++;
        else
            s_refuse (self, &job, RECOUP__ERROR_CODE__UNAVAILABLE, NULL,
                      "server busy, retry");
    }
    return count;
}

//  Waits up to `us` microseconds for the ROUTER to have input. zmq_poll
//  counts milliseconds; the socket's ZMQ_FD with ppoll does better.
static int
s_router_wait (server_t *self, int64_t us)
{
    int events = 0;
    size_t len = sizeof events;
    zmq_getsockopt (self->router, ZMQ_EVENTS, &events, &len);
    if (events & ZMQ_POLLIN)
        return 1;
    int fd;
    len = sizeof fd;
    if (zmq_getsockopt (self->router, ZMQ_FD, &fd, &len) != 0)
        return 0;
    struct pollfd item = { fd, POLLIN, 0 };
    struct timespec timeout = { 0, (long) us * 1000 };
    ppoll (&item, 1, &timeout, NULL);
    len = sizeof events;
    zmq_getsockopt (self->router, ZMQ_EVENTS, &events, &len);
    return (events & ZMQ_POLLIN) != 0;
}

//  Takes every waiting request (up to BATCH_MAX), hands reads to the
//  reader, and runs the writes as one batch (group commit). When more
//  writers were active than have sent yet, waits a moment for them.
static void
s_serve_commands (server_t *self)
{
    job_t *batch [BATCH_MAX];
    size_t count = s_take_requests (self, batch, 0);
    if (count > 0 && count < BATCH_MAX) {
        size_t expected = s_expected_writers (self, batch, count);
        int64_t until = wire_now_us () + GATHER_US;
        while (count < expected && count < BATCH_MAX) {
            int64_t left = until - wire_now_us ();
            if (left <= 0 || !s_router_wait (self, left))
                break;
            count = s_take_requests (self, batch, count);
        }
    }
    self->n_peers = 0;
    for (size_t i = 0; i < count && i < PEERS_MAX; i++)
        s_peer_key (batch [i], self->peers [self->n_peers++]);
    if (count == 0)
        return;
    writer_run (self->writer, batch, count);
    //  Events go out before the replies: a client that has its reply can
    //  count on the event being on the wire.
    writer_publish (self->writer, self->pub);
    if (writer_take_users_changed (self->writer))
        self->users_dirty = 1;
    for (size_t i = 0; i < count; i++)
        s_reply (self, &batch [i]);
    s_reload_users (self);
}

//  Answers the jobs the reader has finished.
static void
s_collect_reads (server_t *self)
{
    job_t *job;
    while (zmq_recv (self->reader_pipe, &job, sizeof job, ZMQ_DONTWAIT)
           == sizeof job) {
        self->reader_busy--;
        s_reply (self, &job);
    }
}

//  Runs one internal command as the server itself (user "").
static Recoup__Reply *
s_run_internal (server_t *self, Recoup__Request *request)
{
    size_t len;
    uint8_t *packed = wire_pack (&request->base, &len);
    job_t *job = calloc (1, sizeof *job);
    zmq_msg_init (&job->routing);
    job->request = recoup__request__unpack (NULL, len, packed);
    job_hash (job, packed, len);
    free (packed);
    job->command = commands_find (request->command_case);
    job->role = RECOUP__ROLE__ADMIN;
    writer_run (self->writer, &job, 1);
    writer_publish (self->writer, self->pub);
    Recoup__Reply *reply = job->reply
        ? recoup__reply__unpack (NULL, job->reply_len, job->reply) : NULL;
    job_destroy (&job);
    return reply;
}

//  The endpoint clients should use for a bound one: a wildcard address
//  (tcp://0.0.0.0:P, tcp://*:P, tcp://[::]:P) becomes this host's name.
static void
s_advertised (const char *bound, char *out, size_t len)
{
    const char *wild [] = { "tcp://0.0.0.0:", "tcp://*:", "tcp://[::]:" };
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen (wild [i]);
        if (strncmp (bound, wild [i], n) == 0) {
            char host [256] = "localhost";
            gethostname (host, sizeof host - 1);
            snprintf (out, len, "tcp://%s:%s", host, bound + n);
            return;
        }
    }
    snprintf (out, len, "%s", bound);
}

//  On first start (no DIR/admin.identity): creates an admin user with a
//  new keypair and writes its identity file. Later starts keep the file's
//  endpoints in step with the sockets.
static int
s_admin_identity (server_t *self)
{
    char path [PATH_MAX + 32], err [512], commands [256], events [256];
    snprintf (path, sizeof path, "%s/admin.identity", self->datadir);
    s_advertised (self->commands_bound, commands, sizeof commands);
    s_advertised (self->events_bound, events, sizeof events);
    identity_t admin;
    //  The server's public details, for handing out.
    identity_t details;
    memset (&details, 0, sizeof details);
    snprintf (details.commands, sizeof details.commands, "%s", commands);
    snprintf (details.events, sizeof details.events, "%s", events);
    snprintf (details.server_public, sizeof details.server_public, "%s",
              self->keys.public_key);
    char details_path [PATH_MAX + 32];
    snprintf (details_path, sizeof details_path, "%s/server.identity", self->datadir);
    if (identity_save (&details, details_path, IDENTITY_SERVER, 0, err, sizeof err) != 0)
        log_warn ("cannot write server.identity", "error", err);
    if (access (path, F_OK) == 0) {
        if (identity_load (&admin, path, 0, err, sizeof err) != 0) {
            log_warn ("cannot read admin identity", "error", err);
            return 0;
        }
        if (strcmp (admin.commands, commands) != 0
            || strcmp (admin.events, events) != 0) {
            snprintf (admin.commands, sizeof admin.commands, "%s", commands);
            snprintf (admin.events, sizeof admin.events, "%s", events);
            if (identity_save (&admin, path, 0, 0, err, sizeof err) != 0)
                log_warn ("cannot update admin identity", "error", err);
        }
        identity_wipe (&admin);
        return 0;
    }
    memset (&admin, 0, sizeof admin);
    identity_generate (&admin);
    for (int n = 1; n < 100; n++) {
        char name [32], request_id [48];
        if (n == 1)
            snprintf (name, sizeof name, "admin");
        else
            snprintf (name, sizeof name, "admin-%d", n);
        char random [33];
        wire_request_id (random);
        snprintf (request_id, sizeof request_id, "bootstrap-%s", random);
        Recoup__UserAddRequest add = RECOUP__USER_ADD_REQUEST__INIT;
        add.name = name;
        add.role = RECOUP__ROLE__ADMIN;
        add.public_key = admin.public_key;
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.protocol_version = PROTOCOL_VERSION;
        request.request_id = request_id;
        request.command_case = RECOUP__REQUEST__COMMAND_USER_ADD;
        request.user_add = &add;
        Recoup__Reply *reply = s_run_internal (self, &request);
        if (!reply) {
            identity_wipe (&admin);
            return -1;
        }
        int ok = reply->result_case == RECOUP__REPLY__RESULT_USER_ADD;
        int taken = reply->result_case == RECOUP__REPLY__RESULT_ERROR
                    && reply->error->code == RECOUP__ERROR_CODE__CONFLICT;
        if (!ok && !taken)
            log_error ("cannot create the admin user", "error",
                       reply->result_case == RECOUP__REPLY__RESULT_ERROR
                       ? reply->error->message : "?");
        recoup__reply__free_unpacked (reply, NULL);
        if (ok) {
            snprintf (admin.user, sizeof admin.user, "%s", name);
            break;
        }
        if (!taken) {
            identity_wipe (&admin);
            return -1;
        }
    }
    snprintf (admin.commands, sizeof admin.commands, "%s", commands);
    snprintf (admin.events, sizeof admin.events, "%s", events);
    snprintf (admin.server_public, sizeof admin.server_public, "%s",
              self->keys.public_key);
    int rc = identity_save (&admin, path, 0, 1, err, sizeof err);
    if (rc != 0)
        log_error ("cannot write admin identity", "error", err);
    else
        log_info ("admin identity written", "file", path, "user", admin.user);
    identity_wipe (&admin);
    self->users_dirty = 1;
    return rc;
}

//  Start-up up to the point where the sockets are bound.
static int
s_start (server_t *self)
{
    const server_config_t *config = self->config;
    if (mkdir (config->datadir, 0700) != 0 && errno != EEXIST) {
        log_error ("cannot create data directory", "dir", config->datadir,
                   "error", strerror (errno));
        return -1;
    }
    if (!realpath (config->datadir, self->datadir)) {
        log_error ("cannot resolve data directory", "dir", config->datadir,
                   "error", strerror (errno));
        return -1;
    }
    if (s_load_keys (self) != 0)
        return -1;
    char err [1024] = "";
    if (config->db_conninfo)
        snprintf (self->conninfo, sizeof self->conninfo, "%s", config->db_conninfo);
    else {
        self->pg = pgembed_new (self->datadir, config->db_user, err, sizeof err);
        if (!self->pg || pgembed_start (self->pg, err, sizeof err) != 0) {
            log_error ("embedded database failed", "error", err);
            return -1;
        }
        snprintf (self->conninfo, sizeof self->conninfo, "%s",
                  pgembed_conninfo (self->pg));
    }
    char path [PATH_MAX + 32], text [PATH_MAX + 160];
    snprintf (path, sizeof path, "%s/db.conninfo", self->datadir);
    snprintf (text, sizeof text, "%s\n", self->conninfo);
    if (s_write_file (path, text, 0600) != 0) {
        log_error ("cannot write db.conninfo", "file", path);
        return -1;
    }
    self->db = db_new (self->conninfo, "writer");
    self->writer = writer_new (self->db);
    self->users = users_new ();
    if (db_connect (self->db, err, sizeof err) != 0
        || db_migrate (self->db, err, sizeof err) != 0) {
        log_error ("database not usable", "error", err);
        return -1;
    }
    db_disconnect (self->db);
    if (s_db_connect (self, err, sizeof err) != 0) {
        log_error ("database not usable", "error", err);
        return -1;
    }
    if (users_reload (self->users, self->db) < 0) {
        log_error ("cannot read users", "error", db_error (self->db));
        return -1;
    }
    self->users_dirty = 0;

    self->ctx = zmq_ctx_new ();
    //  The ZAP handler first: a CURVE socket bound without one would
    //  accept any key.
    self->zap = zap_bind (self->ctx);
    if (!self->zap) {
        log_error ("cannot bind ZAP handler", "error", zmq_strerror (errno));
        return -1;
    }
    self->reader_pipe = zmq_socket (self->ctx, ZMQ_PAIR);
    int hwm = 100000;
    zmq_setsockopt (self->reader_pipe, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (self->reader_pipe, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_bind (self->reader_pipe, READER_ENDPOINT);
    self->reader = reader_new (self->ctx, READER_ENDPOINT, self->conninfo,
                               self->started_us);
    if (!self->reader)
        return -1;
    if (s_open_sockets (self, config->commands, config->events, 0) != 0)
        return -1;
    //  Start the event stream after the last stored event (what a crash
    //  kept from going out is found by subscribers through replay).
    writer_publish (self->writer, self->pub);
    if (s_admin_identity (self) != 0)
        return -1;
    //  The written policy: the shipped default as version 1 on first start.
    if (policy_ensure_default (self->db, self->writer, self->pub) != 0)
        return -1;
    //  The daily collections engine, for today if it has not run yet
    //  (catching up the days recoupd was down); then every minute checks
    //  whether the business date has moved on.
    engine_daily (self->db, self->writer, self->pub);
    s_reload_users (self);
    snprintf (path, sizeof path, "%s/ready", self->datadir);
    snprintf (text, sizeof text, "commands=%s\nevents=%s\npid=%d\n",
              self->commands_bound, self->events_bound, (int) getpid ());
    s_write_file (path, text, 0644);
    log_info ("ready", "commands", self->commands_bound, "events",
              self->events_bound, "data", self->datadir);
    return 0;
}

//  Keeps the database connection alive: restarts the embedded cluster if
//  it died, reconnects the writer, and re-publishes what it must.
static void
s_maintain_db (server_t *self, long long *next_try)
{
    if (self->pg && pgembed_supervise (self->pg) != 0)
        db_disconnect (self->db);
    if (db_ok (self->db) || wire_clock_ms () < *next_try)
        return;
    *next_try = wire_clock_ms () + RECONNECT_MS;
    char err [1024] = "";
    if (s_db_connect (self, err, sizeof err) == 0) {
        log_info ("database connection restored");
        writer_publish (self->writer, self->pub);
        s_reload_users (self);
    }
    else
        log_debug ("database still unavailable", "error", err);
}

static void
s_loop (server_t *self)
{
    long long next_heartbeat = wire_clock_ms () + HEARTBEAT_MS;
    long long next_prune = wire_clock_ms () + 60000;
    long long next_engine = wire_clock_ms () + 60000;
    long long next_reconnect = 0;
    int was_ok = 1;
    while (!s_interrupted) {
        int pgfd = db_ok (self->db) ? PQsocket (db_conn (self->db)) : -1;
        zmq_pollitem_t items [] = {
            { self->router, 0, ZMQ_POLLIN, 0 },
            { self->zap, 0, ZMQ_POLLIN, 0 },
            { self->reader_pipe, 0, ZMQ_POLLIN, 0 },
            { NULL, pgfd, ZMQ_POLLIN, 0 },
        };
        long long now = wire_clock_ms ();
        long timeout = next_heartbeat > now ? (long) (next_heartbeat - now) : 0;
        if (!db_ok (self->db) && timeout > 100)
            timeout = 100;
        int rc = zmq_poll (items, pgfd >= 0 ? 4 : 3, timeout);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc > 0 && (items [1].revents & ZMQ_POLLIN))
            zap_handle (self->zap, self->users);
        if (rc > 0 && (items [2].revents & ZMQ_POLLIN))
            s_collect_reads (self);
        if (rc > 0 && pgfd >= 0 && (items [3].revents & ZMQ_POLLIN)) {
            PGconn *conn = db_conn (self->db);
            if (!PQconsumeInput (conn))
                log_warn ("database connection lost", "error", PQerrorMessage (conn));
        }
        if (db_ok (self->db)) {
            PGnotify *notify;
            while ((notify = PQnotifies (db_conn (self->db))) != NULL) {
                self->users_dirty = 1;
                PQfreemem (notify);
            }
            s_reload_users (self);
        }
        if (rc > 0 && (items [0].revents & ZMQ_POLLIN))
            s_serve_commands (self);
        int ok = db_ok (self->db);
        if (was_ok && !ok)
            log_error ("database unavailable; commands will be answered "
                       "UNAVAILABLE until it is back");
        was_ok = ok;
        if (!ok || self->pg)
            s_maintain_db (self, &next_reconnect);
        now = wire_clock_ms ();
        if (now >= next_heartbeat) {
            writer_publish (self->writer, self->pub);
            writer_heartbeat (self->writer, self->pub);
            next_heartbeat = now + HEARTBEAT_MS;
        }
        if (now >= next_prune) {
            writer_prune (self->writer);
            next_prune = now + PRUNE_MS;
        }
        if (now >= next_engine) {
            next_engine = now + 60000;
            if (db_ok (self->db))
                engine_daily (self->db, self->writer, self->pub);
        }
    }
}

static void
s_stop (server_t *self)
{
    char path [PATH_MAX + 16];
    snprintf (path, sizeof path, "%s/ready", self->datadir);
    unlink (path);
    s_close_sockets (self, 0);
    if (self->reader) {
        //  Wait for jobs in flight, then tell the reader to stop.
        job_t *job;
        while (self->reader_busy > 0
               && zmq_recv (self->reader_pipe, &job, sizeof job, 0) == sizeof job) {
            self->reader_busy--;
            job_destroy (&job);
        }
        job = NULL;
        zmq_send (self->reader_pipe, &job, sizeof job, 0);
        reader_destroy (&self->reader);
    }
    if (self->reader_pipe)
        zmq_close (self->reader_pipe);
    if (self->zap)
        zmq_close (self->zap);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    writer_destroy (&self->writer);
    users_destroy (&self->users);
    db_destroy (&self->db);
    pgembed_destroy (&self->pg);
    identity_wipe (&self->keys);
}

int
server_run (const server_config_t *config)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);

    server_t self;
    memset (&self, 0, sizeof self);
    self.config = config;
    self.started_us = wire_now_us ();
    int rc = s_start (&self);
    if (rc == 0 && !s_interrupted) {
        s_loop (&self);
        log_info ("shutting down");
    }
    s_stop (&self);
    log_info ("stopped");
    return rc == 0 ? 0 : 1;
}
