/*  The contact log against a real recoupd: a record and its event, the
    contact rules (quiet hours in the customer's time zone, the gap between
    attempts on one channel, courtesy contacts before the due date, no call
    after a conversation, the call limit, cease-contact and opt-outs),
    overrides, limits from the policy, roles, bad input, the `recoup`
    client's contact and audit commands, and the audit of the hash chain
    after the database is changed behind recoupd's back.

    Every contact has an explicit time, and invoices explicit dates, so
    nothing depends on the day the tests run. Each test uses customers of
    its own; the tampering test runs last, since the log stays broken.   */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static th_server_t s_server;
static identity_t s_sales;              //  role sales
static identity_t s_collector;          //  role collector
static identity_t s_manager;            //  role manager
static identity_t s_importer;           //  role importer

static int
s_setup (void **state)
{
    (void) state;
    setenv ("RECOUP_TODAY", "2026-12-31", 1);
    if (th_server_start (&s_server, "contacts", NULL) != 0)
        return -1;
    if (th_user_add (&s_server, "sam", RECOUP__ROLE__SALES, &s_sales) != 0
        || th_user_add (&s_server, "cora", RECOUP__ROLE__COLLECTOR, &s_collector) != 0
        || th_user_add (&s_server, "mia", RECOUP__ROLE__MANAGER, &s_manager) != 0
        || th_user_add (&s_server, "ivan", RECOUP__ROLE__IMPORTER, &s_importer) != 0)
        return -1;
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    th_server_destroy (&s_server);
    return 0;
}

// ---------------------------------------------------------------- helpers

typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), NULL, __VA_ARGS__)

//  A customer in a time zone, through the client.
static void
s_customer (const char *ref, const char *timezone)
{
    run_t run;
    s_run (&run, "customer add %s --name %s --timezone %s", ref, ref, timezone);
    th_expect_run (&run, 0, "created customer");
}

//  An invoice to `ref` issued and due on the given dates.
static void
s_invoice (const char *number, const char *ref, const char *issued, const char *due)
{
    run_t run;
    s_run (&run, "invoice issue %s --customer %s --amount 100 --issued %s --due %s",
           number, ref, issued, due);
    th_expect_run (&run, 0, "issued invoice");
}

//  contact_log as `who`; returns the reply (caller frees).
static Recoup__Reply *
s_log_as (const identity_t *who, const char *customer, const char *channel,
          const char *direction, const char *outcome, const char *at,
          const char *override_reason)
{
    Recoup__ContactLogRequest log = RECOUP__CONTACT_LOG_REQUEST__INIT;
    log.customer = (char *) customer;
    log.channel = (char *) channel;
    log.direction = (char *) direction;
    log.outcome = (char *) outcome;
    log.at = (char *) (at ? at : "");
    log.override_reason = (char *) (override_reason ? override_reason : "");
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CONTACT_LOG;
    request.contact_log = &log;
    client_status_t status;
    Recoup__Reply *reply = th_call (who, &request, &status);
    if (!reply)
        fail_msg ("no reply (client status %d)", (int) status);
    return reply;
}

static Recoup__Reply *
s_log (const char *customer, const char *channel, const char *direction,
       const char *outcome, const char *at, const char *override_reason)
{
    return s_log_as (&s_collector, customer, channel, direction, outcome, at,
                     override_reason);
}

//  Logs a contact that must be accepted; returns its id.
#define log_ok(...) s_log_ok (__FILE__, __LINE__, __VA_ARGS__)

static uint64_t
s_log_ok (const char *file, int line, const char *customer, const char *channel,
          const char *direction, const char *outcome, const char *at)
{
    Recoup__Reply *reply = s_log (customer, channel, direction, outcome, at, NULL);
    if (reply->result_case != RECOUP__REPLY__RESULT_CONTACT_LOG) {
        print_error ("%s %s %s at %s: expected it logged, got %s: %s\n", customer,
                     channel, direction, at,
                     reply->result_case == RECOUP__REPLY__RESULT_ERROR
                     ? wire_error_name (reply->error->code) : "?",
                     reply->result_case == RECOUP__REPLY__RESULT_ERROR
                     ? reply->error->message : "");
        recoup__reply__free_unpacked (reply, NULL);
        _fail (file, line);
    }
    uint64_t id = reply->contact_log->contact->id;
    recoup__reply__free_unpacked (reply, NULL);
    return id;
}

