/*  commands: the command table and helpers shared by handlers.
    See commands.h.                                                      */
#define _GNU_SOURCE
#include "commands.h"
#include "accounts.h"
#include "engine.h"
#include "outbox.h"
#include "flags.h"
#include "resolution.h"
#include "import.h"
#include "ledger.h"
#include "policy.h"
#include "reports.h"
#include "../common/date.h"
#include "../common/money.h"
#include "contacts.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ADMIN ROLE_BIT (RECOUP__ROLE__ADMIN)
#define MANAGERS (ADMIN | ROLE_BIT (RECOUP__ROLE__MANAGER))
//  Who keeps the ledger: the finance desk, its lead, and the admin.
#define DESK (MANAGERS | ROLE_BIT (RECOUP__ROLE__COLLECTOR))
//  ... and batch programs that load exports from accounting tools.
#define LOADERS (DESK | ROLE_BIT (RECOUP__ROLE__IMPORTER))

static const command_t s_commands [] = {
    { .which = RECOUP__REQUEST__COMMAND_STATUS, .name = "status",
      .roles = ROLES_ALL, .run = cmd_status },
    { .which = RECOUP__REQUEST__COMMAND_SNAPSHOT, .name = "snapshot",
      .roles = ROLES_READERS, .run = cmd_snapshot },
    { .which = RECOUP__REQUEST__COMMAND_REPLAY, .name = "replay",
      .roles = ROLES_READERS, .run = cmd_replay },
    { .which = RECOUP__REQUEST__COMMAND_USER_ADD, .name = "user_add",
      .roles = ADMIN, .writes = 1, .run = cmd_user_add },
    { .which = RECOUP__REQUEST__COMMAND_USER_LIST, .name = "user_list",
      .roles = ROLES_READERS, .run = cmd_user_list },
    { .which = RECOUP__REQUEST__COMMAND_USER_REVOKE, .name = "user_revoke",
      .roles = ADMIN, .writes = 1, .run = cmd_user_revoke },
    { .which = RECOUP__REQUEST__COMMAND_NOTE_POST, .name = "note_post",
      .roles = ROLES_STAFF, .writes = 1, .plan = cmd_note_post_plan },
    { .which = RECOUP__REQUEST__COMMAND_CUSTOMER_CREATE, .name = "customer_create",
      .roles = LOADERS, .writes = 1, .run = cmd_customer_create },
    { .which = RECOUP__REQUEST__COMMAND_CUSTOMER_UPDATE, .name = "customer_update",
      .roles = LOADERS, .writes = 1, .run = cmd_customer_update },
    { .which = RECOUP__REQUEST__COMMAND_CUSTOMER_SHOW, .name = "customer_show",
      .roles = ROLES_READERS, .run = cmd_customer_show },
    { .which = RECOUP__REQUEST__COMMAND_INVOICE_ISSUE, .name = "invoice_issue",
      .roles = LOADERS, .writes = 1, .run = cmd_invoice_issue },
    { .which = RECOUP__REQUEST__COMMAND_PAYMENT_POST, .name = "payment_post",
      .roles = LOADERS, .writes = 1, .run = cmd_payment_post },
    { .which = RECOUP__REQUEST__COMMAND_CREDIT_NOTE, .name = "credit_note",
      .roles = DESK, .writes = 1, .run = cmd_credit_note },
    { .which = RECOUP__REQUEST__COMMAND_ENTRY_REVERSE, .name = "entry_reverse",
      .roles = DESK, .writes = 1, .run = cmd_entry_reverse },
    { .which = RECOUP__REQUEST__COMMAND_IMPORT_BEGIN, .name = "import_begin",
      .roles = LOADERS, .writes = 1, .run = cmd_import_begin },
    { .which = RECOUP__REQUEST__COMMAND_IMPORT_STAGE, .name = "import_stage",
      .roles = LOADERS, .writes = 1, .run = cmd_import_stage },
    { .which = RECOUP__REQUEST__COMMAND_IMPORT_COMMIT, .name = "import_commit",
      .roles = LOADERS, .writes = 1, .run = cmd_import_commit },
    { .which = RECOUP__REQUEST__COMMAND_IMPORT_PROBLEMS, .name = "import_problems",
      .roles = LOADERS, .run = cmd_import_problems },
    { .which = RECOUP__REQUEST__COMMAND_REPORT_AGING, .name = "report_aging",
      .roles = ROLES_READERS, .run = cmd_report_aging },
    { .which = RECOUP__REQUEST__COMMAND_REPORT_STATEMENT, .name = "report_statement",
      .roles = ROLES_READERS, .run = cmd_report_statement },
    { .which = RECOUP__REQUEST__COMMAND_CONTACT_LOG, .name = "contact_log",
      .roles = ROLES_STAFF, .writes = 1, .run = cmd_contact_log },
    { .which = RECOUP__REQUEST__COMMAND_CONTACT_PREFS, .name = "contact_prefs",
      .roles = DESK, .writes = 1, .run = cmd_contact_prefs },
    { .which = RECOUP__REQUEST__COMMAND_AUDIT_VERIFY, .name = "audit_verify",
      .roles = MANAGERS, .run = cmd_audit_verify },
    { .which = RECOUP__REQUEST__COMMAND_POLICY_LOAD, .name = "policy_load",
      .roles = MANAGERS, .writes = 1, .run = cmd_policy_load },
    { .which = RECOUP__REQUEST__COMMAND_POLICY_SHOW, .name = "policy_show",
      .roles = ROLES_READERS, .run = cmd_policy_show },
    { .which = RECOUP__REQUEST__COMMAND_POLICY_PRINT, .name = "policy_print",
      .roles = ROLES_READERS, .run = cmd_policy_print },
    { .which = RECOUP__REQUEST__COMMAND_PROMISE_ADD, .name = "promise_add",
      .roles = ROLES_STAFF, .writes = 1, .run = cmd_promise_add },
    { .which = RECOUP__REQUEST__COMMAND_PLAN_ADD, .name = "plan_add",
      .roles = DESK, .writes = 1, .run = cmd_plan_add },
    { .which = RECOUP__REQUEST__COMMAND_DISPUTE_OPEN, .name = "dispute_open",
      .roles = ROLES_STAFF, .writes = 1, .run = cmd_dispute_open },
    { .which = RECOUP__REQUEST__COMMAND_DISPUTE_RESOLVE, .name = "dispute_resolve",
      .roles = ROLES_STAFF, .writes = 1, .run = cmd_dispute_resolve },
    { .which = RECOUP__REQUEST__COMMAND_ACCOUNT_REASON, .name = "account_reason",
      .roles = ROLES_STAFF, .writes = 1, .run = cmd_account_reason },
    { .which = RECOUP__REQUEST__COMMAND_HOLD_PLACE, .name = "hold_place",
      .roles = DESK, .writes = 1, .run = cmd_hold_place },
    { .which = RECOUP__REQUEST__COMMAND_HOLD_LIFT, .name = "hold_lift",
      .roles = DESK, .writes = 1, .run = cmd_hold_lift },
    { .which = RECOUP__REQUEST__COMMAND_ACCOUNT_SHOW, .name = "account_show",
      .roles = ROLES_READERS, .run = cmd_account_show },
    { .which = RECOUP__REQUEST__COMMAND_SETTLEMENT_OFFER, .name = "settlement_offer",
      .roles = DESK, .writes = 1, .run = cmd_settlement_offer },
    { .which = RECOUP__REQUEST__COMMAND_SETTLEMENT_APPROVE, .name = "settlement_approve",
      .roles = MANAGERS, .writes = 1, .run = cmd_settlement_approve },
    { .which = RECOUP__REQUEST__COMMAND_AGENCY_REFER, .name = "agency_refer",
      .roles = MANAGERS, .writes = 1, .run = cmd_agency_refer },
    { .which = RECOUP__REQUEST__COMMAND_WRITEOFF_REQUEST, .name = "writeoff_request",
      .roles = DESK, .writes = 1, .run = cmd_writeoff_request },
    { .which = RECOUP__REQUEST__COMMAND_WRITEOFF_APPROVE, .name = "writeoff_approve",
      .roles = MANAGERS, .writes = 1, .run = cmd_writeoff_approve },
    { .which = RECOUP__REQUEST__COMMAND_CREDIT_CHECK_ADD, .name = "credit_check_add",
      .roles = DESK, .writes = 1, .run = cmd_credit_check_add },
    { .which = RECOUP__REQUEST__COMMAND_CREDIT_REFERENCE_ADD, .name = "credit_reference_add",
      .roles = DESK, .writes = 1, .run = cmd_credit_reference_add },
    { .which = RECOUP__REQUEST__COMMAND_ENGINE_RUN, .name = "engine_run",
      .roles = DESK, .writes = 1, .run = cmd_engine_run },
    { .which = RECOUP__REQUEST__COMMAND_WORKLIST, .name = "worklist",
      .roles = ROLES_READERS, .run = cmd_worklist },
    { .which = RECOUP__REQUEST__COMMAND_OUTBOX_LIST, .name = "outbox_list",
      .roles = DESK, .run = cmd_outbox_list },
    { .which = RECOUP__REQUEST__COMMAND_OUTBOX_DUE, .name = "outbox_due",
      .roles = DESK, .run = cmd_outbox_due },
    { .which = RECOUP__REQUEST__COMMAND_OUTBOX_MARK, .name = "outbox_mark",
      .roles = DESK, .writes = 1, .run = cmd_outbox_mark },
    { .which = RECOUP__REQUEST__COMMAND_FLAG_LIST, .name = "flag_list",
      .roles = ROLES_READERS, .run = cmd_flag_list },
    { .which = RECOUP__REQUEST__COMMAND_FLAG_ACK, .name = "flag_ack",
      .roles = ROLES_STAFF, .writes = 1, .run = cmd_flag_ack },
    { .which = RECOUP__REQUEST__COMMAND_FLAG_NOTE, .name = "flag_note",
      .roles = ROLES_STAFF, .writes = 1, .run = cmd_flag_note },
};

