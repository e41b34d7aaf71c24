/*  writer: batched, idempotent, sequenced writes. See writer.h.         */
#include "writer.h"
#include "import.h"
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
    int started;                //  writer_prepare has run once
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
    //  On first start, what is in the database went out before (or a
    //  subscriber recovers it by replay): do not publish history again.
    if (!self->started) {
        self->last_published = self->next_seq - 1;
        self->started = 1;
    }
    //  Events pending from before the reconnect may or may not have been
    //  committed: the database decides, in writer_publish.
    s_truncate_events (self, 0);
    self->need_catch_up = 1;
    return 0;
}

uint64_t
cmd_peek_seq (cmdctx_t *ctx)
{
    return ctx->writer->next_seq;
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

//  Marks repeats of a request id within the batch: todo -1 - index of
//  the first copy, which alone runs; the others get its reply. Everything
//  else is to run (todo 1).
static void
s_mark_repeats (job_t **jobs, size_t count, int *todo)
{
    for (size_t i = 0; i < count; i++) {
        todo [i] = 1;
        for (size_t j = 0; j < i; j++)
            if (todo [j] == 1 && strcmp (jobs [j]->user, jobs [i]->user) == 0
                && strcmp (jobs [j]->request->request_id,
                           jobs [i]->request->request_id) == 0) {
                todo [i] = -1 - (int) j;
                break;
            }
    }
}

//  The stored-reply lookup for the jobs still to run, as a pipeline
//  statement; the arrays are freed by the caller.
static void
s_lookup_stmt (job_t **jobs, size_t count, const int *todo, db_array_t *names,
               db_array_t *ids, const char **values, int *lengths,
               db_stmt_t *stmt)
{
    static const int formats [2] = { 1, 1 };
    db_array_init (names, DB_OID_TEXT);
    db_array_init (ids, DB_OID_TEXT);
    for (size_t i = 0; i < count; i++)
        if (todo [i] == 1) {
            db_array_add_text (names, jobs [i]->user);
            db_array_add_text (ids, jobs [i]->request->request_id);
        }
    values [0] = db_array_finish (names, &lengths [0]);
    values [1] = db_array_finish (ids, &lengths [1]);
    //  LIMIT 1 keeps the lookup a nested loop over the primary key,
    //  whatever the planner guesses about the arrays.
    *stmt = (db_stmt_t) {
        .sql = "SELECT k.u, k.id, r.reply, r.request_hash "
               "FROM unnest($1::text[], $2::text[]) AS k (u, id) "
               "CROSS JOIN LATERAL (SELECT reply, request_hash FROM requests "
               "  WHERE user_name = k.u AND request_id = k.id LIMIT 1) AS r",
        .nparams = 2, .values = values, .lengths = lengths, .formats = formats };
}

//  Answers the jobs whose request id the lookup found. Returns how many.
static int
s_answer_stored (job_t **jobs, size_t count, int *todo, PGresult *res)
{
    int found = 0;
    for (int r = 0; r < PQntuples (res); r++)
        for (size_t i = 0; i < count; i++) {
            if (todo [i] != 1 || strcmp (PQgetvalue (res, r, 0), jobs [i]->user) != 0
                || strcmp (PQgetvalue (res, r, 1), jobs [i]->request->request_id) != 0)
                continue;
            size_t len, hash_len;
            unsigned char *raw = PQunescapeBytea (
                (const unsigned char *) PQgetvalue (res, r, 2), &len);
            unsigned char *hash = PQunescapeBytea (
                (const unsigned char *) PQgetvalue (res, r, 3), &hash_len);
            if (!raw || !hash)
                abort ();
            if (hash_len == sizeof jobs [i]->hash
                && memcmp (hash, jobs [i]->hash, hash_len) == 0)
                s_mark_replayed (jobs [i], raw, len);
            else {
                //  Same id, other request: a client bug, not a retry.
                char message [200];
                snprintf (message, sizeof message,
                          "request id '%s' was already used for a different "
                          "request; use a new id for each command",
                          jobs [i]->request->request_id);
                job_set_error (jobs [i], RECOUP__ERROR_CODE__CONFLICT,
                               "request_id", message);
            }
            PQfreemem (raw);
            PQfreemem (hash);
            todo [i] = 0;
            found++;
            break;
        }
    return found;
}

//  Inserts the batch's events and stored replies (one statement each,
//  whole columns as arrays) and commits, all in one round trip.
//  Returns 0 or -1.
static int
s_commit (writer_t *self, job_t **jobs, size_t count, const int *todo,
          size_t first_event, const db_stmt_t *prefix, int n_prefix)
{
    db_array_t seqs, kinds, actors, request_ids, bodies, users, ids, replies, hashes;
    db_array_init (&seqs, DB_OID_INT8);
    db_array_init (&kinds, DB_OID_TEXT);
    db_array_init (&actors, DB_OID_TEXT);
    db_array_init (&request_ids, DB_OID_TEXT);
    db_array_init (&bodies, DB_OID_BYTEA);
    db_array_init (&users, DB_OID_TEXT);
    db_array_init (&ids, DB_OID_TEXT);
    db_array_init (&replies, DB_OID_BYTEA);
    db_array_init (&hashes, DB_OID_BYTEA);
    for (size_t i = first_event; i < self->n_events; i++) {
        pending_event_t *event = &self->events [i];
        db_array_add_int8 (&seqs, (int64_t) event->seq);
        db_array_add_text (&kinds, event->kind);
        db_array_add_text (&actors, event->actor);
        db_array_add_text (&request_ids, event->request_id);
        db_array_add (&bodies, event->body, event->len);
    }
    for (size_t i = 0; i < count; i++) {
        if (todo [i] != 1 || !jobs [i]->store)
            continue;
        db_array_add_text (&users, jobs [i]->user);
        db_array_add_text (&ids, jobs [i]->request->request_id);
        db_array_add (&replies, jobs [i]->reply, jobs [i]->reply_len);
        db_array_add (&hashes, jobs [i]->hash, sizeof jobs [i]->hash);
    }
    char at [24];
    snprintf (at, sizeof at, "%" PRId64, self->batch_us);
    int ev_len [6], rq_len [4];
    const char *ev_values [6], *rq_values [4];
    ev_values [0] = at;
    ev_len [0] = 0;
    ev_values [1] = db_array_finish (&seqs, &ev_len [1]);
    ev_values [2] = db_array_finish (&kinds, &ev_len [2]);
    ev_values [3] = db_array_finish (&actors, &ev_len [3]);
    ev_values [4] = db_array_finish (&request_ids, &ev_len [4]);
    ev_values [5] = db_array_finish (&bodies, &ev_len [5]);
    rq_values [0] = db_array_finish (&users, &rq_len [0]);
    rq_values [1] = db_array_finish (&ids, &rq_len [1]);
    rq_values [2] = db_array_finish (&replies, &rq_len [2]);
    rq_values [3] = db_array_finish (&hashes, &rq_len [3]);
    static const int ev_formats [6] = { 0, 1, 1, 1, 1, 1 };
    static const int rq_formats [4] = { 1, 1, 1, 1 };
    db_stmt_t *stmts = arena_alloc (self->arena, (size_t) (n_prefix + 3) * sizeof *stmts);
    int n = 0;
    for (int i = 0; i < n_prefix; i++)
        stmts [n++] = prefix [i];
    if (seqs.count > 0)
        stmts [n++] = (db_stmt_t) {
            .sql = "INSERT INTO events (seq, at, kind, actor, request_id, body) "
                   "SELECT s, to_timestamp($1::float8 / 1000000), k, a, r, b "
                   "FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], "
                   "$6::bytea[]) AS u (s, k, a, r, b)",
            .nparams = 6, .values = ev_values, .lengths = ev_len,
            .formats = ev_formats };
    if (users.count > 0)
        stmts [n++] = (db_stmt_t) {
            .sql = "INSERT INTO requests (user_name, request_id, reply, request_hash) "
                   "SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], "
                   "$4::bytea[])",
            .nparams = 4, .values = rq_values, .lengths = rq_len,
            .formats = rq_formats };
    stmts [n++] = (db_stmt_t) { .sql = "COMMIT" };
    int rc = db_pipeline (self->db, stmts, n);
    for (int i = 0; i < n; i++)
        PQclear (stmts [i].result);
    db_array_free (&seqs);
    db_array_free (&kinds);
    db_array_free (&actors);
    db_array_free (&request_ids);
    db_array_free (&bodies);
    db_array_free (&users);
    db_array_free (&ids);
    db_array_free (&replies);
    db_array_free (&hashes);
    //  A unique violation on `requests` is a retried request, not a fault.
    if (rc != 0 && strcmp (db_sqlstate (self->db), "23505") != 0)
        log_error ("batch commit failed", "error", db_error (self->db));
    return rc;
}

//  The context a handler gets for a job.
static cmdctx_t
s_context (writer_t *self, job_t *job)
{
    cmdctx_t ctx = {
        .db = self->db, .arena = self->arena, .user = job->user,
        .role = job->role, .request_id = job->request->request_id,
        .stream_id = self->stream_id, .tenant = self->tenant,
        .writer = self, .now_us = self->batch_us,
    };
    return ctx;
}

//  True if every job still to run is a blind planned command.
static int
s_all_blind (job_t **jobs, size_t count, const int *todo)
{
    for (size_t i = 0; i < count; i++)
        if (todo [i] == 1 && (!jobs [i]->command->plan || jobs [i]->command->finish))
            return 0;
    return 1;
}

//  Runs a `run` handler inside a savepoint, so that one command's
//  refusal never leaves half of it in the batch: when the handler answers
//  with an error, or a statement of it breaks a constraint (the database
//  enforcing the ledger's rules: SQLSTATE class 23, or a check raised by
//  a trigger), its statements and events are rolled back and it is
//  answered CONFLICT with the database's message; the batch carries on.
//  Returns 0, or -1 when the failure is not the command's fault.
static int
s_run_isolated (writer_t *self, job_t *job, cmdctx_t *ctx, Recoup__Reply *reply)
{
    size_t first_event = self->n_events;
    uint64_t first_seq = self->next_seq;
    if (db_command (self->db, "SAVEPOINT command") != 0)
        return -1;
    int failed = job->command->run (ctx, job->request, reply);
    if (failed && db_ok (self->db) && strncmp (db_sqlstate (self->db), "23", 2) == 0) {
        //  "ERROR:  the balance of invoice X would be negative\n..."
        const char *text = db_error (self->db);
        if (strncmp (text, "ERROR:", 6) == 0)
            text += 6;
        while (*text == ' ')
            text++;
        size_t len = strcspn (text, "\n");
        char message [512];
        snprintf (message, sizeof message, "%.*s", (int) (len < 500 ? len : 500), text);
        recoup__reply__init (reply);
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT, NULL, "%s", message);
        failed = 0;
    }
    if (failed)
        return -1;
    if (reply->result_case == RECOUP__REPLY__RESULT_ERROR) {
        s_truncate_events (self, first_event);
        self->next_seq = first_seq;
        return db_command (self->db, "ROLLBACK TO SAVEPOINT command");
    }
    return db_command (self->db, "RELEASE SAVEPOINT command");
}

