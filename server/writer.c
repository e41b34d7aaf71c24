/*  writer: batched, idempotent, sequenced writes. See writer.h.         */
#include "writer.h"
#include "../common/json.h"
#include "../common/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  How long a stored reply answers a retried request id.
#define REQUEST_RETENTION "7 days"
//  Advisory lock held by the one writer of a database.
#define WRITER_LOCK "7650002"

typedef struct {
    uint64_t seq;               //  sequence number
    char *kind;                 //  e.g. "user.added" (malloc)
    char *actor;                //  user whose command caused it (malloc)
    char *request_id;           //  that command's request id (malloc)
    uint8_t *body;              //  packed recoup.Event (malloc)
    size_t len;                 //  its size
} pending_event_t;

struct writer_t {
    db_t *db;                   //  the writer connection (borrowed)
    arena_t *arena;             //  reply contents of the current batch
    uint64_t next_seq;          //  next sequence number to assign
    uint64_t last_published;    //  highest seq sent on the PUB socket
    int need_catch_up;          //  read unpublished events from the database
    pending_event_t *events;    //  events of the batch, then committed ones
    size_t n_events;            //  entries used
    size_t cap_events;          //  entries allocated
    int64_t batch_us;           //  commit time stamped on the batch's events
    int users_changed;          //  a committed batch touched users
    char stream_id [64];        //  meta.stream_id
    char tenant [64];           //  meta.tenant
};

writer_t *
writer_new (db_t *db)
{
    writer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->db = db;
    self->arena = arena_new ();
    self->need_catch_up = 1;
    return self;
}

//  Drops pending events from index `from` on.
static void
s_truncate_events (writer_t *self, size_t from)
{
    for (size_t i = from; i < self->n_events; i++) {
        free (self->events [i].kind);
        free (self->events [i].actor);
        free (self->events [i].request_id);
        free (self->events [i].body);
    }
    if (from < self->n_events)
        self->n_events = from;
}

void
writer_destroy (writer_t **self_p)
{
    writer_t *self = *self_p;
    if (!self)
        return;
    s_truncate_events (self, 0);
    free (self->events);
    arena_destroy (&self->arena);
    free (self);
    *self_p = NULL;
}

const char *
writer_stream_id (writer_t *self)
{
    return self->stream_id;
}

const char *
writer_tenant (writer_t *self)
{
    return self->tenant;
}

uint64_t
writer_last_published (writer_t *self)
{
    return self->last_published;
}

int
writer_take_users_changed (writer_t *self)
{
    int changed = self->users_changed;
    self->users_changed = 0;
    return changed;
}

int
writer_prepare (writer_t *self, char *err, size_t errlen)
{
    PGconn *conn = db_conn (self->db);
    PGresult *res = db_exec (self->db, PGRES_TUPLES_OK,
                             "SELECT pg_try_advisory_lock(" WRITER_LOCK ")",
                             0, NULL);
    if (!res) {
        snprintf (err, errlen, "writer lock: %s", db_error (self->db));
        return -1;
    }
    int locked = PQgetvalue (res, 0, 0) [0] == 't';
    PQclear (res);
    if (!locked) {
        snprintf (err, errlen,
                  "another recoupd is already serving this database");
        return -1;
    }
    res = PQprepare (conn, "recoup_ins_event",
                     "INSERT INTO events (seq, at, kind, actor, request_id, body) "
                     "VALUES ($1, to_timestamp($2::float8 / 1000000), $3, $4, $5, $6)",
                     6, NULL);
    int ok = PQresultStatus (res) == PGRES_COMMAND_OK;
    PQclear (res);
    res = PQprepare (conn, "recoup_ins_request",
                     "INSERT INTO requests (user_name, request_id, reply) "
                     "VALUES ($1, $2, $3)", 3, NULL);
    ok = ok && PQresultStatus (res) == PGRES_COMMAND_OK;
    PQclear (res);
    if (!ok) {
        snprintf (err, errlen, "prepare: %s", PQerrorMessage (conn));
        return -1;
    }
    res = db_exec (self->db, PGRES_TUPLES_OK,
                   "SELECT (SELECT value FROM meta WHERE key = 'stream_id'),"
                   " (SELECT value FROM meta WHERE key = 'tenant'),"
                   " (SELECT coalesce(max(seq), 0) FROM events)", 0, NULL);
    if (!res) {
        snprintf (err, errlen, "cannot read meta: %s", db_error (self->db));
        return -1;
    }
    snprintf (self->stream_id, sizeof self->stream_id, "%s", PQgetvalue (res, 0, 0));
    snprintf (self->tenant, sizeof self->tenant, "%s", PQgetvalue (res, 0, 1));
    self->next_seq = strtoull (PQgetvalue (res, 0, 2), NULL, 10) + 1;
    PQclear (res);
    //  Events pending from before the reconnect may or may not have been
    //  committed: the database decides, in writer_publish.
    s_truncate_events (self, 0);
    self->need_catch_up = 1;
    return 0;
}

