/*  cmd_resolution: the end of the collection process and credit records
    from the command line: settlement offers and their approval, agency
    referrals, write-off requests and their approval, credit checks and
    trade and bank references.

    Amounts are parsed strictly in the currency they are in, as in
    cmd_ledger.c: --currency when given, else the customer's account
    currency (settlement offers) or the server's base currency (the cost
    of a credit check); the currency is always sent with the amount.
    The syntax of every amount and date is checked before anything is
    sent; a fee percent has at most two decimals (basis points).        */
#include "args.h"
#include "cli.h"
#include "../common/date.h"
#include "../common/money.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define WIDEST_CURRENCY "CLF"   //  four decimals: checks any amount's syntax




static int
s_check_date (const char *option, const char *text)
{
    int32_t days;
    char err [160];
    if (text && date_parse_iso (text, &days, err, sizeof err) != 0) {
        cli_fail ("%s: %s (write dates as YYYY-MM-DD)", option, err);
        return -1;
    }
    return 0;
}

static int
s_check_currency (const char *option, const char *code)
{
    if (!code || money_currency_exponent (code) >= 0)
        return 0;
    cli_fail ("%s: '%s' is not an ISO 4217 currency code (e.g. USD, EUR, SEK, "
              "JPY)", option, code);
    return -1;
}

//  Parses an amount in `currency` (NULL: only its syntax). `positive`:
//  above zero, else zero or more. Returns 0 or -1 after saying why.
static int
s_amount (const char *option, const char *text, const char *currency,
          int positive, int64_t *minor)
{
    char err [256];
    int64_t value = 0;
    if (money_parse (text, currency ? currency : WIDEST_CURRENCY, NULL, &value,
                     err, sizeof err) != 0) {
        cli_fail ("%s: '%s' is not an amount%s%s: %s", option, text,
                  currency ? " in " : "", currency ? currency : "", err);
        return -1;
    }
    if (positive ? value <= 0 : value < 0) {
        cli_fail ("%s must be %s (got '%s')", option,
                  positive ? "above zero" : "zero or more", text);
        return -1;
    }
    if (minor)
        *minor = value;
    return 0;
}

//  A whole number in min..max. Returns 0 or -1 after saying why.
static int
s_number (const char *option, const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < min || value > max) {
        cli_fail ("%s: '%s' is not a whole number from %ld to %ld", option, text,
                  min, max);
        return -1;
    }
    *out = value;
    return 0;
}

//  A percent with at most two decimals, 0..100, as basis points.
static int
s_percent_bp (const char *option, const char *text, uint32_t *bp)
{
    int64_t value;
    char err [256];
    //  Hundredths of a percent are what a two-decimal currency's minor
    //  units are: money_parse reads "12.5" as 1250, strictly.
    if (money_parse (text, "USD", NULL, &value, err, sizeof err) != 0
        || value < 0 || value > 10000) {
        cli_fail ("%s: '%s' is not a percent from 0 to 100 (at most two "
                  "decimals)", option, text);
        return -1;
    }
    *bp = (uint32_t) value;
    return 0;
}

static const char *
s_money (int64_t minor, const char *currency, char *buf)
{
    char amount [MONEY_TEXT_MAX];
    if (money_format (minor, currency, amount, sizeof amount) != 0)
        snprintf (amount, sizeof amount, "%" PRId64, minor);
    snprintf (buf, MONEY_TEXT_MAX + 8, "%s %s", amount, currency);
    return buf;
}

//  The account currency of customer `ref` (customer_show) into
//  currency [4]. Returns 0 or an exit status.
static int
s_customer_currency (cli_t *cli, const char *ref, char currency [4])
{
    Recoup__CustomerShowRequest show = RECOUP__CUSTOMER_SHOW_REQUEST__INIT;
    show.customer = (char *) ref;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_SHOW;
    request.customer_show = &show;
    int rc;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_CUSTOMER_SHOW,
                                     &rc);
    if (!reply)
        return rc;
    snprintf (currency, 4, "%s", reply->customer_show->account->customer->currency);
    recoup__reply__free_unpacked (reply, NULL);
    return 0;
}

