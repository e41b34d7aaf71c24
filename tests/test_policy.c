/*  The written collection policy: the parser (the shipped default is the
    cadence of the issue, step by step; every kind of mistake is an error
    naming its line), its JSON and its printed payment terms; then
    policy_load, policy_show and policy_print against a real recoupd
    (versions, roles, the policy.loaded event, bad input) and the
    `recoup policy` client commands.                                     */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "policy.h"

static th_server_t s_server;
static identity_t s_collector;          //  role collector
static identity_t s_manager;            //  role manager
static identity_t s_importer;           //  role importer

// ---------------------------------------------------------------- parser

//  Replaces the first `from` in the default policy with `to`; parses it;
//  checks it fails on `line` with a message containing `want`.
#define expect_parse_error(from, to, line, want) \
    s_expect_parse_error (from, to, line, want, __FILE__, __LINE__)

static void
s_expect_parse_error (const char *from, const char *to, int want_line,
                      const char *want, const char *file, int at)
{
    const char *hit = strstr (policy_default_text, from);
    if (!hit) {
        print_error ("'%s' is not in the default policy\n", from);
        _fail (file, at);
    }
    size_t before = (size_t) (hit - policy_default_text);
    size_t size = strlen (policy_default_text) + strlen (to) + 1;
    char *text = malloc (size);
    snprintf (text, size, "%.*s%s%s", (int) before, policy_default_text, to,
              hit + strlen (from));
    policy_t *policy = malloc (sizeof *policy);
    int line = -1;
    char err [POLICY_ERROR_MAX];
    int rc = policy_parse (text, policy, &line, err, sizeof err);
    free (policy);
    free (text);
    if (rc == 0) {
        print_error ("'%s' -> '%s': parsed, expected an error\n", from, to);
        _fail (file, at);
    }
    if (line != want_line || !strstr (err, want)) {
        print_error ("expected line %d: ...%s..., got line %d: %s\n", want_line,
                     want, line, err);
        _fail (file, at);
    }
}

//  The line of the default policy that starts with `prefix`.
static int
s_line_of (const char *prefix)
{
    int line = 1;
    for (const char *p = policy_default_text; *p; line++) {
        if (strncmp (p, prefix, strlen (prefix)) == 0)
            return line;
        p = strchr (p, '\n');
        if (!p)
            break;
        p++;
    }
    return -1;
}

static void
test_default_is_the_cadence (void **state)
{
    (void) state;
    static const struct {
        const char *name, *anchor;
        int offset;
        const char *channel, *tone, *assignee;
        int or_unanswered;
    } want [] = {
        { "confirm_receipt", "issue", 3, "email", "", "auto", 0 },
        { "friendly_reminder", "due", -3, "email", "friendly", "auto", 0 },
        { "past_due_notice", "due", 1, "email", "friendly", "auto", 0 },
        { "first_call", "due", 7, "phone", "friendly", "collector", 0 },
        { "sales_flag", "due", 8, "sales_flag", "", "sales", 3 },
        { "second_notice", "due", 14, "email", "firm", "auto", 0 },
        { "second_call", "due", 14, "phone", "firm", "collector", 0 },
        { "direct_notice", "due", 30, "email", "direct", "auto", 0 },
        { "direct_letter", "due", 30, "letter", "direct", "collector", 0 },
        { "credit_hold", "due", 30, "credit_hold", "", "auto", 0 },
        { "final_demand", "due", 45, "certified_letter", "final", "collector", 0 },
        { "agency_review", "due", 60, "review", "", "manager", 0 },
        { "settlement_review", "due", 90, "review", "", "manager", 0 },
        { "write_off_review", "due", 120, "review", "", "manager", 0 },
    };
    policy_t policy;
    int line;
    char err [POLICY_ERROR_MAX];
    int rc = policy_parse (policy_default_text, &policy, &line, err, sizeof err);
    if (rc != 0)
        fail_msg ("default policy: line %d: %s", line, err);
    assert_string_equal (policy.terms_text, "net 30");
    assert_int_equal (policy.terms.days, 30);
    assert_string_equal (policy.late_fee_kind, "none");
    assert_int_equal (policy.hours_start, 8 * 60);
    assert_int_equal (policy.hours_end, 21 * 60);
    assert_int_equal (policy.weekdays_only, 0);
    assert_int_equal (policy.attempt_gap_days, 7);
    assert_int_equal (policy.call_after_conversation_days, 7);
    assert_int_equal (policy.max_calls_per_7_days, 7);
    assert_int_equal (policy.promise_grace_days, 3);
    assert_int_equal (policy.settlement_floor_percent, 70);
    assert_int_equal (policy.n_steps, sizeof want / sizeof want [0]);
    for (size_t i = 0; i < policy.n_steps; i++) {
        const policy_step_t *step = &policy.steps [i];
        assert_string_equal (step->name, want [i].name);
        assert_string_equal (step->anchor, want [i].anchor);
        assert_int_equal (step->offset_days, want [i].offset);
        assert_string_equal (step->channel, want [i].channel);
        assert_string_equal (step->tone, want [i].tone);
        assert_string_equal (step->assignee, want [i].assignee);
        assert_int_equal (step->or_unanswered, want [i].or_unanswered);
        assert_true (strlen (step->action) > 0);
    }
    assert_non_null (strstr (policy.steps [2].action, "ignore if already paid"));
}

