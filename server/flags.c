/*  flags: sales flags. See flags.h and PROTOCOL.md (flag_list, flag_ack,
    flag_note).

    A flag is raised once per (customer, kind, subject), enforced by the
    database's unique key, so that whoever raises it (a dispute opened,
    a promise recorded broken, the daily engine every day an account is
    late) may simply ask again. It is addressed to the customer's sales
    rep at the time; a customer without one sends it to the collections
    lead, which is what managers see. Acknowledging is the rep's (or a
    manager's) word that they have it in hand; notes are append-only.

    The open flags are part of every Account's collection (snapshots,
    account.changed): raising one and acknowledging one change it, so
    both are followed by the customer's account.changed. Notes are left
    out of the collection (flag_list and the flag.* events carry them).  */
#include "flags.h"
#include "ledger.h"
#include "../common/date.h"
#include "../common/log.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBJECT_MAX 64          //  invoice number, promise id, ...
#define TEXT_MAX 1000           //  flag text, notes

static const char *const s_kinds [] = {
    "late", "dispute", "broken_promise", "broken_plan", "hold", "credit", "other",
    NULL
};

//  Columns of a SalesFlag row; $1 is the business date days_open counts
//  to.
#define FLAG_SELECT \
    "SELECT f.id, c.ref, c.name, f.kind, f.subject, f.text, coalesce (f.rep, ''), " \
    " f.raised_on, to_char (f.raised_at AT TIME ZONE 'UTC', " \
    "   'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
    " greatest (coalesce (f.acknowledged_on, $1::date) - f.raised_on, 0), " \
    " coalesce (f.acknowledged_by, ''), coalesce (to_char (f.acknowledged_at " \
    "   AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') " \
    "FROM flags f JOIN customers c ON c.id = f.customer_id "

// ---------------------------------------------------------------- helpers

//  The business date, in the arena.
static const char *
s_today (cmdctx_t *ctx)
{
    char today [11];
    ledger_business_date (today);
    return arena_strdup (ctx->arena, today);
}


//  Checks a text field: min..max characters, no control characters but
//  line breaks. 1, or 0 with the error in reply.
static int
s_text (cmdctx_t *ctx, Recoup__Reply *reply, const char *field, const char *label,
        const char *text, size_t min, size_t max)
{
    size_t chars = 0;
    if (!wire_utf8_valid (text, &chars)) {
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                   "%s is not valid UTF-8", label);
        return 0;
    }
    if (chars < min || chars > max) {
        if (min > 0 && chars == 0)
            cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                       "%s is required", label);
        else
            cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                       "%s must be %zu to %zu characters (got %zu)", label,
                       min, max, chars);
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if ((*p < 0x20 && *p != '\n') || *p == 0x7f) {
            cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                       "%s holds a control character (at byte %zu)", label,
                       (size_t) (p - (const unsigned char *) text) + 1);
            return 0;
        }
    return 1;
}

//  A flag from a FLAG_SELECT row, without its notes.
static Recoup__SalesFlag *
s_flag_from_row (cmdctx_t *ctx, PGresult *res, int row)
{
    Recoup__SalesFlag *flag = CMD_NEW (ctx, Recoup__SalesFlag, recoup__sales_flag__init);
    flag->id = strtoull (PQgetvalue (res, row, 0), NULL, 10);
    flag->customer = cmd_value (ctx, res, row, 1);
    flag->customer_name = cmd_value (ctx, res, row, 2);
    flag->kind = cmd_value (ctx, res, row, 3);
    flag->subject = cmd_value (ctx, res, row, 4);
    flag->text = cmd_value (ctx, res, row, 5);
    flag->rep = cmd_value (ctx, res, row, 6);
    flag->raised_on = cmd_value (ctx, res, row, 7);
    flag->raised_at = cmd_value (ctx, res, row, 8);
    flag->days_open = (int32_t) strtol (PQgetvalue (res, row, 9), NULL, 10);
    flag->acknowledged_by = cmd_value (ctx, res, row, 10);
    flag->acknowledged_at = cmd_value (ctx, res, row, 11);
    return flag;
}