const command_t *
commands_find (Recoup__Request__CommandCase which)
{
    for (size_t i = 0; i < sizeof s_commands / sizeof *s_commands; i++)
        if (s_commands [i].which == which)
            return &s_commands [i];
    return NULL;
}

int
cmd_error (cmdctx_t *ctx, Recoup__Reply *reply, Recoup__ErrorCode code,
           const char *field, const char *format, ...)
{
    Recoup__Error *error = CMD_NEW (ctx, Recoup__Error, recoup__error__init);
    error->code = code;
    error->field = arena_strdup (ctx->arena, field ? field : "");
    va_list args;
    va_start (args, format);
    char text [1024];
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    error->message = arena_strdup (ctx->arena, text);
    reply->result_case = RECOUP__REPLY__RESULT_ERROR;
    reply->error = error;
    return 0;
}

int64_t
cmd_parse_timestamp (const char *text)
{
    if (!text || !*text)
        return 0;
    struct tm tm;
    memset (&tm, 0, sizeof tm);
    const char *rest = strptime (text, "%Y-%m-%d %H:%M:%S", &tm);
    if (!rest)
        return 0;
    int64_t us = (int64_t) timegm (&tm) * 1000000;
    if (*rest == '.') {
        rest++;
        int64_t frac = 0;
        int digits = 0;
        while (*rest >= '0' && *rest <= '9') {
            if (digits < 6) {
                frac = frac * 10 + (*rest - '0');
                digits++;
            }
            rest++;
        }
        while (digits++ < 6)
            frac *= 10;
        us += frac;
    }
    return us;
}

