/*  cmd_report: `recoup report aging` (open invoices by days past due,
    per currency, with DSO, best possible DSO, average days delinquent
    and CEI; optionally per customer) and `recoup report statement` (a
    customer's statement). Tables for people; with --json, the aging is
    one JSON object in the documented shape (written here field by field,
    not by the generic protobuf dumper) and the statement the reply as
    JSON.                                                                */
#include "cli.h"
#include "../common/date.h"
#include "../common/money.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 6

//  Bucket names: as in the JSON, and as table headings.
static const char *const s_bucket_keys [BUCKETS] = {
    "current", "1-30", "31-60", "61-90", "91-120", "over-120" };
static const char *const s_bucket_heads [BUCKETS] = {
    "CURRENT", "1-30", "31-60", "61-90", "91-120", "OVER 120" };

//  Options of a report subcommand.
typedef struct {
    const char *as_of;          //  --as-of, or NULL
    const char *from;           //  --from, or NULL
    const char *customer;       //  --customer (aging), or the REF (statement)
    int by_customer;            //  --by-customer
} s_options_t;

//  Parses argv [1..] of `report aging` (statement 0) or `report
//  statement REF` (statement 1). Prints what is wrong and returns -1.
static int
s_parse (int argc, char **argv, int statement, s_options_t *options)
{
    const char *name = argv [0];
    memset (options, 0, sizeof *options);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char **value = NULL;
        if (strcmp (arg, "--as-of") == 0)
            value = &options->as_of;
        else if (strcmp (arg, "--from") == 0 && statement)
            value = &options->from;
        else if (strcmp (arg, "--customer") == 0 && !statement)
            value = &options->customer;
        else if (strcmp (arg, "--by-customer") == 0 && !statement) {
            options->by_customer = 1;
            continue;
        }
        else if (strncmp (arg, "--", 2) == 0) {
            cli_fail ("report %s: unknown option %s", name, arg);
            return -1;
        }
        else if (statement && !options->customer) {
            options->customer = arg;
            continue;
        }
        else {
            cli_fail ("report %s: unexpected argument '%s'", name, arg);
            return -1;
        }
        if (i + 1 >= argc) {
            cli_fail ("report %s: %s needs a value", name, arg);
            return -1;
        }
        *value = argv [++i];
    }
    //  Dates are checked here too, so a typo costs no round trip.
    const char *dates [2] = { options->as_of, options->from };
    const char *flags [2] = { "--as-of", "--from" };
    for (int i = 0; i < 2; i++) {
        int32_t days;
        char err [256];
        if (dates [i] && date_parse_iso (dates [i], &days, err, sizeof err) != 0) {
            cli_fail ("report %s: %s '%s' is not a date: %s (want YYYY-MM-DD)",
                      name, flags [i], dates [i], err);
            return -1;
        }
    }
    if (statement && !options->customer) {
        cli_fail ("usage: recoup report statement REF [--as-of DATE] [--from DATE]");
        return -1;
    }
    return 0;
}

//  An amount for people, in the currency's decimals ("1234.56"); raw
//  minor units when the currency is not one money.c knows.
static const char *
s_money (char buf [MONEY_TEXT_MAX], int64_t minor, const char *currency)
{
    if (money_format (minor, currency, buf, MONEY_TEXT_MAX) != 0)
        snprintf (buf, MONEY_TEXT_MAX, "%" PRId64, minor);
    return buf;
}

//  Hundredths as a decimal with two places: 4525 -> "45.25", -5 -> "-0.05".
static void
s_centi (strbuf_t *out, int64_t centi)
{
    uint64_t magnitude = centi < 0 ? 0 - (uint64_t) centi : (uint64_t) centi;
    strbuf_printf (out, "%s%" PRIu64 ".%02" PRIu64, centi < 0 ? "-" : "",
                   magnitude / 100, magnitude % 100);
}

//  The buckets of an Aging in order (a missing one reads as empty).
static void
s_buckets (const Recoup__Aging *aging, const Recoup__AgingBucket *out [BUCKETS])
{
    static const Recoup__AgingBucket empty = RECOUP__AGING_BUCKET__INIT;
    const Recoup__AgingBucket *buckets [BUCKETS] = {
        aging->current, aging->d1_30, aging->d31_60, aging->d61_90,
        aging->d91_120, aging->over_120 };
    for (int b = 0; b < BUCKETS; b++)
        out [b] = buckets [b] ? buckets [b] : &empty;
}

// ---------------------------------------------------------------- aging