//  Checks that reply is an error with `code`, (unless NULL) `field`, and
//  a message holding each of the NULL-ended needles; frees it.
#define expect_error(reply, code, field, ...) \
    s_expect_error (reply, code, field, __FILE__, __LINE__, __VA_ARGS__, NULL)

static void
s_expect_error (Recoup__Reply *reply, Recoup__ErrorCode code, const char *field,
                const char *file, int line, ...)
{
    if (reply->result_case != RECOUP__REPLY__RESULT_ERROR) {
        print_error ("expected %s, got a result\n", wire_error_name (code));
        recoup__reply__free_unpacked (reply, NULL);
        _fail (file, line);
    }
    const Recoup__Error *error = reply->error;
    int bad = error->code != code || (field && strcmp (error->field, field) != 0);
    va_list ap;
    va_start (ap, line);
    for (const char *needle; (needle = va_arg (ap, const char *));)
        if (!strstr (error->message, needle)) {
            print_error ("message lacks '%s'\n", needle);
            bad = 1;
        }
    va_end (ap);
    if (bad) {
        print_error ("expected %s on '%s', got %s on '%s': %s\n", wire_error_name (code),
                     field ? field : "(any)", wire_error_name (error->code),
                     error->field, error->message);
        recoup__reply__free_unpacked (reply, NULL);
        _fail (file, line);
    }
    recoup__reply__free_unpacked (reply, NULL);
}

//  A contact refused by `rule`, with the message naming each needle.
#define expect_forbidden(reply, ...) \
    expect_error (reply, RECOUP__ERROR_CODE__FORBIDDEN_BY_RULE, "contact_log", __VA_ARGS__)

//  audit_verify as `who`.
static Recoup__Reply *
s_verify (const identity_t *who)
{
    Recoup__AuditVerifyRequest verify = RECOUP__AUDIT_VERIFY_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_AUDIT_VERIFY;
    request.audit_verify = &verify;
    client_status_t status;
    Recoup__Reply *reply = th_call (who, &request, &status);
    if (!reply)
        fail_msg ("no reply (client status %d)", (int) status);
    return reply;
}

//  contact_prefs as `who`.
static Recoup__Reply *
s_prefs (const identity_t *who, const char *customer, int set_cease, int cease,
         const char *opt_out, const char *opt_in)
{
    Recoup__ContactPrefsRequest prefs = RECOUP__CONTACT_PREFS_REQUEST__INIT;
    prefs.customer = (char *) customer;
    prefs.set_cease_contact = set_cease;
    prefs.cease_contact = cease;
    char *outs [] = { (char *) opt_out }, *ins [] = { (char *) opt_in };
    if (opt_out) {
        prefs.opt_out = outs;
        prefs.n_opt_out = 1;
    }
    if (opt_in) {
        prefs.opt_in = ins;
        prefs.n_opt_in = 1;
    }
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CONTACT_PREFS;
    request.contact_prefs = &prefs;
    client_status_t status;
    Recoup__Reply *reply = th_call (who, &request, &status);
    if (!reply)
        fail_msg ("no reply (client status %d)", (int) status);
    return reply;
}

//  Makes params the newest policy version.
static void
s_policy (const char *params)
{
    char sql [1024];
    snprintf (sql, sizeof sql,
              "INSERT INTO policy_versions (version, text, params, loaded_by) "
              "SELECT coalesce (max (version), 0) + 1, 'test', '%s', 'test' "
              "FROM policy_versions", params);
    char *done = th_sql (&s_server, sql);
    assert_non_null (done);
    free (done);
}

// ---------------------------------------------------------------- tests