void
cmd_user_from_row (cmdctx_t *ctx, Recoup__User *user, PGresult *res, int row,
                   int col)
{
    user->name = arena_strdup (ctx->arena, PQgetvalue (res, row, col));
    user->role = wire_role_parse (PQgetvalue (res, row, col + 1));
    user->public_key = arena_strdup (ctx->arena, PQgetvalue (res, row, col + 2));
    user->active = PQgetvalue (res, row, col + 3) [0] == 't';
    user->created_us = cmd_parse_timestamp (PQgetvalue (res, row, col + 4));
    user->revoked_us = cmd_parse_timestamp (PQgetvalue (res, row, col + 5));
}

const char *
cmd_label (const char *field)
{
    const char *dot = strrchr (field, '.');
    return dot ? dot + 1 : field;
}

cmd_money_t
cmd_money (int64_t minor, const char *currency)
{
    cmd_money_t out;
    char amount [MONEY_TEXT_MAX];
    if (money_format (minor, currency, amount, sizeof amount) != 0)
        snprintf (amount, sizeof amount, "%" PRId64 " (minor units)", minor);
    snprintf (out.text, sizeof out.text, "%s %.8s", amount, currency);
    return out;
}

const char *
cmd_int (cmdctx_t *ctx, int64_t value)
{
    return arena_printf (ctx->arena, "%" PRId64, value);
}

