/*  outbox: what the daily engine queued, and its delivery. See outbox.h
    and PROTOCOL.md (outbox_list, outbox_due, outbox_mark).

    The outbox rows never change (they are the copy of what was sent);
    every attempt to deliver one is a row of outbox_deliveries, so a
    message's status is derived from them: sent when one attempt was
    sent, failed when the latest attempt failed, queued when there was
    none.

    recoupd sends nothing itself. A sender (`recoup outbox send`) asks
    outbox_due which emails may go out now and records each attempt with
    outbox_mark; the desk prints letters and marks them. A message sent
    is logged in the contact log as an outbound contact through
    contacts_record, the very path of contact_log, so the contact rules
    judge it, the hash chain covers it, and the engine's "or N
    unanswered" steps count it.

    outbox_due offers, by id, the emails that are not sent, have a
    recipient and an invoice still open on the business date, were
    queued for a business date at most OUTBOX_STALE_DAYS before it (an
    older reminder is stale: the next step of the policy has taken its
    place), whose last failure is older than OUTBOX_RETRY_MINUTES times
    the failures so far (at most OUTBOX_MAX_ATTEMPTS attempts: then the
    message stays failed until a person deals with it), and whose
    customer the contact rules let us email at `at`. At most one per
    customer per answer: sending one makes a contact that the rules must
    see before judging the next (the attempt gap), so the next one comes
    in a later answer. What is not offered stays as it is (queued or
    failed) for people to see, send by hand and mark.

    Delivery is at least once: a sender that dies between the SMTP
    server's acceptance and outbox_mark leaves the message queued, and
    it is sent again.                                                    */
#include "outbox.h"
#include "contact_rules.h"
#include "contacts.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX 64
#define MESSAGE_ID_MAX 998          //  an RFC 5322 line
#define ERROR_MAX 2000
#define NOTE_MAX 4000               //  the contact log's note
#define DUE_DEFAULT 100
#define DUE_MAX 1000
#define FUTURE_SLACK_US (INT64_C (5) * 60 * 1000000)   //  clocks disagree

#define OUTBOX_RETRY_MINUTES 15
#define OUTBOX_MAX_ATTEMPTS 6
#define OUTBOX_STALE_DAYS 7             //  the policy's steps are a week apart

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

//  Microseconds as a timestamptz, and back, in SQL.
#define S_AT(param) "('epoch'::timestamptz + " param "::bigint * interval '1 microsecond')"
#define S_US(column) "(extract (epoch FROM " column ") * 1000000)::bigint"

//  A message with its delivery state: the columns s_message_from_row
//  reads, then the FROM clause (o: the outbox row, c: its customer, d:
//  its attempts, s: its sent attempt). `status` is column 13.
#define S_MESSAGE_COLUMNS \
    "o.id, c.ref, o.step, o.channel, o.tone, array_to_string (o.invoices, ','), " \
    "o.recipient, o.subject, o.body, o.business_date::text, o.policy_version, " \
    "c.name, " S_US ("o.queued_at") ", " S_STATUS ", d.attempts, d.failures, " \
    "coalesce (" S_US ("d.last_at") ", 0), coalesce (d.last_error, ''), " \
    "coalesce (s.message_id, ''), coalesce (" S_US ("s.at") ", 0), " \
    "coalesce (s.contact_id, 0), coalesce (s.actor, ''), o.customer_id, " \
    "coalesce (" S_US ("d.retry_at") ", 0)"
#define S_STATUS \
    "CASE WHEN s.id IS NOT NULL THEN 'sent' WHEN d.attempts > 0 THEN 'failed' " \
    "ELSE 'queued' END"
#define S_MESSAGE_FROM \
    "FROM outbox o JOIN customers c ON c.id = o.customer_id " \
    "LEFT JOIN outbox_deliveries s ON s.outbox_id = o.id AND s.status = 'sent' " \
    "CROSS JOIN LATERAL (SELECT count (*) AS attempts, " \
    "  count (*) FILTER (WHERE x.status = 'failed') AS failures, " \
    "  max (x.at) AS last_at, " \
    "  (array_agg (x.error ORDER BY x.id DESC) FILTER (WHERE x.status = 'failed'))[1] " \
    "    AS last_error, " \
    "  CASE WHEN o.channel = 'email' AND count (*) FILTER (WHERE x.status = 'sent') = 0 " \
    "    AND count (*) BETWEEN 1 AND " STRINGIFY (OUTBOX_MAX_ATTEMPTS) " - 1 " \
    "  THEN max (x.at) + count (*) * interval '" STRINGIFY (OUTBOX_RETRY_MINUTES) \
    " minutes' END AS retry_at " \
    "  FROM outbox_deliveries x WHERE x.outbox_id = o.id) d "
