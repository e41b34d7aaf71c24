/*  cmd_ledger: the receivables ledger from the command line: customers
    (add, update, show), invoices (issue, credit), payments (post) and
    entries (reverse).

    Amounts are written for people ("1234.56") and parsed here, strictly,
    in the currency they are in (money_parse: "12.345" USD is an error,
    never a rounding); the wire carries minor units. Which currency:

    - the one given with --currency;
    - else, for `invoice issue` and `payment post`, the customer's
      account currency, asked from the server (customer_show), which is
      also what the server would default to; the currency is then sent
      explicitly, so that the amount and the currency always agree;
    - else, for `customer add --credit-limit`, the server's base
      currency (status), which is the new customer's default currency;
      for `customer update --credit-limit`, the customer's currency;
    - `invoice credit` has no customer to ask: the amount is read in
      --currency if given, else in the base currency, and sent with that
      currency: the server refuses it when the invoice is in another.

    Amounts and dates that cannot be right are refused (exit 2) before
    anything is sent: the syntax of every amount is checked against the
    most permissive currency before the currency lookup, and strictly
    after it.                                                            */
#include "args.h"
#include "cli.h"
#include "../common/date.h"
#include "../common/money.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

//  A currency with four decimals: any amount valid in some currency
//  parses in it, so it serves to check the syntax before the real
//  currency is known.
#define WIDEST_CURRENCY "CLF"




//  Checks a date option (NULL: absent, fine). Returns 0 or -1 after
//  saying what is wrong.
static int
s_check_date (const char *option, const char *text)
{
    if (!text)
        return 0;
    int32_t days;
    char err [160];
    if (date_parse_iso (text, &days, err, sizeof err) != 0) {
        cli_fail ("%s: %s (write dates as YYYY-MM-DD)", option, err);
        return -1;
    }
    return 0;
}

//  Checks a currency option (NULL: absent).
static int
s_check_currency (const char *option, const char *code)
{
    if (!code || money_currency_exponent (code) >= 0)
        return 0;
    cli_fail ("%s: '%s' is not an ISO 4217 currency code (e.g. USD, EUR, SEK, "
              "JPY)", option, code);
    return -1;
}