//  Tries the batch once, in one transaction. The first round trip holds
//  BEGIN, the stored-reply lookup and the statements of every planned
//  command; then the other commands run, one statement at a time; the
//  last round trip holds the events, the replies to keep, and COMMIT.
//
//  `fast` (every command blind): a single round trip, BEGIN, the planned
//  statements, events, replies and COMMIT, without the lookup: a request
//  id seen before then shows as a unique violation on `requests` (the
//  batch rolls back and is tried again the ordinary way, which finds it).
//
//  Returns 1 when committed, 0 when the batch must be tried again the
//  ordinary way (request ids seen before: those jobs are answered), -1
//  when a statement failed (rolled back, nothing answered).
static int
s_try_batch (writer_t *self, job_t **jobs, size_t count, int *todo, int fast)
{
    size_t to_run = 0;
    for (size_t i = 0; i < count; i++)
        to_run += todo [i] == 1;
    if (to_run == 0)
        return 1;
    size_t first_event = self->n_events;
    uint64_t first_seq = self->next_seq;
    int users_changed = 0;
    self->batch_us = wire_now_us ();
    db_stmt_t *stmts = arena_alloc (self->arena, (count + 2) * sizeof *stmts);
    int *planned = arena_alloc (self->arena, count * sizeof *planned);
    int *rows = arena_alloc (self->arena, count * sizeof *rows);
    cmd_plan_t *plans = arena_alloc (self->arena, count * sizeof *plans);
    Recoup__Reply **replies = arena_alloc (self->arena, count * sizeof *replies);
    db_array_t names = { NULL, 0, 0, 0 }, ids = { NULL, 0, 0, 0 };
    const char *lookup_values [2];
    int lookup_lengths [2];
    stmts [0] = (db_stmt_t) { .sql = "BEGIN" };
    if (!fast)
        s_lookup_stmt (jobs, count, todo, &names, &ids, lookup_values,
                       lookup_lengths, &stmts [1]);
    int base = fast ? 1 : 2;        //  statements before the planned ones
    int n = base;
    for (size_t i = 0; i < count; i++) {
        planned [i] = -1;
        rows [i] = 0;
        if (todo [i] != 1)
            continue;
        replies [i] = arena_alloc (self->arena, sizeof (Recoup__Reply));
        recoup__reply__init (replies [i]);
        if (!jobs [i]->command->plan)
            continue;
        cmdctx_t ctx = s_context (self, jobs [i]);
        if (jobs [i]->command->plan (&ctx, jobs [i]->request, replies [i], &plans [i]) != 0)
            goto fail;
        users_changed |= ctx.users_changed;
        if (!jobs [i]->command->finish) {
            //  Blind: the reply is complete now.
            jobs [i]->store = 1;
            job_set_reply (jobs [i], replies [i]);
        }
        if (!plans [i].sql)
            continue;
        if (!plans [i].multirow) {
            planned [i] = n;
            stmts [n++] = (db_stmt_t) { .sql = plans [i].sql,
                                        .nparams = plans [i].nparams,
                                        .values = plans [i].values };
            continue;
        }
        //  A multirow statement: join the one already planned, if any.
        for (size_t j = 0; j < i; j++)
            if (planned [j] >= 0 && plans [j].multirow
                && strcmp (plans [j].sql, plans [i].sql) == 0) {
                planned [i] = planned [j];
                break;
            }
        if (planned [i] < 0) {
            planned [i] = n;
            stmts [n++] = (db_stmt_t) { .sql = plans [i].sql,
                                        .nparams = plans [i].nparams };
        }
    }
    //  Build the arrays of each multirow statement, in job order.
    for (int s = base; s < n; s++) {
        size_t first = count;
        for (size_t i = 0; i < count && first == count; i++)
            if (planned [i] == s && plans [i].multirow)
                first = i;
        if (first == count)
            continue;
        int columns = plans [first].nparams;
        const char **values = arena_alloc (self->arena, (size_t) columns * sizeof *values);
        int *lengths = arena_alloc (self->arena, (size_t) columns * sizeof *lengths);
        int *formats = arena_alloc (self->arena, (size_t) columns * sizeof *formats);
        for (int c = 0; c < columns; c++) {
            db_array_t array;
            db_array_init (&array, DB_OID_TEXT);
            int row = 0;
            for (size_t i = first; i < count; i++)
                if (planned [i] == s) {
                    db_array_add_text (&array, plans [i].values [c]);
                    rows [i] = row++;
                }
            //  The arena keeps a copy; the array's own buffer goes now.
            const char *data = db_array_finish (&array, &lengths [c]);
            values [c] = arena_memdup (self->arena, data, (size_t) lengths [c]);
            formats [c] = 1;
            db_array_free (&array);
        }
        stmts [s].values = values;
        stmts [s].lengths = lengths;
        stmts [s].formats = formats;
    }
    if (fast) {
        db_array_free (&names);
        db_array_free (&ids);
        if (s_commit (self, jobs, count, todo, first_event, stmts, n) != 0) {
            //  A unique violation is most likely a request id seen before.
            int again = strcmp (db_sqlstate (self->db), "23505") == 0;
            if (db_ok (self->db))
                db_command (self->db, "ROLLBACK");
            s_truncate_events (self, first_event);
            self->next_seq = first_seq;
            return again ? 0 : -1;
        }
        self->users_changed |= users_changed;
        return 1;
    }
    int rc = db_pipeline (self->db, stmts, n);
    db_array_free (&names);
    db_array_free (&ids);
    if (rc != 0) {
        log_error ("batch failed", "error", db_error (self->db));
        goto fail;
    }
    if (s_answer_stored (jobs, count, todo, stmts [1].result) > 0) {
        for (int i = 0; i < n; i++)
            PQclear (stmts [i].result);
        db_command (self->db, "ROLLBACK");
        s_truncate_events (self, first_event);
        self->next_seq = first_seq;
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        if (todo [i] != 1)
            continue;
        job_t *job = jobs [i];
        cmdctx_t ctx = s_context (self, job);
        int failed = 0;
        if (job->command->plan && !job->command->finish)
            continue;                   //  blind: answered when planned
        if (planned [i] >= 0) {
            PGresult *result = stmts [planned [i]].result;
            failed = rows [i] >= PQntuples (result)
                     || job->command->finish (&ctx, job->request, result,
                                              rows [i], replies [i]);
        }
        else if (job->command->run)
            failed = s_run_isolated (self, job, &ctx, replies [i]);
        if (failed) {
            log_error ("command failed", "command", job->command->name,
                       "user", job->user, "error", db_error (self->db));
            for (int s = 0; s < n; s++)
                PQclear (stmts [s].result);
            goto rollback;
        }
        users_changed |= ctx.users_changed;
        job->store = 1;
        job_set_reply (job, replies [i]);
    }
    for (int i = 0; i < n; i++)
        PQclear (stmts [i].result);
    if (s_commit (self, jobs, count, todo, first_event, NULL, 0) != 0)
        goto rollback;
    self->users_changed |= users_changed;
    return 1;
fail:
    db_array_free (&names);
    db_array_free (&ids);
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
    s_mark_repeats (jobs, count, todo);
    int rc = -1;
    if (db_ok (self->db)) {
        //  The first try may take the one-round-trip path; each later
        //  try answers at least one job from its stored reply.
        int fast = s_all_blind (jobs, count, todo);
        do {
            rc = s_try_batch (self, jobs, count, todo, fast);
            fast = 0;
        } while (rc == 0);
    }
    int failed = rc < 0;
    if (failed && count > 1 && db_ok (self->db)) {
        //  One command spoiled the batch. Run each alone, so only the
        //  guilty one fails.
        for (size_t i = 0; i < count; i++)
            if (todo [i] == 1)
                writer_run (self, &jobs [i], 1);
        failed = 0;
    }
    arena_reset (self->arena);
    for (size_t i = 0; i < count; i++) {
        if (failed && todo [i] == 1) {
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
            //  A copy of a request in this batch: the same answer, marked
            //  replayed when it was kept (errors that were not kept, like
            //  UNAVAILABLE, are just repeated).
            job_t *first = jobs [-1 - todo [i]];
            if (memcmp (first->hash, jobs [i]->hash, sizeof first->hash) != 0)
                job_set_error (jobs [i], RECOUP__ERROR_CODE__CONFLICT, "request_id",
                               "request id already used for a different request "
                               "in the same moment; use a new id for each command");
            else if (first->store)
                s_mark_replayed (jobs [i], first->reply, first->reply_len);
            else {
                free (jobs [i]->reply);
                jobs [i]->reply = malloc (first->reply_len);
                if (!jobs [i]->reply)
                    abort ();
                memcpy (jobs [i]->reply, first->reply, first->reply_len);
                jobs [i]->reply_len = first->reply_len;
            }
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
    import_prune (self->db);
}