//  The compiled-in default is deploy/policy.conf, byte for byte.
static void
test_default_matches_deploy_file (void **state)
{
    (void) state;
    char path [4096];
    snprintf (path, sizeof path, "%s", __FILE__);
    char *slash = strrchr (path, '/');
    assert_non_null (slash);
    *slash = '\0';
    strncat (path, "/../deploy/policy.conf", sizeof path - strlen (path) - 1);
    FILE *file = fopen (path, "rb");
    if (!file)
        fail_msg ("cannot open %s", path);
    static char text [POLICY_TEXT_MAX + 1];
    size_t len = fread (text, 1, POLICY_TEXT_MAX, file);
    fclose (file);
    text [len] = '\0';
    assert_string_equal (text, policy_default_text);
}

static void
test_json_schema (void **state)
{
    (void) state;
    policy_t policy;
    int line;
    char err [POLICY_ERROR_MAX];
    assert_int_equal (policy_parse (policy_default_text, &policy, &line, err,
                                    sizeof err), 0);
    char *json = policy_json (&policy);
    //  The contact rules read exactly this (policy_versions.params->'contact').
    assert_non_null (strstr (json, "\"contact\": {\"hours_start\": \"08:00\", "
                             "\"hours_end\": \"21:00\", \"weekdays_only\": false, "
                             "\"attempt_gap_days\": 7, "
                             "\"call_after_conversation_days\": 7, "
                             "\"max_calls_per_7_days\": 7}"));
    assert_non_null (strstr (json, "\"terms\": {\"default\": \"net 30\", \"days\": 30, "
                             "\"discount_bp\": 0, \"discount_days\": 0, "
                             "\"late_fee\": {\"kind\": \"none\"}}"));
    assert_non_null (strstr (json, "\"promises\": {\"grace_days\": 3}"));
    assert_non_null (strstr (json, "\"settlement\": {\"floor_percent\": 70}"));
    assert_non_null (strstr (json, "{\"name\": \"sales_flag\", \"anchor\": \"due\", "
                             "\"offset_days\": 8, \"day\": 38, "
                             "\"or_unanswered\": 3, \"channel\": \"sales_flag\", "
                             "\"tone\": \"\", \"assignee\": \"sales\", \"action\": "));
    assert_non_null (strstr (json, "\"offset_days\": -3, \"day\": 27,"));
    //  No [messages] in the default: empty, the engine's defaults apply.
    assert_non_null (strstr (json, "\"messages\": {\"company\": \"\", \"payment\": \"\", "
                             "\"signature\": \"\"}"));
    free (json);
}