//  Attaches to each of the `count` flags its notes, oldest first. The
//  flags are in any order. 0 or -1.
static int
s_notes_attach (cmdctx_t *ctx, Recoup__SalesFlag **flags, size_t count)
{
    if (count == 0)
        return 0;
    //  One query for all: "{1,2,3}".
    size_t cap = count * 21 + 3, len = 0;
    char *ids = arena_alloc (ctx->arena, cap);
    ids [len++] = '{';
    for (size_t i = 0; i < count; i++)
        len += (size_t) snprintf (ids + len, cap - len, "%s%" PRIu64, i ? "," : "",
                                  flags [i]->id);
    snprintf (ids + len, cap - len, "}");
    const char *params [] = { ids };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT flag_id, author, text,"
        " to_char (at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " count (*) OVER (PARTITION BY flag_id) "
        "FROM flag_notes WHERE flag_id = ANY ($1::bigint[]) ORDER BY flag_id, id",
        1, params);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    for (int row = 0; row < rows; ) {
        uint64_t id = strtoull (PQgetvalue (res, row, 0), NULL, 10);
        size_t n = (size_t) strtoull (PQgetvalue (res, row, 4), NULL, 10);
        Recoup__SalesFlag *flag = NULL;
        for (size_t i = 0; i < count && !flag; i++)
            if (flags [i]->id == id)
                flag = flags [i];
        if (!flag || n == 0) {          //  not one of ours: cannot happen
            row += n ? (int) n : 1;
            continue;
        }
        flag->notes = arena_alloc (ctx->arena, n * sizeof *flag->notes);
        flag->n_notes = n;
        for (size_t k = 0; k < n; k++, row++) {
            Recoup__FlagNote *note = CMD_NEW (ctx, Recoup__FlagNote,
                                              recoup__flag_note__init);
            note->author = cmd_value (ctx, res, row, 1);
            note->text = cmd_value (ctx, res, row, 2);
            note->at = cmd_value (ctx, res, row, 3);
            flag->notes [k] = note;
        }
    }
    PQclear (res);
    return 0;
}

//  Flag `id` with its notes; NULL when there is none (*failed set on a
//  database failure).
static Recoup__SalesFlag *
s_flag_load (cmdctx_t *ctx, const char *id, int *failed)
{
    *failed = 0;
    const char *params [] = { s_today (ctx), id };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             FLAG_SELECT "WHERE f.id = $2::bigint", 2, params);
    if (!res) {
        *failed = 1;
        return NULL;
    }
    Recoup__SalesFlag *flag = PQntuples (res) ? s_flag_from_row (ctx, res, 0) : NULL;
    PQclear (res);
    if (flag && s_notes_attach (ctx, &flag, 1) != 0) {
        *failed = 1;
        return NULL;
    }
    return flag;
}

// ---------------------------------------------------------------- raising

int
flags_raise (cmdctx_t *ctx, int64_t customer_id, const char *kind,
             const char *subject, const char *text, int *raised)
{
    accounts_touched_t touched = { NULL };
    if (flags_raise_touching (ctx, customer_id, kind, subject, text, raised,
                              &touched) != 0)
        return -1;
    return accounts_touched_emit (ctx, &touched);
}

