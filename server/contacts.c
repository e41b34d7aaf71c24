/*  contacts: the contact log, contact preferences, the contact rules and
    the audit of the log's hash chain. See contacts.h.

    The hash chain. Record n's hash is

        hash_n = BLAKE2b-256 (prev_hash_n || F(id) || F(customer) ||
                              F(channel) || F(direction) || F(outcome) ||
                              F(note) || F(at) || F(logged_by) ||
                              F(override_reason) || F(rule_overridden))

    with libsodium's crypto_generichash (32-byte output, no key), where
    prev_hash_n is hash_(n-1) (32 zero bytes for record 1) and every field
    is F(x) = len(x) as 4 bytes big-endian, then the bytes of x:

    - id: the record's position in the log, 8 bytes big-endian unsigned;
    - customer: the customer's ref (not its internal id), UTF-8;
    - channel, direction, outcome, note, logged_by, override_reason,
      rule_overridden: the stored text, UTF-8, as is (no normalisation);
    - at: when the contact happened, as microseconds since
      1970-01-01T00:00:00Z, 8 bytes big-endian two's complement.

    (So F(id) is 00 00 00 08 followed by the 8 bytes of the id.) The
    lengths make the serialisation unambiguous: no two different records
    serialise alike. logged_at is not covered: it is when recoupd wrote
    the row, not a fact about the contact.

    The writer is the only one that appends: it reads the last record's
    id and hash in the batch transaction, so ids are gapless and each
    record chains to the one before.

    The contact rules (outbound contacts only; inbound ones are always
    recorded): cease_contact and opt-outs are absolute; quiet_hours
    applies to every outbound contact; attempt_gap applies to collection
    attempts (an outbound contact while the customer has an invoice past
    due at the contact's local date: a courtesy reminder before the due
    date is not an attempt); call_after_conversation and call_limit to
    phone attempts. Only contacts dated at or before the new one are
    looked at: a contact logged late is judged against what came
    before it.                                                           */
#include "contacts.h"
#include "../common/date.h"
#include "../common/log.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX 64
#define NOTE_MAX 4000
#define REASON_MAX 500
#define HASH_LEN 32
#define HEX_LEN (2 * HASH_LEN)
#define US_PER_DAY INT64_C(86400000000)
#define AUDIT_PAGE "5000"       //  records read per query by audit_verify

static const char *const s_channels [] = {
    "phone", "email", "letter", "certified_letter", "sms", "visit", "meeting", NULL
};
static const char *const s_directions [] = { "in", "out", NULL };
static const char *const s_outcomes [] = {
    "no_answer", "left_message", "spoke", "promised", "disputed", "refused",
    "wrong_number", "sent", "delivered", "returned", NULL
};
static const char *const s_weekdays [] = {
    "", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
};

//  The limits of the contact rules (policy params->'contact').
typedef struct {
    int hours_start;            //  minutes after local midnight
    int hours_end;              //  minutes after local midnight (exclusive)
    int weekdays_only;          //  no contact on Saturday or Sunday
    int attempt_gap_days;       //  between attempts on one channel
    int call_after_conversation_days;   //  no call attempt after a conversation
    int max_calls_per_7_days;   //  outbound phone attempts in any 7 days
} s_limits_t;

//  A contact was an attempt: outbound while an invoice was past due at
//  its local date. `l` is a contact_log row, `c` its customer.
#define S_WAS_ATTEMPT \
    "EXISTS (SELECT 1 FROM recoup_open_items ((l.at AT TIME ZONE c.timezone)::date, " \
    "l.customer_id) o WHERE o.due < (l.at AT TIME ZONE c.timezone)::date)"

//  Microseconds as a timestamptz, in SQL.
#define S_AT(param) "('epoch'::timestamptz + " param "::bigint * interval '1 microsecond')"

//  A timestamptz as microseconds, in SQL.
#define S_US(column) "(extract (epoch FROM " column ") * 1000000)::bigint"

// ---------------------------------------------------------------- checks



//  "a, b or c" for a NULL-ended list, in the arena.
static const char *
s_list (cmdctx_t *ctx, const char *const *values)
{
    size_t len = 1;
    for (int i = 0; values [i]; i++)
        len += strlen (values [i]) + 4;
    char *out = arena_alloc (ctx->arena, len);
    out [0] = 0;
    for (int i = 0; values [i]; i++) {
        if (i > 0)
            strcat (out, values [i + 1] ? ", " : " or ");
        strcat (out, values [i]);
    }
    return out;
}

//  1 when value is one of values.
static int
s_member (const char *value, const char *const *values)
{
    for (int i = 0; values [i]; i++)
        if (strcmp (value, values [i]) == 0)
            return 1;
    return 0;
}

//  Checks an enumerated field. 1, or 0 with the error naming the values.
static int
s_enum (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
        const char *value, const char *const *values)
{
    if (s_member (value, values))
        return 1;
    size_t chars;
    if (!*value)
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                   "%s is required: one of %s", cmd_label (field), s_list (ctx, values));
    else if (!wire_utf8_valid (value, &chars) || chars > 40)
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                   "%s is not one of %s", cmd_label (field), s_list (ctx, values));
    else
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                   "%s '%s' is not one of %s", cmd_label (field), value,
                   s_list (ctx, values));
    return 0;
}

//  Reads `n` digits at *p into *value, advancing *p. 1, or 0.
static int
s_digits (const char **p, int n, int *value)
{
    *value = 0;
    for (int i = 0; i < n; i++) {
        if ((*p) [i] < '0' || (*p) [i] > '9')
            return 0;
        *value = *value * 10 + ((*p) [i] - '0');
    }
    *p += n;
    return 1;
}