//  "currency", "open_count", "total_minor" and "buckets" of an Aging.
static void
s_json_aging (strbuf_t *out, const Recoup__Aging *aging)
{
    const Recoup__AgingBucket *buckets [BUCKETS];
    s_buckets (aging, buckets);
    strbuf_puts (out, "\"currency\":");
    json_string (out, aging->currency);
    strbuf_printf (out, ",\"open_count\":%" PRIu32 ",\"total_minor\":%" PRId64
                   ",\"buckets\":{", aging->open_count, aging->total_minor);
    for (int b = 0; b < BUCKETS; b++)
        strbuf_printf (out, "%s\"%s\":{\"count\":%" PRIu32 ",\"amount_minor\":%"
                       PRId64 "}", b ? "," : "", s_bucket_keys [b],
                       buckets [b]->count, buckets [b]->amount_minor);
    strbuf_puts (out, "}");
}

//  The aging report as one JSON object (see PROTOCOL.md): ratios as
//  numbers with two decimals, left out when undefined.
static void
s_json_report (strbuf_t *out, const Recoup__ReportAgingReply *report,
               int by_customer)
{
    static const Recoup__Aging no_aging = RECOUP__AGING__INIT;
    strbuf_puts (out, "{\"as_of\":");
    json_string (out, report->as_of);
    strbuf_puts (out, ",\"currencies\":[");
    for (size_t i = 0; i < report->n_currencies; i++) {
        const Recoup__CurrencyReport *c = report->currencies [i];
        strbuf_puts (out, i ? ",{" : "{");
        s_json_aging (out, c->aging ? c->aging : &no_aging);
        const struct { int has; int64_t centi; const char *key; } ratios [] = {
            { c->has_dso, c->dso_centi, "dso_days" },
            { c->has_best_dso, c->best_dso_centi, "best_possible_dso_days" },
            { c->has_add, c->add_centi, "add_days" },
            { c->has_cei, c->cei_centi, "cei_percent" } };
        for (size_t r = 0; r < sizeof ratios / sizeof *ratios; r++)
            if (ratios [r].has) {
                strbuf_printf (out, ",\"%s\":", ratios [r].key);
                s_centi (out, ratios [r].centi);
            }
        strbuf_puts (out, "}");
    }
    strbuf_puts (out, "]");
    if (by_customer) {
        strbuf_puts (out, ",\"customers\":[");
        for (size_t i = 0; i < report->n_customers; i++) {
            const Recoup__CustomerAging *customer = report->customers [i];
            strbuf_puts (out, i ? ",{\"customer\":" : "{\"customer\":");
            json_string (out, customer->customer);
            strbuf_puts (out, ",\"name\":");
            json_string (out, customer->name);
            strbuf_puts (out, ",\"currencies\":[");
            for (size_t a = 0; a < customer->n_aging; a++) {
                strbuf_puts (out, a ? ",{" : "{");
                s_json_aging (out, customer->aging [a]);
                strbuf_puts (out, "}");
            }
            strbuf_puts (out, "]}");
        }
        strbuf_puts (out, "]");
    }
    strbuf_puts (out, "}\n");
}

//  Table heading of aging rows, after a first column `first` wide.
static void
s_print_aging_head (const char *first, int width)
{
    printf ("%-*s", width, first);
    for (int b = 0; b < BUCKETS; b++)
        printf (" %14s", s_bucket_heads [b]);
    printf (" %14s\n", "TOTAL");
}

//  One aging as two rows: the amounts, then the invoice counts.
static void
s_print_aging (const Recoup__Aging *aging, const char *indent, int width)
{
    const Recoup__AgingBucket *buckets [BUCKETS];
    s_buckets (aging, buckets);
    char money [MONEY_TEXT_MAX];
    printf ("%s%-*s", indent, width - (int) strlen (indent), aging->currency);
    for (int b = 0; b < BUCKETS; b++)
        printf (" %14s", s_money (money, buckets [b]->amount_minor, aging->currency));
    printf (" %14s\n", s_money (money, aging->total_minor, aging->currency));
    printf ("%s%-*s", indent, width - (int) strlen (indent), "  invoices");
    for (int b = 0; b < BUCKETS; b++)
        printf (" %14" PRIu32, buckets [b]->count);
    printf (" %14" PRIu32 "\n", aging->open_count);
}

//  A ratio for people, or "n/a" when undefined.
static const char *
s_ratio_text (char *buf, size_t len, int has, int64_t centi, const char *unit)
{
    if (!has)
        return "n/a";
    strbuf_t text;
    strbuf_init (&text);
    s_centi (&text, centi);
    snprintf (buf, len, "%s%s", text.data, unit);
    strbuf_free (&text);
    return buf;
}