#define S_COL_CUSTOMER_ID 22

//  Fills a message from row `r` of a result with S_MESSAGE_COLUMNS.
static Recoup__OutboxMessage *
s_message_from_row (cmdctx_t *ctx, PGresult *res, int r)
{
    Recoup__OutboxMessage *m = CMD_NEW (ctx, Recoup__OutboxMessage,
                                        recoup__outbox_message__init);
    m->id = strtoull (PQgetvalue (res, r, 0), NULL, 10);
    m->customer = cmd_value (ctx, res, r, 1);
    m->step = cmd_value (ctx, res, r, 2);
    m->channel = cmd_value (ctx, res, r, 3);
    m->tone = cmd_value (ctx, res, r, 4);
    char *numbers = cmd_value (ctx, res, r, 5);
    size_t count = 1;
    for (char *p = numbers; *p; p++)
        count += *p == ',';
    m->invoices = arena_alloc (ctx->arena, (count + 1) * sizeof (char *));
    for (char *save = NULL, *p = strtok_r (numbers, ",", &save); p;
         p = strtok_r (NULL, ",", &save))
        m->invoices [m->n_invoices++] = p;
    m->recipient = cmd_value (ctx, res, r, 6);
    m->subject = cmd_value (ctx, res, r, 7);
    m->body = cmd_value (ctx, res, r, 8);
    m->business_date = cmd_value (ctx, res, r, 9);
    m->policy_version = (uint32_t) strtoul (PQgetvalue (res, r, 10), NULL, 10);
    m->customer_name = cmd_value (ctx, res, r, 11);
    m->queued_at = (char *) contacts_time_text (ctx, cmd_value_int (res, r, 12));
    m->status = cmd_value (ctx, res, r, 13);
    m->attempts = (uint32_t) cmd_value_int (res, r, 14);
    int64_t last_us = cmd_value_int (res, r, 16);
    m->last_attempt_at = last_us ? (char *) contacts_time_text (ctx, last_us) : "";
    m->last_error = cmd_value (ctx, res, r, 17);
    m->message_id = cmd_value (ctx, res, r, 18);
    int64_t sent_us = cmd_value_int (res, r, 19);
    m->sent_at = strcmp (m->status, "sent") == 0
                 ? (char *) contacts_time_text (ctx, sent_us) : "";
    m->contact_id = strtoull (PQgetvalue (res, r, 20), NULL, 10);
    m->sent_by = cmd_value (ctx, res, r, 21);
    int64_t retry_us = cmd_value_int (res, r, 23);
    m->retry_at = retry_us ? (char *) contacts_time_text (ctx, retry_us) : "";
    return m;
}

//  The messages of a result as an outbox_list / outbox_due reply.
static Recoup__OutboxListReply *
s_list_reply (cmdctx_t *ctx, size_t capacity)
{
    Recoup__OutboxListReply *result = CMD_NEW (ctx, Recoup__OutboxListReply,
                                               recoup__outbox_list_reply__init);
    result->messages = arena_alloc (ctx->arena, (capacity + 1) * sizeof *result->messages);
    return result;
}

// ---------------------------------------------------------------- outbox_list