//  A fixed late fee per currency, and one for any currency it fits.
static void
test_fee_amounts (void **state)
{
    (void) state;
    const char *line = "late_fee = 25.00 USD, 2500 jpy, 20.00 at second_notice";
    const char *at = strstr (policy_default_text, "late_fee = none");
    assert_non_null (at);
    char *text = malloc (strlen (policy_default_text) + strlen (line) + 1);
    assert_non_null (text);
    sprintf (text, "%.*s%s%s", (int) (at - policy_default_text), policy_default_text,
             line, at + strlen ("late_fee = none"));
    policy_t policy;
    int where;
    char err [POLICY_ERROR_MAX];
    if (policy_parse (text, &policy, &where, err, sizeof err) != 0)
        fail_msg ("line %d: %s", where, err);
    free (text);
    int64_t minor;
    assert_int_equal (policy_late_fee_fixed (&policy, "USD", &minor, err, sizeof err), 0);
    assert_int_equal (minor, 2500);
    assert_int_equal (policy_late_fee_fixed (&policy, "JPY", &minor, err, sizeof err), 0);
    assert_int_equal (minor, 2500);
    assert_int_equal (policy_late_fee_fixed (&policy, "EUR", &minor, err, sizeof err), 0);
    assert_int_equal (minor, 2000);
    //  "20.00" without a currency does not fit a currency without
    //  decimals: no fee there.
    assert_int_equal (policy_late_fee_fixed (&policy, "KRW", &minor, err, sizeof err), -1);
    char fee [128];
    policy_late_fee_text (&policy, fee, sizeof fee);
    assert_string_equal (fee, "25.00 USD, 2500 JPY, 20.00");
    char *json = policy_json (&policy);
    assert_non_null (strstr (json, "\"amounts\": [{\"currency\": \"USD\", \"amount\": "
                             "\"25.00\"}, {\"currency\": \"JPY\", \"amount\": \"2500\"}, "
                             "{\"currency\": \"\", \"amount\": \"20.00\"}]"));
    free (json);
}

//  [messages]: optional, each key optional, kept as written (case,
//  punctuation, a # inside a word); checked for length and unknown keys.
static void
test_messages (void **state)
{
    (void) state;
    const char *section =
        "[messages]\n"
        "company = Nordic Timber AB\n"
        "payment = Bankgiro 5050-1055, quoting the invoice number (OCR#)\n"
        "signature = Anna Berg, Accounts Receivable, +46 8 123 45 67\n\n";
    const char *steps = strstr (policy_default_text, "[steps]");
    assert_non_null (steps);
    size_t head = (size_t) (steps - policy_default_text);
    char *text = malloc (strlen (policy_default_text) + strlen (section) + 1);
    assert_non_null (text);
    sprintf (text, "%.*s%s%s", (int) head, policy_default_text, section, steps);
    policy_t policy;
    int line;
    char err [POLICY_ERROR_MAX];
    if (policy_parse (text, &policy, &line, err, sizeof err) != 0)
        fail_msg ("line %d: %s", line, err);
    assert_string_equal (policy.company, "Nordic Timber AB");
    assert_string_equal (policy.payment,
                         "Bankgiro 5050-1055, quoting the invoice number (OCR#)");
    assert_string_equal (policy.signature, "Anna Berg, Accounts Receivable, +46 8 123 45 67");
    char *json = policy_json (&policy);
    assert_non_null (strstr (json, "\"messages\": {\"company\": \"Nordic Timber AB\""));
    free (json);

    char *bad = malloc (strlen (text) + 300);
    assert_non_null (bad);
    sprintf (bad, "%.*s[messages]\ncolour = blue\n%s", (int) head, policy_default_text, steps);
    assert_int_equal (policy_parse (bad, &policy, &line, err, sizeof err), -1);
    assert_non_null (strstr (err, "unknown key 'colour' in [messages] (keys: company, "
                             "payment, signature)"));
    char long_name [260];
    memset (long_name, 'x', 250);
    long_name [250] = '\0';
    sprintf (bad, "%.*s[messages]\ncompany = %s\n%s", (int) head, policy_default_text,
             long_name, steps);
    assert_int_equal (policy_parse (bad, &policy, &line, err, sizeof err), -1);
    assert_non_null (strstr (err, "company: at most 200 characters"));
    free (bad);
    free (text);
}

static void
test_parse_errors (void **state)
{
    (void) state;
    int call = s_line_of ("first_call");
    expect_parse_error ("7 days after due                   phone ",
                        "7 days after due                   fax ", call,
                        "unknown channel 'fax'");
    expect_parse_error ("phone             friendly", "phone             polite",
                        call, "unknown tone 'polite'");
    expect_parse_error ("friendly  collector", "friendly  boss", call,
                        "unknown role 'boss'");
    expect_parse_error ("first_call          7 days", "first_call          9 days",
                        s_line_of ("sales_flag"), "out of order");
}