uint64_t
cmd_emit (cmdctx_t *ctx, const char *kind, Recoup__Event__BodyCase body_case,
          void *body)
{
    writer_t *self = ctx->writer;
    if (self->n_events == self->cap_events) {
        size_t cap = self->cap_events ? self->cap_events * 2 : 64;
        pending_event_t *events = realloc (self->events, cap * sizeof *events);
        if (!events)
            abort ();
        self->events = events;
        self->cap_events = cap;
    }
    Recoup__Event event = RECOUP__EVENT__INIT;
    event.seq = self->next_seq++;
    event.at_us = self->batch_us;
    event.stream_id = self->stream_id;
    event.tenant = self->tenant;
    event.kind = (char *) kind;
    event.actor = (char *) ctx->user;
    event.request_id = (char *) ctx->request_id;
    event.body_case = body_case;
    //  Every body member is a message pointer at the same place.
    event.user = body;
    pending_event_t *pending = &self->events [self->n_events++];
    pending->seq = event.seq;
    pending->kind = strdup (kind);
    pending->actor = strdup (event.actor);
    pending->request_id = strdup (event.request_id);
    pending->body = wire_pack (&event.base, &pending->len);
    if (!pending->kind || !pending->actor || !pending->request_id
        || !pending->body)
        abort ();
    return event.seq;
}

//  Appends text as an element of a PostgreSQL array literal.
static void
s_array_element (strbuf_t *out, const char *text)
{
    if (out->len > 1)
        strbuf_append (out, ",", 1);
    strbuf_append (out, "\"", 1);
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            strbuf_append (out, "\\", 1);
        strbuf_append (out, p, 1);
    }
    strbuf_append (out, "\"", 1);
}

//  Marks a packed reply as replayed: appending field 3 (bool) = true
//  overrides any earlier value of it.
static void
s_mark_replayed (job_t *job, const uint8_t *reply, size_t len)
{
    free (job->reply);
    job->reply = malloc (len + 2);
    if (!job->reply)
        abort ();
    memcpy (job->reply, reply, len);
    job->reply [len] = 0x18;
    job->reply [len + 1] = 0x01;
    job->reply_len = len + 2;
    job->store = 0;
}

//  Answers jobs whose request id was seen before, from `requests`.
//  Returns the number still to run, or -1 on a database error.
static int
s_answer_stored (writer_t *self, job_t **jobs, size_t count, int *todo)
{
    strbuf_t names, ids;
    strbuf_init (&names);
    strbuf_init (&ids);
    strbuf_puts (&names, "{");
    strbuf_puts (&ids, "{");
    for (size_t i = 0; i < count; i++) {
        s_array_element (&names, jobs [i]->user);
        s_array_element (&ids, jobs [i]->request->request_id);
    }
    strbuf_puts (&names, "}");
    strbuf_puts (&ids, "}");
    const char *params [] = { names.data, ids.data };
    PGresult *res = db_exec (self->db, PGRES_TUPLES_OK,
        "SELECT r.user_name, r.request_id, r.reply FROM requests r "
        "JOIN unnest($1::text[], $2::text[]) AS k (u, id) "
        "ON r.user_name = k.u AND r.request_id = k.id", 2, params);
    strbuf_free (&names);
    strbuf_free (&ids);
    if (!res)
        return -1;
    int remaining = 0;
    for (size_t i = 0; i < count; i++) {
        todo [i] = 1;
        for (int r = 0; r < PQntuples (res); r++) {
            if (strcmp (PQgetvalue (res, r, 0), jobs [i]->user) == 0
                && strcmp (PQgetvalue (res, r, 1), jobs [i]->request->request_id) == 0) {
                size_t len;
                unsigned char *raw = PQunescapeBytea (
                    (const unsigned char *) PQgetvalue (res, r, 2), &len);
                if (raw) {
                    s_mark_replayed (jobs [i], raw, len);
                    PQfreemem (raw);
                    todo [i] = 0;
                }
                break;
            }
        }
        //  The same request twice in one batch: the later copy gets the
        //  earlier one's reply once it is known.
        for (size_t j = 0; todo [i] && j < i; j++)
            if (todo [j] && strcmp (jobs [j]->user, jobs [i]->user) == 0
                && strcmp (jobs [j]->request->request_id,
                           jobs [i]->request->request_id) == 0)
                todo [i] = -1 - (int) j;
        remaining += todo [i] == 1;
    }
    PQclear (res);
    return remaining;
}

