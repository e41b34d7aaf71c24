/*  reader: the read-only command thread. See reader.h.                  */
#include "reader.h"
#include "ledger.h"
#include "../common/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_DEFAULT 1000
#define REPLAY_MAX 10000
#define REPLAY_MAX_BYTES (2 * 1024 * 1024)

struct reader_t {
    void *ctx;                  //  ZeroMQ context (shared)
    char endpoint [128];        //  inproc pipe to the main thread
    char *conninfo;             //  database
    int64_t started_us;         //  server start, for uptime
    pthread_t thread;           //  the reader thread
    int running;                //  thread was started
};

//  State the handlers need beyond cmdctx_t (status's uptime).
static int64_t s_started_us;

//  Protobuf allocator drawing from an arena; freeing is a no-op.
static void *
s_arena_alloc (void *data, size_t size)
{
    return arena_alloc (data, size);
}

static void
s_arena_free (void *data, void *ptr)
{
    (void) data;
    (void) ptr;
}

//  Reads stream id and tenant; returns 0 or -1.
static int
s_load_meta (db_t *db, char *stream_id, size_t stream_len, char *tenant,
             size_t tenant_len)
{
    PGresult *res = db_exec (db, PGRES_TUPLES_OK,
                             "SELECT key, value FROM meta "
                             "WHERE key IN ('stream_id', 'tenant')", 0, NULL);
    if (!res)
        return -1;
    for (int i = 0; i < PQntuples (res); i++) {
        if (strcmp (PQgetvalue (res, i, 0), "stream_id") == 0)
            snprintf (stream_id, stream_len, "%s", PQgetvalue (res, i, 1));
        else
            snprintf (tenant, tenant_len, "%s", PQgetvalue (res, i, 1));
    }
    PQclear (res);
    return 0;
}

//  max(seq) in the current transaction, or -1.
static int64_t
s_head (cmdctx_t *ctx)
{
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT coalesce(max(seq), 0) FROM events", 0, NULL);
    if (!res)
        return -1;
    int64_t seq = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    return seq;
}

int
cmd_status (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    (void) request;
    Recoup__StatusReply *status = CMD_NEW (ctx, Recoup__StatusReply,
                                           recoup__status_reply__init);
    status->server_version = RECOUP_VERSION;
    status->protocol_version = PROTOCOL_VERSION;
    status->user = arena_strdup (ctx->arena, ctx->user);
    status->role = ctx->role;
    status->stream_id = arena_strdup (ctx->arena, ctx->stream_id);
    status->server_time_us = wire_now_us ();
    status->uptime_s = (status->server_time_us - s_started_us) / 1000000;
    int64_t head = db_ok (ctx->db) ? s_head (ctx) : -1;
    status->database_ok = head >= 0;
    //  Without the database, the last event published is the best answer.
    status->seq = head >= 0 ? (uint64_t) head : ctx->published_seq;
    char today [11], base [4] = "";
    ledger_business_date (today);
    status->business_date = arena_strdup (ctx->arena, today);
    if (head >= 0 && ledger_base_currency (ctx->db, base) != 0)
        base [0] = '\0';
    status->base_currency = arena_strdup (ctx->arena, base);
    reply->result_case = RECOUP__REPLY__RESULT_STATUS;
    reply->status = status;
    return 0;
}