int
flags_raise_touching (cmdctx_t *ctx, int64_t customer_id, const char *kind,
                      const char *subject, const char *text, int *raised,
                      accounts_touched_t *touched)
{
    assert (ctx && kind && subject && text && touched);
    if (raised)
        *raised = 0;
    if (!ctx->writer) {
        log_error ("flags_raise outside a write command", "kind", kind);
        return -1;
    }
    int known = 0;
    for (const char *const *k = s_kinds; *k && !known; k++)
        known = strcmp (*k, kind) == 0;
    size_t subject_chars = 0, text_chars = 0;
    if (!known || !wire_utf8_valid (subject, &subject_chars)
        || !wire_utf8_valid (text, &text_chars) || subject_chars > SUBJECT_MAX) {
        log_error ("flags_raise: bad kind, subject or text", "kind", kind,
                   "subject", subject);
        return -1;
    }
    //  Text is for people and often quotes what someone wrote: a long
    //  one is cut (at a character boundary) rather than refused.
    if (text_chars > TEXT_MAX) {
        size_t at = 0;
        for (size_t chars = 0; text [at] && chars < TEXT_MAX; chars++)
            do
                at++;
            while ((text [at] & 0xC0) == 0x80);
        text = arena_printf (ctx->arena, "%.*s", (int) at, text);
    }
    const char *customer = arena_printf (ctx->arena, "%" PRId64, customer_id);
    const char *params [] = { customer, kind, subject, text, s_today (ctx) };
    //  Nothing returned: raised before (or the customer does not exist).
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "INSERT INTO flags (customer_id, kind, subject, text, rep, raised_on) "
        "SELECT c.id, $2, $3, $4, c.sales_rep, $5::date FROM customers c "
        "WHERE c.id = $1::bigint "
        "ON CONFLICT (customer_id, kind, subject) DO NOTHING RETURNING id", 5, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        res = db_exec (ctx->db, PGRES_TUPLES_OK,
                       "SELECT 1 FROM customers WHERE id = $1::bigint", 1, &customer);
        if (!res)
            return -1;
        int exists = PQntuples (res) > 0;
        PQclear (res);
        if (!exists)
            log_error ("flags_raise: no such customer", "customer_id", customer);
        return exists ? 0 : -1;
    }
    const char *id = cmd_value (ctx, res, 0, 0);
    PQclear (res);
    int failed;
    Recoup__SalesFlag *flag = s_flag_load (ctx, id, &failed);
    if (!flag)
        return -1;
    cmd_emit (ctx, "flag.raised", RECOUP__EVENT__BODY_FLAG, flag);
    accounts_touch (ctx, touched, customer);
    if (raised)
        *raised = 1;
    return 0;
}

int
flags_open_load (cmdctx_t *ctx, const char *ids, const char *as_of,
                 Recoup__SalesFlag ***flags, size_t *count)
{
    //  acknowledged_on, not acknowledged_at: as of a business date. Two
    //  statements, for every customer and for a list, so that each keeps
    //  a plan of its own once prepared.
    const char *params [] = { as_of, ids };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK, ids
        ? FLAG_SELECT "WHERE f.customer_id = ANY ($2::bigint[])"
          " AND f.raised_on <= $1::date"
          " AND (f.acknowledged_on IS NULL OR f.acknowledged_on > $1::date) "
          "ORDER BY f.customer_id, f.raised_on, f.id"
        : FLAG_SELECT "WHERE $2::bigint[] IS NULL"
          " AND f.raised_on <= $1::date"
          " AND (f.acknowledged_on IS NULL OR f.acknowledged_on > $1::date) "
          "ORDER BY f.customer_id, f.raised_on, f.id", 2, params);
    if (!res)
        return -1;
    *count = (size_t) PQntuples (res);
    *flags = arena_alloc (ctx->arena, (*count + 1) * sizeof **flags);
    int32_t day = 0;
    char err [128];
    int dated = date_parse_iso (as_of, &day, err, sizeof err) == 0;
    for (size_t i = 0; i < *count; i++) {
        Recoup__SalesFlag *flag = s_flag_from_row (ctx, res, (int) i);
        //  Acknowledged after as_of: open then, for days_open too.
        int32_t raised;
        if (*flag->acknowledged_by && dated
            && date_parse_iso (flag->raised_on, &raised, err, sizeof err) == 0) {
            flag->acknowledged_by = flag->acknowledged_at = "";
            flag->days_open = day > raised ? day - raised : 0;
        }
        (*flags) [i] = flag;
    }
    PQclear (res);
    return 0;
}

// ---------------------------------------------------------------- commands