//  outbox_list: the messages by id, with their delivery state; filtered
//  by customer, status or id.
int
cmd_outbox_list (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__OutboxListRequest *req = request->outbox_list;
    const char *customer = req->customer;
    if (strlen (customer) > REF_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "outbox_list.customer", "customer: at most %d characters",
                          REF_MAX);
    const char *status = req->status;
    if (*status && strcmp (status, "queued") != 0 && strcmp (status, "sent") != 0
        && strcmp (status, "failed") != 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "outbox_list.status", "status '%.40s' is not queued, sent "
                          "or failed", status);
    if (*customer) {
        PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                                 "SELECT 1 FROM customers WHERE ref = $1", 1,
                                 (const char *[]) { customer });
        if (!res)
            return -1;
        int found = PQntuples (res) == 1;
        PQclear (res);
        if (!found)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                              "outbox_list.customer", "there is no customer with ref "
                              "'%s'", customer);
    }
    const char *params [] = { customer, status, cmd_int (ctx, (int64_t) req->id) };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT " S_MESSAGE_COLUMNS " " S_MESSAGE_FROM
        "WHERE ($1 = '' OR c.ref = $1) AND ($2 = '' OR " S_STATUS " = $2) "
        "AND ($3::bigint = 0 OR o.id = $3::bigint) ORDER BY o.id", 3, params);
    if (!res)
        return -1;
    int n = PQntuples (res);
    if (n == 0 && req->id) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, "outbox_list.id",
                          "there is no message %" PRIu64 " in the outbox%s", req->id,
                          *customer || *status ? " (with that customer and status)"
                                               : "");
    }
    Recoup__OutboxListReply *result = s_list_reply (ctx, (size_t) n);
    for (int r = 0; r < n; r++)
        result->messages [result->n_messages++] = s_message_from_row (ctx, res, r);
    PQclear (res);
    reply->result_case = RECOUP__REPLY__RESULT_OUTBOX_LIST;
    reply->outbox_list = result;
    return 0;
}

// ---------------------------------------------------------------- outbox_due

//  outbox_due: the emails a sender may deliver at `at` (see the top of
//  this file), at most one per customer, by id.
int
cmd_outbox_due (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__OutboxDueRequest *req = request->outbox_due;
    uint32_t limit = req->limit ? req->limit : DUE_DEFAULT;
    if (limit > DUE_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "outbox_due.limit", "limit: at most %d messages at a time "
                          "(got %u)", DUE_MAX, limit);
    int64_t at_us = wire_now_us ();
    if (*req->at) {
        char err [200];
        if (contacts_parse_time (req->at, &at_us, err, sizeof err) != 0)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              "outbox_due.at", "at: %s", err);
    }
    const char *params [] = {
        cmd_int (ctx, at_us), cmd_date_text (ctx, cmd_today ())
    };
    //  One statement (its own snapshot: read commands run outside a
    //  transaction) picks the candidates; the rules are judged per
    //  customer afterwards, each customer once.
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT " S_MESSAGE_COLUMNS " " S_MESSAGE_FROM
        "WHERE o.channel = 'email' AND o.recipient <> '' AND s.id IS NULL "
        "AND o.business_date >= $2::date - " STRINGIFY (OUTBOX_STALE_DAYS) " "
        "AND d.attempts < " STRINGIFY (OUTBOX_MAX_ATTEMPTS) " "
        //  Never due (absolute): not worth a rule check on every call.
        "AND NOT EXISTS (SELECT 1 FROM contact_prefs p WHERE p.customer_id = "
        "  o.customer_id AND (p.cease_contact OR 'email' = ANY (p.opted_out))) "
        "AND (d.attempts = 0 OR d.retry_at <= " S_AT ("$1") ") "
        "AND EXISTS (SELECT 1 FROM invoices i WHERE i.number = ANY (o.invoices) "
        "  AND i.customer_id = o.customer_id AND i.issued <= $2::date "
        "  AND recoup_invoice_balance (i.id, $2::date) > 0) "
        "AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.number = ANY (o.invoices) "
        "  AND i.customer_id = o.customer_id AND i.issued <= $2::date "
        "  AND recoup_invoice_balance (i.id, $2::date) > 0 "
        "  AND recoup_invoice_pause (i.id, i.customer_id, $2::date) <> '') "
        "ORDER BY o.id", 2, params);
    if (!res)
        return -1;
    int n = PQntuples (res);
    Recoup__OutboxListReply *result = s_list_reply (ctx, limit < (uint32_t) n
                                                         ? limit : (size_t) n);
    //  Customers judged so far (their ids), in the arena.
    const char **judged = arena_alloc (ctx->arena, ((size_t) n + 1) * sizeof (char *));
    size_t n_judged = 0;
    int failed = 0;
    for (int r = 0; r < n && result->n_messages < limit; r++) {
        const char *customer_id = PQgetvalue (res, r, S_COL_CUSTOMER_ID);
        int seen = 0;
        for (size_t k = 0; k < n_judged && !seen; k++)
            seen = strcmp (judged [k], customer_id) == 0;
        if (seen)
            continue;
        judged [n_judged++] = arena_strdup (ctx->arena, customer_id);
        char names [128], message [600];
        if (contacts_rules_check (ctx, customer_id, "email", at_us, names, sizeof names,
                                  message, sizeof message) != 0) {
            failed = 1;
            break;
        }
        if (!names [0])
            result->messages [result->n_messages++] = s_message_from_row (ctx, res, r);
    }
    PQclear (res);
    if (failed)
        return -1;
    reply->result_case = RECOUP__REPLY__RESULT_OUTBOX_DUE;
    reply->outbox_due = result;
    return 0;
}

