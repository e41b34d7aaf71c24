/*  policy: the collection policy commands (load, show, print) and the
    shipped default. See policy.h; the parser is common/policy.c.

    Versions are append-only (policy_versions, 0004): a load never
    changes a version, it adds the next one, so every action the engine
    records against a version number can be explained later from the
    text that was in force.

    Where version 1 comes from: recoupd stores the shipped default at
    start-up (policy_ensure_default) through the writer, as the server
    itself ("recoupd"), before any client can connect. So the contact
    rules and the engine always find a stored version, and what they
    record is reproducible (a built-in default that only lived in the
    binary could change with an upgrade). A read command cannot write, so
    policy_show and policy_print on a database without any version (a
    recoupd that skipped the start-up step) answer NOT_FOUND rather than
    invent one; policy_load on such a database stores the default as
    version 1 first, so the history still starts with what was followed
    before the first load.                                              */
#include "policy.h"
#include "ledger.h"
#include "../common/log.h"
#include "../common/policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Who the server is when it loads the default.
#define POLICY_SERVER_USER "recoupd"

//  Columns every read of a version selects, in the order s_from_row reads.
#define POLICY_COLUMNS "version, text, params::text, loaded_by, " \
    "(extract (epoch FROM loaded_at) * 1000000)::bigint"

//  Fills the steps of a Policy message from a parsed policy.
static void
s_steps (cmdctx_t *ctx, Recoup__Policy *message, const policy_t *policy)
{
    message->n_steps = policy->n_steps;
    message->steps = arena_alloc (ctx->arena,
                                  (policy->n_steps + 1) * sizeof (Recoup__PolicyStep *));
    for (size_t i = 0; i < policy->n_steps; i++) {
        const policy_step_t *from = &policy->steps [i];
        Recoup__PolicyStep *step = CMD_NEW (ctx, Recoup__PolicyStep,
                                            recoup__policy_step__init);
        step->name = arena_strdup (ctx->arena, from->name);
        step->anchor = arena_strdup (ctx->arena, from->anchor);
        step->offset_days = from->offset_days;
        step->channel = arena_strdup (ctx->arena, from->channel);
        step->tone = arena_strdup (ctx->arena, from->tone);
        step->action = arena_strdup (ctx->arena, from->action);
        message->steps [i] = step;
    }
}

//  A Policy message from a row of POLICY_COLUMNS; parses its text again
//  into *parsed (for the steps and for printing). Returns the message,
//  or NULL when the stored text no longer parses (a later recoupd made
//  the format stricter: logged; the caller answers INTERNAL).
static Recoup__Policy *
s_from_row (cmdctx_t *ctx, PGresult *res, policy_t *parsed)
{
    Recoup__Policy *message = CMD_NEW (ctx, Recoup__Policy, recoup__policy__init);
    message->version = (uint32_t) strtoul (PQgetvalue (res, 0, 0), NULL, 10);
    message->text = arena_strdup (ctx->arena, PQgetvalue (res, 0, 1));
    message->params_json = arena_strdup (ctx->arena, PQgetvalue (res, 0, 2));
    message->loaded_by = arena_strdup (ctx->arena, PQgetvalue (res, 0, 3));
    message->loaded_us = strtoll (PQgetvalue (res, 0, 4), NULL, 10);
    int line;
    char err [POLICY_ERROR_MAX];
    if (policy_parse (message->text, parsed, &line, err, sizeof err) != 0) {
        char version [16], where [16];
        snprintf (version, sizeof version, "%u", message->version);
        snprintf (where, sizeof where, "%d", line);
        log_error ("stored policy does not parse", "version", version,
                   "line", where, "error", err);
        return NULL;
    }
    s_steps (ctx, message, parsed);
    return message;
}

//  Reads version `version` (0: the newest) into *message. Returns 1
//  found, 0 not found, -1 on a database error; *message is NULL when the
//  stored text does not parse.
static int
s_read (cmdctx_t *ctx, uint32_t version, policy_t *parsed,
        Recoup__Policy **message)
{
    char number [16];
    snprintf (number, sizeof number, "%u", version);
    const char *params [] = { number };
    PGresult *res = version
        ? db_exec (ctx->db, PGRES_TUPLES_OK, "SELECT " POLICY_COLUMNS
                   " FROM policy_versions WHERE version = $1::int", 1, params)
        : db_exec (ctx->db, PGRES_TUPLES_OK, "SELECT " POLICY_COLUMNS
                   " FROM policy_versions ORDER BY version DESC LIMIT 1", 0, NULL);
    if (!res)
        return -1;
    int found = PQntuples (res) == 1;
    *message = found ? s_from_row (ctx, res, parsed) : NULL;
    PQclear (res);
    return found;
}