//  flag_list (read): sales see their own flags; others all, or one rep's
//  ("-": flags without a rep, the collections lead's). With
//  unacknowledged, open flags oldest first; otherwise newest first.
int
cmd_flag_list (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__FlagListRequest *list = request->flag_list;
    const char *rep = list->rep;
    if (*rep && strcmp (rep, "-") != 0
        && !s_text (ctx, reply, "flag_list.rep", "rep", rep, 1, 63))
        return 0;
    if (ctx->role == RECOUP__ROLE__SALES) {
        if (*rep && strcmp (rep, ctx->user) != 0)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__PERMISSION_DENIED,
                              "flag_list.rep", "sales users see only their own flags "
                              "(you are %s)", ctx->user);
        rep = ctx->user;
    }
    if (*list->customer
        && !s_text (ctx, reply, "flag_list.customer", "customer", list->customer, 1, 64))
        return 0;
    const char *as_of = s_today (ctx);
    const char *params [] = {
        as_of, rep, list->unacknowledged ? "t" : "f", list->customer
    };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        FLAG_SELECT
        "WHERE ($2 = '' OR ($2 = '-' AND f.rep IS NULL) OR f.rep = $2)"
        " AND (NOT $3::boolean OR f.acknowledged_at IS NULL)"
        " AND ($4 = '' OR c.ref = $4) "
        "ORDER BY CASE WHEN $3::boolean THEN f.raised_on END ASC,"
        " CASE WHEN $3::boolean THEN f.id END ASC,"
        " f.raised_on DESC, f.id DESC", 4, params);
    if (!res)
        return -1;
    Recoup__FlagListReply *result = CMD_NEW (ctx, Recoup__FlagListReply,
                                             recoup__flag_list_reply__init);
    result->as_of = (char *) as_of;
    result->n_flags = (size_t) PQntuples (res);
    result->flags = arena_alloc (ctx->arena, (result->n_flags + 1) * sizeof *result->flags);
    for (size_t i = 0; i < result->n_flags; i++)
        result->flags [i] = s_flag_from_row (ctx, res, (int) i);
    PQclear (res);
    if (s_notes_attach (ctx, result->flags, result->n_flags) != 0)
        return -1;
    reply->result_case = RECOUP__REPLY__RESULT_FLAG_LIST;
    reply->flag_list = result;
    return 0;
}

//  Loads the flag a write command names and checks the caller may act
//  on it: managers and admins always; the flag's rep; collectors when
//  `collectors`. 1 with *flag set, 0 with the error in reply, -1.
static int
s_flag_for (cmdctx_t *ctx, Recoup__Reply *reply, const char *field, uint64_t id,
            int collectors, const char *what, Recoup__SalesFlag **flag)
{
    if (id == 0)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                          "id is required (see recoup flag list)");
    int failed;
    *flag = s_flag_load (ctx, arena_printf (ctx->arena, "%" PRIu64, id), &failed);
    if (failed)
        return -1;
    if (!*flag)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, field,
                          "there is no flag %" PRIu64, id);
    int allowed = ctx->role == RECOUP__ROLE__ADMIN || ctx->role == RECOUP__ROLE__MANAGER
                  || (collectors && ctx->role == RECOUP__ROLE__COLLECTOR)
                  || strcmp ((*flag)->rep, ctx->user) == 0;
    if (!allowed)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__PERMISSION_DENIED, field,
                          "flag %" PRIu64 " is %s's: only %s%s may %s it", id,
                          *(*flag)->rep ? (*flag)->rep : "the collections lead",
                          *(*flag)->rep ? "that rep" : "a manager",
                          *(*flag)->rep ? " or a manager" : "", what);
    return 1;
}

//  Appends a note to flag `id`. 0 or -1.
static int
s_note_add (cmdctx_t *ctx, uint64_t id, const char *text)
{
    const char *params [] = { arena_printf (ctx->arena, "%" PRIu64, id), ctx->user, text };
    PGresult *res = db_exec (ctx->db, PGRES_COMMAND_OK,
                             "INSERT INTO flag_notes (flag_id, author, text) "
                             "VALUES ($1::bigint, $2, $3)", 3, params);
    if (!res)
        return -1;
    PQclear (res);
    return 0;
}