// ---------------------------------------------------------------- outbox_mark

//  The message `id` with its delivery state, or NULL with *found 0 when
//  there is none; *early set when `at_us` falls, in the customer's zone,
//  on a day before the message's business date. -1 in *found on a
//  database failure.
static Recoup__OutboxMessage *
s_message_get (cmdctx_t *ctx, uint64_t id, int64_t at_us, int *found, int *early)
{
    const char *params [] = {
        arena_printf (ctx->arena, "%" PRIu64, id), cmd_int (ctx, at_us)
    };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT " S_MESSAGE_COLUMNS ", "
        " (" S_AT ("$2") " AT TIME ZONE c.timezone)::date < o.business_date "
        S_MESSAGE_FROM "WHERE o.id = $1::bigint", 2, params);
    if (!res) {
        *found = -1;
        return NULL;
    }
    *found = PQntuples (res) == 1;
    Recoup__OutboxMessage *m = NULL;
    if (*found) {
        m = s_message_from_row (ctx, res, 0);
        *early = strcmp (PQgetvalue (res, 0, 24), "t") == 0;
    }
    PQclear (res);
    return m;
}

//  "outbox N: subject" for the contact log's note, cut to its limit on a
//  character boundary; in the arena.
static const char *
s_note (cmdctx_t *ctx, const Recoup__OutboxMessage *m)
{
    char *note = arena_printf (ctx->arena, "outbox %" PRIu64 ": %s", m->id, m->subject);
    size_t chars = 0, i = 0;
    for (; note [i]; i++)
        if (((unsigned char) note [i] & 0xC0) != 0x80 && ++chars > NOTE_MAX)
            break;
    note [i] = '\0';
    return note;
}