//  Stores `text` (already parsed into *policy) as the next version,
//  loaded by `user`, and emits policy.loaded. Returns the message, or
//  NULL on a database error.
static Recoup__Policy *
s_store (cmdctx_t *ctx, const char *text, const policy_t *policy,
         const char *user, uint64_t *seq)
{
    char *json = policy_json (policy);
    char at [24];
    snprintf (at, sizeof at, "%" PRId64, ctx->now_us);
    const char *params [] = { text, json, user, at };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "INSERT INTO policy_versions (version, text, params, "
                             "loaded_by, loaded_at) "
                             "SELECT coalesce (max (version), 0) + 1, $1, $2::jsonb, "
                             "$3, to_timestamp ($4::float8 / 1000000) "
                             "FROM policy_versions RETURNING " POLICY_COLUMNS,
                             4, params);
    free (json);
    if (!res)
        return NULL;
    Recoup__Policy *message = CMD_NEW (ctx, Recoup__Policy, recoup__policy__init);
    message->version = (uint32_t) strtoul (PQgetvalue (res, 0, 0), NULL, 10);
    message->text = arena_strdup (ctx->arena, text);
    //  As the database normalised it, the same text policy_show returns.
    message->params_json = arena_strdup (ctx->arena, PQgetvalue (res, 0, 2));
    message->loaded_by = arena_strdup (ctx->arena, user);
    message->loaded_us = strtoll (PQgetvalue (res, 0, 4), NULL, 10);
    PQclear (res);
    s_steps (ctx, message, policy);
    *seq = cmd_emit (ctx, "policy.loaded", RECOUP__EVENT__BODY_POLICY, message);
    return message;
}

//  Number of stored versions, or -1.
static int
s_count (db_t *db)
{
    PGresult *res = db_exec (db, PGRES_TUPLES_OK,
                             "SELECT count(*) FROM policy_versions", 0, NULL);
    if (!res)
        return -1;
    int count = atoi (PQgetvalue (res, 0, 0));
    PQclear (res);
    return count;
}

int
cmd_policy_load (cmdctx_t *ctx, const Recoup__Request *request,
                 Recoup__Reply *reply)
{
    const char *text = request->policy_load->text;
    //  The server itself (an internal command) has no user name.
    const char *user = *ctx->user ? ctx->user : POLICY_SERVER_USER;
    policy_t *policy = arena_alloc (ctx->arena, sizeof *policy);
    int line;
    char err [POLICY_ERROR_MAX];
    if (!*text)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "policy_load.text", "text is required: the policy "
                          "file (see deploy/POLICY.md)");
    if (policy_parse (text, policy, &line, err, sizeof err) != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "policy_load.text", "line %d: %s", line, err);
    int count = s_count (ctx->db);
    if (count < 0)
        return -1;
    uint64_t seq = 0;
    if (count == 0 && *ctx->user) {
        //  No start-up default (see the top of this file): the history
        //  starts with it all the same.
        policy_t *fallback = arena_alloc (ctx->arena, sizeof *fallback);
        if (policy_parse (policy_default_text, fallback, &line, err, sizeof err) != 0
            || !s_store (ctx, policy_default_text, fallback, POLICY_SERVER_USER, &seq))
            return -1;
    }
    Recoup__PolicyReply *result = CMD_NEW (ctx, Recoup__PolicyReply,
                                           recoup__policy_reply__init);
    result->policy = s_store (ctx, text, policy, user, &seq);
    if (!result->policy)
        return -1;
    //  The stage of every late account follows the newest policy's steps:
    //  their Account.collection changes with it.
    char today [11];
    ledger_business_date (today);
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT '{' || coalesce (string_agg (DISTINCT customer_id::text, ','), '') || '}' "
        "FROM recoup_open_items ($1::date) WHERE due < $1::date", 1,
        (const char *[]) { today });
    if (!res)
        return -1;
    const char *late = arena_strdup (ctx->arena, PQgetvalue (res, 0, 0));
    PQclear (res);
    if (strcmp (late, "{}") != 0 && ledger_emit_accounts (ctx, late) != 0)
        return -1;
    result->seq = seq;
    reply->result_case = RECOUP__REPLY__RESULT_POLICY_LOAD;
    reply->policy_load = result;
    return 0;
}