static void
s_print_report (const Recoup__ReportAgingReply *report, int by_customer)
{
    static const Recoup__Aging no_aging = RECOUP__AGING__INIT;
    printf ("aging as of %s (days past due)\n\n", report->as_of);
    if (report->n_currencies == 0)
        printf ("nothing open, nothing invoiced in the last 90 days\n");
    else
        s_print_aging_head ("CURRENCY", 12);
    for (size_t i = 0; i < report->n_currencies; i++) {
        const Recoup__CurrencyReport *c = report->currencies [i];
        s_print_aging (c->aging ? c->aging : &no_aging, "", 12);
        char dso [32], best [32], add [32], cei [32];
        printf ("  DSO %s, best possible DSO %s, average days delinquent %s, "
                "CEI %s\n",
                s_ratio_text (dso, sizeof dso, c->has_dso, c->dso_centi, " days"),
                s_ratio_text (best, sizeof best, c->has_best_dso,
                              c->best_dso_centi, " days"),
                s_ratio_text (add, sizeof add, c->has_add, c->add_centi, " days"),
                s_ratio_text (cei, sizeof cei, c->has_cei, c->cei_centi, "%"));
    }
    if (!by_customer)
        return;
    printf ("\nby customer\n");
    if (report->n_customers == 0)
        printf ("no customer has open invoices\n");
    else
        s_print_aging_head ("CUSTOMER", 12);
    for (size_t i = 0; i < report->n_customers; i++) {
        const Recoup__CustomerAging *customer = report->customers [i];
        printf ("%s  %s\n", customer->customer, customer->name);
        for (size_t a = 0; a < customer->n_aging; a++)
            s_print_aging (customer->aging [a], "  ", 12);
    }
}