char *
cmd_value (cmdctx_t *ctx, PGresult *res, int row, int col)
{
    return arena_strdup (ctx->arena, PQgetvalue (res, row, col));
}

int64_t
cmd_value_int (PGresult *res, int row, int col)
{
    return strtoll (PQgetvalue (res, row, col), NULL, 10);
}

int32_t
cmd_today (void)
{
    char text [11];
    int32_t days = 0;
    char err [128];
    ledger_business_date (text);
    if (date_parse_iso (text, &days, err, sizeof err) != 0)
        days = date_today_utc ();
    return days;
}

const char *
cmd_date_text (cmdctx_t *ctx, int32_t days)
{
    char buf [DATE_ISO_LEN + 1];
    date_format_iso (days, buf);
    return arena_strdup (ctx->arena, buf);
}

int
cmd_date (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
          const char *text, int32_t fallback, int32_t *days)
{
    if (!*text) {
        *days = fallback;
        return 1;
    }
    char err [160];
    if (date_parse_iso (text, days, err, sizeof err) != 0) {
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                   "%s: %s (write dates as YYYY-MM-DD)", cmd_label (field), err);
        return 0;
    }
    return 1;
}

int
cmd_text (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
          const char *text, size_t min, size_t max, int multiline)
{
    size_t chars = 0;
    if (!wire_utf8_valid (text, &chars)) {
        cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                   "%s is not valid UTF-8", cmd_label (field));
        return 0;
    }
    if (chars < min || chars > max) {
        if (min > 0 && chars == 0)
            cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                       "%s is required", cmd_label (field));
        else
            cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                       "%s must be %zu to %zu characters (got %zu)", cmd_label (field),
                       min, max, chars);
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if ((*p < 0x20 && !(multiline && (*p == '\n' || *p == '\t'))) || *p == 0x7f) {
            cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
                       "%s holds a control character (at byte %zu)%s", cmd_label (field),
                       (size_t) (p - (const unsigned char *) text) + 1,
                       multiline ? "; only line breaks and tabs are allowed" : "");
            return 0;
        }
    return 1;
}

int
cmd_positive (cmdctx_t *ctx, Recoup__Reply *reply, const char *field, int64_t amount)
{
    if (amount > 0)
        return 1;
    cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT, field,
               "%s must be above zero (got %" PRId64 ")", cmd_label (field), amount);
    return 0;
}