static void
test_log_and_event (void **state)
{
    (void) state;
    s_customer ("evt", "UTC");
    Recoup__ContactLogRequest log = RECOUP__CONTACT_LOG_REQUEST__INIT;
    log.customer = "evt";
    log.channel = "phone";
    log.direction = "in";
    log.outcome = "promised";
    log.note = "will pay Friday\nby wire";
    log.at = "2026-11-02T11:05:00+01:00";
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CONTACT_LOG;
    request.contact_log = &log;
    client_status_t status;
    Recoup__Reply *reply = th_call (&s_sales, &request, &status);
    assert_non_null (reply);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_LOG);
    const Recoup__Contact *c = reply->contact_log->contact;
    assert_int_equal (c->id, th_sql_int (&s_server, "SELECT max (id) FROM contact_log"));
    assert_string_equal (c->customer, "evt");
    assert_string_equal (c->at, "2026-11-02T10:05:00Z");
    assert_string_equal (c->logged_by, "sam");
    assert_string_equal (c->note, "will pay Friday\nby wire");
    assert_int_equal (strlen (c->hash), 64);
    assert_int_equal (strlen (c->prev_hash), 64);
    assert_string_equal (c->rule_overridden, "");
    uint64_t seq = reply->contact_log->seq;
    char hash [65];
    snprintf (hash, sizeof hash, "%s", c->hash);
    th_expect_sql (&s_server, hash,
                   "SELECT encode (hash, 'hex') FROM contact_log WHERE id = %" PRIu64, c->id);
    recoup__reply__free_unpacked (reply, NULL);

    //  Its event carries the record.
    Recoup__ReplayRequest replay = RECOUP__REPLAY_REQUEST__INIT;
    replay.after = seq - 1;
    replay.limit = 1;
    request.command_case = RECOUP__REQUEST__COMMAND_REPLAY;
    request.replay = &replay;
    reply = th_call (&s_sales, &request, &status);
    assert_non_null (reply);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_REPLAY);
    assert_int_equal (reply->replay->n_events, 1);
    const Recoup__Event *event = reply->replay->events [0];
    assert_string_equal (event->kind, "contact.logged");
    assert_int_equal (event->body_case, RECOUP__EVENT__BODY_CONTACT);
    assert_string_equal (event->contact->hash, hash);
    assert_string_equal (event->contact->outcome, "promised");
    recoup__reply__free_unpacked (reply, NULL);

    //  The next record chains to it.
    reply = s_log ("evt", "email", "out", "sent", "2026-11-02T12:00:00Z", NULL);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_LOG);
    assert_string_equal (reply->contact_log->contact->prev_hash, hash);
    assert_string_equal (reply->contact_log->warning, "");
    recoup__reply__free_unpacked (reply, NULL);

    //  Preferences change: an event too.
    reply = s_prefs (&s_collector, "evt", 0, 0, "sms", NULL);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_PREFS);
    seq = reply->contact_prefs->seq;
    assert_true (seq > 0);
    recoup__reply__free_unpacked (reply, NULL);
    th_expect_sql (&s_server, "contact.prefs_changed",
                   "SELECT kind FROM events WHERE seq = %" PRIu64, seq);
}