//  The errors that are not about steps, and the ones about the tone.
static void
test_parse_errors_more (void **state)
{
    (void) state;
    int gap = s_line_of ("attempt_gap_days");
    expect_parse_error ("attempt_gap_days = 7", "attempt_gap_days = seven", gap,
                        "not a whole number");
    expect_parse_error ("attempt_gap_days = 7", "attempt_gap_days = 0", gap,
                        "from 1 to 365");
    expect_parse_error ("attempt_gap_days = 7", "atempt_gap_days = 7", gap,
                        "unknown key 'atempt_gap_days' in [contact]");
    expect_parse_error ("attempt_gap_days = 7", "hours = 09:00-17:00", gap,
                        "already set on line");
    expect_parse_error ("attempt_gap_days = 7", "", s_line_of ("[contact]"),
                        "[contact] is missing attempt_gap_days");
    expect_parse_error ("hours = 08:00-21:00", "hours = 21:00-08:00",
                        s_line_of ("hours"), "must end after");
    expect_parse_error ("hours = 08:00-21:00", "hours = 8am to 9pm",
                        s_line_of ("hours"), "HH:MM-HH:MM");
    expect_parse_error ("weekdays_only = no", "weekdays_only = maybe",
                        s_line_of ("weekdays_only"), "yes or no");
    expect_parse_error ("late_fee = none", "late_fee = 1.5% weekly",
                        s_line_of ("late_fee"), "late_fee");
    expect_parse_error ("late_fee = none", "late_fee = 30% at second_notice",
                        s_line_of ("late_fee"), "at most 25%");
    expect_parse_error ("late_fee = none", "late_fee = 25.0001 at second_notice",
                        s_line_of ("late_fee"), "not an amount");
    expect_parse_error ("late_fee = none", "late_fee = 25.00 at",
                        s_line_of ("late_fee"), "name the steps");
    expect_parse_error ("late_fee = none", "late_fee = 25.00 at second_notise",
                        s_line_of ("late_fee"), "no step 'second_notise'");
    expect_parse_error ("late_fee = none",
                        "late_fee = 25.00 at second_notice, second_notice",
                        s_line_of ("late_fee"), "named twice");
    expect_parse_error ("late_fee = none", "late_fee = 25.00 at friendly_reminder",
                        s_line_of ("late_fee"), "not after the due date");
    expect_parse_error ("late_fee = none", "late_fee = 25.00 at sales_flag",
                        s_line_of ("late_fee"), "may come early (or 3 unanswered)");
    expect_parse_error ("late_fee = none", "late_fee = 25.005 USD at second_notice",
                        s_line_of ("late_fee"), "25.005 USD:");
    expect_parse_error ("late_fee = none", "late_fee = 25.00 XYZ at second_notice",
                        s_line_of ("late_fee"), "XYZ is not an ISO 4217 currency code");
    expect_parse_error ("late_fee = none",
                        "late_fee = 25.00 USD, 30.00 usd at second_notice",
                        s_line_of ("late_fee"), "USD is given twice");
    expect_parse_error ("late_fee = none", "late_fee = 25.00 dollars at second_notice",
                        s_line_of ("late_fee"), "'dollars' is not a currency code");
    expect_parse_error ("default = net 30", "default = net thirty",
                        s_line_of ("default"), "default:");
    expect_parse_error ("floor_percent = 70", "floor_percent = 170",
                        s_line_of ("floor_percent"), "from 0 to 100");
    expect_parse_error ("[promises]", "[promise]", s_line_of ("[promises]"),
                        "unknown section [promise]");
    expect_parse_error ("[settlement]\n", "", s_line_of ("floor_percent") - 1,
                        "unknown key 'floor_percent' in [promises]");
    expect_parse_error ("# How we collect", "default = net 30 #", 1,
                        "must come first");
    //  Tone may only rise: a friendly step after a firm one.
    expect_parse_error ("second_call         14 days after due                  phone             firm",
                        "second_call         14 days after due                  phone             friendly",
                        s_line_of ("second_call"), "tone falls from firm");
    expect_parse_error ("8 days after due or 3 unanswered",
                        "8 days after due or many unanswered",
                        s_line_of ("sales_flag"), "or N unanswered");
    expect_parse_error ("3 days after issue", "3 days before issue",
                        s_line_of ("confirm_receipt"), "before the invoice is issued");
    expect_parse_error ("confirm_receipt     3 days after issue",
                        "past_due_notice     3 days after issue",
                        s_line_of ("past_due_notice"), "already on line");
    expect_parse_error ("a reminder that payment is due soon", "",
                        s_line_of ("friendly_reminder"), "say what it does");
}