//  Parses an ISO 8601 time with a zone: YYYY-MM-DDTHH:MM[:SS[.fraction]]
//  followed by Z or an offset (+HH:MM, +HHMM, +HH). Sets *us to
//  microseconds since the epoch. Returns 0, or -1 with what is wrong.
static int
s_parse_time (const char *text, int64_t *us, char *err, size_t errlen)
{
    const char *p = text;
    int year, month, day, hour, minute, second = 0, micro = 0;
    if (!s_digits (&p, 4, &year) || *p++ != '-' || !s_digits (&p, 2, &month)
        || *p++ != '-' || !s_digits (&p, 2, &day)
        || (*p != 'T' && *p != 't' && *p != ' ')) {
        snprintf (err, errlen, "'%.40s' is not a time: write it as ISO 8601 with "
                  "a zone, e.g. 2026-11-22T14:05:00Z or 2026-11-22T09:05-05:00", text);
        return -1;
    }
    p++;
    if (!s_digits (&p, 2, &hour) || *p++ != ':' || !s_digits (&p, 2, &minute)) {
        snprintf (err, errlen, "'%.40s': the time of day is not HH:MM", text);
        return -1;
    }
    if (*p == ':') {
        p++;
        if (!s_digits (&p, 2, &second)) {
            snprintf (err, errlen, "'%.40s': the seconds are not two digits", text);
            return -1;
        }
        if (*p == '.' || *p == ',') {
            p++;
            int digits = 0;
            while (*p >= '0' && *p <= '9') {
                if (digits < 6)
                    micro = micro * 10 + (*p - '0');
                digits++;
                p++;
            }
            if (digits == 0 || digits > 9) {
                snprintf (err, errlen, "'%.40s': bad fraction of a second", text);
                return -1;
            }
            for (int i = digits; i < 6; i++)
                micro *= 10;
        }
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (!s_digits (&p, 2, &oh)) {
            snprintf (err, errlen, "'%.40s': bad zone offset", text);
            return -1;
        }
        if (*p == ':')
            p++;
        if (*p && !s_digits (&p, 2, &om)) {
            snprintf (err, errlen, "'%.40s': bad zone offset", text);
            return -1;
        }
        if (oh > 15 || om > 59) {
            snprintf (err, errlen, "'%.40s': the zone offset is out of range", text);
            return -1;
        }
        offset = sign * (oh * 3600 + om * 60);
    }
    else {
        snprintf (err, errlen, "'%.40s' has no zone: end it with Z (UTC) or an "
                  "offset such as +09:00", text);
        return -1;
    }
    if (*p) {
        snprintf (err, errlen, "'%.40s' has something after the time", text);
        return -1;
    }
    int32_t days;
    if (date_from_ymd (year, month, day, &days) != 0) {
        snprintf (err, errlen, "'%.40s': %04d-%02d-%02d is not a date", text,
                  year, month, day);
        return -1;
    }
    if (hour > 23 || minute > 59 || second > 59) {
        snprintf (err, errlen, "'%.40s': %02d:%02d:%02d is not a time of day", text,
                  hour, minute, second);
        return -1;
    }
    int64_t seconds = (int64_t) days * 86400 + hour * 3600 + minute * 60 + second
                      - offset;
    *us = seconds * 1000000 + micro;
    return 0;
}

//  Microseconds since the epoch as ISO 8601 UTC, in the arena
//  ("2026-11-22T14:05:00Z", with a fraction only when there is one).
static const char *
s_iso_utc (cmdctx_t *ctx, int64_t us)
{
    int64_t seconds = us / 1000000, micro = us % 1000000;
    if (micro < 0) {
        micro += 1000000;
        seconds--;
    }
    int64_t days = seconds / 86400, rest = seconds % 86400;
    if (rest < 0) {
        rest += 86400;
        days--;
    }
    int year, month, day;
    date_to_ymd ((int32_t) days, &year, &month, &day);
    if (micro)
        return arena_printf (ctx->arena, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                             year, month, day, (int) (rest / 3600),
                             (int) (rest / 60 % 60), (int) (rest % 60), (int) micro);
    return arena_printf (ctx->arena, "%04d-%02d-%02dT%02d:%02d:%02dZ", year, month,
                         day, (int) (rest / 3600), (int) (rest / 60 % 60),
                         (int) (rest % 60));
}

// ---------------------------------------------------------------- hash

//  Adds F(x): 4-byte big-endian length, then x.
static void
s_hash_field (crypto_generichash_state *state, const void *data, size_t len)
{
    unsigned char prefix [4] = {
        (unsigned char) (len >> 24), (unsigned char) (len >> 16),
        (unsigned char) (len >> 8), (unsigned char) len
    };
    crypto_generichash_update (state, prefix, sizeof prefix);
    crypto_generichash_update (state, data, len);
}

static void
s_hash_u64 (crypto_generichash_state *state, uint64_t value)
{
    unsigned char bytes [8];
    for (int i = 0; i < 8; i++)
        bytes [i] = (unsigned char) (value >> (56 - 8 * i));
    s_hash_field (state, bytes, sizeof bytes);
}

static void
s_hash_text (crypto_generichash_state *state, const char *text)
{
    s_hash_field (state, text, strlen (text));
}

//  The hash of one record (see the top of this file) into out.
static void
s_contact_hash (const unsigned char prev [HASH_LEN], uint64_t id,
                const char *customer, const char *channel, const char *direction,
                const char *outcome, const char *note, int64_t at_us,
                const char *logged_by, const char *override_reason,
                const char *rule_overridden, unsigned char out [HASH_LEN])
{
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, HASH_LEN);
    crypto_generichash_update (&state, prev, HASH_LEN);
    s_hash_u64 (&state, id);
    s_hash_text (&state, customer);
    s_hash_text (&state, channel);
    s_hash_text (&state, direction);
    s_hash_text (&state, outcome);
    s_hash_text (&state, note);
    s_hash_u64 (&state, (uint64_t) at_us);
    s_hash_text (&state, logged_by);
    s_hash_text (&state, override_reason);
    s_hash_text (&state, rule_overridden);
    crypto_generichash_final (&state, out, HASH_LEN);
}