int
cmd_snapshot (cmdctx_t *ctx, const Recoup__Request *request,
              Recoup__Reply *reply)
{
    (void) request;
    //  The state and its sequence number come from one snapshot of the
    //  database, so events after `seq` are exactly what is not in it.
    if (db_command (ctx->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
        return -1;
    Recoup__SnapshotReply *snap = CMD_NEW (ctx, Recoup__SnapshotReply,
                                           recoup__snapshot_reply__init);
    int64_t head = s_head (ctx);
    if (head < 0)
        goto fail;
    snap->seq = (uint64_t) head;
    snap->stream_id = arena_strdup (ctx->arena, ctx->stream_id);
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT name, role, public_key, active, created_at, "
                             "revoked_at FROM users ORDER BY name", 0, NULL);
    if (!res)
        goto fail;
    snap->n_users = (size_t) PQntuples (res);
    snap->users = arena_alloc (ctx->arena, snap->n_users * sizeof (void *) + 1);
    for (size_t i = 0; i < snap->n_users; i++) {
        snap->users [i] = CMD_NEW (ctx, Recoup__User, recoup__user__init);
        cmd_user_from_row (ctx, snap->users [i], res, (int) i, 0);
    }
    PQclear (res);
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT id, author, subject, text, created_at FROM notes "
                   "ORDER BY id", 0, NULL);
    if (!res)
        goto fail;
    snap->n_notes = (size_t) PQntuples (res);
    snap->notes = arena_alloc (ctx->arena, snap->n_notes * sizeof (void *) + 1);
    for (size_t i = 0; i < snap->n_notes; i++) {
        Recoup__Note *note = CMD_NEW (ctx, Recoup__Note, recoup__note__init);
        note->id = strtoull (PQgetvalue (res, (int) i, 0), NULL, 10);
        note->author = arena_strdup (ctx->arena, PQgetvalue (res, (int) i, 1));
        note->subject = arena_strdup (ctx->arena, PQgetvalue (res, (int) i, 2));
        note->text = arena_strdup (ctx->arena, PQgetvalue (res, (int) i, 3));
        note->created_us = cmd_parse_timestamp (PQgetvalue (res, (int) i, 4));
        snap->notes [i] = note;
    }
    PQclear (res);
    //  Every customer's account as of the business date, from the same
    //  snapshot: what account.changed events after `seq` then update.
    char today [11], base [4];
    ledger_business_date (today);
    if (ledger_base_currency (ctx->db, base) != 0
        || ledger_accounts_load (ctx, NULL, today, &snap->accounts,
                                 &snap->n_accounts) != 0)
        goto fail;
    snap->base_currency = arena_strdup (ctx->arena, base);
    if (db_command (ctx->db, "COMMIT") != 0)
        return -1;
    reply->result_case = RECOUP__REPLY__RESULT_SNAPSHOT;
    reply->snapshot = snap;
    return 0;
fail:
    db_command (ctx->db, "ROLLBACK");
    return -1;
}