//  Inserts the batch's events and stored replies and commits, in one
//  pipeline (one round trip plus the commit's flush). Returns 0 or -1.
static int
s_commit (writer_t *self, job_t **jobs, size_t count, const int *todo,
          size_t first_event)
{
    PGconn *conn = db_conn (self->db);
    if (!PQenterPipelineMode (conn))
        return -1;
    int sent = 0;
    for (size_t i = first_event; i < self->n_events; i++) {
        pending_event_t *event = &self->events [i];
        char seq [24], at [24];
        snprintf (seq, sizeof seq, "%" PRIu64, event->seq);
        snprintf (at, sizeof at, "%" PRId64, self->batch_us);
        const char *values [] = { seq, at, event->kind, event->actor,
                                  event->request_id, (const char *) event->body };
        int lengths [] = { 0, 0, 0, 0, 0, (int) event->len };
        int formats [] = { 0, 0, 0, 0, 0, 1 };
        if (!PQsendQueryPrepared (conn, "recoup_ins_event", 6, values,
                                  lengths, formats, 0))
            goto broken;
        sent++;
    }
    for (size_t i = 0; i < count; i++) {
        if (todo [i] != 1 || !jobs [i]->store)
            continue;
        const char *values [] = { jobs [i]->user, jobs [i]->request->request_id,
                                  (const char *) jobs [i]->reply };
        int lengths [] = { 0, 0, (int) jobs [i]->reply_len };
        int formats [] = { 0, 0, 1 };
        if (!PQsendQueryPrepared (conn, "recoup_ins_request", 3, values,
                                  lengths, formats, 0))
            goto broken;
        sent++;
    }
    if (!PQsendQueryParams (conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0)
        || !PQpipelineSync (conn))
        goto broken;
    sent++;
    int failed = 0;
    for (int i = 0; i < sent; i++) {
        PGresult *res = PQgetResult (conn);
        if (!res) {
            failed = 1;
            break;
        }
        ExecStatusType status = PQresultStatus (res);
        if (status != PGRES_COMMAND_OK && !failed) {
            failed = 1;
            log_error ("batch commit failed", "error",
                       status == PGRES_PIPELINE_ABORTED ? "pipeline aborted"
                       : PQresultErrorMessage (res));
        }
        PQclear (res);
        res = PQgetResult (conn);       //  the NULL closing this query
        if (res)
            PQclear (res);
    }
    PGresult *res;
    while ((res = PQgetResult (conn)) != NULL) {
        ExecStatusType status = PQresultStatus (res);
        PQclear (res);
        if (status == PGRES_PIPELINE_SYNC)
            break;
    }
    PQexitPipelineMode (conn);
    return failed ? -1 : 0;
broken:
    log_error ("batch commit: cannot send", "error", PQerrorMessage (conn));
    PQexitPipelineMode (conn);
    return -1;
}

//  Tries the batch once in one transaction. Returns 0 on commit, -1 when
//  a statement failed (everything rolled back, nothing answered).
static int
s_try_batch (writer_t *self, job_t **jobs, size_t count, const int *todo)
{
    size_t first_event = self->n_events;
    uint64_t first_seq = self->next_seq;
    int users_changed = 0;
    self->batch_us = wire_now_us ();
    if (db_command (self->db, "BEGIN") != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (todo [i] != 1)
            continue;
        job_t *job = jobs [i];
        cmdctx_t ctx = {
            .db = self->db, .arena = self->arena, .user = job->user,
            .role = job->role, .request_id = job->request->request_id,
            .stream_id = self->stream_id, .tenant = self->tenant,
            .writer = self,
        };
        Recoup__Reply reply = RECOUP__REPLY__INIT;
        if (job->command->run (&ctx, job->request, &reply) != 0) {
            log_error ("command failed", "command", job->command->name,
                       "user", job->user, "error", db_error (self->db));
            goto rollback;
        }
        users_changed |= ctx.users_changed;
        job->store = 1;
        job_set_reply (job, &reply);
    }
    if (s_commit (self, jobs, count, todo, first_event) != 0)
        goto rollback;
    self->users_changed |= users_changed;
    return 0;
rollback:
    if (db_ok (self->db))
        db_command (self->db, "ROLLBACK");
    s_truncate_events (self, first_event);
    self->next_seq = first_seq;
    return -1;
}