//  A hash as hex, in the arena.
static char *
s_hex (cmdctx_t *ctx, const unsigned char hash [HASH_LEN])
{
    char *hex = arena_alloc (ctx->arena, HEX_LEN + 1);
    sodium_bin2hex (hex, HEX_LEN + 1, hash, HASH_LEN);
    return hex;
}

// ---------------------------------------------------------------- rules

//  "HH:MM" as minutes after midnight, or -1.
static int
s_clock (const char *text)
{
    const char *p = text;
    int hour, minute;
    if (!s_digits (&p, 2, &hour) || *p++ != ':' || !s_digits (&p, 2, &minute)
        || *p || hour > 24 || minute > 59 || hour * 60 + minute > 24 * 60)
        return -1;
    return hour * 60 + minute;
}

//  A whole number of days from a policy value, or `fallback` when absent
//  or not a number from 0 to 366.
static int
s_policy_int (PGresult *res, int col, int fallback, int max)
{
    if (PQgetisnull (res, 0, col))
        return fallback;
    char *end;
    long value = strtol (PQgetvalue (res, 0, col), &end, 10);
    if (*end || end == PQgetvalue (res, 0, col) || value < 0 || value > max) {
        log_warn ("contact rule limit in the policy is out of range, using the default",
                  "value", PQgetvalue (res, 0, col));
        return fallback;
    }
    return (int) value;
}

//  Reads the limits from columns col.. of res (hours_start, hours_end,
//  weekdays_only, attempt_gap_days, call_after_conversation_days,
//  max_calls_per_7_days, each NULL when the policy does not say).
static void
s_limits_from_row (PGresult *res, int col, s_limits_t *limits)
{
    *limits = (s_limits_t) {
        .hours_start = 8 * 60, .hours_end = 21 * 60, .weekdays_only = 0,
        .attempt_gap_days = 7, .call_after_conversation_days = 7,
        .max_calls_per_7_days = 7,
    };
    if (!PQgetisnull (res, 0, col) && !PQgetisnull (res, 0, col + 1)) {
        int start = s_clock (PQgetvalue (res, 0, col));
        int end = s_clock (PQgetvalue (res, 0, col + 1));
        if (start >= 0 && end > start) {
            limits->hours_start = start;
            limits->hours_end = end;
        }
        else
            log_warn ("contact hours in the policy are not HH:MM with start before "
                      "end, using 08:00-21:00", "start", PQgetvalue (res, 0, col));
    }
    else if (!PQgetisnull (res, 0, col) || !PQgetisnull (res, 0, col + 1)) {
        int start = PQgetisnull (res, 0, col) ? limits->hours_start
                    : s_clock (PQgetvalue (res, 0, col));
        int end = PQgetisnull (res, 0, col + 1) ? limits->hours_end
                  : s_clock (PQgetvalue (res, 0, col + 1));
        if (start >= 0 && end > start) {
            limits->hours_start = start;
            limits->hours_end = end;
        }
    }
    if (!PQgetisnull (res, 0, col + 2))
        limits->weekdays_only = strcmp (PQgetvalue (res, 0, col + 2), "true") == 0;
    limits->attempt_gap_days = s_policy_int (res, col + 3, 7, 366);
    limits->call_after_conversation_days = s_policy_int (res, col + 4, 7, 366);
    limits->max_calls_per_7_days = s_policy_int (res, col + 5, 7, 1000);
}

//  What the rules found: the broken rules' names (comma-separated) and
//  the first one's message.
typedef struct {
    char names [128];           //  e.g. "quiet_hours,attempt_gap"
    char message [600];         //  the first broken rule, for a person
} s_broken_t;

