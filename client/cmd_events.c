/*  cmd_events: `recoup tail`, the live event stream on a terminal or in
    a pipe, one event per line, gaps recovered by the sync agent. Each
    kind of body is printed the way a person reads it: users, notes,
    customers, invoices, payments with their allocations, ledger entries,
    accounts (open items, overdue, unapplied cash, and the collection
    state: stage, hold, cash-only, what is pending or open) and imports.
    With --json each event is the Event as JSON: an account's
    `collection` object included.                                        */
#include "cli.h"
#include "../common/money.h"
#include "../common/sync.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_stop = 1;
}

typedef struct {
    int json;                   //  one JSON object per line
    long long printed;          //  events printed
    long long limit;            //  stop after this many (-1: never)
} tail_t;

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

static const char *
s_import_kind (Recoup__ImportKind kind)
{
    switch (kind) {
        case RECOUP__IMPORT_KIND__IMPORT_CUSTOMERS: return "customers";
        case RECOUP__IMPORT_KIND__IMPORT_INVOICES: return "invoices";
        case RECOUP__IMPORT_KIND__IMPORT_PAYMENTS: return "payments";
        default: return "?";
    }
}

//  An account's collection state, on the account's line: "; stage
//  first_call, 12 days past due, on hold, cash only, reason slow; 1
//  promise pending, 0 disputes open, 2 flags open".
static void
s_print_collection (const Recoup__AccountCollection *c)
{
    printf ("; ");
    if (*c->stage)
        printf ("stage %s, ", c->stage);
    if (c->days_past_due > 0)
        printf ("%d day%s past due", c->days_past_due, c->days_past_due == 1 ? "" : "s");
    else
        printf ("nothing past due");
    if (c->on_hold)
        printf (", on hold");
    if (c->cash_only)
        printf (", cash only");
    if (*c->reason)
        printf (", reason %s", c->reason);
    printf ("; %zu promise%s pending, %zu dispute%s open, %zu flag%s open",
            c->n_promises, c->n_promises == 1 ? "" : "s",
            c->n_disputes, c->n_disputes == 1 ? "" : "s",
            c->n_flags, c->n_flags == 1 ? "" : "s");
}

//  The rest of the line for the ledger's events (customer, invoice,
//  payment, entry, account, import).
static void
s_print_ledger_body (const Recoup__Event *event)
{
    char m [2][MONEY_TEXT_MAX + 8];
    switch (event->body_case) {
    case RECOUP__EVENT__BODY_CUSTOMER:
        if (event->customer) {
            const Recoup__Customer *c = event->customer;
            printf (": %s %s (%s, %s", c->ref, c->name, c->currency, c->terms);
            if (c->credit_limit_minor)
                printf (", limit %s", s_money (c->credit_limit_minor, c->currency, m [0]));
            if (*c->sales_rep)
                printf (", rep %s", c->sales_rep);
            if (*c->collector)
                printf (", collector %s", c->collector);
            printf (")");
        }
        break;
    case RECOUP__EVENT__BODY_INVOICE:
        if (event->invoice) {
            const Recoup__Invoice *i = event->invoice;
            printf (": %s to %s, %s, issued %s, due %s", i->number, i->customer,
                    s_money (i->amount_minor, i->currency, m [0]), i->issued, i->due);
        }
        break;
    case RECOUP__EVENT__BODY_PAYMENT:
        if (event->payment) {
            const Recoup__Payment *p = event->payment;
            printf (": %s from %s, %s received %s", p->reference, p->customer,
                    s_money (p->amount_minor, p->currency, m [0]), p->received);
            for (size_t k = 0; k < p->n_allocations; k++) {
                money_format (p->allocations [k]->amount_minor, p->currency,
                              m [1], MONEY_TEXT_MAX);
                printf ("%s%s %s", k ? ", " : "; applied ",
                        p->allocations [k]->invoice, m [1]);
            }
            printf ("; unapplied %s", s_money (p->unapplied_minor, p->currency, m [0]));
        }
        break;
    case RECOUP__EVENT__BODY_ENTRY:
        if (event->entry) {
            const Recoup__Entry *e = event->entry;
            printf (": entry %" PRIu64 " %s on %s (%s), %s%s on %s", e->id, e->kind,
                    e->invoice, e->customer, e->amount_minor > 0 ? "+" : "",
                    s_money (e->amount_minor, e->currency, m [0]), e->on_date);
            if (e->reverses)
                printf (", reverses entry %" PRIu64, e->reverses);
            if (*e->payment)
                printf (", payment %s", e->payment);
            if (*e->memo) {
                //  One line per event: a memo's line breaks become " / ".
                printf (": ");
                for (const char *p = e->memo; *p; p++)
                    if (*p == '\n')
                        fputs (" / ", stdout);
                    else
                        putchar (*p);
            }
        }
        break;
    case RECOUP__EVENT__BODY_ACCOUNT:
        if (event->account && event->account->customer) {
            const Recoup__Account *a = event->account;
            printf (": %s as of %s:", a->customer->ref, a->as_of);
            if (a->n_aging == 0)
                printf (" nothing open");
            for (size_t k = 0; k < a->n_aging; k++) {
                const Recoup__Aging *g = a->aging [k];
                const Recoup__AgingBucket *late [5] = {
                    g->d1_30, g->d31_60, g->d61_90, g->d91_120, g->over_120
                };
                int64_t overdue = 0;
                for (int b = 0; b < 5; b++)
                    overdue += late [b] ? late [b]->amount_minor : 0;
                printf ("%s %u open, %s", k ? ";" : "", g->open_count,
                        s_money (g->total_minor, g->currency, m [0]));
                if (overdue)
                    printf (" (%s overdue)", s_money (overdue, g->currency, m [1]));
            }
            for (size_t k = 0; k < a->n_unapplied; k++)
                printf ("%s%s", k ? ", " : "; unapplied ",
                        s_money (a->unapplied [k]->amount_minor,
                                 a->unapplied [k]->currency, m [0]));
            if (a->collection)
                s_print_collection (a->collection);
        }
        break;
    case RECOUP__EVENT__BODY_IMPORT_SUMMARY:
        if (event->import_summary) {
            const Recoup__ImportSummary *s = event->import_summary;
            printf (": %s %s, %u rows: %u new, %u updated, %u unchanged, "
                    "%u rejected", s_import_kind (s->kind),
                    *s->file_name ? s->file_name : s->import_id, s->rows,
                    s->inserted, s->updated, s->unchanged, s->rejected);
            if (s->customers_created)
                printf (", %u customers created", s->customers_created);
            for (size_t k = 0; k < s->n_totals; k++)
                printf ("%s%s", k ? ", " : "; ",
                        s_money (s->totals [k]->amount_minor,
                                 s->totals [k]->currency, m [0]));
            if (!s->applied)
                printf (" (not applied)");
        }
        break;
    default:
        break;
    }
}