static void
test_parse_forgiving (void **state)
{
    (void) state;
    const char *text =
        "\r\n# tabs, CRLF, capitals, comments everywhere\r\n"
        "[Terms]\r\n  default=2/10 Net 30\r\nlate_fee =  1.5 %  AT late # ok\r\n"
        "[contact]\nhours = 09:00 - 17:30\nweekdays_only = YES\n"
        "attempt_gap_days=10\ncall_after_conversation_days = 0\n"
        "max_calls_per_7_days = 2\n\n[promises]\ngrace_days = 0\n"
        "[settlement]\nfloor_percent = 80%\n[steps]\n"
        "due_today\ton due\temail\tfriendly\tauto\tpay today\tplease\n"
        "late\t1 day after due\tphone\t-\tcollector\tcall them\n";
    policy_t policy;
    int line;
    char err [POLICY_ERROR_MAX];
    if (policy_parse (text, &policy, &line, err, sizeof err) != 0)
        fail_msg ("line %d: %s", line, err);
    assert_string_equal (policy.terms_text, "2/10 net 30");
    assert_string_equal (policy.late_fee_kind, "percent");
    assert_int_equal (policy.late_fee_bp, 150);
    assert_int_equal (policy.steps [0].late_fee, 0);
    assert_int_equal (policy.steps [1].late_fee, 1);
    assert_int_equal (policy.hours_end, 17 * 60 + 30);
    assert_int_equal (policy.weekdays_only, 1);
    assert_int_equal (policy.settlement_floor_percent, 80);
    assert_int_equal (policy.n_steps, 2);
    assert_int_equal (policy.steps [0].offset_days, 0);
    assert_string_equal (policy.steps [0].action, "pay today please");
    char *printed = policy_print_en (&policy);
    assert_non_null (strstr (printed, "due 30 days after the invoice date (2/10 net 30)"));
    assert_non_null (strstr (printed, "deduct 2% of the invoice total if we receive "
                             "payment within 10 days"));
    assert_non_null (strstr (printed, "a fee of 1.5% of the amount then unpaid is "
                             "added to an invoice that is still unpaid 1 day after "
                             "its due date"));
    assert_non_null (strstr (printed, "Monday to Friday"));
    free (printed);
    assert_int_equal (policy_parse ("", &policy, &line, err, sizeof err), -1);
    assert_non_null (strstr (err, "section [terms] is missing"));
}

static void
test_print_default (void **state)
{
    (void) state;
    policy_t policy;
    int line;
    char err [POLICY_ERROR_MAX];
    assert_int_equal (policy_parse (policy_default_text, &policy, &line, err,
                                    sizeof err), 0);
    char *text = policy_print_en (&policy);
    assert_non_null (strstr (text, "Invoices are due 30 days after the invoice date (net 30)."));
    assert_null (strstr (text, "deduct"));
    assert_non_null (strstr (text, "We do not charge late fees."));
    assert_non_null (strstr (text, "3 days before the due date: a reminder"));
    assert_non_null (strstr (text, "please ignore if already paid (by email)"));
    assert_non_null (strstr (text, "30 days after the due date: if the account is "
                             "still unpaid, we put it on credit hold"));
    assert_non_null (strstr (text, "45 days after the due date: final demand"));
    assert_non_null (strstr (text, "60 days after the due date: we may refer the "
                             "account to a collection agency"));
    //  Internal steps stay internal.
    assert_null (strstr (text, "sales rep"));
    assert_null (strstr (text, "write off"));
    free (text);
}

// ---------------------------------------------------------------- server