static void
s_broken_add (s_broken_t *self, const char *name, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_broken_add (s_broken_t *self, const char *name, const char *format, ...)
{
    size_t len = strlen (self->names);
    snprintf (self->names + len, sizeof self->names - len, "%s%s",
              len ? "," : "", name);
    if (self->message [0])
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (self->message, sizeof self->message, format, args);
    va_end (args);
}

//  A local time (date, minutes after midnight) in zone `tz` as ISO 8601
//  with the zone's offset then ("2026-11-23T08:00+09:00"), in the arena;
//  NULL on a database failure.
static const char *
s_local_iso (cmdctx_t *ctx, int32_t days, int minutes, const char *tz)
{
    char date [DATE_ISO_LEN + 1];
    date_format_iso (days, date);
    const char *local = arena_printf (ctx->arena, "%s %02d:%02d:00", date,
                                      minutes / 60, minutes % 60);
    const char *params [] = { local, tz };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT extract (epoch FROM $1::timestamp - "
        "(($1::timestamp AT TIME ZONE $2) AT TIME ZONE 'UTC'))::int", 2, params);
    if (!res)
        return NULL;
    int offset = atoi (PQgetvalue (res, 0, 0));
    PQclear (res);
    int a = offset < 0 ? -offset : offset;
    return arena_printf (ctx->arena, "%sT%02d:%02d%c%02d:%02d", date, minutes / 60,
                         minutes % 60, offset < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

//  A past instant plus some days, for "allowed from".
static const char *
s_after (cmdctx_t *ctx, int64_t us, int days)
{
    return s_iso_utc (ctx, us + (int64_t) days * US_PER_DAY);
}

//  The quiet_hours rule. local_date/local_time/isodow describe `at` in the
//  customer's zone. Returns 0, or -1 on a database failure.
static int
s_check_quiet_hours (cmdctx_t *ctx, const s_limits_t *limits, const char *ref,
                     const char *tz, const char *local_date, const char *local_time,
                     int isodow, s_broken_t *broken)
{
    int hour = atoi (local_time), minute = atoi (local_time + 3);
    int second = atoi (local_time + 6);
    int now = hour * 60 + minute;
    int weekend = isodow >= 6;
    int secs = now * 60 + second;
    int in_hours = secs >= limits->hours_start * 60 && secs < limits->hours_end * 60;
    if (in_hours && !(limits->weekdays_only && weekend))
        return 0;
    int32_t days;
    char err [160];
    if (date_parse_iso (local_date, &days, err, sizeof err) != 0)
        return -1;
    //  The first day from today (if it is not past the start yet) whose
    //  hours are open.
    int k = secs < limits->hours_start * 60 ? 0 : 1;
    while (limits->weekdays_only && (isodow - 1 + k) % 7 + 1 >= 6)
        k++;
    const char *from = s_local_iso (ctx, days + k, limits->hours_start, tz);
    if (!from)
        return -1;
    s_broken_add (broken, "quiet_hours",
                  "quiet_hours: it is %s%s%02d:%02d in %s for %s; contact is allowed "
                  "from %02d:%02d%s%s (%s)",
                  limits->weekdays_only && weekend ? s_weekdays [isodow] : "",
                  limits->weekdays_only && weekend ? " " : "", hour, minute, tz, ref,
                  limits->hours_start / 60, limits->hours_start % 60,
                  k > 1 || (k == 1 && limits->weekdays_only) ? " on " : "",
                  k > 1 || (k == 1 && limits->weekdays_only)
                  ? s_weekdays [(isodow - 1 + k) % 7 + 1] : "", from);
    return 0;
}

//  The attempt rules (attempt_gap; for phone, call_after_conversation and
//  call_limit) for an outbound collection attempt. Returns 0 or -1.
static int
s_check_attempt (cmdctx_t *ctx, const s_limits_t *limits, const char *customer_id,
                 const char *ref, const char *channel, int64_t at_us,
                 s_broken_t *broken)
{
    const char *at = arena_printf (ctx->arena, "%" PRId64, at_us);
    const char *params [] = { customer_id, channel, at };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT " S_US ("l.at") ", EXISTS (SELECT 1 FROM contact_log i "
        "  WHERE i.customer_id = l.customer_id AND i.direction = 'in' "
        "  AND i.at > l.at AND i.at <= " S_AT ("$3") ") "
        "FROM contact_log l JOIN customers c ON c.id = l.customer_id "
        "WHERE l.customer_id = $1 AND l.channel = $2 AND l.direction = 'out' "
        "AND l.at <= " S_AT ("$3") " AND " S_WAS_ATTEMPT " "
        "ORDER BY l.at DESC, l.id DESC LIMIT 1", 3, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 1 && strcmp (PQgetvalue (res, 0, 1), "f") == 0) {
        int64_t last = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
        if (at_us - last < (int64_t) limits->attempt_gap_days * US_PER_DAY)
            s_broken_add (broken, "attempt_gap",
                          "attempt_gap: the last %s attempt to %s was at %s, and "
                          "attempts on one channel must be %d days apart unless the "
                          "customer contacted us since; contact is allowed from %s",
                          channel, ref, s_iso_utc (ctx, last),
                          limits->attempt_gap_days,
                          s_after (ctx, last, limits->attempt_gap_days));
    }
    PQclear (res);
    if (strcmp (channel, "phone") != 0)
        return 0;

    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT " S_US ("max (l.at)") " FROM contact_log l "
        "WHERE l.customer_id = $1 AND l.channel = 'phone' "
        "AND l.outcome IN ('spoke', 'promised', 'disputed') "
        "AND l.at <= " S_AT ("$2"), 2, (const char *[]) { customer_id, at });
    if (!res)
        return -1;
    if (!PQgetisnull (res, 0, 0)) {
        int64_t talk = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
        int days = limits->call_after_conversation_days;
        if (at_us - talk < (int64_t) days * US_PER_DAY)
            s_broken_add (broken, "call_after_conversation",
                          "call_after_conversation: we spoke with %s by phone at %s; "
                          "no call attempt for %d days after a conversation; a call "
                          "is allowed from %s", ref, s_iso_utc (ctx, talk), days,
                          s_after (ctx, talk, days));
    }
    PQclear (res);

    //  Phone attempts in the 7 days up to `at` (this one makes one more).
    const char *since = arena_printf (ctx->arena, "%" PRId64, at_us - 7 * US_PER_DAY);
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT " S_US ("l.at") " FROM contact_log l "
        "JOIN customers c ON c.id = l.customer_id "
        "WHERE l.customer_id = $1 AND l.channel = 'phone' AND l.direction = 'out' "
        "AND l.at > " S_AT ("$2") " AND l.at <= " S_AT ("$3") " AND " S_WAS_ATTEMPT
        " ORDER BY l.at", 3, (const char *[]) { customer_id, since, at });
    if (!res)
        return -1;
    int calls = PQntuples (res);
    int max = limits->max_calls_per_7_days;
    if (calls + 1 > max) {
        if (max == 0)
            s_broken_add (broken, "call_limit",
                          "call_limit: the policy allows no phone attempts "
                          "(max_calls_per_7_days is 0)");
        else {
            int64_t oldest = strtoll (PQgetvalue (res, calls - max, 0), NULL, 10);
            s_broken_add (broken, "call_limit",
                          "call_limit: %d phone attempts to %s in the 7 days up to "
                          "%s already, and at most %d are allowed in any 7 days; a "
                          "call is allowed from %s", calls, ref,
                          s_iso_utc (ctx, at_us), max, s_after (ctx, oldest, 7));
        }
    }
    PQclear (res);
    return 0;
}

// ---------------------------------------------------------------- contact_log

int
contacts_record (cmdctx_t *ctx, Recoup__Reply *reply, const char *command,
                 const contacts_entry_t *entry, Recoup__Contact **contact_out,
                 uint64_t *seq, const char **warning_out)
{
    assert (command && entry && contact_out && seq && warning_out);
    *contact_out = NULL;
    *seq = 0;
    *warning_out = "";
    //  The callers checked these (contact_log from the request, outbox_mark
    //  from its table); a value from elsewhere is refused, never trusted.
    if (!s_member (entry->channel, s_channels)
        || !s_member (entry->direction, s_directions)
        || !s_member (entry->outcome, s_outcomes))
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, command,
                          "contact '%.40s' '%.40s' '%.40s' is not a channel, "
                          "direction and outcome of the contact log", entry->channel,
                          entry->direction, entry->outcome);
    const char *field_customer = arena_printf (ctx->arena, "%s.customer", command);
    const char *at = arena_printf (ctx->arena, "%" PRId64, entry->at_us);
    const char *params [] = { entry->customer, at, entry->channel };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT c.id, c.ref, c.timezone, "
        " to_char (t.at AT TIME ZONE c.timezone, 'YYYY-MM-DD'), "
        " extract (isodow FROM t.at AT TIME ZONE c.timezone)::int, "
        " to_char (t.at AT TIME ZONE c.timezone, 'HH24:MI:SS'), "
        " coalesce (p.cease_contact, false), coalesce ($3 = ANY (p.opted_out), false), "
        " k.c->>'hours_start', k.c->>'hours_end', k.c->>'weekdays_only', "
        " k.c->>'attempt_gap_days', k.c->>'call_after_conversation_days', "
        " k.c->>'max_calls_per_7_days' "
        "FROM customers c "
        "CROSS JOIN (SELECT " S_AT ("$2") " AS at) t "
        "LEFT JOIN contact_prefs p ON p.customer_id = c.id "
        "LEFT JOIN LATERAL (SELECT CASE jsonb_typeof (params->'contact') "
        "  WHEN 'object' THEN params->'contact' END AS c "
        "  FROM policy_versions ORDER BY version DESC LIMIT 1) k ON true "
        "WHERE c.ref = $1", 3, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND, field_customer,
                          "there is no customer with ref '%s'", entry->customer);
    }
    const char *customer_id = arena_strdup (ctx->arena, PQgetvalue (res, 0, 0));
    const char *ref = arena_strdup (ctx->arena, PQgetvalue (res, 0, 1));
    const char *tz = arena_strdup (ctx->arena, PQgetvalue (res, 0, 2));
    const char *local_date = arena_strdup (ctx->arena, PQgetvalue (res, 0, 3));
    int isodow = atoi (PQgetvalue (res, 0, 4));
    const char *local_time = arena_strdup (ctx->arena, PQgetvalue (res, 0, 5));
    int cease = strcmp (PQgetvalue (res, 0, 6), "t") == 0;
    int opted_out = strcmp (PQgetvalue (res, 0, 7), "t") == 0;
    s_limits_t limits;
    s_limits_from_row (res, 8, &limits);
    PQclear (res);

    int outbound = strcmp (entry->direction, "out") == 0;
    s_broken_t broken = { "", "" };
    if (outbound) {
        if (cease)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__FORBIDDEN_BY_RULE,
                              command, "cease_contact: %s asked us to stop all "
                              "contact; an outbound contact cannot be recorded, and "
                              "this cannot be overridden", ref);
        if (opted_out)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__FORBIDDEN_BY_RULE,
                              command, "opt_out: %s opted out of %s contact; "
                              "this cannot be overridden", ref, entry->channel);
        if (s_check_quiet_hours (ctx, &limits, ref, tz, local_date, local_time,
                                 isodow, &broken) != 0)
            return -1;
        res = db_exec (ctx->db, PGRES_TUPLES_OK,
                       "SELECT EXISTS (SELECT 1 FROM recoup_open_items ($2::date, "
                       "$1::bigint) WHERE due < $2::date)", 2,
                       (const char *[]) { customer_id, local_date });
        if (!res)
            return -1;
        int attempt = strcmp (PQgetvalue (res, 0, 0), "t") == 0;
        PQclear (res);
        if (attempt && s_check_attempt (ctx, &limits, customer_id, ref, entry->channel,
                                        entry->at_us, &broken) != 0)
            return -1;
    }
    const char *warning = "";
    const char *reason = "";
    if (broken.names [0]) {
        if (!*entry->override_reason)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__FORBIDDEN_BY_RULE,
                              command, "%s%s%s", broken.message,
                              strchr (broken.names, ',') ? "; the contact also breaks: "
                              : "",
                              strchr (broken.names, ',') ? strchr (broken.names, ',') + 1
                              : "");
        reason = entry->override_reason;
        warning = arena_printf (ctx->arena, "overridden (%s): %s; reason: %s",
                                broken.names, broken.message, reason);
    }
    else if (*entry->override_reason)
        warning = "no contact rule forbids this contact: the override reason was "
                  "not recorded";

    //  Append to the chain.
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT id, encode (hash, 'hex') FROM contact_log "
                   "ORDER BY id DESC LIMIT 1", 0, NULL);
    if (!res)
        return -1;
    uint64_t id = 1;
    unsigned char prev [HASH_LEN] = { 0 };
    if (PQntuples (res) == 1) {
        id = strtoull (PQgetvalue (res, 0, 0), NULL, 10) + 1;
        size_t len = 0;
        if (sodium_hex2bin (prev, sizeof prev, PQgetvalue (res, 0, 1), HEX_LEN,
                            NULL, &len, NULL) != 0 || len != HASH_LEN) {
            PQclear (res);
            log_error ("the last contact's hash is not 32 bytes", "id",
                       arena_printf (ctx->arena, "%" PRIu64, id - 1));
            return -1;
        }
    }
    PQclear (res);
    unsigned char hash [HASH_LEN];
    s_contact_hash (prev, id, ref, entry->channel, entry->direction, entry->outcome,
                    entry->note, entry->at_us, ctx->user, reason, broken.names, hash);

    Recoup__Contact *contact = CMD_NEW (ctx, Recoup__Contact, recoup__contact__init);
    contact->id = id;
    contact->customer = (char *) ref;
    contact->channel = arena_strdup (ctx->arena, entry->channel);
    contact->direction = arena_strdup (ctx->arena, entry->direction);
    contact->outcome = arena_strdup (ctx->arena, entry->outcome);
    contact->note = arena_strdup (ctx->arena, entry->note);
    contact->at = (char *) s_iso_utc (ctx, entry->at_us);
    contact->logged_by = arena_strdup (ctx->arena, ctx->user);
    contact->override_reason = arena_strdup (ctx->arena, reason);
    contact->rule_overridden = arena_strdup (ctx->arena, broken.names);
    contact->hash = s_hex (ctx, hash);
    contact->prev_hash = s_hex (ctx, prev);
    contact->logged_us = ctx->now_us;

    const char *insert [] = {
        arena_printf (ctx->arena, "%" PRIu64, id), customer_id, entry->channel,
        entry->direction, entry->outcome, entry->note, at, ctx->user,
        arena_printf (ctx->arena, "%" PRId64, ctx->now_us), reason, broken.names,
        contact->prev_hash, contact->hash
    };
    res = db_exec (ctx->db, PGRES_COMMAND_OK,
        "INSERT INTO contact_log (id, customer_id, channel, direction, outcome, "
        "note, at, logged_by, logged_at, override_reason, rule_overridden, "
        "prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, " S_AT ("$7") ", $8, "
        S_AT ("$9") ", $10, $11, decode ($12, 'hex'), decode ($13, 'hex'))",
        13, insert);
    if (!res)
        return -1;
    PQclear (res);
    *contact_out = contact;
    *seq = cmd_emit (ctx, "contact.logged", RECOUP__EVENT__BODY_CONTACT, contact);
    *warning_out = warning;
    return 0;
}