static void
test_quiet_hours (void **state)
{
    (void) state;
    s_customer ("tokyo", "Asia/Tokyo");
    s_customer ("la", "America/Los_Angeles");
    //  06:00 UTC: 15:00 in Tokyo, 22:00 (the day before) in Los Angeles.
    log_ok ("tokyo", "phone", "out", "spoke", "2026-11-22T06:00:00Z");
    expect_forbidden (s_log ("la", "phone", "out", "spoke", "2026-11-22T06:00:00Z", NULL),
                      "quiet_hours", "it is 22:00 in America/Los_Angeles for la",
                      "allowed from 08:00 (2026-11-22T08:00-08:00)");
    //  13:40 UTC: 22:40 in Tokyo.
    expect_forbidden (s_log ("tokyo", "email", "out", "sent", "2026-11-22T13:40:00Z", NULL),
                      "quiet_hours: it is 22:40 in Asia/Tokyo for tokyo; contact is "
                      "allowed from 08:00 (2026-11-23T08:00+09:00)");
    //  Early morning: allowed from 08:00 the same day.
    expect_forbidden (s_log ("tokyo", "email", "out", "sent", "2026-11-22T21:30:00Z", NULL),
                      "it is 06:30 in Asia/Tokyo", "(2026-11-23T08:00+09:00)");
    //  Inbound contacts are always recorded.
    log_ok ("tokyo", "phone", "in", "spoke", "2026-11-22T13:40:00Z");
    //  The edges: 08:00 is in, 21:00 is out.
    log_ok ("la", "email", "out", "sent", "2026-11-23T16:00:00Z");
    expect_forbidden (s_log ("la", "email", "out", "sent", "2026-11-24T05:00:00Z", NULL),
                      "it is 21:00 in America/Los_Angeles");

    //  Override: recorded with its rule and reason, and a warning.
    Recoup__Reply *reply = s_log ("tokyo", "phone", "out", "spoke",
                                  "2026-11-22T13:45:00Z", "they asked for an evening call");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_LOG);
    assert_string_equal (reply->contact_log->contact->rule_overridden, "quiet_hours");
    assert_string_equal (reply->contact_log->contact->override_reason,
                         "they asked for an evening call");
    assert_non_null (strstr (reply->contact_log->warning, "quiet_hours"));
    uint64_t id = reply->contact_log->contact->id;
    recoup__reply__free_unpacked (reply, NULL);
    th_expect_sql (&s_server,
                   "quiet_hours|they asked for an evening call",
                   "SELECT rule_overridden || '|' || override_reason FROM contact_log "
                   "WHERE id = %" PRIu64, id);

    //  Weekdays only, from the policy: Saturday 10:00 in Tokyo is refused,
    //  allowed from Monday.
    s_policy ("{\"contact\": {\"weekdays_only\": true, \"hours_start\": \"09:00\"}}");
    expect_forbidden (s_log ("tokyo", "email", "out", "sent", "2026-11-28T01:00:00Z", NULL),
                      "quiet_hours: it is Saturday 10:00 in Asia/Tokyo",
                      "allowed from 09:00 on Monday (2026-11-30T09:00+09:00)");
    expect_forbidden (s_log ("tokyo", "email", "out", "sent", "2026-11-26T23:30:00Z", NULL),
                      "it is 08:30 in Asia/Tokyo");
    s_policy ("{}");
    log_ok ("tokyo", "email", "out", "sent", "2026-11-26T23:30:00Z");
}

static void
test_attempt_gap (void **state)
{
    (void) state;
    s_customer ("gap", "UTC");
    s_invoice ("GAP-1", "gap", "2026-09-01", "2026-10-01");
    log_ok ("gap", "email", "out", "sent", "2026-11-02T10:00:00Z");
    //  Day 3: too soon on the same channel; another channel is fine.
    expect_forbidden (s_log ("gap", "email", "out", "sent", "2026-11-05T10:00:00Z", NULL),
                      "attempt_gap", "7 days apart",
                      "allowed from 2026-11-09T10:00:00Z");
    log_ok ("gap", "letter", "out", "sent", "2026-11-05T10:00:00Z");
    //  Day 7: allowed.
    log_ok ("gap", "email", "out", "sent", "2026-11-09T10:00:00Z");
    expect_forbidden (s_log ("gap", "email", "out", "sent", "2026-11-10T12:00:00Z", NULL),
                      "attempt_gap");
    //  The customer wrote back: we may answer at once.
    log_ok ("gap", "email", "in", "delivered", "2026-11-10T11:00:00Z");
    log_ok ("gap", "email", "out", "sent", "2026-11-10T12:00:00Z");
    expect_forbidden (s_log ("gap", "email", "out", "sent", "2026-11-11T12:00:00Z", NULL),
                      "attempt_gap", "allowed from 2026-11-17T12:00:00Z");

    //  The policy's limit: 3 days.
    s_policy ("{\"contact\": {\"attempt_gap_days\": 3}}");
    expect_forbidden (s_log ("gap", "email", "out", "sent", "2026-11-12T12:00:00Z", NULL),
                      "3 days apart", "allowed from 2026-11-13T12:00:00Z");
    log_ok ("gap", "email", "out", "sent", "2026-11-13T12:00:00Z");
    s_policy ("{\"contact\": {}}");
    expect_forbidden (s_log ("gap", "email", "out", "sent", "2026-11-19T12:00:00Z", NULL),
                      "7 days apart", "allowed from 2026-11-20T12:00:00Z");
}