static int
s_setup (void **state)
{
    (void) state;
    if (th_server_start (&s_server, "policy", NULL) != 0)
        return -1;
    if (th_user_add (&s_server, "cora", RECOUP__ROLE__COLLECTOR, &s_collector) != 0
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

static Recoup__Reply *
s_load (const identity_t *who, const char *text)
{
    Recoup__PolicyLoadRequest load = RECOUP__POLICY_LOAD_REQUEST__INIT;
    load.text = (char *) text;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_POLICY_LOAD;
    request.policy_load = &load;
    return th_request (who, &request);
}

static Recoup__Reply *
s_show (const identity_t *who, uint32_t version)
{
    Recoup__PolicyShowRequest show = RECOUP__POLICY_SHOW_REQUEST__INIT;
    show.version = version;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_POLICY_SHOW;
    request.policy_show = &show;
    return th_request (who, &request);
}

static Recoup__Reply *
s_print (const identity_t *who, const char *language)
{
    Recoup__PolicyPrintRequest print = RECOUP__POLICY_PRINT_REQUEST__INIT;
    print.language = (char *) language;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_POLICY_PRINT;
    request.policy_print = &print;
    return th_request (who, &request);
}

//  Checks the reply is an error with `code` on `field` (NULL: any) whose
//  message contains `want` (NULL: any), then frees it.
#define expect_error(reply, code, field, want) \
    s_expect_error (reply, code, field, want, __FILE__, __LINE__)

static void
s_expect_error (Recoup__Reply *reply, Recoup__ErrorCode code, const char *field,
                const char *want, const char *file, int line)
{
    if (reply->result_case != RECOUP__REPLY__RESULT_ERROR) {
        print_error ("expected %s, got a result (case %d)\n",
                     wire_error_name (code), (int) reply->result_case);
        recoup__reply__free_unpacked (reply, NULL);
        _fail (file, line);
    }
    const Recoup__Error *error = reply->error;
    if (error->code != code || (field && strcmp (error->field, field) != 0)
        || (want && !strstr (error->message, want))) {
        print_error ("expected %s on '%s' (...%s...), got %s on '%s': %s\n",
                     wire_error_name (code), field ? field : "(any)",
                     want ? want : "", wire_error_name (error->code), error->field,
                     error->message);
        recoup__reply__free_unpacked (reply, NULL);
        _fail (file, line);
    }
    recoup__reply__free_unpacked (reply, NULL);
}

#define expect_result(reply, want) s_expect_result (reply, want, __FILE__, __LINE__)

static void
s_expect_result (Recoup__Reply *reply, Recoup__Reply__ResultCase want,
                 const char *file, int line)
{
    if (reply->result_case == want)
        return;
    if (reply->result_case == RECOUP__REPLY__RESULT_ERROR)
        print_error ("expected result %d, got %s on '%s': %s\n", (int) want,
                     wire_error_name (reply->error->code), reply->error->field,
                     reply->error->message);
    else
        print_error ("expected result %d, got %d\n", (int) want,
                     (int) reply->result_case);
    _fail (file, line);
}

//  The default policy with a change, as a new string (caller frees).
static char *
s_variant (const char *from, const char *to)
{
    const char *hit = strstr (policy_default_text, from);
    assert_non_null (hit);
    size_t size = strlen (policy_default_text) + strlen (to) + 1;
    char *text = malloc (size);
    snprintf (text, size, "%.*s%s%s", (int) (hit - policy_default_text),
              policy_default_text, to, hit + strlen (from));
    return text;
}

//  A fresh server follows the shipped default: version 1, stored by
//  recoupd at its first start, before anyone loads anything.
static void
test_fresh_server_has_the_default (void **state)
{
    (void) state;
    Recoup__Reply *reply = s_show (&s_collector, 0);
    expect_result (reply, RECOUP__REPLY__RESULT_POLICY_SHOW);
    assert_int_equal (reply->policy_show->policy->version, 1);
    assert_string_equal (reply->policy_show->policy->loaded_by, "recoupd");
    assert_string_equal (reply->policy_show->policy->text, policy_default_text);
    recoup__reply__free_unpacked (reply, NULL);
}

//  A manager loads a policy: it becomes version 2, after the shipped
//  default (version 1, loaded by recoupd), with its event.
static void
test_load_makes_a_version (void **state)
{
    (void) state;
    char *text = s_variant ("late_fee = none",
                            "late_fee = 1.5% at second_notice, direct_notice");
    Recoup__Reply *reply = s_load (&s_manager, text);
    expect_result (reply, RECOUP__REPLY__RESULT_POLICY_LOAD);
    const Recoup__Policy *policy = reply->policy_load->policy;
    assert_int_equal (policy->version, 2);
    assert_string_equal (policy->loaded_by, "mia");
    assert_string_equal (policy->text, text);
    assert_int_equal (policy->n_steps, 14);
    assert_string_equal (policy->steps [1]->name, "friendly_reminder");
    assert_string_equal (policy->steps [1]->anchor, "due");
    assert_int_equal (policy->steps [1]->offset_days, -3);
    assert_true (policy->loaded_us > 0);
    assert_non_null (strstr (policy->params_json, "\"basis_points\": 150"));
    assert_non_null (strstr (policy->params_json,
                             "\"steps\": [\"second_notice\", \"direct_notice\"]"));
    uint64_t seq = reply->policy_load->seq;
    assert_true (seq > 0);
    recoup__reply__free_unpacked (reply, NULL);
    free (text);

    th_expect_sql (&s_server, "2", "SELECT count(*) FROM policy_versions");
    th_expect_sql (&s_server, "recoupd",
                   "SELECT loaded_by FROM policy_versions WHERE version = 1");
    th_expect_sql (&s_server, "mia",
                   "SELECT loaded_by FROM policy_versions WHERE version = 2");
    th_expect_sql (&s_server, "7", "SELECT params->'contact'->>'max_calls_per_7_days' "
                                   "FROM policy_versions WHERE version = 1");
    th_expect_sql (&s_server, "08:00", "SELECT params->'contact'->>'hours_start' "
                                       "FROM policy_versions WHERE version = 1");
    th_expect_sql (&s_server, "2",
                   "SELECT count(*) FROM events WHERE kind = 'policy.loaded'");
    char want [32];
    snprintf (want, sizeof want, "%llu", (unsigned long long) seq);
    th_expect_sql (&s_server, want,
                   "SELECT max(seq) FROM events WHERE kind = 'policy.loaded'");
    //  The event carries the policy.
    th_expect_sql (&s_server, "t",
                   "SELECT position ('late_fee = 1.5%% at second_notice'::bytea in body) > 0 "
                   "FROM events "
                   "WHERE kind = 'policy.loaded' ORDER BY seq DESC LIMIT 1");
}

static void
test_show_versions (void **state)
{
    (void) state;
    Recoup__Reply *reply = s_show (&s_collector, 0);
    expect_result (reply, RECOUP__REPLY__RESULT_POLICY_SHOW);
    assert_int_equal (reply->policy_show->policy->version, 2);
    assert_string_equal (reply->policy_show->policy->loaded_by, "mia");
    recoup__reply__free_unpacked (reply, NULL);

    reply = s_show (&s_collector, 1);
    expect_result (reply, RECOUP__REPLY__RESULT_POLICY_SHOW);
    const Recoup__Policy *policy = reply->policy_show->policy;
    assert_int_equal (policy->version, 1);
    assert_string_equal (policy->loaded_by, "recoupd");
    assert_string_equal (policy->text, policy_default_text);
    assert_int_equal (policy->n_steps, 14);
    assert_string_equal (policy->steps [13]->name, "write_off_review");
    assert_int_equal (policy->steps [13]->offset_days, 120);
    assert_non_null (strstr (policy->params_json, "\"max_calls_per_7_days\": 7"));
    recoup__reply__free_unpacked (reply, NULL);

    expect_error (s_show (&s_collector, 99), RECOUP__ERROR_CODE__NOT_FOUND,
                  "policy_show.version", "no policy version 99");
}

static void
test_roles (void **state)
{
    (void) state;
    expect_error (s_load (&s_collector, policy_default_text),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL, NULL);
    expect_error (s_load (&s_importer, policy_default_text),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, NULL, NULL);
    expect_error (s_show (&s_importer, 0), RECOUP__ERROR_CODE__PERMISSION_DENIED,
                  NULL, NULL);
    expect_error (s_print (&s_importer, ""), RECOUP__ERROR_CODE__PERMISSION_DENIED,
                  NULL, NULL);
    th_expect_sql (&s_server, "2", "SELECT count(*) FROM policy_versions");
}

static void
test_bad_input (void **state)
{
    (void) state;
    char *text = s_variant ("7 days after due                   phone ",
                            "7 days after due                   fax   ");
    char want [64];
    snprintf (want, sizeof want, "line %d: unknown channel 'fax'",
              s_line_of ("first_call"));
    expect_error (s_load (&s_manager, text), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "policy_load.text", want);
    free (text);
    expect_error (s_load (&s_manager, ""), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "policy_load.text", "required");
    expect_error (s_load (&s_manager, "[terms]\ncolour = blue\n"),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "policy_load.text",
                  "line 2: unknown key 'colour' in [terms]");
    th_expect_sql (&s_server, "2", "SELECT count(*) FROM policy_versions");
    th_expect_sql (&s_server, "2",
                   "SELECT count(*) FROM events WHERE kind = 'policy.loaded'");
}

static void
test_print (void **state)
{
    (void) state;
    Recoup__Reply *reply = s_print (&s_collector, "");
    expect_result (reply, RECOUP__REPLY__RESULT_POLICY_PRINT);
    assert_int_equal (reply->policy_print->version, 2);
    const char *text = reply->policy_print->text;
    assert_non_null (strstr (text, "(net 30)"));
    assert_non_null (strstr (text, "a fee of 1.5% of the amount then unpaid is added "
                             "to an invoice that is still unpaid 14 days and 30 days "
                             "after its due date"));
    assert_non_null (strstr (text, "credit hold"));
    assert_non_null (strstr (text, "collection agency"));
    recoup__reply__free_unpacked (reply, NULL);
    reply = s_print (&s_manager, "en");
    expect_result (reply, RECOUP__REPLY__RESULT_POLICY_PRINT);
    recoup__reply__free_unpacked (reply, NULL);
    expect_error (s_print (&s_manager, "sv"), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "policy_print.language", "only English templates for now");
}

static void
test_client (void **state)
{
    (void) state;
    static th_run_t run;
    char *bad = s_variant ("phone             friendly", "phone             polite");
    th_write_file (&s_server, "bad.conf", bad);
    free (bad);
    char want [64];
    snprintf (want, sizeof want, "bad.conf:%d: unknown tone 'polite'",
              s_line_of ("first_call"));
    assert_int_equal (th_run (&s_server, &run, NULL, "policy load bad.conf"), 2);
    assert_non_null (strstr (run.err, want));
    th_expect_sql (&s_server, "2", "SELECT count(*) FROM policy_versions");

    char *good = s_variant ("weekdays_only = no", "weekdays_only = yes");
    th_write_file (&s_server, "good.conf", good);
    free (good);
    assert_int_equal (th_run (&s_server, &run, NULL, "policy load good.conf"), 0);
    assert_non_null (strstr (run.out, "as policy version 3 (14 steps)"));
    assert_int_equal (th_run (&s_server, &run, NULL, "policy load nosuch.conf"), 2);

    assert_int_equal (th_run (&s_server, &run, NULL, "policy show"), 0);
    assert_non_null (strstr (run.out, "policy version 3, loaded by admin"));
    assert_non_null (strstr (run.out, "weekdays only"));
    assert_non_null (strstr (run.out, "8 days after due or 3 unanswered"));
    assert_non_null (strstr (run.out, "write_off_review"));
    assert_int_equal (th_run (&s_server, &run, NULL,
                              "policy show --version=1 --json"), 0);
    assert_non_null (strstr (run.out, "\"recoupd\""));
    assert_int_equal (th_run (&s_server, &run, NULL, "policy show 9"), 1);
    assert_int_equal (th_run (&s_server, &run, NULL, "policy show --version=2"), 0);
    assert_non_null (strstr (run.out, "policy version 2, loaded by mia"));
    assert_int_equal (th_run (&s_server, &run, NULL, "policy show --version=x"), 2);

    assert_int_equal (th_run (&s_server, &run, NULL, "policy print"), 0);
    assert_non_null (strstr (run.out, "PAYMENT TERMS"));
    assert_non_null (strstr (run.out, "Monday to Friday"));
    assert_int_equal (th_run (&s_server, &run, NULL, "policy print --language sv"), 1);
    assert_non_null (strstr (run.err, "only English"));
}

int
main (void)
{
    const struct CMUnitTest parser [] = {
        cmocka_unit_test (test_default_is_the_cadence),
        cmocka_unit_test (test_default_matches_deploy_file),
        cmocka_unit_test (test_json_schema),
        cmocka_unit_test (test_messages),
        cmocka_unit_test (test_fee_amounts),
        cmocka_unit_test (test_parse_errors),
        cmocka_unit_test (test_parse_errors_more),
        cmocka_unit_test (test_parse_forgiving),
        cmocka_unit_test (test_print_default),
    };
    const struct CMUnitTest server [] = {
        cmocka_unit_test (test_fresh_server_has_the_default),
        cmocka_unit_test (test_load_makes_a_version),
        cmocka_unit_test (test_show_versions),
        cmocka_unit_test (test_roles),
        cmocka_unit_test (test_bad_input),
        cmocka_unit_test (test_print),
        cmocka_unit_test (test_client),
    };
    int failed = cmocka_run_group_tests (parser, NULL, NULL);
    failed += cmocka_run_group_tests (server, s_setup, s_teardown);
    return failed;
}