//  Parses an amount in `currency`, or only checks its syntax when
//  currency is NULL. `positive`: must be above zero. Returns 0 or -1
//  after saying what is wrong.
static int
s_amount (const char *option, const char *text, const char *currency,
          int positive, int64_t *minor)
{
    char err [256];
    int64_t value = 0;
    const char *in = currency ? currency : WIDEST_CURRENCY;
    if (money_parse (text, in, NULL, &value, err, sizeof err) != 0) {
        if (currency)
            cli_fail ("%s: '%s' is not an amount in %s: %s", option, text,
                      currency, err);
        else
            cli_fail ("%s: '%s' is not an amount: %s", option, text, err);
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

//  Asks for the server's base currency into base [4]. Returns 0 or an
//  exit status.
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

//  Shows customer `ref` as of `as_of` ("" = business date). Returns the
//  reply (caller frees) or NULL with *rc.
static Recoup__Reply *
s_show (cli_t *cli, const char *ref, const char *as_of, int *rc)
{
    Recoup__CustomerShowRequest show = RECOUP__CUSTOMER_SHOW_REQUEST__INIT;
    show.customer = (char *) ref;
    show.as_of = (char *) as_of;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_SHOW;
    request.customer_show = &show;
    return cli_call (cli, &request, RECOUP__REPLY__RESULT_CUSTOMER_SHOW, rc);
}

//  The account currency of customer `ref` into currency [4]. Returns 0
//  or an exit status.
static int
s_customer_currency (cli_t *cli, const char *ref, char currency [4])
{
    int rc;
    Recoup__Reply *reply = s_show (cli, ref, "", &rc);
    if (!reply) {
        if (rc == EXIT_REFUSED)
            cli_fail ("could not look up the currency of customer %s: give "
                      "--currency", ref);
        return rc;
    }
    snprintf (currency, 4, "%s", reply->customer_show->account->customer->currency);
    recoup__reply__free_unpacked (reply, NULL);
    return 0;
}

// ---------------------------------------------------------------- customer

static const char *const s_customer_options [] = {
    "--name", "--email", "--phone", "--address", "--timezone", "--language",
    "--currency", "--terms", "--credit-limit", "--sales-rep", "--collector",
    "--late-fees", NULL
};
//  The Customer field each option sets, in the same order.
static const char *const s_customer_fields [] = {
    "name", "email", "phone", "address", "timezone", "language", "currency",
    "terms", "credit_limit_minor", "sales_rep", "collector", "late_fees", NULL
};

static void
s_print_customer (const Recoup__Customer *c)
{
    char limit [MONEY_TEXT_MAX + 8];
    printf ("%s  %s\n", c->ref, c->name);
    if (*c->email || *c->phone)
        printf ("  email %s  phone %s\n", *c->email ? c->email : "-",
                *c->phone ? c->phone : "-");
    if (*c->address) {
        printf ("  address ");
        for (const char *p = c->address; *p; p++)
            fputs (*p == '\n' ? ", " : (char []) { *p, 0 }, stdout);
        printf ("\n");
    }
    printf ("  currency %s, terms %s, credit limit %s\n", c->currency, c->terms,
            c->credit_limit_minor ? s_money (c->credit_limit_minor, c->currency, limit)
                                  : "none");
    printf ("  time zone %s, language %s, sales rep %s, collector %s\n",
            c->timezone, c->language, *c->sales_rep ? c->sales_rep : "-",
            *c->collector ? c->collector : "-");
    printf ("  late fees %s\n", c->late_fees ? "yes (the policy's)" : "no");
}

//  Days from a to b (dates as text), or 0 if either is not a date.
static int
s_days_between (const char *a, const char *b)
{
    int32_t da, db;
    char err [128];
    if (date_parse_iso (a, &da, err, sizeof err) != 0
        || date_parse_iso (b, &db, err, sizeof err) != 0)
        return 0;
    return (int) (db - da);
}

//  The account's collection state: one summary line, then its pending
//  promises, open disputes and open sales flags, one line each.
static void
s_print_collection (const Recoup__AccountCollection *c)
{
    char m [MONEY_TEXT_MAX + 8];
    printf ("\nCollection: ");
    if (*c->stage)
        printf ("stage %s, ", c->stage);
    if (c->days_past_due > 0)
        printf ("%d day%s past due", c->days_past_due, c->days_past_due == 1 ? "" : "s");
    else
        printf ("nothing past due");
    if (c->on_hold)
        printf (", ON HOLD%s%s%s", *c->hold_reason ? " (" : "", c->hold_reason,
                *c->hold_reason ? ")" : "");
    if (c->cash_only)
        printf (", cash only");
    if (*c->reason)
        printf (", reason %s", c->reason);
    printf ("; %zu promise%s pending, %zu dispute%s open, %zu flag%s open\n",
            c->n_promises, c->n_promises == 1 ? "" : "s",
            c->n_disputes, c->n_disputes == 1 ? "" : "s",
            c->n_flags, c->n_flags == 1 ? "" : "s");
    for (size_t i = 0; i < c->n_promises; i++) {
        const Recoup__Promise *p = c->promises [i];
        printf ("  promise %" PRIu64 ": %s by %s", p->id,
                s_money (p->amount_minor, p->currency, m), p->by);
        printf (", %s paid\n", s_money (p->paid_minor, p->currency, m));
    }
    for (size_t i = 0; i < c->n_disputes; i++) {
        const Recoup__Dispute *d = c->disputes [i];
        printf ("  dispute %" PRIu64 ": invoice %s since %s: %s\n", d->id, d->invoice,
                d->opened, d->reason);
    }
    for (size_t i = 0; i < c->n_flags; i++) {
        const Recoup__SalesFlag *f = c->flags [i];
        printf ("  flag %" PRIu64 ": %s %s for %s, %d day%s open\n", f->id, f->kind,
                f->subject, *f->rep ? f->rep : "the collections lead", f->days_open,
                f->days_open == 1 ? "" : "s");
    }
}

static void
s_print_account (const Recoup__CustomerShowReply *show)
{
    const Recoup__Account *account = show->account;
    char m [3][MONEY_TEXT_MAX + 8];
    s_print_customer (account->customer);
    if (account->collection)
        s_print_collection (account->collection);
    printf ("\naging as of %s\n", account->as_of);
    if (account->n_aging == 0)
        printf ("  nothing open\n");
    else
        printf ("  %-8s %5s %16s %14s %14s %14s %14s %14s %14s\n", "CURRENCY",
                "OPEN", "TOTAL", "CURRENT", "1-30", "31-60", "61-90", "91-120",
                "OVER 120");
    for (size_t i = 0; i < account->n_aging; i++) {
        const Recoup__Aging *a = account->aging [i];
        char amount [8][MONEY_TEXT_MAX];
        const Recoup__AgingBucket *b [6] = {
            a->current, a->d1_30, a->d31_60, a->d61_90, a->d91_120, a->over_120
        };
        money_format (a->total_minor, a->currency, amount [0], MONEY_TEXT_MAX);
        for (int k = 0; k < 6; k++)
            money_format (b [k] ? b [k]->amount_minor : 0, a->currency,
                          amount [k + 1], MONEY_TEXT_MAX);
        printf ("  %-8s %5u %16s %14s %14s %14s %14s %14s %14s\n", a->currency,
                a->open_count, amount [0], amount [1], amount [2], amount [3],
                amount [4], amount [5], amount [6]);
    }
    if (show->n_open_invoices > 0) {
        printf ("\nopen invoices\n  %-20s %-10s %-10s %5s %18s\n", "NUMBER",
                "ISSUED", "DUE", "LATE", "BALANCE");
        for (size_t i = 0; i < show->n_open_invoices; i++) {
            const Recoup__Invoice *inv = show->open_invoices [i];
            int late = s_days_between (inv->due, account->as_of);
            char late_text [16];
            snprintf (late_text, sizeof late_text, "%d", late);
            printf ("  %-20s %-10s %-10s %5s %18s\n", inv->number, inv->issued,
                    inv->due, late > 0 ? late_text : "-",
                    s_money (inv->balance_minor, inv->currency, m [0]));
        }
    }
    if (show->n_payments > 0) {
        printf ("\nrecent payments\n  %-10s %-20s %18s %18s  %s\n", "RECEIVED",
                "REFERENCE", "AMOUNT", "UNAPPLIED", "APPLIED TO");
        for (size_t i = 0; i < show->n_payments; i++) {
            const Recoup__Payment *p = show->payments [i];
            printf ("  %-10s %-20s %18s %18s  ", p->received, p->reference,
                    s_money (p->amount_minor, p->currency, m [0]),
                    s_money (p->unapplied_minor, p->currency, m [1]));
            for (size_t k = 0; k < p->n_allocations; k++) {
                money_format (p->allocations [k]->amount_minor, p->currency,
                              m [2], MONEY_TEXT_MAX);
                printf ("%s%s %s", k ? ", " : "", p->allocations [k]->invoice, m [2]);
            }
            printf ("%s\n", p->n_allocations ? "" : "-");
        }
    }
    printf ("\nunapplied cash: ");
    if (account->n_unapplied == 0)
        printf ("none\n");
    for (size_t i = 0; i < account->n_unapplied; i++)
        printf ("%s%s", s_money (account->unapplied [i]->amount_minor,
                                 account->unapplied [i]->currency, m [0]),
                i + 1 < account->n_unapplied ? ", " : "\n");
}

static void
s_customer_usage (void)
{
    cli_fail ("usage: recoup customer add REF --name NAME [--email E] [--phone P]\n"
              "         [--address A] [--timezone TZ] [--language L] [--currency C]\n"
              "         [--terms T] [--credit-limit AMOUNT] [--sales-rep USER]\n"
              "         [--collector USER] [--late-fees yes|no]\n"
              "       recoup customer update REF [the same options: only those "
              "given change]\n"
              "       recoup customer show REF [--as-of DATE]\n"
              "--credit-limit is in --currency, else (add) the server's base "
              "currency, (update) the customer's currency; 0 = no limit\n"
              "--late-fees yes: the customer's terms allow the policy's late fees");
}

static int
s_customer_show (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = { "--as-of", NULL };
    cli_args_t args;
    if (cli_args_parse (&args, argc, argv, 2, known, NULL, 1) != 0 || args.n_positional != 1) {
        s_customer_usage ();
        return EXIT_USAGE;
    }
    const char *as_of = cli_args_get (&args, "--as-of");
    if (s_check_date ("--as-of", as_of) != 0)
        return EXIT_USAGE;
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Reply *reply = s_show (cli, args.positional [0], as_of ? as_of : "", &rc);
    if (reply) {
        if (cli->json)
            cli_print_json (&reply->customer_show->base);
        else
            s_print_account (reply->customer_show);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

int
cmd_customer (cli_t *cli, int argc, char **argv)
{
    if (argc < 2) {
        s_customer_usage ();
        return EXIT_USAGE;
    }
    const char *verb = argv [1];
    if (strcmp (verb, "show") == 0)
        return s_customer_show (cli, argc, argv);
    int add = strcmp (verb, "add") == 0;
    if (!add && strcmp (verb, "update") != 0) {
        cli_fail ("unknown customer command '%s': use add, update or show", verb);
        return EXIT_USAGE;
    }
    cli_args_t args;
    if (cli_args_parse (&args, argc, argv, 2, s_customer_options, NULL, 1) != 0
        || args.n_positional != 1) {
        s_customer_usage ();
        return EXIT_USAGE;
    }
    if (add && !cli_args_get (&args, "--name")) {
        cli_fail ("customer add: --name is required");
        return EXIT_USAGE;
    }
    const char *currency = cli_args_get (&args, "--currency");
    const char *limit = cli_args_get (&args, "--credit-limit");
    const char *late_fees = cli_args_get (&args, "--late-fees");
    if (late_fees && strcmp (late_fees, "yes") != 0 && strcmp (late_fees, "no") != 0) {
        cli_fail ("--late-fees: write yes or no, not '%s'", late_fees);
        return EXIT_USAGE;
    }
    if (s_check_currency ("--currency", currency) != 0
        || (limit && s_amount ("--credit-limit", limit, currency, 0, NULL) != 0))
        return EXIT_USAGE;
    Recoup__Customer customer = RECOUP__CUSTOMER__INIT;
    customer.ref = (char *) args.positional [0];
    char *fields [CLI_ARGS_OPTIONS];
    size_t n_fields = 0;
    char **slots [] = {
        &customer.name, &customer.email, &customer.phone, &customer.address,
        &customer.timezone, &customer.language, &customer.currency,
        &customer.terms, NULL, &customer.sales_rep, &customer.collector, NULL
    };
    customer.late_fees = late_fees && strcmp (late_fees, "yes") == 0;
    for (int k = 0; s_customer_options [k]; k++) {
        if (!args.values [k])
            continue;
        fields [n_fields++] = (char *) s_customer_fields [k];
        if (slots [k])
            *slots [k] = (char *) args.values [k];
    }
    if (!add && n_fields == 0) {
        cli_fail ("customer update: give at least one option to change");
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    if (limit) {
        char in [4];
        if (currency)
            snprintf (in, sizeof in, "%s", currency);
        else if ((rc = add ? s_base_currency (cli, in)
                           : s_customer_currency (cli, customer.ref, in)) != 0)
            goto done;
        if (s_amount ("--credit-limit", limit, in, 0, &customer.credit_limit_minor) != 0) {
            rc = EXIT_USAGE;
            goto done;
        }
    }
    Recoup__CustomerCreateRequest create = RECOUP__CUSTOMER_CREATE_REQUEST__INIT;
    Recoup__CustomerUpdateRequest update = RECOUP__CUSTOMER_UPDATE_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    if (add) {
        create.customer = &customer;
        request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_CREATE;
        request.customer_create = &create;
    }
    else {
        update.customer = &customer;
        update.fields = fields;
        update.n_fields = n_fields;
        request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_UPDATE;
        request.customer_update = &update;
    }
    Recoup__Reply *reply = cli_call (cli, &request,
                                     add ? RECOUP__REPLY__RESULT_CUSTOMER_CREATE
                                         : RECOUP__REPLY__RESULT_CUSTOMER_UPDATE, &rc);
    if (reply) {
        const Recoup__CustomerReply *result = add ? reply->customer_create
                                                  : reply->customer_update;
        if (cli->json)
            cli_print_json (&result->base);
        else {
            printf ("%s customer %s, event %" PRIu64 "\n",
                    add ? "created" : "updated", result->customer->ref, result->seq);
            s_print_customer (result->customer);
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
done:
    cli_close (cli);
    return rc;
}

// ---------------------------------------------------------------- invoice

static void
s_invoice_usage (void)
{
    cli_fail ("usage: recoup invoice issue NUMBER --customer REF --amount AMOUNT\n"
              "         [--currency C] [--issued DATE] [--due DATE] [--terms T]\n"
              "       recoup invoice credit NUMBER --amount AMOUNT [--date DATE]\n"
              "         [--memo TEXT] [--currency C]\n"
              "issue: AMOUNT is in --currency, else in the customer's currency;\n"
              "credit: in --currency, else in the server's base currency (refused\n"
              "when the invoice is in another: then give --currency)");
}

static int
s_invoice_issue (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = {
        "--customer", "--amount", "--currency", "--issued", "--due", "--terms", NULL
    };
    cli_args_t args;
    if (cli_args_parse (&args, argc, argv, 2, known, NULL, 1) != 0 || args.n_positional != 1
        || !cli_args_get (&args, "--customer") || !cli_args_get (&args, "--amount")) {
        s_invoice_usage ();
        return EXIT_USAGE;
    }
    const char *amount = cli_args_get (&args, "--amount");
    const char *currency = cli_args_get (&args, "--currency");
    if (s_check_currency ("--currency", currency) != 0
        || s_amount ("--amount", amount, currency, 1, NULL) != 0
        || s_check_date ("--issued", cli_args_get (&args, "--issued")) != 0
        || s_check_date ("--due", cli_args_get (&args, "--due")) != 0)
        return EXIT_USAGE;
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Invoice invoice = RECOUP__INVOICE__INIT;
    invoice.number = (char *) args.positional [0];
    invoice.customer = (char *) cli_args_get (&args, "--customer");
    char in [4];
    if (currency)
        snprintf (in, sizeof in, "%s", currency);
    else if ((rc = s_customer_currency (cli, invoice.customer, in)) != 0)
        goto done;
    if (s_amount ("--amount", amount, in, 1, &invoice.amount_minor) != 0) {
        rc = EXIT_USAGE;
        goto done;
    }
    invoice.currency = in;
    if (cli_args_get (&args, "--issued"))
        invoice.issued = (char *) cli_args_get (&args, "--issued");
    if (cli_args_get (&args, "--due"))
        invoice.due = (char *) cli_args_get (&args, "--due");
    if (cli_args_get (&args, "--terms"))
        invoice.terms = (char *) cli_args_get (&args, "--terms");
    Recoup__InvoiceIssueRequest issue = RECOUP__INVOICE_ISSUE_REQUEST__INIT;
    issue.invoice = &invoice;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_INVOICE_ISSUE;
    request.invoice_issue = &issue;
    Recoup__Reply *reply = cli_call (cli, &request,
                                     RECOUP__REPLY__RESULT_INVOICE_ISSUE, &rc);
    if (reply) {
        const Recoup__Invoice *inv = reply->invoice_issue->invoice;
        char m [MONEY_TEXT_MAX + 8];
        if (cli->json)
            cli_print_json (&reply->invoice_issue->base);
        else {
            printf ("issued invoice %s to %s: %s, issued %s, due %s (%s)",
                    inv->number, inv->customer,
                    s_money (inv->amount_minor, inv->currency, m), inv->issued,
                    inv->due, inv->terms);
            if (*inv->discount_until)
                printf (", %u.%02u%% discount until %s", inv->discount_bp / 100,
                        inv->discount_bp % 100, inv->discount_until);
            printf (", event %" PRIu64 "\n", reply->invoice_issue->seq);
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
done:
    cli_close (cli);
    return rc;
}

//  Prints an entry reply line.
static void
s_print_entry (const char *what, const Recoup__EntryReply *result)
{
    const Recoup__Entry *e = result->entry;
    char m [MONEY_TEXT_MAX + 8];
    printf ("%s: entry %" PRIu64 " (%s) on invoice %s of %s, %s%s on %s",
            what, e->id, e->kind, e->invoice, e->customer,
            e->amount_minor > 0 ? "+" : "",
            s_money (e->amount_minor, e->currency, m), e->on_date);
    if (*e->payment)
        printf (", payment %s", e->payment);
    if (e->reverses)
        printf (", reverses entry %" PRIu64, e->reverses);
    printf (", event %" PRIu64 "\n", result->seq);
}

static int
s_invoice_credit (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = {
        "--amount", "--date", "--memo", "--currency", NULL
    };
    cli_args_t args;
    if (cli_args_parse (&args, argc, argv, 2, known, NULL, 1) != 0 || args.n_positional != 1
        || !cli_args_get (&args, "--amount")) {
        s_invoice_usage ();
        return EXIT_USAGE;
    }
    const char *amount = cli_args_get (&args, "--amount");
    const char *currency = cli_args_get (&args, "--currency");
    if (s_check_currency ("--currency", currency) != 0
        || s_amount ("--amount", amount, currency, 1, NULL) != 0
        || s_check_date ("--date", cli_args_get (&args, "--date")) != 0)
        return EXIT_USAGE;
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__CreditNoteRequest note = RECOUP__CREDIT_NOTE_REQUEST__INIT;
    note.invoice = (char *) args.positional [0];
    char in [4];
    if (currency)
        snprintf (in, sizeof in, "%s", currency);
    else if ((rc = s_base_currency (cli, in)) != 0)
        goto done;
    if (s_amount ("--amount", amount, in, 1, &note.amount_minor) != 0) {
        rc = EXIT_USAGE;
        goto done;
    }
    //  The server refuses the note if the invoice is in another currency.
    note.currency = in;
    if (cli_args_get (&args, "--date"))
        note.on_date = (char *) cli_args_get (&args, "--date");
    if (cli_args_get (&args, "--memo"))
        note.memo = (char *) cli_args_get (&args, "--memo");
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CREDIT_NOTE;
    request.credit_note = &note;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_CREDIT_NOTE,
                                     &rc);
    if (reply) {
        if (cli->json)
            cli_print_json (&reply->credit_note->base);
        else
            s_print_entry ("credit note", reply->credit_note);
        recoup__reply__free_unpacked (reply, NULL);
    }
done:
    cli_close (cli);
    return rc;
}

int
cmd_invoice (cli_t *cli, int argc, char **argv)
{
    if (argc >= 2 && strcmp (argv [1], "issue") == 0)
        return s_invoice_issue (cli, argc, argv);
    if (argc >= 2 && strcmp (argv [1], "credit") == 0)
        return s_invoice_credit (cli, argc, argv);
    s_invoice_usage ();
    return EXIT_USAGE;
}

// ---------------------------------------------------------------- payment

static void
s_payment_usage (void)
{
    cli_fail ("usage: recoup payment post --customer REF --reference REF "
              "--amount AMOUNT\n"
              "         [--currency C] [--received DATE] [--method M]\n"
              "         [--invoice NUMBER[=AMOUNT]]...\n"
              "Amounts are in --currency, else in the customer's currency.\n"
              "Without --invoice the payment goes to the oldest due invoices "
              "first;\nNUMBER alone takes as much as the invoice's balance. "
              "What is left stays\non the account as unapplied cash.");
}

int
cmd_payment (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = {
        "--customer", "--reference", "--amount", "--currency", "--received",
        "--method", "--invoice", NULL
    };
    cli_args_t args;
    if (argc < 2 || strcmp (argv [1], "post") != 0
        || cli_args_parse (&args, argc, argv, 2, known, "--invoice", 0) != 0
        || !cli_args_get (&args, "--customer") || !cli_args_get (&args, "--reference")
        || !cli_args_get (&args, "--amount")) {
        s_payment_usage ();
        return EXIT_USAGE;
    }
    const char *amount = cli_args_get (&args, "--amount");
    const char *currency = cli_args_get (&args, "--currency");
    if (s_check_currency ("--currency", currency) != 0
        || s_amount ("--amount", amount, currency, 1, NULL) != 0
        || s_check_date ("--received", cli_args_get (&args, "--received")) != 0)
        return EXIT_USAGE;
    //  NUMBER=AMOUNT splits at the last '=' (amounts have none).
    char *numbers [CLI_ARGS_REPEATS];
    const char *amounts [CLI_ARGS_REPEATS];
    int rc = 0;
    for (int i = 0; i < args.n_repeats; i++) {
        numbers [i] = strdup (args.repeats [i]);
        char *eq = numbers [i] ? strrchr (numbers [i], '=') : NULL;
        amounts [i] = NULL;
        if (eq) {
            *eq = '\0';
            amounts [i] = eq + 1;
        }
        if (!numbers [i] || !*numbers [i]
            || (amounts [i] && s_amount ("--invoice", amounts [i], currency, 1,
                                         NULL) != 0)) {
            if (numbers [i] && !*numbers [i])
                cli_fail ("--invoice wants NUMBER or NUMBER=AMOUNT, got '%s'",
                          args.repeats [i]);
            for (int k = 0; k <= i; k++)
                free (numbers [k]);
            return EXIT_USAGE;
        }
    }
    Recoup__Allocation allocation [CLI_ARGS_REPEATS];
    Recoup__Allocation *allocations [CLI_ARGS_REPEATS];
    Recoup__Payment payment = RECOUP__PAYMENT__INIT;
    payment.customer = (char *) cli_args_get (&args, "--customer");
    payment.reference = (char *) cli_args_get (&args, "--reference");
    char in [4];
    rc = cli_connect (cli);
    if (rc != 0)
        goto done;
    if (currency)
        snprintf (in, sizeof in, "%s", currency);
    else if ((rc = s_customer_currency (cli, payment.customer, in)) != 0)
        goto done;
    if (s_amount ("--amount", amount, in, 1, &payment.amount_minor) != 0) {
        rc = EXIT_USAGE;
        goto done;
    }
    for (int i = 0; i < args.n_repeats; i++) {
        recoup__allocation__init (&allocation [i]);
        allocation [i].invoice = numbers [i];
        if (amounts [i]
            && s_amount ("--invoice", amounts [i], in, 1, &allocation [i].amount_minor) != 0) {
            rc = EXIT_USAGE;
            goto done;
        }
        allocations [i] = &allocation [i];
    }
    payment.allocations = allocations;
    payment.n_allocations = (size_t) args.n_repeats;
    payment.currency = in;
    if (cli_args_get (&args, "--received"))
        payment.received = (char *) cli_args_get (&args, "--received");
    if (cli_args_get (&args, "--method"))
        payment.method = (char *) cli_args_get (&args, "--method");
    Recoup__PaymentPostRequest post = RECOUP__PAYMENT_POST_REQUEST__INIT;
    post.payment = &payment;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_PAYMENT_POST;
    request.payment_post = &post;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_PAYMENT_POST,
                                     &rc);
    if (reply) {
        const Recoup__Payment *p = reply->payment_post->payment;
        char m [2][MONEY_TEXT_MAX + 8];
        if (cli->json)
            cli_print_json (&reply->payment_post->base);
        else {
            printf ("posted payment %s from %s: %s received %s\n", p->reference,
                    p->customer, s_money (p->amount_minor, p->currency, m [0]),
                    p->received);
            for (size_t k = 0; k < p->n_allocations; k++)
                printf ("  applied %s to invoice %s (entry %" PRIu64 ")\n",
                        s_money (p->allocations [k]->amount_minor, p->currency, m [0]),
                        p->allocations [k]->invoice, p->allocations [k]->entry_id);
            printf ("  unapplied %s\nevent %" PRIu64 "\n",
                    s_money (p->unapplied_minor, p->currency, m [0]),
                    reply->payment_post->seq);
        }
        //  Say where a named invoice took less than was asked.
        for (int i = 0; i < args.n_repeats; i++) {
            int64_t applied = 0;
            for (size_t k = 0; k < p->n_allocations; k++)
                if (strcmp (p->allocations [k]->invoice, numbers [i]) == 0)
                    applied += p->allocations [k]->amount_minor;
            if (allocation [i].amount_minor > applied)
                fprintf (stderr, "recoup: note: invoice %s took %s of the %s asked "
                         "(its balance, or what was left of the payment); the "
                         "rest is unapplied\n", numbers [i],
                         s_money (applied, p->currency, m [0]),
                         s_money (allocation [i].amount_minor, p->currency, m [1]));
            else if (applied == 0)
                fprintf (stderr, "recoup: note: nothing was applied to invoice %s "
                         "(already paid, or nothing left of the payment)\n",
                         numbers [i]);
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
done:
    cli_close (cli);
    for (int i = 0; i < args.n_repeats; i++)
        free (numbers [i]);
    return rc;
}

// ---------------------------------------------------------------- entry

int
cmd_entry (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = { "--memo", "--date", NULL };
    cli_args_t args;
    if (argc < 2 || strcmp (argv [1], "reverse") != 0
        || cli_args_parse (&args, argc, argv, 2, known, NULL, 1) != 0
        || args.n_positional != 1 || !cli_args_get (&args, "--memo")) {
        cli_fail ("usage: recoup entry reverse ID --memo TEXT [--date DATE]\n"
                  "(the memo says why; the reversal is dated --date, else the "
                  "business date)");
        return EXIT_USAGE;
    }
    const char *id_text = args.positional [0];
    char *end;
    unsigned long long id = strtoull (id_text, &end, 10);
    if (*end || *id_text < '0' || *id_text > '9' || id == 0 || id > INT64_MAX) {
        cli_fail ("entry reverse: ID is an entry number, got '%s'", id_text);
        return EXIT_USAGE;
    }
    if (s_check_date ("--date", cli_args_get (&args, "--date")) != 0)
        return EXIT_USAGE;
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__EntryReverseRequest reverse = RECOUP__ENTRY_REVERSE_REQUEST__INIT;
    reverse.entry_id = id;
    reverse.memo = (char *) cli_args_get (&args, "--memo");
    if (cli_args_get (&args, "--date"))
        reverse.on_date = (char *) cli_args_get (&args, "--date");
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_ENTRY_REVERSE;
    request.entry_reverse = &reverse;
    Recoup__Reply *reply = cli_call (cli, &request,
                                     RECOUP__REPLY__RESULT_ENTRY_REVERSE, &rc);
    if (reply) {
        if (cli->json)
            cli_print_json (&reply->entry_reverse->base);
        else
            s_print_entry ("reversed", reply->entry_reverse);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}