//  The server's base currency into base [4]. 0 or an exit status.
static int
s_base_currency (cli_t *cli, char base [4])
{
    Recoup__StatusRequest status = RECOUP__STATUS_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
    request.status = &status;
    int rc;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_STATUS, &rc);
    if (!reply)
        return rc;
    snprintf (base, 4, "%s", reply->status->base_currency);
    recoup__reply__free_unpacked (reply, NULL);
    if (money_currency_exponent (base) < 0) {
        cli_fail ("the server did not say its base currency: give --currency");
        return EXIT_USAGE;
    }
    return 0;
}

//  Sends `request`, prints the reply (JSON or `print`), closes. Returns
//  the exit status.
static int
s_send (cli_t *cli, Recoup__Request *request, Recoup__Reply__ResultCase want,
        void (*print) (const Recoup__Reply *reply))
{
    int rc;
    Recoup__Reply *reply = cli_call (cli, request, want, &rc);
    if (reply) {
        //  Every reply of this module is a message with the result first.
        const ProtobufCMessage *result = NULL;
        switch (want) {
            case RECOUP__REPLY__RESULT_SETTLEMENT_OFFER:
                result = &reply->settlement_offer->base; break;
            case RECOUP__REPLY__RESULT_SETTLEMENT_APPROVE:
                result = &reply->settlement_approve->base; break;
            case RECOUP__REPLY__RESULT_AGENCY_REFER:
                result = &reply->agency_refer->base; break;
            case RECOUP__REPLY__RESULT_WRITEOFF_REQUEST:
                result = &reply->writeoff_request->base; break;
            case RECOUP__REPLY__RESULT_WRITEOFF_APPROVE:
                result = &reply->writeoff_approve->base; break;
            case RECOUP__REPLY__RESULT_CREDIT_CHECK_ADD:
                result = &reply->credit_check_add->base; break;
            default:
                result = &reply->credit_reference_add->base; break;
        }
        if (cli->json)
            cli_print_json (result);
        else
            print (reply);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

// ---------------------------------------------------------------- settlement

static void
s_settlement_usage (void)
{
    cli_fail ("usage: recoup settlement offer CUSTOMER --amount AMOUNT "
              "[--invoice NUMBER]...\n"
              "         [--currency C] [--expires DATE] [--note TEXT]\n"
              "       recoup settlement approve ID\n"
              "Without --invoice the offer covers every open invoice of the "
              "customer in\nthe currency (--currency, else the customer's). "
              "Below the policy's\nsettlement floor an offer waits for a "
              "manager's approval.");
}

static void
s_print_settlement (const Recoup__SettlementReply *result)
{
    const Recoup__Settlement *s = result->settlement;
    char m [3][MONEY_TEXT_MAX + 8];
    printf ("settlement %" PRIu64 " for %s: %s instead of %s, expires %s: %s\n",
            s->id, s->customer, s_money (s->amount_minor, s->currency, m [0]),
            s_money (s->balance_minor, s->currency, m [1]), s->expires,
            strcmp (s->status, "pending_approval") == 0
                ? "pending approval (below the floor)" : s->status);
    printf ("  invoices:");
    for (size_t i = 0; i < s->n_invoices; i++)
        printf (" %s", s->invoices [i]);
    printf ("\n  paid so far %s", s_money (s->paid_minor, s->currency, m [2]));
    if (*s->completed_on)
        printf (", completed %s, written off %s", s->completed_on,
                s_money (s->written_off_minor, s->currency, m [0]));
    printf ("\nevent %" PRIu64 "\n", result->seq);
}

static void
s_print_offer (const Recoup__Reply *reply)
{
    s_print_settlement (reply->settlement_offer);
}

static void
s_print_approve (const Recoup__Reply *reply)
{
    s_print_settlement (reply->settlement_approve);
}

//  "ID" as a positive number. 0 or -1 after saying why.
static int
s_id (const char *text, uint64_t *id)
{
    long value;
    if (s_number ("ID", text, 1, LONG_MAX, &value) != 0)
        return -1;
    *id = (uint64_t) value;
    return 0;
}

int
cmd_settlement (cli_t *cli, int argc, char **argv)
{
    static const char *const offer_options [] = {
        "--amount", "--invoice", "--currency", "--expires", "--note", NULL
    };
    static const char *const no_options [] = { NULL };
    cli_args_t args;
    int offer = argc >= 2 && strcmp (argv [1], "offer") == 0;
    int approve = argc >= 2 && strcmp (argv [1], "approve") == 0;
    if ((!offer && !approve)
        || cli_args_parse (&args, argc, argv, 2, offer ? offer_options : no_options, "--invoice", 1) != 0
        || args.n_positional != 1 || (offer && !cli_args_get (&args, "--amount"))) {
        s_settlement_usage ();
        return EXIT_USAGE;
    }
    Recoup__Request request = RECOUP__REQUEST__INIT;
    if (approve) {
        Recoup__SettlementApproveRequest req = RECOUP__SETTLEMENT_APPROVE_REQUEST__INIT;
        if (s_id (args.positional [0], &req.id) != 0)
            return EXIT_USAGE;
        int rc = cli_connect (cli);
        if (rc != 0)
            return rc;
        request.command_case = RECOUP__REQUEST__COMMAND_SETTLEMENT_APPROVE;
        request.settlement_approve = &req;
        return s_send (cli, &request, RECOUP__REPLY__RESULT_SETTLEMENT_APPROVE,
                       s_print_approve);
    }
    const char *amount = cli_args_get (&args, "--amount");
    const char *currency = cli_args_get (&args, "--currency");
    if (s_check_currency ("--currency", currency) != 0
        || s_amount ("--amount", amount, currency, 1, NULL) != 0
        || s_check_date ("--expires", cli_args_get (&args, "--expires")) != 0)
        return EXIT_USAGE;
    Recoup__SettlementOfferRequest req = RECOUP__SETTLEMENT_OFFER_REQUEST__INIT;
    req.customer = (char *) args.positional [0];
    req.invoices = (char **) args.repeats;
    req.n_invoices = (size_t) args.n_repeats;
    req.expires = cli_args_opt (&args, "--expires");
    req.note = cli_args_opt (&args, "--note");
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    char in [4];
    if (currency)
        snprintf (in, sizeof in, "%s", currency);
    else if ((rc = s_customer_currency (cli, req.customer, in)) != 0) {
        cli_close (cli);
        return rc;
    }
    if (s_amount ("--amount", amount, in, 1, &req.amount_minor) != 0) {
        cli_close (cli);
        return EXIT_USAGE;
    }
    req.currency = in;
    request.command_case = RECOUP__REQUEST__COMMAND_SETTLEMENT_OFFER;
    request.settlement_offer = &req;
    return s_send (cli, &request, RECOUP__REPLY__RESULT_SETTLEMENT_OFFER, s_print_offer);
}

// ---------------------------------------------------------------- agency

static void
s_print_referral (const Recoup__Reply *reply)
{
    const Recoup__AgencyReferral *r = reply->agency_refer->referral;
    printf ("referral %" PRIu64 ": %s to %s at a fee of %" PRIu32 ".%02" PRIu32
            "%%, invoices:", r->id, r->customer, r->agency, r->fee_bp / 100,
            r->fee_bp % 100);
    for (size_t i = 0; i < r->n_invoices; i++)
        printf (" %s", r->invoices [i]);
    printf ("\nevent %" PRIu64 "\n", reply->agency_refer->seq);
}

int
cmd_agency (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = { "--agency", "--fee-percent", "--note", NULL };
    cli_args_t args;
    if (argc < 2 || strcmp (argv [1], "refer") != 0
        || cli_args_parse (&args, argc, argv, 2, known, NULL, 1) != 0 || args.n_positional != 1
        || !cli_args_get (&args, "--agency") || !cli_args_get (&args, "--fee-percent")) {
        cli_fail ("usage: recoup agency refer CUSTOMER --agency NAME "
                  "--fee-percent P [--note TEXT]\n"
                  "Hands the customer's open invoices to a collection agency "
                  "that keeps P%%\nof what it collects; our own dunning stops "
                  "for them.");
        return EXIT_USAGE;
    }
    Recoup__AgencyReferRequest req = RECOUP__AGENCY_REFER_REQUEST__INIT;
    if (s_percent_bp ("--fee-percent", cli_args_get (&args, "--fee-percent"), &req.fee_bp) != 0)
        return EXIT_USAGE;
    req.customer = (char *) args.positional [0];
    req.agency = (char *) cli_args_get (&args, "--agency");
    req.note = cli_args_opt (&args, "--note");
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_AGENCY_REFER;
    request.agency_refer = &req;
    return s_send (cli, &request, RECOUP__REPLY__RESULT_AGENCY_REFER, s_print_referral);
}

// ---------------------------------------------------------------- write-off

static void
s_print_writeoff (const Recoup__WriteOffReply *result)
{
    const Recoup__WriteOff *w = result->writeoff;
    char m [MONEY_TEXT_MAX + 8];
    printf ("write-off %" PRIu64 " of invoice %s (%s): %s", w->id, w->invoice,
            w->customer, w->status);
    if (strcmp (w->status, "approved") == 0)
        printf (" by %s on %s, %s written off", w->approved_by, w->approved_on,
                s_money (w->amount_minor, w->currency, m));
    else
        printf (" by %s on %s", w->requested_by, w->requested_on);
    printf ("\n  reason: %s\nevent %" PRIu64 "\n", w->reason, result->seq);
}

static void
s_print_wo_request (const Recoup__Reply *reply)
{
    s_print_writeoff (reply->writeoff_request);
}

static void
s_print_wo_approve (const Recoup__Reply *reply)
{
    s_print_writeoff (reply->writeoff_approve);
}

int
cmd_writeoff (cli_t *cli, int argc, char **argv)
{
    static const char *const request_options [] = { "--reason", NULL };
    static const char *const no_options [] = { NULL };
    cli_args_t args;
    int ask = argc >= 2 && strcmp (argv [1], "request") == 0;
    int approve = argc >= 2 && strcmp (argv [1], "approve") == 0;
    if ((!ask && !approve)
        || cli_args_parse (&args, argc, argv, 2, ask ? request_options : no_options, NULL, 1) != 0
        || args.n_positional != 1 || (ask && !cli_args_get (&args, "--reason"))) {
        cli_fail ("usage: recoup writeoff request INVOICE --reason TEXT\n"
                  "       recoup writeoff approve ID\n"
                  "A manager's approval writes the invoice's balance off; money "
                  "received\nafterwards is booked as a recovery.");
        return EXIT_USAGE;
    }
    Recoup__Request request = RECOUP__REQUEST__INIT;
    if (approve) {
        Recoup__WriteOffApproveRequest req = RECOUP__WRITE_OFF_APPROVE_REQUEST__INIT;
        if (s_id (args.positional [0], &req.id) != 0)
            return EXIT_USAGE;
        int rc = cli_connect (cli);
        if (rc != 0)
            return rc;
        request.command_case = RECOUP__REQUEST__COMMAND_WRITEOFF_APPROVE;
        request.writeoff_approve = &req;
        return s_send (cli, &request, RECOUP__REPLY__RESULT_WRITEOFF_APPROVE,
                       s_print_wo_approve);
    }
    Recoup__WriteOffRequest req = RECOUP__WRITE_OFF_REQUEST__INIT;
    req.invoice = (char *) args.positional [0];
    req.reason = (char *) cli_args_get (&args, "--reason");
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    request.command_case = RECOUP__REQUEST__COMMAND_WRITEOFF_REQUEST;
    request.writeoff_request = &req;
    return s_send (cli, &request, RECOUP__REPLY__RESULT_WRITEOFF_REQUEST,
                   s_print_wo_request);
}

// ---------------------------------------------------------------- credit

static void
s_print_record (const Recoup__CreditRecordReply *result)
{
    const Recoup__CreditRecord *r = result->record;
    char m [MONEY_TEXT_MAX + 8];
    if (strcmp (r->kind, "check") == 0)
        printf ("credit check %" PRIu64 " of %s: %s score %" PRId32 " on %s, cost %s\n",
                r->id, r->customer, r->bureau, r->score, r->on_date,
                s_money (r->cost_minor, r->currency, m));
    else
        printf ("%s reference %" PRIu64 " of %s: %s on %s: %s\n", r->kind, r->id,
                r->customer, r->name, r->on_date, r->result);
    printf ("event %" PRIu64 "\n", result->seq);
}

static void
s_print_check (const Recoup__Reply *reply)
{
    s_print_record (reply->credit_check_add);
}

static void
s_print_reference (const Recoup__Reply *reply)
{
    s_print_record (reply->credit_reference_add);
}

static void
s_credit_usage (void)
{
    cli_fail ("usage: recoup credit check CUSTOMER --bureau B --score S "
              "--cost AMOUNT\n"
              "         [--currency C] [--date DATE] [--note TEXT]\n"
              "       recoup credit reference CUSTOMER --kind trade|bank "
              "--name N --result TEXT\n"
              "         [--date DATE] [--note TEXT]\n"
              "The cost is in --currency, else in the server's base currency.");
}

int
cmd_credit (cli_t *cli, int argc, char **argv)
{
    static const char *const check_options [] = {
        "--bureau", "--score", "--cost", "--currency", "--date", "--note", NULL
    };
    static const char *const reference_options [] = {
        "--kind", "--name", "--result", "--date", "--note", NULL
    };
    cli_args_t args;
    int check = argc >= 2 && strcmp (argv [1], "check") == 0;
    int reference = argc >= 2 && strcmp (argv [1], "reference") == 0;
    if ((!check && !reference)
        || cli_args_parse (&args, argc, argv, 2, check ? check_options : reference_options, NULL, 1) != 0
        || args.n_positional != 1
        || (check && (!cli_args_get (&args, "--bureau") || !cli_args_get (&args, "--score")
                      || !cli_args_get (&args, "--cost")))
        || (reference && (!cli_args_get (&args, "--kind") || !cli_args_get (&args, "--name")
                          || !cli_args_get (&args, "--result")))) {
        s_credit_usage ();
        return EXIT_USAGE;
    }
    if (s_check_date ("--date", cli_args_get (&args, "--date")) != 0)
        return EXIT_USAGE;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    if (reference) {
        const char *kind = cli_args_get (&args, "--kind");
        if (strcmp (kind, "trade") != 0 && strcmp (kind, "bank") != 0) {
            cli_fail ("--kind must be trade or bank (got '%s')", kind);
            return EXIT_USAGE;
        }
        Recoup__CreditReferenceAddRequest req = RECOUP__CREDIT_REFERENCE_ADD_REQUEST__INIT;
        req.customer = (char *) args.positional [0];
        req.kind = (char *) kind;
        req.name = (char *) cli_args_get (&args, "--name");
        req.result = (char *) cli_args_get (&args, "--result");
        req.on_date = cli_args_opt (&args, "--date");
        req.note = cli_args_opt (&args, "--note");
        int rc = cli_connect (cli);
        if (rc != 0)
            return rc;
        request.command_case = RECOUP__REQUEST__COMMAND_CREDIT_REFERENCE_ADD;
        request.credit_reference_add = &req;
        return s_send (cli, &request, RECOUP__REPLY__RESULT_CREDIT_REFERENCE_ADD,
                       s_print_reference);
    }
    const char *cost = cli_args_get (&args, "--cost");
    const char *currency = cli_args_get (&args, "--currency");
    long score;
    if (s_number ("--score", cli_args_get (&args, "--score"), 0, 9999, &score) != 0
        || s_check_currency ("--currency", currency) != 0
        || s_amount ("--cost", cost, currency, 0, NULL) != 0)
        return EXIT_USAGE;
    Recoup__CreditCheckAddRequest req = RECOUP__CREDIT_CHECK_ADD_REQUEST__INIT;
    req.customer = (char *) args.positional [0];
    req.bureau = (char *) cli_args_get (&args, "--bureau");
    req.score = (int32_t) score;
    req.on_date = cli_args_opt (&args, "--date");
    req.note = cli_args_opt (&args, "--note");
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    char in [4];
    if (currency)
        snprintf (in, sizeof in, "%s", currency);
    else if ((rc = s_base_currency (cli, in)) != 0) {
        cli_close (cli);
        return rc;
    }
    if (s_amount ("--cost", cost, in, 0, &req.cost_minor) != 0) {
        cli_close (cli);
        return EXIT_USAGE;
    }
    req.currency = in;
    request.command_case = RECOUP__REQUEST__COMMAND_CREDIT_CHECK_ADD;
    request.credit_check_add = &req;
    return s_send (cli, &request, RECOUP__REPLY__RESULT_CREDIT_CHECK_ADD, s_print_check);
}