//  Replies with flag `id` as it now is, after emitting it as `kind`.
static int
s_flag_reply (cmdctx_t *ctx, Recoup__Reply *reply, uint64_t id, const char *kind,
              Recoup__Reply__ResultCase result_case)
{
    int failed;
    Recoup__SalesFlag *flag = s_flag_load (ctx, arena_printf (ctx->arena, "%" PRIu64, id),
                                           &failed);
    if (!flag)
        return -1;
    Recoup__FlagReply *result = CMD_NEW (ctx, Recoup__FlagReply, recoup__flag_reply__init);
    result->seq = cmd_emit (ctx, kind, RECOUP__EVENT__BODY_FLAG, flag);
    result->flag = flag;
    reply->result_case = result_case;
    if (result_case == RECOUP__REPLY__RESULT_FLAG_ACK)
        reply->flag_ack = result;
    else
        reply->flag_note = result;
    return 0;
}

//  flag_ack (write): the rep (or a manager) has the flag in hand; once.
//  Emits flag.acknowledged (its notes include the optional note), then
//  the customer's account.changed: the flag leaves its collection.
int
cmd_flag_ack (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__FlagAckRequest *ack = request->flag_ack;
    Recoup__SalesFlag *flag;
    int rc = s_flag_for (ctx, reply, "flag_ack.id", ack->id, 0, "acknowledge", &flag);
    if (rc <= 0)
        return rc;
    if (*flag->acknowledged_by)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT, "flag_ack.id",
                          "flag %" PRIu64 " was acknowledged by %s at %s; add a note "
                          "instead (recoup flag note)", ack->id, flag->acknowledged_by,
                          flag->acknowledged_at);
    if (*ack->note && !s_text (ctx, reply, "flag_ack.note", "note", ack->note, 1, TEXT_MAX))
        return 0;
    const char *params [] = {
        arena_printf (ctx->arena, "%" PRIu64, ack->id), ctx->user, s_today (ctx)
    };
    PGresult *res = db_exec (ctx->db, PGRES_COMMAND_OK,
                             "UPDATE flags SET acknowledged_by = $2, acknowledged_at = now (),"
                             " acknowledged_on = $3::date "
                             "WHERE id = $1::bigint AND acknowledged_at IS NULL", 3, params);
    if (!res)
        return -1;
    PQclear (res);
    if (*ack->note && s_note_add (ctx, ack->id, ack->note) != 0)
        return -1;
    if (s_flag_reply (ctx, reply, ack->id, "flag.acknowledged",
                      RECOUP__REPLY__RESULT_FLAG_ACK) != 0)
        return -1;
    //  The flag leaves the account's open flags: its account.changed.
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT customer_id FROM flags WHERE id = $1::bigint", 1, params);
    if (!res)
        return -1;
    accounts_touched_t touched = { NULL };
    if (PQntuples (res) == 1)
        accounts_touch (ctx, &touched, cmd_value (ctx, res, 0, 0));
    PQclear (res);
    if (accounts_touched_emit (ctx, &touched) != 0)
        return -1;
    reply->flag_ack->seq = cmd_peek_seq (ctx) - 1;
    return 0;
}

//  flag_note (write): context on a flag, from the rep, a collector or a
//  manager (sales only on their own). Emits flag.noted, and no
//  account.changed: an account's collection carries its open flags
//  without their notes, so a note changes nothing there.
int
cmd_flag_note (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const Recoup__FlagNoteRequest *note = request->flag_note;
    Recoup__SalesFlag *flag;
    int rc = s_flag_for (ctx, reply, "flag_note.id", note->id, 1, "add notes to", &flag);
    if (rc <= 0)
        return rc;
    if (!s_text (ctx, reply, "flag_note.text", "text", note->text, 1, TEXT_MAX))
        return 0;
    if (s_note_add (ctx, note->id, note->text) != 0)
        return -1;
    return s_flag_reply (ctx, reply, note->id, "flag.noted", RECOUP__REPLY__RESULT_FLAG_NOTE);
}