//  One event, one line.
static void
s_print_event (void *arg, const Recoup__Event *event)
{
    tail_t *tail = arg;
    if (tail->limit >= 0 && tail->printed >= tail->limit)
        return;
    tail->printed++;
    if (tail->json) {
        cli_print_json (&event->base);
        return;
    }
    char at [40];
    wire_format_time (event->at_us, at, sizeof at);
    printf ("#%" PRIu64 " %s %s by %s", event->seq, at, event->kind,
            *event->actor ? event->actor : "recoupd");
    if (event->body_case == RECOUP__EVENT__BODY_USER && event->user->user) {
        const Recoup__User *user = event->user->user;
        printf (": %s (%s)%s", user->name, wire_role_name (user->role),
                user->active ? "" : " revoked");
    }
    else if (event->body_case == RECOUP__EVENT__BODY_NOTE) {
        const Recoup__Note *note = event->note;
        printf (": %s%s%s", note->subject, *note->subject ? ": " : "",
                note->text);
    }
    else
        s_print_ledger_body (event);
    printf ("\n");
    fflush (stdout);
}

int
cmd_tail (cli_t *cli, int argc, char **argv)
{
    const char *from = NULL, *state = NULL, *count_text = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp (argv [i], "--from") == 0)
            from = argv [++i];
        else if (i + 1 < argc && strcmp (argv [i], "--state") == 0)
            state = argv [++i];
        else if (i + 1 < argc && strcmp (argv [i], "--count") == 0)
            count_text = argv [++i];
        else {
            cli_fail ("usage: recoup tail [--json] [--from SEQ] [--state FILE] "
                      "[--count N]");
            return EXIT_USAGE;
        }
    }
    uint64_t from_seq = 0;
    if (from) {
        char *end;
        from_seq = strtoull (from, &end, 10);
        if (*end || *from == '-' || from_seq == 0) {
            cli_fail ("--from wants a sequence number of 1 or more, got '%s'", from);
            return EXIT_USAGE;
        }
    }
    long long count = -1;
    if (count_text) {
        char *end;
        count = strtoll (count_text, &end, 10);
        if (*end || count <= 0) {
            cli_fail ("--count wants a positive number, got '%s'", count_text);
            return EXIT_USAGE;
        }
    }
    int rc = cli_load_identity (cli);
    if (rc != 0)
        return rc;
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);

    void *ctx = zmq_ctx_new ();
    char err [1024];
    tail_t tail = { .json = cli->json, .printed = 0, .limit = -1 };
    sync_t *sync = sync_new (ctx, &cli->identity, err, sizeof err);
    if (!sync) {
        cli_fail ("%s", err);
        rc = EXIT_UNREACHABLE;
        goto done;
    }
    tail.limit = count;
    sync_set_handlers (sync, NULL, s_print_event, &tail);
    if (state)
        sync_set_state_file (sync, state);
    if (sync_start (sync, from ? SYNC_FROM_SEQ : SYNC_FROM_NOW,
                    from ? from_seq - 1 : 0, err, sizeof err) != 0) {
        cli_fail ("%s", err);
        rc = strstr (err, "PERMISSION") ? EXIT_REFUSED : EXIT_UNREACHABLE;
        goto done;
    }
    while (!s_stop && (count < 0 || tail.printed < count)) {
        if (sync_poll (sync, 500, err, sizeof err) < 0) {
            if (s_stop)
                break;
            cli_fail ("%s", err);
            rc = EXIT_UNREACHABLE;
            break;
        }
    }
done:
    sync_destroy (&sync);
    zmq_ctx_term (ctx);
    identity_wipe (&cli->identity);
    return rc;
}