int
cmd_replay (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__ReplayRequest *replay = request->replay;
    uint32_t limit = replay->limit ? replay->limit : REPLAY_DEFAULT;
    if (limit > REPLAY_MAX)
        limit = REPLAY_MAX;
    char after [32], count [32];
    snprintf (after, sizeof after, "%llu", (unsigned long long) replay->after);
    snprintf (count, sizeof count, "%u", limit);
    if (replay->after > (uint64_t) INT64_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "replay.after", "after is out of range");
    if (db_command (ctx->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
        return -1;
    int64_t head = s_head (ctx);
    const char *params [] = { after, count };
    PGresult *res = head < 0 ? NULL
                  : db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT body FROM events WHERE seq > $1 "
                             "ORDER BY seq LIMIT $2", 2, params);
    if (!res) {
        db_command (ctx->db, "ROLLBACK");
        return -1;
    }
    db_command (ctx->db, "COMMIT");
    Recoup__ReplayReply *result = CMD_NEW (ctx, Recoup__ReplayReply,
                                           recoup__replay_reply__init);
    result->last_seq = (uint64_t) head;
    result->stream_id = arena_strdup (ctx->arena, ctx->stream_id);
    int rows = PQntuples (res);
    result->events = arena_alloc (ctx->arena, (size_t) rows * sizeof (void *) + 1);
    ProtobufCAllocator allocator = { s_arena_alloc, s_arena_free, ctx->arena };
    size_t bytes = 0;
    for (int i = 0; i < rows; i++) {
        size_t len;
        unsigned char *raw = PQunescapeBytea (
            (const unsigned char *) PQgetvalue (res, i, 0), &len);
        if (!raw)
            break;
        Recoup__Event *event = recoup__event__unpack (&allocator, len, raw);
        PQfreemem (raw);
        if (!event) {
            log_error ("stored event does not unpack", "after", after);
            break;
        }
        //  Stop at the byte budget, but always return at least one event.
        bytes += len;
        if (i > 0 && bytes > REPLAY_MAX_BYTES)
            break;
        result->events [result->n_events++] = event;
    }
    PQclear (res);
    reply->result_case = RECOUP__REPLY__RESULT_REPLAY;
    reply->replay = result;
    return 0;
}

//  Runs one job on this thread's connection.
static void
s_run_job (job_t *job, db_t *db, arena_t *arena, const char *stream_id,
           const char *tenant)
{
    cmdctx_t ctx = {
        .db = db, .arena = arena, .user = job->user, .role = job->role,
        .request_id = job->request->request_id, .stream_id = stream_id,
        .tenant = tenant, .writer = NULL, .published_seq = job->published_seq,
    };
    Recoup__Reply reply = RECOUP__REPLY__INIT;
    if (job->command->run (&ctx, job->request, &reply) != 0) {
        char message [1200];
        int down = !db_ok (db);
        snprintf (message, sizeof message, "%s: %s",
                  down ? "database unavailable, retry" : "internal error",
                  db_error (db));
        log_error ("read command failed", "command", job->command->name,
                   "error", db_error (db));
        job_set_error (job, down ? RECOUP__ERROR_CODE__UNAVAILABLE
                                 : RECOUP__ERROR_CODE__INTERNAL,
                       NULL, message);
    }
    else
        job_set_reply (job, &reply);
    arena_reset (arena);
}

static void *
s_reader_main (void *arg)
{
    reader_t *self = arg;
    void *pipe = zmq_socket (self->ctx, ZMQ_PAIR);
    zmq_connect (pipe, self->endpoint);
    db_t *db = db_new (self->conninfo, "reader");
    arena_t *arena = arena_new ();
    char stream_id [64] = "", tenant [64] = "default";
    int64_t next_connect_ms = 0;
    while (1) {
        job_t *job = NULL;
        if (zmq_recv (pipe, &job, sizeof job, 0) != sizeof job)
            continue;
        if (!job)
            break;                  //  the main thread says stop
        //  While the database is down, try again at most once a second
        //  and answer the rest at once (UNAVAILABLE) instead of queueing.
        if (!db_ok (db) && wire_clock_ms () >= next_connect_ms) {
            char err [512];
            next_connect_ms = wire_clock_ms () + 1000;
            if (db_connect (db, err, sizeof err) != 0
                || s_load_meta (db, stream_id, sizeof stream_id, tenant,
                                sizeof tenant) != 0)
                db_disconnect (db);
        }
        s_run_job (job, db, arena, stream_id, tenant);
        zmq_send (pipe, &job, sizeof job, 0);
    }
    arena_destroy (&arena);
    db_destroy (&db);
    zmq_close (pipe);
    return NULL;
}

reader_t *
reader_new (void *ctx, const char *pipe_endpoint, const char *conninfo,
            int64_t started_us)
{
    reader_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = ctx;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", pipe_endpoint);
    self->conninfo = strdup (conninfo);
    self->started_us = started_us;
    s_started_us = started_us;
    if (pthread_create (&self->thread, NULL, s_reader_main, self) != 0) {
        free (self->conninfo);
        free (self);
        return NULL;
    }
    self->running = 1;
    return self;
}

void
reader_destroy (reader_t **self_p)
{
    reader_t *self = *self_p;
    if (!self)
        return;
    if (self->running)
        pthread_join (self->thread, NULL);
    free (self->conninfo);
    free (self);
    *self_p = NULL;
}