//  contact_log: checks the request, then records the contact through
//  contacts_record (the customer's preferences and the contact rules at
//  `at`, the chain, contact.logged).
int
cmd_contact_log (cmdctx_t *ctx, const Recoup__Request *request,
                 Recoup__Reply *reply)
{
    const Recoup__ContactLogRequest *req = request->contact_log;
    if (!cmd_text (ctx, reply, "contact_log.customer", req->customer, 1, REF_MAX, 0)
        || !s_enum (ctx, reply, "contact_log.channel", req->channel, s_channels)
        || !s_enum (ctx, reply, "contact_log.direction", req->direction, s_directions)
        || !s_enum (ctx, reply, "contact_log.outcome", req->outcome, s_outcomes)
        || !cmd_text (ctx, reply, "contact_log.note", req->note, 0, NOTE_MAX, 1)
        || !cmd_text (ctx, reply, "contact_log.override_reason", req->override_reason,
                    0, REASON_MAX, 0))
        return 0;
    int64_t at_us = ctx->now_us;
    if (*req->at) {
        char err [200];
        if (s_parse_time (req->at, &at_us, err, sizeof err) != 0)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                              "contact_log.at", "at: %s", err);
    }
    contacts_entry_t entry = {
        .customer = req->customer, .channel = req->channel,
        .direction = req->direction, .outcome = req->outcome, .note = req->note,
        .at_us = at_us, .override_reason = req->override_reason,
    };
    Recoup__Contact *contact;
    uint64_t seq;
    const char *warning;
    if (contacts_record (ctx, reply, "contact_log", &entry, &contact, &seq,
                         &warning) != 0)
        return -1;
    if (reply->result_case == RECOUP__REPLY__RESULT_ERROR)
        return 0;
    Recoup__ContactLogReply *result = CMD_NEW (ctx, Recoup__ContactLogReply,
                                               recoup__contact_log_reply__init);
    result->contact = contact;
    result->seq = seq;
    result->warning = (char *) warning;
    reply->result_case = RECOUP__REPLY__RESULT_CONTACT_LOG;
    reply->contact_log = result;
    return 0;
}