int
cmd_policy_show (cmdctx_t *ctx, const Recoup__Request *request,
                 Recoup__Reply *reply)
{
    uint32_t version = request->policy_show->version;
    policy_t *parsed = arena_alloc (ctx->arena, sizeof *parsed);
    Recoup__Policy *message;
    int found = s_read (ctx, version, parsed, &message);
    if (found < 0)
        return -1;
    if (!found && version)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "policy_show.version", "there is no policy version %u",
                          version);
    if (!found)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, NULL,
                          "no policy has been loaded yet");
    if (!message)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INTERNAL, NULL,
                          "the stored policy does not parse (see the server log)");
    Recoup__PolicyReply *result = CMD_NEW (ctx, Recoup__PolicyReply,
                                           recoup__policy_reply__init);
    result->policy = message;
    reply->result_case = RECOUP__REPLY__RESULT_POLICY_SHOW;
    reply->policy_show = result;
    return 0;
}

int
cmd_policy_print (cmdctx_t *ctx, const Recoup__Request *request,
                  Recoup__Reply *reply)
{
    const char *language = request->policy_print->language;
    if (*language && strcmp (language, "en") != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "policy_print.language", "language '%.35s': only "
                          "English templates for now (en)", language);
    policy_t *parsed = arena_alloc (ctx->arena, sizeof *parsed);
    Recoup__Policy *message;
    int found = s_read (ctx, 0, parsed, &message);
    if (found < 0)
        return -1;
    if (!found)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, NULL,
                          "no policy has been loaded yet");
    if (!message)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INTERNAL, NULL,
                          "the stored policy does not parse (see the server log)");
    char *text = policy_print_en (parsed);
    Recoup__PolicyPrintReply *result = CMD_NEW (ctx, Recoup__PolicyPrintReply,
                                                recoup__policy_print_reply__init);
    result->text = arena_strdup (ctx->arena, text);
    free (text);
    result->version = message->version;
    reply->result_case = RECOUP__REPLY__RESULT_POLICY_PRINT;
    reply->policy_print = result;
    return 0;
}

int
policy_ensure_default (db_t *db, writer_t *writer, void *pub)
{
    int count = s_count (db);
    if (count < 0) {
        log_error ("cannot read policy versions", "error", db_error (db));
        return -1;
    }
    if (count > 0)
        return 0;
    //  Through the writer, like any command: one transaction with its
    //  event, sequenced and published in order.
    Recoup__PolicyLoadRequest load = RECOUP__POLICY_LOAD_REQUEST__INIT;
    load.text = (char *) policy_default_text;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    char request_id [48], random [33];
    wire_request_id (random);
    snprintf (request_id, sizeof request_id, "policy-default-%s", random);
    request.protocol_version = PROTOCOL_VERSION;
    request.request_id = request_id;
    request.command_case = RECOUP__REQUEST__COMMAND_POLICY_LOAD;
    request.policy_load = &load;
    size_t len;
    uint8_t *packed = wire_pack (&request.base, &len);
    job_t *job = calloc (1, sizeof *job);
    if (!packed || !job) {
        free (packed);
        free (job);
        return -1;
    }
    zmq_msg_init (&job->routing);
    job->request = recoup__request__unpack (NULL, len, packed);
    job_hash (job, packed, len);
    free (packed);
    job->command = commands_find (request.command_case);
    job->role = RECOUP__ROLE__ADMIN;
    writer_run (writer, &job, 1);
    writer_publish (writer, pub);
    Recoup__Reply *reply = job->reply
        ? recoup__reply__unpack (NULL, job->reply_len, job->reply) : NULL;
    job_destroy (&job);
    int ok = reply && reply->result_case == RECOUP__REPLY__RESULT_POLICY_LOAD;
    if (ok) {
        char version [16];
        snprintf (version, sizeof version, "%u", reply->policy_load->policy->version);
        log_info ("default policy loaded", "version", version);
    }
    else
        log_error ("cannot load the default policy", "error",
                   reply && reply->result_case == RECOUP__REPLY__RESULT_ERROR
                   ? reply->error->message : "no reply");
    if (reply)
        recoup__reply__free_unpacked (reply, NULL);
    return ok ? 0 : -1;
}