static void
test_courtesy_not_an_attempt (void **state)
{
    (void) state;
    s_customer ("early", "UTC");
    s_invoice ("EARLY-1", "early", "2026-11-15", "2026-12-15");
    //  Reminders before the due date are not collection attempts.
    log_ok ("early", "email", "out", "sent", "2026-11-20T10:00:00Z");
    log_ok ("early", "email", "out", "sent", "2026-11-21T10:00:00Z");
    log_ok ("early", "email", "out", "sent", "2026-12-15T10:00:00Z");
    //  The first attempt after the due date; the next is too soon.
    log_ok ("early", "email", "out", "sent", "2026-12-16T10:00:00Z");
    expect_forbidden (s_log ("early", "email", "out", "sent", "2026-12-18T10:00:00Z", NULL),
                      "attempt_gap", "2026-12-16T10:00:00Z");
}

static void
test_call_after_conversation (void **state)
{
    (void) state;
    s_customer ("talk", "UTC");
    s_invoice ("TALK-1", "talk", "2026-09-01", "2026-10-01");
    log_ok ("talk", "phone", "in", "spoke", "2026-11-02T10:00:00Z");
    expect_forbidden (s_log ("talk", "phone", "out", "no_answer", "2026-11-05T10:00:00Z", NULL),
                      "call_after_conversation", "allowed from 2026-11-09T10:00:00Z");
    log_ok ("talk", "email", "out", "sent", "2026-11-05T10:00:00Z");
    log_ok ("talk", "phone", "out", "no_answer", "2026-11-09T10:00:00Z");
}

static void
test_call_limit (void **state)
{
    (void) state;
    s_customer ("calls", "UTC");
    s_invoice ("CALLS-1", "calls", "2026-09-01", "2026-10-01");
    //  Seven calls, each answered by an email from the customer (so the
    //  gap between attempts does not apply).
    char at [64];
    for (int i = 0; i < 7; i++) {
        snprintf (at, sizeof at, "2026-11-02T%02d:00:00Z", 9 + i);
        log_ok ("calls", "phone", "out", "no_answer", at);
        snprintf (at, sizeof at, "2026-11-02T%02d:30:00Z", 9 + i);
        log_ok ("calls", "email", "in", "delivered", at);
    }
    expect_forbidden (s_log ("calls", "phone", "out", "no_answer", "2026-11-08T10:00:00Z", NULL),
                      "call_limit", "7 phone attempts",
                      "allowed from 2026-11-09T09:00:00Z");
    Recoup__Reply *reply = s_log ("calls", "phone", "out", "no_answer",
                                  "2026-11-08T10:00:00Z", "manager approved");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_LOG);
    assert_string_equal (reply->contact_log->contact->rule_overridden, "call_limit");
    recoup__reply__free_unpacked (reply, NULL);
    log_ok ("calls", "email", "in", "delivered", "2026-11-08T11:00:00Z");
    //  Both are broken at once: named together.
    reply = s_log ("calls", "phone", "out", "no_answer", "2026-11-08T23:00:00Z", "urgent");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_LOG);
    assert_string_equal (reply->contact_log->contact->rule_overridden,
                         "quiet_hours,call_limit");
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_cease_and_opt_out (void **state)
{
    (void) state;
    s_customer ("stop", "UTC");
    Recoup__Reply *reply = s_prefs (&s_collector, "stop", 0, 0, "sms", NULL);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_PREFS);
    assert_int_equal (reply->contact_prefs->prefs->n_opted_out, 1);
    assert_string_equal (reply->contact_prefs->prefs->opted_out [0], "sms");
    recoup__reply__free_unpacked (reply, NULL);
    expect_forbidden (s_log ("stop", "sms", "out", "sent", "2026-11-02T10:00:00Z", NULL),
                      "opt_out", "cannot be overridden");
    expect_forbidden (s_log ("stop", "sms", "out", "sent", "2026-11-02T10:00:00Z", "please"),
                      "opt_out", "cannot be overridden");
    log_ok ("stop", "phone", "out", "spoke", "2026-11-02T10:00:00Z");
    log_ok ("stop", "sms", "in", "delivered", "2026-11-02T10:00:00Z");

    reply = s_prefs (&s_collector, "stop", 1, 1, NULL, NULL);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_PREFS);
    assert_true (reply->contact_prefs->prefs->cease_contact);
    recoup__reply__free_unpacked (reply, NULL);
    expect_forbidden (s_log ("stop", "letter", "out", "sent", "2026-11-03T10:00:00Z",
                             "legal says so"), "cease_contact", "cannot be overridden");
    log_ok ("stop", "letter", "in", "delivered", "2026-11-03T10:00:00Z");

    //  Back in: sms opted in again, cease lifted.
    reply = s_prefs (&s_collector, "stop", 1, 0, NULL, "sms");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_PREFS);
    assert_false (reply->contact_prefs->prefs->cease_contact);
    assert_int_equal (reply->contact_prefs->prefs->n_opted_out, 0);
    recoup__reply__free_unpacked (reply, NULL);
    log_ok ("stop", "sms", "out", "sent", "2026-11-03T10:00:00Z");
    expect_error (s_prefs (&s_collector, "stop", 0, 0, "fax", NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "contact_prefs.opt_out",
                  "phone, email");
    expect_error (s_prefs (&s_collector, "nobody", 0, 0, NULL, NULL),
                  RECOUP__ERROR_CODE__NOT_FOUND, "contact_prefs.customer", "nobody");
}