// ---------------------------------------------------------------- prefs

//  Reads a channel list field; 1, or 0 with the error.
static int
s_channels_check (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
                  char **values, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!s_enum (ctx, reply, field, values [i], s_channels))
            return 0;
    return 1;
}

//  A PostgreSQL text array literal of channel names (checked: no quoting
//  needed), in the arena.
static const char *
s_array (cmdctx_t *ctx, char **values, size_t count)
{
    size_t len = 3;
    for (size_t i = 0; i < count; i++)
        len += strlen (values [i]) + 1;
    char *out = arena_alloc (ctx->arena, len);
    strcpy (out, "{");
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            strcat (out, ",");
        strcat (out, values [i]);
    }
    strcat (out, "}");
    return out;
}

//  contact_prefs: with no change asked, answers the current preferences;
//  otherwise sets cease_contact and adds or removes opted-out channels,
//  and emits contact.prefs_changed.
int
cmd_contact_prefs (cmdctx_t *ctx, const Recoup__Request *request,
                   Recoup__Reply *reply)
{
    const Recoup__ContactPrefsRequest *req = request->contact_prefs;
    if (!cmd_text (ctx, reply, "contact_prefs.customer", req->customer, 1, REF_MAX, 0)
        || !s_channels_check (ctx, reply, "contact_prefs.opt_out", req->opt_out,
                              req->n_opt_out)
        || !s_channels_check (ctx, reply, "contact_prefs.opt_in", req->opt_in,
                              req->n_opt_in))
        return 0;
    for (size_t i = 0; i < req->n_opt_out; i++)
        for (size_t j = 0; j < req->n_opt_in; j++)
            if (strcmp (req->opt_out [i], req->opt_in [j]) == 0)
                return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                                  "contact_prefs.opt_in", "channel %s is both opted "
                                  "out of and into", req->opt_in [j]);
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT id, ref FROM customers WHERE ref = $1", 1,
                             (const char *[]) { req->customer });
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "contact_prefs.customer", "there is no customer with ref '%s'",
                          req->customer);
    }
    const char *customer_id = arena_strdup (ctx->arena, PQgetvalue (res, 0, 0));
    PQclear (res);
    int change = req->set_cease_contact || req->n_opt_out || req->n_opt_in;
    if (change) {
        const char *params [] = {
            customer_id, req->set_cease_contact ? "t" : "f",
            req->cease_contact ? "t" : "f",
            s_array (ctx, req->opt_out, req->n_opt_out),
            s_array (ctx, req->opt_in, req->n_opt_in),
            arena_printf (ctx->arena, "%" PRId64, ctx->now_us)
        };
        //  opted_out is kept sorted and without duplicates.
        res = db_exec (ctx->db, PGRES_COMMAND_OK,
            "INSERT INTO contact_prefs AS p (customer_id, cease_contact, opted_out, "
            "updated_at) VALUES ($1, $2::boolean AND $3::boolean, "
            " ARRAY (SELECT ch FROM unnest ($4::text[]) ch WHERE ch <> ALL ($5::text[]) "
            "        GROUP BY ch ORDER BY ch), " S_AT ("$6") ") "
            "ON CONFLICT (customer_id) DO UPDATE SET "
            " cease_contact = CASE WHEN $2::boolean THEN $3::boolean "
            "                 ELSE p.cease_contact END, "
            " opted_out = ARRAY (SELECT ch FROM unnest (p.opted_out || $4::text[]) ch "
            "                    WHERE ch <> ALL ($5::text[]) GROUP BY ch ORDER BY ch), "
            " updated_at = excluded.updated_at", 6, params);
        if (!res)
            return -1;
        PQclear (res);
    }
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT coalesce (p.cease_contact, false), "
                   "coalesce (array_to_string (p.opted_out, ','), '') "
                   "FROM customers c LEFT JOIN contact_prefs p ON p.customer_id = c.id "
                   "WHERE c.id = $1", 1, &customer_id);
    if (!res)
        return -1;
    Recoup__ContactPrefs *prefs = CMD_NEW (ctx, Recoup__ContactPrefs,
                                           recoup__contact_prefs__init);
    prefs->customer = arena_strdup (ctx->arena, req->customer);
    prefs->cease_contact = strcmp (PQgetvalue (res, 0, 0), "t") == 0;
    char *list = arena_strdup (ctx->arena, PQgetvalue (res, 0, 1));
    PQclear (res);
    prefs->opted_out = arena_alloc (ctx->arena, 8 * sizeof (char *));
    for (char *save = NULL, *ch = strtok_r (list, ",", &save);
         ch && prefs->n_opted_out < 8; ch = strtok_r (NULL, ",", &save))
        prefs->opted_out [prefs->n_opted_out++] = ch;

    Recoup__ContactPrefsReply *result = CMD_NEW (ctx, Recoup__ContactPrefsReply,
                                                 recoup__contact_prefs_reply__init);
    result->prefs = prefs;
    if (change)
        result->seq = cmd_emit (ctx, "contact.prefs_changed",
                                RECOUP__EVENT__BODY_CONTACT_PREFS, prefs);
    reply->result_case = RECOUP__REPLY__RESULT_CONTACT_PREFS;
    reply->contact_prefs = result;
    return 0;
}