//  outbox_mark: records an attempt to deliver a message. sent also logs
//  the outbound contact (contacts_record: the contact rules at `at`, the
//  chain, contact.logged); a rule broken by then is recorded overridden
//  (the message went out), except cease-contact and opt-outs, which
//  refuse the mark.
int
cmd_outbox_mark (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__OutboxMarkRequest *req = request->outbox_mark;
    if (req->id == 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "outbox_mark.id", "id is required: the message's number "
                          "in the outbox");
    int sent = strcmp (req->status, "sent") == 0;
    if (!sent && strcmp (req->status, "failed") != 0) {
        size_t chars;
        if (!*req->status)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              "outbox_mark.status", "status is required: sent or "
                              "failed");
        if (!wire_utf8_valid (req->status, &chars) || chars > 40)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              "outbox_mark.status", "status is not sent or failed");
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "outbox_mark.status", "status '%s' is not sent or failed",
                          req->status);
    }
    int64_t at_us = ctx->now_us;
    if (*req->at) {
        char err [200];
        if (contacts_parse_time (req->at, &at_us, err, sizeof err) != 0)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              "outbox_mark.at", "at: %s", err);
        if (at_us > ctx->now_us + FUTURE_SLACK_US)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              "outbox_mark.at", "at: %s is in the future (the server's "
                              "time is %s)", contacts_time_text (ctx, at_us),
                              contacts_time_text (ctx, ctx->now_us));
    }
    if (!cmd_text (ctx, reply, "outbox_mark.message_id", req->message_id, 0,
                   MESSAGE_ID_MAX, 0))
        return 0;
    if (sent && *req->error)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "outbox_mark.error", "error is only for status failed");
    if (!sent && *req->message_id)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "outbox_mark.message_id", "message_id is only for status "
                          "sent");
    if (!sent && !cmd_text (ctx, reply, "outbox_mark.error", req->error, 1, ERROR_MAX, 1))
        return 0;

    int found, early = 0;
    Recoup__OutboxMessage *m = s_message_get (ctx, req->id, at_us, &found, &early);
    if (found < 0)
        return -1;
    if (!found)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, "outbox_mark.id",
                          "there is no message %" PRIu64 " in the outbox", req->id);
    if (strcmp (m->status, "sent") == 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT, "outbox_mark.id",
                          "message %" PRIu64 " was sent already, at %s (recorded by "
                          "%s%s%s%s)", m->id, m->sent_at, m->sent_by,
                          *m->message_id ? ", Message-ID " : "", m->message_id,
                          m->contact_id ? arena_printf (ctx->arena, ", contact %" PRIu64,
                                                        m->contact_id) : "");
    if (early)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "outbox_mark.at", "at: %s is before %s, the day message %"
                          PRIu64 " was queued for", contacts_time_text (ctx, at_us),
                          m->business_date, m->id);

    uint64_t contact_id = 0;
    if (sent) {
        contacts_entry_t entry = {
            .customer = m->customer, .channel = m->channel, .direction = "out",
            .outcome = "sent", .note = s_note (ctx, m), .at_us = at_us,
            .override_reason = "",
        };
        Recoup__Contact *contact;
        uint64_t contact_seq;
        const char *warning;
        if (contacts_record (ctx, reply, "outbox_mark", &entry, &contact, &contact_seq,
                             &warning) != 0)
            return -1;
        //  The message went out: the contact happened, and the log records
        //  what happened. A rule that came into force between outbox_due
        //  and the send (quiet hours began, a sender slowed by a mail
        //  server) is recorded as overridden, with why; only cease-contact
        //  and opt-outs, which nothing overrides, refuse the mark.
        if (reply->result_case == RECOUP__REPLY__RESULT_ERROR
            && reply->error->code == RECOUP__ERROR_CODE__FORBIDDEN_BY_RULE) {
            reply->result_case = RECOUP__REPLY__RESULT__NOT_SET;
            reply->error = NULL;
            entry.override_reason = "already sent when recorded: the rules allowed "
                                    "it when it was handed to the sender";
            if (contacts_record (ctx, reply, "outbox_mark", &entry, &contact,
                                 &contact_seq, &warning) != 0)
                return -1;
        }
        if (reply->result_case == RECOUP__REPLY__RESULT_ERROR)
            return 0;
        contact_id = contact->id;
    }
    const char *params [] = {
        arena_printf (ctx->arena, "%" PRIu64, m->id), req->status, cmd_int (ctx, at_us),
        req->message_id, req->error, cmd_int (ctx, (int64_t) contact_id), ctx->user,
        cmd_int (ctx, ctx->now_us)
    };
    PGresult *res = db_exec (ctx->db, PGRES_COMMAND_OK,
        "INSERT INTO outbox_deliveries (outbox_id, status, at, message_id, error, "
        "contact_id, actor, recorded_at) VALUES ($1::bigint, $2, " S_AT ("$3") ", $4, "
        "$5, nullif ($6::bigint, 0), $7, " S_AT ("$8") ")", 8, params);
    if (!res)
        return -1;
    PQclear (res);
    m = s_message_get (ctx, req->id, at_us, &found, &early);
    if (found != 1)
        return -1;

    Recoup__OutboxMarkReply *result = CMD_NEW (ctx, Recoup__OutboxMarkReply,
                                               recoup__outbox_mark_reply__init);
    result->message = m;
    result->contact_id = contact_id;
    result->seq = cmd_emit (ctx, sent ? "outbox.sent" : "outbox.failed",
                            RECOUP__EVENT__BODY_OUTBOX, m);
    reply->result_case = RECOUP__REPLY__RESULT_OUTBOX_MARK;
    reply->outbox_mark = result;
    return 0;
}
