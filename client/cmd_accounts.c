/*  cmd_accounts: the collection state of accounts from the command line:
    `recoup promise add`, `recoup plan add`, `recoup dispute open|resolve`,
    `recoup account reason|show`, `recoup hold place|lift`.

    Amounts are read for people ("1234.56") strictly in their currency
    (money_parse: "12.345" USD is an error, never a rounding): --currency,
    else the customer's account currency (asked with customer_show), or
    for `dispute resolve` the server's base currency (the server refuses
    it when the invoice is in another). With --json, `account show` prints
    one object in the documented shape, written here field by field; the
    other commands print their reply as JSON.                            */
#include "args.h"
#include "cli.h"
#include "../common/date.h"
#include "../common/money.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>





//  Checks a date (NULL: absent). 0 or -1 after saying what is wrong.
static int
s_check_date (const char *what, const char *text)
{
    int32_t days;
    char err [160];
    if (!text || date_parse_iso (text, &days, err, sizeof err) == 0)
        return 0;
    cli_fail ("%s: %s (write dates as YYYY-MM-DD)", what, err);
    return -1;
}

//  Checks a currency option (NULL: absent).
static int
s_check_currency (const char *code)
{
    if (!code || money_currency_exponent (code) >= 0)
        return 0;
    cli_fail ("--currency: '%s' is not an ISO 4217 currency code (e.g. USD, EUR, "
              "SEK, JPY)", code);
    return -1;
}

//  Parses an amount above zero in `currency` (NULL: the syntax only, in
//  a currency with four decimals). 0 or -1 after saying what is wrong.
static int
s_amount (const char *what, const char *text, const char *currency, int64_t *minor)
{
    char err [256];
    int64_t value = 0;
    if (money_parse (text, currency ? currency : "CLF", NULL, &value, err,
                     sizeof err) != 0) {
        cli_fail ("%s: '%s' is not an amount%s%s: %s", what, text,
                  currency ? " in " : "", currency ? currency : "", err);
        return -1;
    }
    if (value <= 0) {
        cli_fail ("%s must be above zero (got '%s')", what, text);
        return -1;
    }
    if (minor)
        *minor = value;
    return 0;
}

//  "1234.56 USD" into buf [MONEY_TEXT_MAX + 8].
static const char *
s_money (int64_t minor, const char *currency, char *buf)
{
    char amount [MONEY_TEXT_MAX];
    if (money_format (minor, currency, amount, sizeof amount) != 0)
        snprintf (amount, sizeof amount, "%" PRId64, minor);
    snprintf (buf, MONEY_TEXT_MAX + 8, "%s %s", amount, currency);
    return buf;
}

//  The currency amounts are read in: `given`, else customer `ref`'s
//  account currency, else (ref NULL) the server's base currency. Into
//  out [4]; 0 or an exit status.
static int
s_currency_of (cli_t *cli, const char *given, const char *ref, char out [4])
{
    if (given) {
        snprintf (out, 4, "%s", given);
        return 0;
    }
    Recoup__Request request = RECOUP__REQUEST__INIT;
    Recoup__CustomerShowRequest show = RECOUP__CUSTOMER_SHOW_REQUEST__INIT;
    Recoup__StatusRequest status = RECOUP__STATUS_REQUEST__INIT;
    Recoup__Reply__ResultCase want;
    if (ref) {
        show.customer = (char *) ref;
        request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_SHOW;
        request.customer_show = &show;
        want = RECOUP__REPLY__RESULT_CUSTOMER_SHOW;
    }
    else {
        request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
        request.status = &status;
        want = RECOUP__REPLY__RESULT_STATUS;
    }
    int rc;
    Recoup__Reply *reply = cli_call (cli, &request, want, &rc);
    if (!reply)
        return rc;
    snprintf (out, 4, "%s", ref ? reply->customer_show->account->customer->currency
                                : reply->status->base_currency);
    recoup__reply__free_unpacked (reply, NULL);
    return 0;
}