// ---------------------------------------------------------------- audit

//  audit_verify: recomputes the chain over every record, in id order, in
//  one REPEATABLE READ snapshot; stops at the first bad record.
int
cmd_audit_verify (cmdctx_t *ctx, const Recoup__Request *request,
                  Recoup__Reply *reply)
{
    (void) request;
    if (db_command (ctx->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
        return -1;
    Recoup__AuditVerifyReply *result = CMD_NEW (ctx, Recoup__AuditVerifyReply,
                                                recoup__audit_verify_reply__init);
    result->problem = "";
    unsigned char prev [HASH_LEN] = { 0 };
    uint64_t last_id = 0;
    int bad = 0;
    while (!bad) {
        const char *after = arena_printf (ctx->arena, "%" PRIu64, last_id);
        PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
            "SELECT l.id, c.ref, l.channel, l.direction, l.outcome, l.note, "
            S_US ("l.at") ", l.logged_by, l.override_reason, l.rule_overridden, "
            "encode (l.prev_hash, 'hex'), encode (l.hash, 'hex') "
            "FROM contact_log l JOIN customers c ON c.id = l.customer_id "
            "WHERE l.id > $1 ORDER BY l.id LIMIT " AUDIT_PAGE, 1, &after);
        if (!res) {
            db_command (ctx->db, "ROLLBACK");
            return -1;
        }
        int rows = PQntuples (res);
        for (int i = 0; i < rows && !bad; i++) {
            uint64_t id = strtoull (PQgetvalue (res, i, 0), NULL, 10);
            unsigned char stored_prev [HASH_LEN], stored [HASH_LEN], computed [HASH_LEN];
            size_t prev_len = 0, hash_len = 0;
            sodium_hex2bin (stored_prev, HASH_LEN, PQgetvalue (res, i, 10), HEX_LEN,
                            NULL, &prev_len, NULL);
            sodium_hex2bin (stored, HASH_LEN, PQgetvalue (res, i, 11), HEX_LEN,
                            NULL, &hash_len, NULL);
            s_contact_hash (stored_prev, id, PQgetvalue (res, i, 1),
                            PQgetvalue (res, i, 2), PQgetvalue (res, i, 3),
                            PQgetvalue (res, i, 4), PQgetvalue (res, i, 5),
                            strtoll (PQgetvalue (res, i, 6), NULL, 10),
                            PQgetvalue (res, i, 7), PQgetvalue (res, i, 8),
                            PQgetvalue (res, i, 9), computed);
            if (id != last_id + 1) {
                bad = 1;
                result->first_bad_id = last_id + 1;
                result->problem = last_id == 0
                    ? arena_printf (ctx->arena, "record 1 is missing: the log "
                                    "starts at %" PRIu64, id)
                    : id == last_id + 2
                    ? arena_printf (ctx->arena, "record %" PRIu64 " is missing: the "
                                    "log goes from %" PRIu64 " to %" PRIu64,
                                    last_id + 1, last_id, id)
                    : arena_printf (ctx->arena, "records %" PRIu64 " to %" PRIu64
                                    " are missing: the log goes from %" PRIu64
                                    " to %" PRIu64, last_id + 1, id - 1, last_id, id);
            }
            else if (prev_len != HASH_LEN || sodium_memcmp (stored_prev, prev, HASH_LEN) != 0) {
                bad = 1;
                result->first_bad_id = id;
                result->problem = id == 1
                    ? arena_printf (ctx->arena, "record 1 was altered: its prev_hash "
                                    "is not 32 zero bytes")
                    : arena_printf (ctx->arena, "record %" PRIu64 " does not follow "
                                    "record %" PRIu64 ": its prev_hash is not that "
                                    "record's hash (one of them was altered)",
                                    id, last_id);
            }
            else if (hash_len != HASH_LEN || sodium_memcmp (stored, computed, HASH_LEN) != 0) {
                bad = 1;
                result->first_bad_id = id;
                result->problem = arena_printf (ctx->arena, "record %" PRIu64 " was "
                                                "altered: its hash does not match its "
                                                "contents", id);
            }
            else {
                memcpy (prev, stored, HASH_LEN);
                last_id = id;
                result->records++;
            }
        }
        PQclear (res);
        if (rows == 0)
            break;
    }
    if (db_command (ctx->db, "COMMIT") != 0)
        return -1;
    result->ok = !bad;
    reply->result_case = RECOUP__REPLY__RESULT_AUDIT_VERIFY;
    reply->audit_verify = result;
    return 0;
}

// ---------------------------------------------------------------- rules, exposed

#include "contact_rules.h"

int
contacts_rules_check (cmdctx_t *ctx, const char *customer_id, const char *channel,
                      int64_t at_us, char *names, size_t names_len, char *message,
                      size_t message_len)
{
    assert (names_len > 0 && message_len > 0);
    names [0] = message [0] = '\0';
    const char *at = arena_printf (ctx->arena, "%" PRId64, at_us);
    const char *params [] = { customer_id, at, channel };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT c.id, c.ref, c.timezone, "
        " to_char (t.at AT TIME ZONE c.timezone, 'YYYY-MM-DD'), "
        " extract (isodow FROM t.at AT TIME ZONE c.timezone)::int, "
        " to_char (t.at AT TIME ZONE c.timezone, 'HH24:MI:SS'), "
        " coalesce (p.cease_contact, false), coalesce ($3 = ANY (p.opted_out), false), "
        " k.c->>'hours_start', k.c->>'hours_end', k.c->>'weekdays_only', "
        " k.c->>'attempt_gap_days', k.c->>'call_after_conversation_days', "
        " k.c->>'max_calls_per_7_days' "
        "FROM customers c "
        "CROSS JOIN (SELECT " S_AT ("$2") " AS at) t "
        "LEFT JOIN contact_prefs p ON p.customer_id = c.id "
        "LEFT JOIN LATERAL (SELECT CASE jsonb_typeof (params->'contact') "
        "  WHEN 'object' THEN params->'contact' END AS c "
        "  FROM policy_versions ORDER BY version DESC LIMIT 1) k ON true "
        "WHERE c.id = $1::bigint", 3, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return -1;
    }
    const char *ref = arena_strdup (ctx->arena, PQgetvalue (res, 0, 1));
    const char *tz = arena_strdup (ctx->arena, PQgetvalue (res, 0, 2));
    const char *local_date = arena_strdup (ctx->arena, PQgetvalue (res, 0, 3));
    int isodow = atoi (PQgetvalue (res, 0, 4));
    const char *local_time = arena_strdup (ctx->arena, PQgetvalue (res, 0, 5));
    int cease = strcmp (PQgetvalue (res, 0, 6), "t") == 0;
    int opted_out = strcmp (PQgetvalue (res, 0, 7), "t") == 0;
    s_limits_t limits;
    s_limits_from_row (res, 8, &limits);
    PQclear (res);
    if (cease || opted_out) {
        snprintf (names, names_len, "%s", cease ? "cease_contact" : "opt_out");
        if (cease)
            snprintf (message, message_len, "cease_contact: %s asked us to stop "
                      "all contact", ref);
        else
            snprintf (message, message_len, "opt_out: %s opted out of %s contact",
                      ref, channel);
        return 0;
    }
    s_broken_t broken = { "", "" };
    if (s_check_quiet_hours (ctx, &limits, ref, tz, local_date, local_time, isodow,
                             &broken) != 0)
        return -1;
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "SELECT EXISTS (SELECT 1 FROM recoup_open_items ($2::date, "
                   "$1::bigint) WHERE due < $2::date)", 2,
                   (const char *[]) { customer_id, local_date });
    if (!res)
        return -1;
    int attempt = strcmp (PQgetvalue (res, 0, 0), "t") == 0;
    PQclear (res);
    if (attempt && s_check_attempt (ctx, &limits, customer_id, ref, channel, at_us,
                                    &broken) != 0)
        return -1;
    snprintf (names, names_len, "%s", broken.names);
    snprintf (message, message_len, "%s", broken.message);
    return 0;
}

// ---------------------------------------------------------------- times, exposed

int
contacts_parse_time (const char *text, int64_t *us, char *err, size_t errlen)
{
    return s_parse_time (text, us, err, errlen);
}

const char *
contacts_time_text (cmdctx_t *ctx, int64_t us)
{
    return s_iso_utc (ctx, us);
}