static int
s_aging (cli_t *cli, int argc, char **argv)
{
    s_options_t options;
    if (s_parse (argc, argv, 0, &options) != 0)
        return EXIT_USAGE;
    Recoup__ReportAgingRequest aging = RECOUP__REPORT_AGING_REQUEST__INIT;
    aging.as_of = (char *) (options.as_of ? options.as_of : "");
    aging.customer = (char *) (options.customer ? options.customer : "");
    aging.by_customer = options.by_customer;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_REPORT_AGING;
    request.report_aging = &aging;
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Reply *reply = cli_call (cli, &request,
                                     RECOUP__REPLY__RESULT_REPORT_AGING, &rc);
    if (reply) {
        if (cli->json) {
            strbuf_t out;
            strbuf_init (&out);
            s_json_report (&out, reply->report_aging, options.by_customer);
            fputs (out.data, stdout);
            strbuf_free (&out);
        }
        else
            s_print_report (reply->report_aging, options.by_customer);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

// ---------------------------------------------------------------- statement

//  Days from a to b, both YYYY-MM-DD (0 if either does not parse).
static int32_t
s_days_between (const char *a, const char *b)
{
    int32_t da, db;
    char err [128];
    if (date_parse_iso (a, &da, err, sizeof err) != 0
        || date_parse_iso (b, &db, err, sizeof err) != 0)
        return 0;
    return db - da;
}

static void
s_print_statement (const Recoup__ReportStatementReply *s)
{
    static const Recoup__Customer no_customer = RECOUP__CUSTOMER__INIT;
    const Recoup__Account *account = s->account;
    const Recoup__Customer *c = account && account->customer
                                ? account->customer : &no_customer;
    char money [MONEY_TEXT_MAX], other [MONEY_TEXT_MAX];
    printf ("statement for %s (%s) as of %s\n", c->ref, c->name, s->as_of);
    printf ("  terms %s, currency %s", c->terms, c->currency);
    if (*c->email)
        printf (", email %s", c->email);
    if (*c->phone)
        printf (", phone %s", c->phone);
    printf ("\n");
    if (*c->address) {
        printf ("  ");
        for (const char *p = c->address; *p; p++) {
            putchar (*p);
            if (*p == '\n')
                fputs ("  ", stdout);
        }
        printf ("\n");
    }

    printf ("\nopen items as of %s\n", s->as_of);
    if (s->n_open_invoices == 0)
        printf ("none\n");
    else
        printf ("%-20s %-10s  %-10s  %9s %14s %14s  %s\n", "NUMBER", "ISSUED", "DUE",
                "DAYS LATE", "ORIGINAL", "BALANCE", "CUR");
    for (size_t i = 0; i < s->n_open_invoices; i++) {
        const Recoup__Invoice *inv = s->open_invoices [i];
        int32_t late = s_days_between (inv->due, s->as_of);
        printf ("%-20s %-10s  %-10s  %9" PRId32 " %14s %14s  %s\n", inv->number,
                inv->issued, inv->due, late > 0 ? late : 0,
                s_money (money, inv->amount_minor, inv->currency),
                s_money (other, inv->balance_minor, inv->currency), inv->currency);
    }

    if (account && account->n_aging) {
        printf ("\naging\n");
        s_print_aging_head ("CURRENCY", 12);
        for (size_t i = 0; i < account->n_aging; i++)
            s_print_aging (account->aging [i], "", 12);
    }

    printf ("\npayments received %s to %s\n", s->from, s->as_of);
    if (s->n_payments == 0)
        printf ("none\n");
    else
        printf ("%-10s  %-20s %-16s %14s %14s  %-3s  %s\n", "RECEIVED", "REFERENCE",
                "METHOD", "AMOUNT", "UNAPPLIED", "CUR", "APPLIED TO");
    for (size_t i = 0; i < s->n_payments; i++) {
        const Recoup__Payment *p = s->payments [i];
        printf ("%-10s  %-20s %-16s %14s %14s  %-3s", p->received, p->reference,
                p->method, s_money (money, p->amount_minor, p->currency),
                s_money (other, p->unapplied_minor, p->currency), p->currency);
        for (size_t a = 0; a < p->n_allocations; a++)
            printf ("%s%s %s", a ? ", " : "  ", p->allocations [a]->invoice,
                    s_money (money, p->allocations [a]->amount_minor, p->currency));
        printf ("\n");
    }

    printf ("\nactivity %s to %s\n", s->from, s->as_of);
    if (s->n_activity == 0)
        printf ("none\n");
    else
        printf ("%-10s  %-12s %-20s %14s  %-3s  %s\n", "DATE", "KIND", "INVOICE",
                "AMOUNT", "CUR", "DETAIL");
    for (size_t i = 0; i < s->n_activity; i++) {
        const Recoup__Entry *e = s->activity [i];
        printf ("%-10s  %-12s %-20s %14s  %-3s", e->on_date, e->kind, e->invoice,
                s_money (money, e->amount_minor, e->currency), e->currency);
        const char *sep = "  ";
        if (*e->payment) {
            printf ("%spayment %s", sep, e->payment);
            sep = ", ";
        }
        if (e->reverses) {
            printf ("%sreverses entry %" PRIu64, sep, e->reverses);
            sep = ", ";
        }
        if (*e->memo)
            printf ("%s%s", sep, e->memo);
        printf ("\n");
    }

    printf ("\nunapplied cash as of %s:", s->as_of);
    if (!account || account->n_unapplied == 0)
        printf (" none");
    for (size_t i = 0; account && i < account->n_unapplied; i++)
        printf ("%s %s %s", i ? "," : "",
                s_money (money, account->unapplied [i]->amount_minor,
                         account->unapplied [i]->currency),
                account->unapplied [i]->currency);
    printf ("\n");
}

static int
s_statement (cli_t *cli, int argc, char **argv)
{
    s_options_t options;
    if (s_parse (argc, argv, 1, &options) != 0)
        return EXIT_USAGE;
    Recoup__ReportStatementRequest statement = RECOUP__REPORT_STATEMENT_REQUEST__INIT;
    statement.customer = (char *) options.customer;
    statement.as_of = (char *) (options.as_of ? options.as_of : "");
    statement.from = (char *) (options.from ? options.from : "");
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_REPORT_STATEMENT;
    request.report_statement = &statement;
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Reply *reply = cli_call (cli, &request,
                                     RECOUP__REPLY__RESULT_REPORT_STATEMENT, &rc);
    if (reply) {
        if (cli->json)
            cli_print_json (&reply->report_statement->base);
        else
            s_print_statement (reply->report_statement);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

int
cmd_report (cli_t *cli, int argc, char **argv)
{
    if (argc >= 2 && strcmp (argv [1], "aging") == 0)
        return s_aging (cli, argc - 1, argv + 1);
    if (argc >= 2 && strcmp (argv [1], "statement") == 0)
        return s_statement (cli, argc - 1, argv + 1);
    cli_fail ("usage: recoup report aging [--as-of DATE] [--by-customer] "
              "[--customer REF]\n"
              "       recoup report statement REF [--as-of DATE] [--from DATE]");
    return EXIT_USAGE;
}