//  Sends `request`, prints the reply with `print` (or as JSON). Closes
//  the connection. Returns the exit status.
typedef void (s_print_fn) (const Recoup__Reply *reply);

static int
s_send (cli_t *cli, Recoup__Request *request, Recoup__Reply__ResultCase want,
        s_print_fn *print, const ProtobufCMessage *(*result) (const Recoup__Reply *))
{
    int rc = 0;
    Recoup__Reply *reply = cli_call (cli, request, want, &rc);
    if (reply) {
        if (cli->json)
            cli_print_json (result (reply));
        else
            print (reply);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

// ---------------------------------------------------------------- promise

static void
s_print_promise (const Recoup__Promise *p)
{
    char amount [MONEY_TEXT_MAX + 8];
    printf ("promise %" PRIu64 ": %s to pay %s by %s (made %s): %s as of %s",
            p->id, p->customer, s_money (p->amount_minor, p->currency, amount), p->by,
            p->made_on, p->status, p->as_of);
    if (strcmp (p->status, "pending") == 0)
        printf (", broken after %s", p->deadline);
    printf ("\n");
}

static void
s_promise_printed (const Recoup__Reply *reply)
{
    s_print_promise (reply->promise_add->promise);
    printf ("event %" PRIu64 "\n", reply->promise_add->seq);
}

static const ProtobufCMessage *
s_promise_result (const Recoup__Reply *reply)
{
    return &reply->promise_add->base;
}

int
cmd_promise (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = {
        "--amount", "--by", "--currency", "--note", "--made-on", NULL
    };
    cli_args_t args;
    if (argc < 2 || strcmp (argv [1], "add") != 0
        || cli_args_parse (&args, argc, argv, 2, known, NULL, 1) != 0 || args.n_positional != 1
        || !cli_args_get (&args, "--amount") || !cli_args_get (&args, "--by")) {
        fprintf (stderr, "usage: recoup promise add CUSTOMER --amount AMOUNT --by DATE "
                 "[--currency C] [--note TEXT] [--made-on DATE]\n");
        return EXIT_USAGE;
    }
    const char *currency = cli_args_get (&args, "--currency");
    if (s_check_currency (currency) != 0
        || s_amount ("--amount", cli_args_get (&args, "--amount"), currency, NULL) != 0
        || s_check_date ("--by", cli_args_get (&args, "--by")) != 0
        || s_check_date ("--made-on", cli_args_get (&args, "--made-on")) != 0)
        return EXIT_USAGE;
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__PromiseAddRequest add = RECOUP__PROMISE_ADD_REQUEST__INIT;
    add.customer = (char *) args.positional [0];
    char in [4];
    if ((rc = s_currency_of (cli, currency, add.customer, in)) != 0
        || (rc = s_amount ("--amount", cli_args_get (&args, "--amount"), in,
                           &add.amount_minor) != 0 ? EXIT_USAGE : 0) != 0) {
        cli_close (cli);
        return rc;
    }
    add.currency = in;
    add.by = cli_args_opt (&args, "--by");
    add.note = cli_args_opt (&args, "--note");
    add.made_on = cli_args_opt (&args, "--made-on");
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_PROMISE_ADD;
    request.promise_add = &add;
    return s_send (cli, &request, RECOUP__REPLY__RESULT_PROMISE_ADD, s_promise_printed,
                   s_promise_result);
}

// ---------------------------------------------------------------- plan

static void
s_print_plan (const Recoup__PaymentPlan *plan)
{
    char amount [MONEY_TEXT_MAX + 8];
    printf ("plan %" PRIu64 ": %s, started %s: %s as of %s\n", plan->id, plan->customer,
            plan->started, plan->status, plan->as_of);
    for (size_t i = 0; i < plan->n_instalments; i++)
        printf ("  %s  %s  %s\n", plan->instalments [i]->due,
                s_money (plan->instalments [i]->amount_minor, plan->currency, amount),
                plan->instalments [i]->status);
}

static void
s_plan_printed (const Recoup__Reply *reply)
{
    s_print_plan (reply->plan_add->plan);
    printf ("event %" PRIu64 "\n", reply->plan_add->seq);
}

static const ProtobufCMessage *
s_plan_result (const Recoup__Reply *reply)
{
    return &reply->plan_add->base;
}

int
cmd_plan (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = {
        "--instalment", "--currency", "--start", "--note", NULL
    };
    cli_args_t args;
    if (argc < 2 || strcmp (argv [1], "add") != 0
        || cli_args_parse (&args, argc, argv, 2, known, "--instalment", 1) != 0
        || args.n_positional != 1 || args.n_repeats == 0) {
        fprintf (stderr, "usage: recoup plan add CUSTOMER --instalment DATE=AMOUNT ... "
                 "[--currency C] [--start DATE] [--note TEXT]\n");
        return EXIT_USAGE;
    }
    const char *currency = cli_args_get (&args, "--currency");
    if (s_check_currency (currency) != 0
        || s_check_date ("--start", cli_args_get (&args, "--start")) != 0)
        return EXIT_USAGE;
    //  DATE=AMOUNT, checked before anything is sent.
    char dues [CLI_ARGS_REPEATS][11];
    for (int i = 0; i < args.n_repeats; i++) {
        const char *eq = strchr (args.repeats [i], '=');
        if (!eq || eq - args.repeats [i] != 10) {
            cli_fail ("--instalment '%s': write it as YYYY-MM-DD=AMOUNT", args.repeats [i]);
            return EXIT_USAGE;
        }
        memcpy (dues [i], args.repeats [i], 10);
        dues [i][10] = '\0';
        if (s_check_date ("--instalment", dues [i]) != 0
            || s_amount ("--instalment", eq + 1, currency, NULL) != 0)
            return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__PlanAddRequest add = RECOUP__PLAN_ADD_REQUEST__INIT;
    add.customer = (char *) args.positional [0];
    char in [4];
    if ((rc = s_currency_of (cli, currency, add.customer, in)) != 0) {
        cli_close (cli);
        return rc;
    }
    Recoup__Instalment instalments [CLI_ARGS_REPEATS];
    Recoup__Instalment *pointers [CLI_ARGS_REPEATS];
    for (int i = 0; i < args.n_repeats; i++) {
        recoup__instalment__init (&instalments [i]);
        instalments [i].due = dues [i];
        if (s_amount ("--instalment", strchr (args.repeats [i], '=') + 1, in,
                      &instalments [i].amount_minor) != 0) {
            cli_close (cli);
            return EXIT_USAGE;
        }
        pointers [i] = &instalments [i];
    }
    add.instalments = pointers;
    add.n_instalments = (size_t) args.n_repeats;
    add.currency = in;
    add.started = cli_args_opt (&args, "--start");
    add.note = cli_args_opt (&args, "--note");
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_PLAN_ADD;
    request.plan_add = &add;
    return s_send (cli, &request, RECOUP__REPLY__RESULT_PLAN_ADD, s_plan_printed,
                   s_plan_result);
}

// ---------------------------------------------------------------- dispute

static void
s_print_dispute (const Recoup__Dispute *d)
{
    printf ("dispute %" PRIu64 " on invoice %s (%s), opened %s by %s: %s\n", d->id,
            d->invoice, d->customer, d->opened, d->opened_by, d->reason);
    printf ("  routed to %s\n", *d->sales_rep ? d->sales_rep : "(no sales rep)");
    if (strcmp (d->status, "resolved") == 0) {
        char amount [MONEY_TEXT_MAX + 8];
        printf ("  resolved %s by %s: %s", d->resolved, d->resolved_by, d->outcome);
        if (d->entry_id)
            printf (", credit note %s (entry %" PRIu64 ")",
                    s_money (d->amount_minor, d->currency, amount), d->entry_id);
        printf ("%s%s\n", *d->note ? ": " : "", d->note);
    }
    else
        printf ("  open: dunning is paused on this invoice\n");
}

static void
s_dispute_printed (const Recoup__Reply *reply)
{
    const Recoup__DisputeReply *r = reply->result_case
        == RECOUP__REPLY__RESULT_DISPUTE_OPEN ? reply->dispute_open : reply->dispute_resolve;
    s_print_dispute (r->dispute);
    printf ("event %" PRIu64 "\n", r->seq);
}

static const ProtobufCMessage *
s_dispute_result (const Recoup__Reply *reply)
{
    return reply->result_case == RECOUP__REPLY__RESULT_DISPUTE_OPEN
        ? &reply->dispute_open->base : &reply->dispute_resolve->base;
}

int
cmd_dispute (cli_t *cli, int argc, char **argv)
{
    static const char *const open_known [] = { "--reason", NULL };
    static const char *const resolve_known [] = {
        "--outcome", "--amount", "--currency", "--note", NULL
    };
    int open = argc >= 2 && strcmp (argv [1], "open") == 0;
    int resolve = argc >= 2 && strcmp (argv [1], "resolve") == 0;
    cli_args_t args;
    if ((!open && !resolve)
        || cli_args_parse (&args, argc, argv, 2, open ? open_known : resolve_known, NULL, 1) != 0
        || args.n_positional != 1
        || (open && !cli_args_get (&args, "--reason"))
        || (resolve && !cli_args_get (&args, "--outcome"))) {
        fprintf (stderr, "usage: recoup dispute open INVOICE --reason TEXT\n"
                 "       recoup dispute resolve ID --outcome credit_note|"
                 "corrected_invoice|customer_wrong [--amount AMOUNT] [--currency C] "
                 "[--note TEXT]\n");
        return EXIT_USAGE;
    }
    Recoup__Request request = RECOUP__REQUEST__INIT;
    if (open) {
        int rc = cli_connect (cli);
        if (rc != 0)
            return rc;
        Recoup__DisputeOpenRequest req = RECOUP__DISPUTE_OPEN_REQUEST__INIT;
        req.invoice = (char *) args.positional [0];
        req.reason = cli_args_opt (&args, "--reason");
        request.command_case = RECOUP__REQUEST__COMMAND_DISPUTE_OPEN;
        request.dispute_open = &req;
        return s_send (cli, &request, RECOUP__REPLY__RESULT_DISPUTE_OPEN,
                       s_dispute_printed, s_dispute_result);
    }
    char *end;
    unsigned long long id = strtoull (args.positional [0], &end, 10);
    if (*end || id == 0 || args.positional [0][0] == '-') {
        cli_fail ("dispute resolve: '%s' is not a dispute id", args.positional [0]);
        return EXIT_USAGE;
    }
    const char *currency = cli_args_get (&args, "--currency");
    const char *amount = cli_args_get (&args, "--amount");
    if (s_check_currency (currency) != 0
        || (amount && s_amount ("--amount", amount, currency, NULL) != 0))
        return EXIT_USAGE;
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__DisputeResolveRequest req = RECOUP__DISPUTE_RESOLVE_REQUEST__INIT;
    req.id = id;
    req.outcome = cli_args_opt (&args, "--outcome");
    req.note = cli_args_opt (&args, "--note");
    char in [4];
    if (amount) {
        if ((rc = s_currency_of (cli, currency, NULL, in)) != 0
            || (rc = s_amount ("--amount", amount, in, &req.amount_minor) != 0
                     ? EXIT_USAGE : 0) != 0) {
            cli_close (cli);
            return rc;
        }
        req.currency = in;
    }
    request.command_case = RECOUP__REQUEST__COMMAND_DISPUTE_RESOLVE;
    request.dispute_resolve = &req;
    return s_send (cli, &request, RECOUP__REPLY__RESULT_DISPUTE_RESOLVE,
                   s_dispute_printed, s_dispute_result);
}

// ---------------------------------------------------------------- account state

static void
s_print_state (const Recoup__AccountState *s)
{
    printf ("%s: reason %s%s%s%s\n", s->customer, *s->reason ? s->reason : "(unknown)",
            *s->reason_note ? " (" : "", s->reason_note, *s->reason_note ? ")" : "");
    if (*s->next_action)
        printf ("  next action: %s\n", s->next_action);
    printf ("  credit hold: %s%s%s\n", s->on_hold ? "yes" : "no",
            *s->hold_reason ? ": " : "", s->hold_reason);
    printf ("  cash only: %s\n", s->cash_only ? "yes" : "no");
}

static void
s_state_printed (const Recoup__Reply *reply)
{
    const Recoup__AccountStateReply *r =
        reply->result_case == RECOUP__REPLY__RESULT_ACCOUNT_REASON ? reply->account_reason
        : reply->result_case == RECOUP__REPLY__RESULT_HOLD_PLACE ? reply->hold_place
        : reply->hold_lift;
    s_print_state (r->state);
    printf ("event %" PRIu64 "\n", r->seq);
}

static const ProtobufCMessage *
s_state_result (const Recoup__Reply *reply)
{
    return reply->result_case == RECOUP__REPLY__RESULT_ACCOUNT_REASON
        ? &reply->account_reason->base
        : reply->result_case == RECOUP__REPLY__RESULT_HOLD_PLACE
        ? &reply->hold_place->base : &reply->hold_lift->base;
}

int
cmd_hold (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = { "--reason", NULL };
    int place = argc >= 2 && strcmp (argv [1], "place") == 0;
    int lift = argc >= 2 && strcmp (argv [1], "lift") == 0;
    cli_args_t args;
    if ((!place && !lift) || cli_args_parse (&args, argc, argv, 2, known, NULL, 1) != 0
        || args.n_positional != 1 || !cli_args_get (&args, "--reason")) {
        fprintf (stderr, "usage: recoup hold place|lift CUSTOMER --reason TEXT\n");
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    Recoup__HoldPlaceRequest placing = RECOUP__HOLD_PLACE_REQUEST__INIT;
    Recoup__HoldLiftRequest lifting = RECOUP__HOLD_LIFT_REQUEST__INIT;
    if (place) {
        placing.customer = (char *) args.positional [0];
        placing.reason = cli_args_opt (&args, "--reason");
        request.command_case = RECOUP__REQUEST__COMMAND_HOLD_PLACE;
        request.hold_place = &placing;
    }
    else {
        lifting.customer = (char *) args.positional [0];
        lifting.reason = cli_args_opt (&args, "--reason");
        request.command_case = RECOUP__REQUEST__COMMAND_HOLD_LIFT;
        request.hold_lift = &lifting;
    }
    return s_send (cli, &request, place ? RECOUP__REPLY__RESULT_HOLD_PLACE
                                        : RECOUP__REPLY__RESULT_HOLD_LIFT,
                   s_state_printed, s_state_result);
}

//  `account show --json`: the documented object (PROTOCOL.md 7.27);
//  `flags` are the customer's open sales flags (a flag_list reply).
static void
s_show_json (const Recoup__AccountShowReply *a, const Recoup__FlagListReply *flags)
{
    strbuf_t out;
    strbuf_init (&out);
    strbuf_puts (&out, "{\"customer\":");
    json_string (&out, a->customer);
    strbuf_puts (&out, ",\"name\":");
    json_string (&out, a->name);
    strbuf_puts (&out, ",\"as_of\":");
    json_string (&out, a->as_of);
    strbuf_puts (&out, ",\"balances\":[");
    for (size_t i = 0; i < a->n_balances; i++) {
        strbuf_printf (&out, "%s{\"currency\":", i ? "," : "");
        json_string (&out, a->balances [i]->currency);
        strbuf_printf (&out, ",\"balance_minor\":%" PRId64 ",\"past_due_minor\":%"
                       PRId64 "}", a->balances [i]->balance_minor,
                       a->balances [i]->past_due_minor);
    }
    strbuf_puts (&out, "],\"stage\":");
    if (*a->stage)
        json_string (&out, a->stage);
    else
        strbuf_puts (&out, "null");
    const Recoup__AccountState *s = a->state;
    strbuf_printf (&out, ",\"days_past_due\":%d,\"on_hold\":%s,\"hold_reason\":",
                   (int) a->days_past_due, s->on_hold ? "true" : "false");
    json_string (&out, s->hold_reason);
    strbuf_printf (&out, ",\"cash_only\":%s,\"reason\":", s->cash_only ? "true" : "false");
    if (*s->reason) {
        strbuf_puts (&out, "{\"code\":");
        json_string (&out, s->reason);
        strbuf_puts (&out, ",\"note\":");
        json_string (&out, s->reason_note);
        strbuf_puts (&out, ",\"next_action\":");
        json_string (&out, s->next_action);
        strbuf_puts (&out, "}");
    }
    else
        strbuf_puts (&out, "null");
    strbuf_puts (&out, ",\"sales_rep\":");
    json_string (&out, s->sales_rep);
    strbuf_puts (&out, ",\"promises\":[");
    for (size_t i = 0; i < a->n_promises; i++) {
        if (i)
            strbuf_puts (&out, ",");
        json_message (&out, &a->promises [i]->base);
    }
    strbuf_puts (&out, "],\"plans\":[");
    for (size_t i = 0; i < a->n_plans; i++) {
        if (i)
            strbuf_puts (&out, ",");
        json_message (&out, &a->plans [i]->base);
    }
    strbuf_puts (&out, "],\"disputes\":[");
    for (size_t i = 0; i < a->n_disputes; i++) {
        if (i)
            strbuf_puts (&out, ",");
        json_message (&out, &a->disputes [i]->base);
    }
    strbuf_puts (&out, "],\"paused_invoices\":[");
    for (size_t i = 0; i < a->n_paused_invoices; i++) {
        if (i)
            strbuf_puts (&out, ",");
        json_string (&out, a->paused_invoices [i]);
    }
    strbuf_puts (&out, "],\"flags\":[");
    for (size_t i = 0; i < flags->n_flags; i++) {
        const Recoup__SalesFlag *f = flags->flags [i];
        strbuf_printf (&out, "%s{\"id\":%" PRIu64 ",\"kind\":", i ? "," : "", f->id);
        json_string (&out, f->kind);
        strbuf_puts (&out, ",\"subject\":");
        json_string (&out, f->subject);
        strbuf_puts (&out, ",\"text\":");
        json_string (&out, f->text);
        strbuf_puts (&out, ",\"raised_on\":");
        json_string (&out, f->raised_on);
        strbuf_puts (&out, ",\"rep\":");
        if (*f->rep)
            json_string (&out, f->rep);
        else
            strbuf_puts (&out, "null");
        strbuf_printf (&out, ",\"acknowledged\":%s}",
                       *f->acknowledged_by ? "true" : "false");
    }
    strbuf_puts (&out, "],\"last_contact\":");
    if (a->last_contact) {
        strbuf_puts (&out, "{\"channel\":");
        json_string (&out, a->last_contact->channel);
        strbuf_puts (&out, ",\"direction\":");
        json_string (&out, a->last_contact->direction);
        strbuf_puts (&out, ",\"outcome\":");
        json_string (&out, a->last_contact->outcome);
        strbuf_puts (&out, ",\"at\":");
        json_string (&out, a->last_contact->at);
        strbuf_puts (&out, "}");
    }
    else
        strbuf_puts (&out, "null");
    strbuf_puts (&out, ",\"notices\":[");
    for (size_t i = 0; i < a->n_notices; i++) {
        if (i)
            strbuf_puts (&out, ",");
        json_string (&out, a->notices [i]);
    }
    strbuf_puts (&out, "]}");
    printf ("%s\n", out.data);
    strbuf_free (&out);
}

static void
s_show_text (const Recoup__AccountShowReply *a)
{
    char amount [MONEY_TEXT_MAX + 8];
    printf ("%s  %s  as of %s\n", a->customer, a->name, a->as_of);
    if (a->n_balances == 0)
        printf ("  nothing open\n");
    for (size_t i = 0; i < a->n_balances; i++) {
        printf ("  open %s", s_money (a->balances [i]->balance_minor,
                                      a->balances [i]->currency, amount));
        printf (", past due %s\n", s_money (a->balances [i]->past_due_minor,
                                            a->balances [i]->currency, amount));
    }
    if (*a->stage)
        printf ("  stage: %s (%d days past due)\n", a->stage, (int) a->days_past_due);
    else
        printf ("  stage: none (nothing past due outside disputes)\n");
    s_print_state (a->state);
    for (size_t i = 0; i < a->n_notices; i++)
        printf ("  note: %s\n", a->notices [i]);
    for (size_t i = 0; i < a->n_promises; i++) {
        printf ("  ");
        s_print_promise (a->promises [i]);
    }
    for (size_t i = 0; i < a->n_plans; i++)
        s_print_plan (a->plans [i]);
    for (size_t i = 0; i < a->n_disputes; i++)
        s_print_dispute (a->disputes [i]);
    for (size_t i = 0; i < a->n_paused_invoices; i++)
        printf ("  dunning paused on invoice %s (dispute open)\n", a->paused_invoices [i]);
    if (a->last_contact)
        printf ("  last contact: %s %s %s at %s\n", a->last_contact->channel,
                a->last_contact->direction, a->last_contact->outcome, a->last_contact->at);
    else
        printf ("  last contact: none\n");
}

int
cmd_account (cli_t *cli, int argc, char **argv)
{
    static const char *const reason_known [] = { "--note", NULL };
    static const char *const show_known [] = { "--as-of", NULL };
    int reason = argc >= 2 && strcmp (argv [1], "reason") == 0;
    int show = argc >= 2 && strcmp (argv [1], "show") == 0;
    cli_args_t args;
    if ((!reason && !show)
        || cli_args_parse (&args, argc, argv, 2, reason ? reason_known : show_known, NULL, reason ? 2 : 1) != 0
        || args.n_positional != (reason ? 2 : 1)) {
        fprintf (stderr, "usage: recoup account reason CUSTOMER forgot|cannot_pay|slow|"
                 "avoiding|dispute|complaint [--note TEXT]\n"
                 "       recoup account show CUSTOMER [--as-of DATE]\n");
        return EXIT_USAGE;
    }
    if (show && s_check_date ("--as-of", cli_args_get (&args, "--as-of")) != 0)
        return EXIT_USAGE;
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    if (reason) {
        Recoup__AccountReasonRequest req = RECOUP__ACCOUNT_REASON_REQUEST__INIT;
        req.customer = (char *) args.positional [0];
        req.reason = (char *) args.positional [1];
        req.note = cli_args_opt (&args, "--note");
        request.command_case = RECOUP__REQUEST__COMMAND_ACCOUNT_REASON;
        request.account_reason = &req;
        return s_send (cli, &request, RECOUP__REPLY__RESULT_ACCOUNT_REASON,
                       s_state_printed, s_state_result);
    }
    Recoup__AccountShowRequest req = RECOUP__ACCOUNT_SHOW_REQUEST__INIT;
    req.customer = (char *) args.positional [0];
    req.as_of = cli_args_opt (&args, "--as-of");
    request.command_case = RECOUP__REQUEST__COMMAND_ACCOUNT_SHOW;
    request.account_show = &req;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_ACCOUNT_SHOW, &rc);
    if (reply) {
        if (cli->json) {
            //  The open sales flags come from flag_list (a sales user is
            //  shown those addressed to them).
            Recoup__FlagListRequest flags = RECOUP__FLAG_LIST_REQUEST__INIT;
            flags.customer = reply->account_show->customer;
            flags.unacknowledged = 1;
            Recoup__Request list = RECOUP__REQUEST__INIT;
            list.command_case = RECOUP__REQUEST__COMMAND_FLAG_LIST;
            list.flag_list = &flags;
            Recoup__Reply *listed = cli_call (cli, &list, RECOUP__REPLY__RESULT_FLAG_LIST,
                                              &rc);
            if (listed) {
                s_show_json (reply->account_show, listed->flag_list);
                recoup__reply__free_unpacked (listed, NULL);
            }
        }
        else
            s_show_text (reply->account_show);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}