void
writer_run (writer_t *self, job_t **jobs, size_t count)
{
    if (count == 0)
        return;
    int *todo = calloc (count, sizeof *todo);
    if (!todo)
        abort ();
    int remaining = db_ok (self->db) ? s_answer_stored (self, jobs, count, todo)
                                     : -1;
    int failed = 0;
    if (remaining > 0 && s_try_batch (self, jobs, count, todo) != 0) {
        failed = 1;
        //  One command spoiled the batch. Run each alone, so only the
        //  guilty one fails.
        if (count > 1 && db_ok (self->db)) {
            for (size_t i = 0; i < count; i++)
                if (todo [i] == 1)
                    writer_run (self, &jobs [i], 1);
            failed = 0;
        }
    }
    arena_reset (self->arena);
    for (size_t i = 0; i < count; i++) {
        if (remaining < 0 || (failed && todo [i] == 1)) {
            int down = !db_ok (self->db);
            char message [1200];
            snprintf (message, sizeof message, "%s: %s",
                      down ? "database unavailable, retry with the same "
                             "request id" : "internal error",
                      db_error (self->db));
            job_set_error (jobs [i], down ? RECOUP__ERROR_CODE__UNAVAILABLE
                                          : RECOUP__ERROR_CODE__INTERNAL,
                           NULL, message);
        }
        else if (todo [i] < 0) {
            job_t *first = jobs [-1 - todo [i]];
            s_mark_replayed (jobs [i], first->reply, first->reply_len);
        }
    }
    free (todo);
}

//  Sends one event on the PUB socket: [topic, body].
static void
s_send_event (void *pub, const char *kind, const uint8_t *body, size_t len)
{
    char topic [128];
    int n = snprintf (topic, sizeof topic, WIRE_TOPIC_EVENT_PREFIX "%s", kind);
    if (n >= (int) sizeof topic)
        n = sizeof topic - 1;
    zmq_send (pub, topic, (size_t) n, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (pub, body, len, ZMQ_DONTWAIT);
}

//  Publishes events after last_published straight from the database.
static int
s_catch_up (writer_t *self, void *pub)
{
    while (1) {
        char after [24];
        snprintf (after, sizeof after, "%" PRIu64, self->last_published);
        const char *params [] = { after };
        PGresult *res = PQexecParams (db_conn (self->db),
                                      "SELECT seq, kind, body FROM events "
                                      "WHERE seq > $1 ORDER BY seq LIMIT 10000",
                                      1, NULL, params, NULL, NULL, 1);
        if (PQresultStatus (res) != PGRES_TUPLES_OK) {
            PQclear (res);
            return -1;
        }
        int rows = PQntuples (res);
        for (int i = 0; i < rows; i++) {
            uint64_t seq = 0;
            const unsigned char *raw = (const unsigned char *) PQgetvalue (res, i, 0);
            for (int b = 0; b < 8; b++)
                seq = (seq << 8) | raw [b];
            s_send_event (pub, PQgetvalue (res, i, 1),
                          (const uint8_t *) PQgetvalue (res, i, 2),
                          (size_t) PQgetlength (res, i, 2));
            self->last_published = seq;
        }
        PQclear (res);
        if (rows < 10000)
            return 0;
    }
}

int
writer_publish (writer_t *self, void *pub)
{
    if (self->need_catch_up) {
        if (!db_ok (self->db) || s_catch_up (self, pub) != 0)
            return -1;
        self->need_catch_up = 0;
        if (self->last_published + 1 < self->next_seq) {
            //  The database has fewer events than were numbered: cannot
            //  happen with one writer; say so loudly.
            log_error ("event log shorter than expected");
        }
        self->next_seq = self->last_published + 1;
        s_truncate_events (self, 0);
        return 0;
    }
    for (size_t i = 0; i < self->n_events; i++) {
        pending_event_t *event = &self->events [i];
        if (event->seq <= self->last_published)
            continue;
        s_send_event (pub, event->kind, event->body, event->len);
        self->last_published = event->seq;
    }
    s_truncate_events (self, 0);
    return 0;
}

void
writer_heartbeat (writer_t *self, void *pub)
{
    Recoup__Heartbeat beat = RECOUP__HEARTBEAT__INIT;
    beat.seq = self->last_published;
    beat.at_us = wire_now_us ();
    beat.stream_id = self->stream_id;
    beat.tenant = self->tenant;
    beat.server_version = RECOUP_VERSION;
    uint8_t buf [256];
    size_t len = recoup__heartbeat__get_packed_size (&beat);
    if (len > sizeof buf)
        return;
    recoup__heartbeat__pack (&beat, buf);
    zmq_send (pub, WIRE_TOPIC_HEARTBEAT, strlen (WIRE_TOPIC_HEARTBEAT),
              ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send (pub, buf, len, ZMQ_DONTWAIT);
}

void
writer_prune (writer_t *self)
{
    if (db_ok (self->db))
        db_command (self->db, "DELETE FROM requests WHERE at < now() - interval '"
                              REQUEST_RETENTION "'");
}