static void
test_roles (void **state)
{
    (void) state;
    s_customer ("roles", "UTC");
    expect_error (s_log_as (&s_importer, "roles", "email", "in", "delivered",
                            "2026-11-02T10:00:00Z", NULL),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL, "");
    Recoup__Reply *reply = s_log_as (&s_manager, "roles", "email", "in", "delivered",
                                     "2026-11-02T10:00:00Z", NULL);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_LOG);
    recoup__reply__free_unpacked (reply, NULL);
    expect_error (s_prefs (&s_sales, "roles", 1, 1, NULL, NULL),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL, "");
    expect_error (s_prefs (&s_importer, "roles", 1, 1, NULL, NULL),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL, "");
    expect_error (s_verify (&s_collector), RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL, "");
    expect_error (s_verify (&s_importer), RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL, "");
    reply = s_verify (&s_manager);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_AUDIT_VERIFY);
    assert_true (reply->audit_verify->ok);
    recoup__reply__free_unpacked (reply, NULL);
}

static void
test_bad_input (void **state)
{
    (void) state;
    s_customer ("bad", "UTC");
    int64_t before = th_sql_int (&s_server, "SELECT count (*) FROM contact_log");
    expect_error (s_log ("nobody", "email", "in", "sent", NULL, NULL),
                  RECOUP__ERROR_CODE__NOT_FOUND, "contact_log.customer", "nobody");
    expect_error (s_log ("bad", "fax", "in", "sent", NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "contact_log.channel",
                  "'fax'", "phone, email, letter, certified_letter, sms, visit or meeting");
    expect_error (s_log ("bad", "email", "sideways", "sent", NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "contact_log.direction",
                  "in or out");
    expect_error (s_log ("bad", "email", "in", "ok", NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "contact_log.outcome",
                  "no_answer", "returned");
    expect_error (s_log ("bad", "", "in", "sent", NULL, NULL),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "contact_log.channel", "required");
    const char *times [] = {
        "yesterday", "2026-11-02", "2026-11-02T10:00:00", "2026-02-30T10:00:00Z",
        "2026-11-02T25:00:00Z", "2026-11-02T10:00:00+16:00", "2026-11-02T10:00:00Zx",
        "now",
    };
    for (size_t i = 0; i < sizeof times / sizeof times [0]; i++)
        expect_error (s_log ("bad", "email", "in", "sent", times [i], NULL),
                      RECOUP__ERROR_CODE__INVALID_ARGUMENT, "contact_log.at", "at:");
    Recoup__ContactLogRequest log = RECOUP__CONTACT_LOG_REQUEST__INIT;
    char *note = malloc (4002);
    memset (note, 'n', 4001);
    note [4001] = 0;
    log.customer = "bad";
    log.channel = "email";
    log.direction = "in";
    log.outcome = "sent";
    log.note = note;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CONTACT_LOG;
    request.contact_log = &log;
    client_status_t status;
    expect_error (th_call (&s_collector, &request, &status),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "contact_log.note", "4000");
    note [4000] = 0;
    Recoup__Reply *reply = th_call (&s_collector, &request, &status);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_LOG);
    recoup__reply__free_unpacked (reply, NULL);
    free (note);
    //  Long override reasons are refused too.
    char reason [502];
    memset (reason, 'r', 501);
    reason [501] = 0;
    expect_error (s_log ("bad", "email", "out", "sent", "2026-11-02T10:00:00Z", reason),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "contact_log.override_reason",
                  "500");
    //  Offsets and fractions are understood.
    reply = s_log ("bad", "email", "in", "sent", "2026-11-02T10:00:00.25-05:30", NULL);
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_CONTACT_LOG);
    assert_string_equal (reply->contact_log->contact->at, "2026-11-02T15:30:00.250000Z");
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM contact_log"), before + 2);
    //  The database refuses changes.
    char *none = th_sql (&s_server, "UPDATE contact_log SET note = 'x' WHERE id = 1");
    assert_null (none);
    none = th_sql (&s_server, "TRUNCATE contact_log");
    assert_null (none);
}

static void
test_client (void **state)
{
    (void) state;
    run_t run;
    s_customer ("cli-tokyo", "Asia/Tokyo");
    s_run (&run, "contact log cli-tokyo --channel phone --direction out --outcome spoke "
                 "--at 2026-11-22T13:40:00Z");
    th_expect_run (&run, 1, "quiet_hours: it is 22:40 in Asia/Tokyo");
    s_run (&run, "contact log cli-tokyo --channel phone --direction out --outcome spoke "
                 "--at 2026-11-22T13:40:00Z --override 'they asked us to call late'");
    th_expect_run (&run, 0, "logged contact");
    assert_non_null (strstr (run.out, "rule overridden: quiet_hours, because: they asked"));
    assert_non_null (strstr (run.err, "warning: overridden (quiet_hours)"));
    s_run (&run, "contact log cli-tokyo --channel email --direction in --outcome sent "
                 "--at 2026-11-22T13:41:00Z --note 'thanks for the call'");
    th_expect_run (&run, 0, "email from cli-tokyo at 2026-11-22T13:41:00Z: sent");
    assert_non_null (strstr (run.out, "note: thanks for the call"));
    s_run (&run, "--json contact log cli-tokyo --channel email --direction in "
                 "--outcome sent --at 2026-11-22T13:42:00Z");
    th_expect_run (&run, 0, "\"channel\":\"email\"");
    s_run (&run, "contact log cli-tokyo --channel fax --direction in --outcome sent");
    th_expect_run (&run, 1, "'fax' is not one of");
    s_run (&run, "contact log cli-tokyo --channel email --direction in --outcome sent "
                 "--at soon");
    th_expect_run (&run, 1, "contact_log.at");
    s_run (&run, "contact log cli-tokyo --channel email");
    th_expect_run (&run, 2, "usage");
    s_run (&run, "contact log --channel email --direction in --outcome sent");
    th_expect_run (&run, 2, "usage");
    s_run (&run, "contact log cli-tokyo --channel email --direction in --outcome sent "
                 "--colour red");
    th_expect_run (&run, 2, "unknown option --colour");

    s_run (&run, "contact prefs cli-tokyo");
    th_expect_run (&run, 0, "cli-tokyo: cease contact no; opted out of: none");
    s_run (&run, "contact prefs cli-tokyo --opt-out sms --opt-out phone");
    th_expect_run (&run, 0, "opted out of: phone, sms");
    s_run (&run, "contact log cli-tokyo --channel phone --direction out --outcome spoke "
                 "--at 2026-11-23T03:00:00Z --override 'no matter'");
    th_expect_run (&run, 1, "cannot be overridden");
    s_run (&run, "contact prefs cli-tokyo --opt-in phone --cease-contact yes");
    th_expect_run (&run, 0, "cease contact yes; opted out of: sms");
    s_run (&run, "contact prefs cli-tokyo --cease-contact maybe");
    th_expect_run (&run, 2, "--cease-contact");

    s_run (&run, "audit verify");
    th_expect_run (&run, 0, "contact log intact: ");
    s_run (&run, "--json audit verify");
    th_expect_run (&run, 0, "\"ok\":true");
    s_run (&run, "audit");
    th_expect_run (&run, 2, "usage: recoup audit verify");
    s_run (&run, "contact");
    th_expect_run (&run, 2, "usage");
}

//  Last: the log is broken behind recoupd's back.
static void
test_tampering (void **state)
{
    (void) state;
    run_t run;
    Recoup__Reply *reply = s_verify (&s_manager);
    assert_true (reply->audit_verify->ok);
    int64_t records = th_sql_int (&s_server, "SELECT count (*) FROM contact_log");
    assert_true (records >= 6);
    assert_int_equal ((int64_t) reply->audit_verify->records, records);
    assert_int_equal (reply->audit_verify->first_bad_id, 0);
    recoup__reply__free_unpacked (reply, NULL);
    char want [64];
    snprintf (want, sizeof want, "contact log intact: %" PRId64 " records", records);
    s_run (&run, "audit verify");
    th_expect_run (&run, 0, want);

    //  A note changed: record 3 no longer matches its hash.
    char *note = th_sql (&s_server, "SELECT note FROM contact_log WHERE id = 3");
    assert_non_null (note);
    char *done = th_sql (&s_server, "SET session_replication_role = replica; "
                                    "UPDATE contact_log SET note = 'nothing happened' "
                                    "WHERE id = 3");
    assert_non_null (done);
    free (done);
    reply = s_verify (&s_manager);
    assert_false (reply->audit_verify->ok);
    assert_int_equal (reply->audit_verify->first_bad_id, 3);
    assert_int_equal (reply->audit_verify->records, 2);
    assert_string_equal (reply->audit_verify->problem,
                         "record 3 was altered: its hash does not match its contents");
    recoup__reply__free_unpacked (reply, NULL);
    s_run (&run, "audit verify");
    th_expect_run (&run, 1, "recoup: audit: record 3 was altered: its hash does not match");
    s_run (&run, "--json audit verify");
    th_expect_run (&run, 1, "\"first_bad_id\":3");

    //  Its hash changed as well: still record 3.
    done = th_sql (&s_server, "SET session_replication_role = replica; "
                              "UPDATE contact_log SET hash = '\\x00' || substr (hash, 2) "
                              "WHERE id = 3");
    assert_non_null (done);
    free (done);
    reply = s_verify (&s_manager);
    assert_int_equal (reply->audit_verify->first_bad_id, 3);
    recoup__reply__free_unpacked (reply, NULL);

    //  Put record 3 back as it was: intact again.
    char sql [8192];
    snprintf (sql, sizeof sql, "SET session_replication_role = replica; "
              "UPDATE contact_log SET hash = (SELECT prev_hash FROM contact_log "
              "WHERE id = 4), note = $$%s$$ WHERE id = 3", note);
    free (note);
    done = th_sql (&s_server, sql);
    assert_non_null (done);
    free (done);
    reply = s_verify (&s_manager);
    assert_true (reply->audit_verify->ok);
    recoup__reply__free_unpacked (reply, NULL);

    //  A record deleted: the gap is named.
    done = th_sql (&s_server, "SET session_replication_role = replica; "
                              "DELETE FROM contact_log WHERE id = 5");
    assert_non_null (done);
    free (done);
    reply = s_verify (&s_manager);
    assert_false (reply->audit_verify->ok);
    assert_int_equal (reply->audit_verify->first_bad_id, 5);
    assert_string_equal (reply->audit_verify->problem,
                         "record 5 is missing: the log goes from 4 to 6");
    recoup__reply__free_unpacked (reply, NULL);
    s_run (&run, "audit verify");
    th_expect_run (&run, 1, "recoup: audit: record 5 is missing: the log goes from 4 to 6");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_log_and_event),
        cmocka_unit_test (test_quiet_hours),
        cmocka_unit_test (test_attempt_gap),
        cmocka_unit_test (test_courtesy_not_an_attempt),
        cmocka_unit_test (test_call_after_conversation),
        cmocka_unit_test (test_call_limit),
        cmocka_unit_test (test_cease_and_opt_out),
        cmocka_unit_test (test_roles),
        cmocka_unit_test (test_bad_input),
        cmocka_unit_test (test_client),
        cmocka_unit_test (test_tampering),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
