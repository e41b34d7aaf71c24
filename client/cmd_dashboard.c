/*  cmd_dashboard: `recoup dashboard`, the live view of the late accounts
    for the collections lead (every account) and the sales reps (--rep
    USER, --mine: the accounts of their own customers).

    The view is a local copy of every customer's Account: balances and
    aging per currency, and its collection state (stage, days past due,
    hold, cash-only, reason, pending promises, open disputes, sales flags
    not acknowledged), kept in step with the server by the sync agent (a
    snapshot, then every event in order, gaps replayed: common/sync.h).
    Each account.changed replaces the customer's copy. A few other kinds
    (flags, disputes, promises, holds, engine actions and runs, payments)
    go into a short list of recent events, seeded from the last events of
    the history so that a fresh view shows what happened lately.

    The same state is drawn three ways: a full-screen ncurses display that
    follows the stream (the default on a terminal), plain-text or JSON
    frames printed each time the view changes (--plain, or when stdout is
    not a terminal: a second screen, a log, the tests), and one frame from
    the snapshot (--once: the morning summary). Money stays in integer
    minor units beside its currency; totals are kept per currency and never
    added across currencies.

    Accounts are held in an open-addressing hash table keyed by customer
    ref; a frame walks it once (totals, late rows) and sorts the late rows,
    which stays well under a millisecond per thousand customers.          */
#include "args.h"
#include "cli.h"
#include "../common/money.h"
#include "../common/sync.h"

#include <assert.h>
#include <curses.h>
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define USAGE \
    "usage: recoup dashboard [--rep USER | --mine] [--currency C] [--once] [--plain]\n" \
    "                        [--json] [--limit N] [--sort past-due|days|stage]\n" \
    "  --rep USER   only the accounts of USER's customers (their sales rep)\n" \
    "  --mine       only the accounts of your own customers\n" \
    "  --currency C only amounts in currency C\n" \
    "  --once       print the view once from a snapshot and exit\n" \
    "  --plain      no full screen: print a new frame each time the view changes\n" \
    "  --json       frames as JSON objects, one per line\n" \
    "  --limit N    list at most N late accounts\n" \
    "  --sort S     late accounts by past due (the default), days past due, or stage\n" \
    "keys (full screen): q quit, arrows/PgUp/PgDn scroll, r only the rep's / all,\n" \
    "s sort by past due, days past due, stage\n"

#define DASH_BUCKETS 6          //  current, 1-30, 31-60, 61-90, 91-120, 120+
#define DASH_EVENTS 64          //  recent events kept
#define DASH_SHOWN 10           //  recent events shown
#define DASH_HISTORY 1000       //  events of the history read at a time for them
#define DASH_HISTORY_WINDOWS 8  //  at most this many times
#define DASH_HISTORY_PAGES 16   //  replies per window (each at most 2 MB)
#define DASH_POLL_MS 100        //  longest wait for events between key reads

static const char *s_bucket_text [DASH_BUCKETS] = {
    "current", "1-30", "31-60", "61-90", "91-120", "120+"
};
//  As `report aging --json` names them.
static const char *s_bucket_json [DASH_BUCKETS] = {
    "current", "1-30", "31-60", "61-90", "91-120", "over-120"
};

typedef enum { DASH_SORT_PAST_DUE, DASH_SORT_DAYS, DASH_SORT_STAGE, DASH_SORTS } dash_sort_t;
static const char *s_sort_name [DASH_SORTS] = { "past due", "days past due", "stage" };

static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_stop = 1;
}

//  ---------------------------------------------------------------------
//  The view's state

//  One currency of an account's aging.
typedef struct {
    char currency [4];                  //  ISO 4217 code
    uint32_t open_count;                //  open invoices
    int64_t open_minor;                 //  open balance
    uint32_t count [DASH_BUCKETS];      //  invoices per bucket, current first
    int64_t minor [DASH_BUCKETS];       //  amount per bucket
    int64_t past_due_minor;             //  the five late buckets together
} dash_aging_t;

//  An amount with its currency (a pending promise; a dispute's currency).
typedef struct {
    char currency [4];                  //  ISO 4217 code
    int64_t minor;                      //  promised amount; 0 for disputes
} dash_amount_t;

//  A customer's account as the view keeps it: what the Account carried,
//  in plain fields. Strings are owned and never NULL.
typedef struct {
    char *ref;                  //  customer ref: the key
    char *name;                 //  customer name
    char *sales_rep;            //  the customer's rep, or ""
    dash_aging_t *aging;        //  one per currency with open invoices
    size_t n_aging;             //  entries in aging
    char *stage;                //  latest policy step reached, or ""
    int days_past_due;          //  of the oldest open, non-disputed invoice
    int on_hold;                //  credit hold
    char *hold_reason;          //  why, or ""
    int cash_only;              //  new orders only against payment
    char *reason;               //  why the customer does not pay, or ""
    dash_amount_t *promises;    //  pending promises
    size_t n_promises;          //  entries in promises
    dash_amount_t *disputes;    //  open disputes (currency only)
    size_t n_disputes;          //  entries in disputes
    size_t n_flags;             //  sales flags not acknowledged
    char *flag_text;            //  the oldest one: "late INV-1001", or ""
    char *flag_rep;             //  its rep, or ""
    char flag_raised [16];      //  its raised_on, YYYY-MM-DD
    int flag_days;              //  days it has been open
    int fresh_flag;             //  a flag was raised for the viewed rep while watching
} dash_account_t;

//  The accounts by ref: open addressing, linear probing.
typedef struct {
    dash_account_t **slots;     //  NULL = empty
    size_t cap;                 //  a power of two, or 0 before the first put
    size_t count;               //  accounts held
} dash_store_t;

//  A recent event, for people.
typedef struct {
    uint64_t seq;               //  the event's
    int64_t at_us;              //  when it happened
    char rep [64];              //  the customer's sales rep then ("" none)
    char text [256];            //  what happened, one line
    int fresh;                  //  a flag for the viewed rep, raised while watching
    char due [72];              //  action.due: the customer ref, else ""
    unsigned more;              //  action.due: later steps folded into this line
} dash_line_t;

//  One row of the late accounts table: an account's currency with
//  something past due.
typedef struct {
    const dash_account_t *account;  //  borrowed from the store
    const dash_aging_t *aging;      //  the currency, borrowed
    int stage_rank;                 //  the stage's position in the policy, -1 unknown
    int oldest;                     //  highest non-empty late bucket (1..5)
} dash_row_t;

//  Totals of one currency over the accounts in view.
typedef struct {
    char currency [4];                  //  ISO 4217 code
    uint32_t open_count;                //  open invoices
    int64_t open_minor;                 //  open balance
    uint32_t count [DASH_BUCKETS];      //  invoices per bucket
    int64_t minor [DASH_BUCKETS];       //  amount per bucket
    int64_t past_due_minor;             //  the late buckets
    uint32_t accounts_open;             //  accounts with something open
    uint32_t accounts_late;             //  of which with something past due
    uint32_t on_hold;                   //  of which on hold
    uint32_t cash_only;                 //  of which cash-only
    uint32_t promises;                  //  pending promises in this currency
    int64_t promised_minor;             //  their amount
    uint32_t disputes;                  //  open disputes on invoices in it
    int overflow;                       //  a sum went past int64 (shown, never wrapped)
} dash_total_t;

//  What one frame shows, computed from the state.
typedef struct {
    dash_total_t *totals;       //  by currency code
    size_t n_totals;            //  entries in totals
    dash_row_t *rows;           //  late rows, sorted
    size_t n_rows;              //  entries in rows
    size_t cap_rows;            //  allocated
    uint32_t accounts;          //  accounts in view
    uint32_t late;              //  with something past due
    uint32_t on_hold;           //  on hold
    uint32_t cash_only;         //  cash-only
    uint32_t promises;          //  pending promises
    uint32_t disputes;          //  open disputes
    uint32_t flags;             //  flags not acknowledged
    const dash_account_t *oldest_flag;  //  the account with the oldest of them
    int failed;                 //  out of memory: the frame is incomplete
} dash_view_t;

//  The dashboard: options, the state, and where the stream stands.
typedef struct {
    char rep [64];              //  the rep whose customers are shown, or ""
    int rep_only;               //  show only rep's customers (r toggles)
    char watch [64];            //  whose new flags ring and stand out, or ""
    char user [64];             //  who we are (status)
    Recoup__Role role;          //  our role
    char currency [4];          //  only this currency, or ""
    dash_sort_t sort;           //  order of the late accounts
    long limit;                 //  most late accounts listed (0: all)
    int json;                   //  JSON frames
    int live;                   //  following the stream (not --once)
    dash_store_t store;         //  the accounts
    char as_of [16];            //  business date the aging is for
    char **stages;              //  the policy's step names, in order
    size_t n_stages;            //  entries in stages
    dash_line_t lines [DASH_EVENTS];    //  recent events, a ring
    size_t n_lines;             //  events ever noted (the ring holds the last)
    uint64_t seq;               //  last event applied (mirrors the sync agent)
    uint64_t head;              //  last event the server announced
    uint64_t gaps;              //  gaps repaired, over every agent
    uint64_t gaps_before;       //  of them, by the agents before this one
    int redate;                 //  the business date moved: take a new snapshot
    int bells;                  //  new flags for the viewed rep since the last draw
    int failed;                 //  out of memory while applying
    long scroll;                //  first late row shown (full screen)
    int page;                   //  late rows that fit (full screen)
} dash_t;

//  strdup that never returns NULL for a NULL input ("" instead); NULL
//  only when out of memory.
static char *
s_dup (const char *text)
{
    return strdup (text ? text : "");
}

static void
s_account_destroy (dash_account_t **self_p)
{
    dash_account_t *self = *self_p;
    if (!self)
        return;
    free (self->ref);
    free (self->name);
    free (self->sales_rep);
    free (self->aging);
    free (self->stage);
    free (self->hold_reason);
    free (self->reason);
    free (self->promises);
    free (self->disputes);
    free (self->flag_text);
    free (self->flag_rep);
    free (self);
    *self_p = NULL;
}

//  *sum += value, same currency. On int64 overflow the sum stays as it
//  was and *overflow is set.
static void
s_add (int64_t *sum, int64_t value, int *overflow)
{
    if (money_add (*sum, value, sum) != 0)
        *overflow = 1;
}

//  A new account from an Account (borrowed). Returns NULL when the
//  Account has no customer, or out of memory.
static dash_account_t *
s_account_new (const Recoup__Account *from)
{
    if (!from->customer || !from->customer->ref || !*from->customer->ref)
        return NULL;
    const Recoup__Customer *customer = from->customer;
    const Recoup__AccountCollection *collection = from->collection;
    dash_account_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ref = s_dup (customer->ref);
    self->name = s_dup (customer->name);
    self->sales_rep = s_dup (customer->sales_rep);
    self->stage = s_dup (collection ? collection->stage : "");
    self->hold_reason = s_dup (collection ? collection->hold_reason : "");
    self->reason = s_dup (collection ? collection->reason : "");
    if (from->n_aging)
        self->aging = calloc (from->n_aging, sizeof *self->aging);
    if (!self->ref || !self->name || !self->sales_rep || !self->stage
        || !self->hold_reason || !self->reason || (from->n_aging && !self->aging))
        goto failed;
    self->n_aging = from->n_aging;
    for (size_t i = 0; i < from->n_aging; i++) {
        const Recoup__Aging *g = from->aging [i];
        dash_aging_t *a = &self->aging [i];
        const Recoup__AgingBucket *buckets [DASH_BUCKETS] = {
            g->current, g->d1_30, g->d31_60, g->d61_90, g->d91_120, g->over_120
        };
        snprintf (a->currency, sizeof a->currency, "%s", g->currency ? g->currency : "");
        a->open_count = g->open_count;
        a->open_minor = g->total_minor;
        int overflow = 0;
        for (int b = 0; b < DASH_BUCKETS; b++) {
            a->count [b] = buckets [b] ? buckets [b]->count : 0;
            a->minor [b] = buckets [b] ? buckets [b]->amount_minor : 0;
            if (b > 0)
                s_add (&a->past_due_minor, a->minor [b], &overflow);
        }
        if (overflow)
            a->past_due_minor = INT64_MAX;      //  shown as it is: far too much
    }
    if (!collection) {
        self->flag_text = s_dup ("");
        self->flag_rep = s_dup ("");
        if (!self->flag_text || !self->flag_rep)
            goto failed;
        return self;
    }
    self->days_past_due = collection->days_past_due;
    self->on_hold = collection->on_hold;
    self->cash_only = collection->cash_only;
    if (collection->n_promises) {
        self->promises = calloc (collection->n_promises, sizeof *self->promises);
        if (!self->promises)
            goto failed;
        for (size_t i = 0; i < collection->n_promises; i++) {
            const Recoup__Promise *p = collection->promises [i];
            snprintf (self->promises [i].currency, 4, "%s", p->currency ? p->currency : "");
            self->promises [i].minor = p->amount_minor;
        }
        self->n_promises = collection->n_promises;
    }
    if (collection->n_disputes) {
        self->disputes = calloc (collection->n_disputes, sizeof *self->disputes);
        if (!self->disputes)
            goto failed;
        for (size_t i = 0; i < collection->n_disputes; i++) {
            const Recoup__Dispute *d = collection->disputes [i];
            snprintf (self->disputes [i].currency, 4, "%s", d->currency ? d->currency : "");
        }
        self->n_disputes = collection->n_disputes;
    }
    //  The oldest open flag: raised first (ISO dates compare as text),
    //  then the lowest id.
    const Recoup__SalesFlag *oldest = NULL;
    for (size_t i = 0; i < collection->n_flags; i++) {
        const Recoup__SalesFlag *f = collection->flags [i];
        if (!oldest || strcmp (f->raised_on, oldest->raised_on) < 0
            || (strcmp (f->raised_on, oldest->raised_on) == 0 && f->id < oldest->id))
            oldest = f;
    }
    self->n_flags = collection->n_flags;
    char text [256] = "";
    if (oldest) {
        snprintf (text, sizeof text, "%s%s%s", oldest->kind, *oldest->subject ? " " : "",
                  oldest->subject);
        snprintf (self->flag_raised, sizeof self->flag_raised, "%s", oldest->raised_on);
        self->flag_days = oldest->days_open;
    }
    self->flag_text = s_dup (text);
    self->flag_rep = s_dup (oldest ? oldest->rep : "");
    if (!self->flag_text || !self->flag_rep)
        goto failed;
    return self;
failed:
    s_account_destroy (&self);
    return NULL;
}

//  FNV-1a: short keys, good enough spread for refs.
static uint64_t
s_hash (const char *text)
{
    uint64_t hash = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        hash = (hash ^ *p) * 1099511628211ULL;
    return hash;
}

//  The account of customer `ref`, or NULL.
static dash_account_t *
s_store_find (const dash_store_t *self, const char *ref)
{
    if (!self->cap)
        return NULL;
    size_t mask = self->cap - 1;
    for (size_t i = s_hash (ref) & mask; self->slots [i]; i = (i + 1) & mask)
        if (strcmp (self->slots [i]->ref, ref) == 0)
            return self->slots [i];
    return NULL;
}

//  Places an account in a table known to have room and no such ref.
static void
s_store_place (dash_account_t **slots, size_t cap, dash_account_t *account)
{
    size_t mask = cap - 1;
    size_t i = s_hash (account->ref) & mask;
    while (slots [i])
        i = (i + 1) & mask;
    slots [i] = account;
}

//  Takes `account`, in place of the one with the same ref (destroyed).
//  Returns 0, or -1 when out of memory (the account is destroyed, the
//  store keeps what it had).
static int
s_store_put (dash_store_t *self, dash_account_t *account)
{
    assert (account && account->ref);
    if (self->cap) {
        size_t mask = self->cap - 1;
        for (size_t i = s_hash (account->ref) & mask; self->slots [i]; i = (i + 1) & mask)
            if (strcmp (self->slots [i]->ref, account->ref) == 0) {
                //  Keep what only the view knows across the replacement.
                account->fresh_flag = self->slots [i]->fresh_flag && account->n_flags;
                s_account_destroy (&self->slots [i]);
                self->slots [i] = account;
                return 0;
            }
    }
    //  At most 70% full, so that probes stay short.
    if ((self->count + 1) * 10 > self->cap * 7) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        dash_account_t **slots = calloc (cap, sizeof *slots);
        if (!slots) {
            s_account_destroy (&account);
            return -1;
        }
        for (size_t i = 0; i < self->cap; i++)
            if (self->slots [i])
                s_store_place (slots, cap, self->slots [i]);
        free (self->slots);
        self->slots = slots;
        self->cap = cap;
    }
    s_store_place (self->slots, self->cap, account);
    self->count++;
    return 0;
}

//  Destroys every account; the store is empty and usable.
static void
s_store_clear (dash_store_t *self)
{
    for (size_t i = 0; i < self->cap; i++)
        s_account_destroy (&self->slots [i]);
    free (self->slots);
    self->slots = NULL;
    self->cap = self->count = 0;
}

//  Replaces the policy's step order (for sorting by stage).
static void
s_set_stages (dash_t *dash, const Recoup__Policy *policy)
{
    for (size_t i = 0; i < dash->n_stages; i++)
        free (dash->stages [i]);
    free (dash->stages);
    dash->stages = NULL;
    dash->n_stages = 0;
    if (!policy || !policy->n_steps)
        return;
    dash->stages = calloc (policy->n_steps, sizeof *dash->stages);
    if (!dash->stages)
        return;                 //  stages sort by name then
    for (size_t i = 0; i < policy->n_steps; i++)
        if ((dash->stages [dash->n_stages] = s_dup (policy->steps [i]->name)))
            dash->n_stages++;
}

//  The position of a stage in the policy (later steps higher), -1 when
//  it has none or the policy does not name it.
static int
s_stage_rank (const dash_t *dash, const char *stage)
{
    for (size_t i = 0; *stage && i < dash->n_stages; i++)
        if (strcmp (dash->stages [i], stage) == 0)
            return (int) i;
    return -1;
}

//  ---------------------------------------------------------------------
//  Money and text helpers

//  "1234567.89" as "1,234,567.89" into buf [MONEY_GROUPED_MAX].
static const char *
s_money (int64_t minor, const char *currency, char *buf)
{
    money_format_grouped (minor, currency, buf, MONEY_GROUPED_MAX);
    return buf;
}

//  part / whole in units of 1/scale of a percent (scale 10: tenths,
//  100: hundredths), rounded half away from zero, clamped to +-9999999.
//  Returns 0, or -1 when whole is not above zero (no percentage).
//  Integer arithmetic, 128 bits against overflow.
static int
s_ratio (int64_t part, int64_t whole, int scale, long *out)
{
    if (whole <= 0)
        return -1;
    __int128 scaled = (__int128) part * 100 * scale;
    scaled = scaled < 0 ? (scaled - whole / 2) / whole : (scaled + whole / 2) / whole;
    *out = scaled > 9999999 ? 9999999 : scaled < -9999999 ? -9999999 : (long) scaled;
    return 0;
}

//  The ratio with `decimals` (1 or 2) decimals: "12.3" into buf [48], or
//  NULL when there is none.
static const char *
s_ratio_text (int64_t part, int64_t whole, int decimals, char *buf)
{
    long value;
    if (s_ratio (part, whole, decimals == 1 ? 10 : 100, &value) != 0)
        return NULL;
    long unit = decimals == 1 ? 10 : 100;
    long magnitude = value < 0 ? -value : value;
    snprintf (buf, 48, "%s%ld.%0*ld", value < 0 ? "-" : "", magnitude / unit, decimals,
              magnitude % unit);
    return buf;
}

//  "12.3%" (or "-") into buf [48].
static const char *
s_percent (int64_t part, int64_t whole, char *buf)
{
    if (!s_ratio_text (part, whole, 1, buf))
        snprintf (buf, 48, "-");
    else
        strcat (buf, "%");
    return buf;
}

//  Appends text in a cell of `width` characters (UTF-8 aware, one column
//  per character): cut with '~' when longer, padded with spaces (on the
//  left when `right`).
static void
s_cell (strbuf_t *out, const char *text, size_t width, int right)
{
    size_t chars = 0, bytes = 0, cut = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++, bytes++)
        if ((*p & 0xC0) != 0x80) {
            if (chars == width - 1)
                cut = bytes;            //  where the '~' goes if it is too long
            chars++;
        }
    if (chars > width) {
        strbuf_append (out, text, cut);
        strbuf_puts (out, "~");
        return;
    }
    if (right)
        for (size_t i = chars; i < width; i++)
            strbuf_puts (out, " ");
    strbuf_puts (out, text);
    if (!right)
        for (size_t i = chars; i < width; i++)
            strbuf_puts (out, " ");
}

//  When an event happened, for people: "12:03" today, else
//  "2026-02-27 12:03" (local time).
static const char *
s_when (int64_t at_us, char *buf, size_t len)
{
    time_t secs = (time_t) (at_us / 1000000), now = time (NULL);
    struct tm tm, today;
    localtime_r (&secs, &tm);
    localtime_r (&now, &today);
    if (tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday)
        strftime (buf, len, "%H:%M", &tm);
    else
        strftime (buf, len, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

//  ---------------------------------------------------------------------
//  Events

//  What a notable event says, for people, into text; *rep gets the
//  customer's rep. Returns 0 for events the recent list leaves out.
static int
s_describe (const dash_t *dash, const Recoup__Event *event, char *text, size_t len,
            const char **rep)
{
    char m [MONEY_GROUPED_MAX];
    const char *kind = event->kind;
    const char *customer = NULL;
    *rep = NULL;
    switch (event->body_case) {
    case RECOUP__EVENT__BODY_FLAG: {
        const Recoup__SalesFlag *f = event->flag;
        if (!f)
            return 0;
        const char *subject = *f->subject ? f->subject : "";
        if (strcmp (kind, "flag.raised") == 0)
            snprintf (text, len, "flag raised for %s: %s %s%s%s",
                      *f->rep ? f->rep : "the collections lead", f->customer, f->kind,
                      *subject ? " " : "", subject);
        else if (strcmp (kind, "flag.acknowledged") == 0)
            snprintf (text, len, "flag acknowledged by %s: %s %s%s%s",
                      *f->acknowledged_by ? f->acknowledged_by : "?", f->customer,
                      f->kind, *subject ? " " : "", subject);
        else
            return 0;
        *rep = f->rep;
        return 1;
    }
    case RECOUP__EVENT__BODY_DISPUTE: {
        const Recoup__Dispute *d = event->dispute;
        if (!d)
            return 0;
        if (strcmp (kind, "dispute.opened") == 0)
            snprintf (text, len, "dispute opened: %s %s: %s", d->customer, d->invoice,
                      d->reason);
        else if (strcmp (kind, "dispute.resolved") == 0)
            snprintf (text, len, "dispute resolved: %s %s (%s)", d->customer, d->invoice,
                      d->outcome);
        else
            return 0;
        customer = d->customer;
        break;
    }
    case RECOUP__EVENT__BODY_PROMISE: {
        const Recoup__Promise *p = event->promise;
        if (!p)
            return 0;
        s_money (p->amount_minor, p->currency, m);
        if (strcmp (kind, "promise.added") == 0)
            snprintf (text, len, "promise: %s to pay %s %s by %s", p->customer, m,
                      p->currency, p->by);
        else if (strcmp (kind, "promise.broken") == 0)
            snprintf (text, len, "promise broken: %s, %s %s by %s", p->customer, m,
                      p->currency, p->by);
        else if (strcmp (kind, "promise.kept") == 0)
            snprintf (text, len, "promise kept: %s, %s %s", p->customer, m, p->currency);
        else
            return 0;
        customer = p->customer;
        break;
    }
    case RECOUP__EVENT__BODY_PLAN:
        if (!event->plan || strcmp (kind, "plan.broken") != 0)
            return 0;
        snprintf (text, len, "payment plan broken: %s, instalment of %s missed",
                  event->plan->customer, event->plan->missed);
        customer = event->plan->customer;
        break;
    case RECOUP__EVENT__BODY_ACCOUNT_STATE: {
        const Recoup__AccountState *s = event->account_state;
        if (!s)
            return 0;
        if (strcmp (s->change, "hold_placed") == 0)
            snprintf (text, len, "hold placed: %s (%s)", s->customer, s->hold_reason);
        else if (strcmp (s->change, "hold_lifted") == 0)
            snprintf (text, len, "hold lifted: %s", s->customer);
        else if (strcmp (s->change, "reason") == 0)
            snprintf (text, len, "reason: %s %s", s->customer, s->reason);
        else            //  promise_broken, plan_broken: evaluation placed the hold
            snprintf (text, len, "%s%s: %s (%s)", s->on_hold ? "on hold" : "state changed",
                      s->cash_only ? ", cash only" : "", s->customer, s->change);
        *rep = s->sales_rep;
        return 1;
    }
    case RECOUP__EVENT__BODY_ACTION: {
        const Recoup__EngineAction *a = event->action;
        if (!a || strcmp (kind, "action.due") != 0)
            return 0;
        snprintf (text, len, "due: %s %s (%s%s%s)", a->customer, a->step, a->channel,
                  *a->assignee ? ", " : "", a->assignee);
        customer = a->customer;
        break;
    }
    case RECOUP__EVENT__BODY_ENGINE_RUN: {
        const Recoup__EngineRunSummary *r = event->engine_run;
        if (!r)
            return 0;
        snprintf (text, len, "engine ran for %s: %u due, %u skipped, %u queued", r->as_of,
                  r->due, r->skipped, r->queued);
        *rep = "";
        return 1;
    }
    case RECOUP__EVENT__BODY_PAYMENT: {
        const Recoup__Payment *p = event->payment;
        if (!p)
            return 0;
        snprintf (text, len, "payment: %s %s %s (%s)", p->customer,
                  s_money (p->amount_minor, p->currency, m), p->currency, p->reference);
        customer = p->customer;
        break;
    }
    default:
        return 0;
    }
    const dash_account_t *account = customer ? s_store_find (&dash->store, customer) : NULL;
    *rep = account ? account->sales_rep : "";
    return 1;
}

//  Adds a notable event to the recent list. `live`: it happened while
//  watching (a new flag for the viewed rep is highlighted, rings once).
static void
s_note_event (dash_t *dash, const Recoup__Event *event, int live)
{
    char text [256];
    const char *rep;
    if (!s_describe (dash, event, text, sizeof text, &rep))
        return;
    //  An engine run records several steps of one customer at once (a
    //  catch-up): one line for them, the latest step with a count.
    int due = event->body_case == RECOUP__EVENT__BODY_ACTION;
    if (due && dash->n_lines) {
        dash_line_t *last = &dash->lines [(dash->n_lines - 1) % DASH_EVENTS];
        if (strcmp (last->due, event->action->customer) == 0) {
            last->more++;
            last->seq = event->seq;
            last->at_us = event->at_us;
            snprintf (last->text, sizeof last->text, "%.200s (+%u earlier step%s)", text,
                      last->more, last->more == 1 ? "" : "s");
            return;
        }
    }
    dash_line_t *line = &dash->lines [dash->n_lines++ % DASH_EVENTS];
    snprintf (line->due, sizeof line->due, "%s", due ? event->action->customer : "");
    line->more = 0;
    line->seq = event->seq;
    line->at_us = event->at_us;
    snprintf (line->rep, sizeof line->rep, "%s", rep ? rep : "");
    snprintf (line->text, sizeof line->text, "%s", text);
    line->fresh = 0;
    if (live && event->body_case == RECOUP__EVENT__BODY_FLAG
        && strcmp (event->kind, "flag.raised") == 0 && *dash->watch
        && strcmp (event->flag->rep, dash->watch) == 0) {
        line->fresh = 1;
        dash->bells++;
        dash_account_t *account = s_store_find (&dash->store, event->flag->customer);
        if (account)
            account->fresh_flag = 1;
    }
}

//  The sync agent's snapshot callback: the view starts again from it.
static void
s_on_snapshot (void *arg, const Recoup__SnapshotReply *snapshot)
{
    dash_t *dash = arg;
    s_store_clear (&dash->store);
    dash->n_lines = 0;
    for (size_t i = 0; i < snapshot->n_accounts; i++) {
        const Recoup__Account *from = snapshot->accounts [i];
        dash_account_t *account = s_account_new (from);
        if (!account || s_store_put (&dash->store, account) != 0) {
            dash->failed = 1;
            continue;
        }
        if (*from->as_of && strcmp (from->as_of, dash->as_of) > 0)
            snprintf (dash->as_of, sizeof dash->as_of, "%s", from->as_of);
    }
    dash->seq = snapshot->seq;
}

//  The sync agent's event callback: every event, in order, once.
static void
s_on_event (void *arg, const Recoup__Event *event)
{
    dash_t *dash = arg;
    dash->seq = event->seq;
    if (event->body_case == RECOUP__EVENT__BODY_ACCOUNT && event->account) {
        const Recoup__Account *from = event->account;
        dash_account_t *account = s_account_new (from);
        if (account && s_store_put (&dash->store, account) != 0)
            dash->failed = 1;
        //  Aging moves with the calendar: the first account of a new
        //  business date means every other account's aging is a day old.
        if (*from->as_of && strcmp (from->as_of, dash->as_of) > 0)
            dash->redate = 1;
    }
    else if (event->body_case == RECOUP__EVENT__BODY_POLICY)
        s_set_stages (dash, event->policy);
    s_note_event (dash, event, 1);
}

//  ---------------------------------------------------------------------
//  A frame's view

static void
s_view_free (dash_view_t *view)
{
    free (view->totals);
    free (view->rows);
    memset (view, 0, sizeof *view);
}

//  The totals of `currency`, added (in code order) when new. NULL when
//  out of memory.
static dash_total_t *
s_total (dash_view_t *view, const char *currency)
{
    size_t at = 0;
    while (at < view->n_totals && strcmp (view->totals [at].currency, currency) < 0)
        at++;
    if (at < view->n_totals && strcmp (view->totals [at].currency, currency) == 0)
        return &view->totals [at];
    dash_total_t *totals = realloc (view->totals, (view->n_totals + 1) * sizeof *totals);
    if (!totals)
        return NULL;
    view->totals = totals;
    memmove (&totals [at + 1], &totals [at], (view->n_totals - at) * sizeof *totals);
    memset (&totals [at], 0, sizeof *totals);
    snprintf (totals [at].currency, sizeof totals [at].currency, "%s", currency);
    view->n_totals++;
    return &totals [at];
}

static int
s_wanted (const dash_t *dash, const char *currency)
{
    return !*dash->currency || strcmp (dash->currency, currency) == 0;
}

//  Is the account in view: the rep's customer (when only the rep's are
//  shown), with something open in the currency (when one is chosen).
static int
s_in_view (const dash_t *dash, const dash_account_t *account)
{
    if (dash->rep_only && strcmp (account->sales_rep, dash->rep) != 0)
        return 0;
    if (!*dash->currency)
        return 1;
    for (size_t i = 0; i < account->n_aging; i++)
        if (strcmp (account->aging [i].currency, dash->currency) == 0)
            return 1;
    return 0;
}

static int
s_compare_text (const dash_row_t *a, const dash_row_t *b)
{
    int diff = strcmp (a->account->ref, b->account->ref);
    return diff ? diff : strcmp (a->aging->currency, b->aging->currency);
}

//  Biggest past due first; amounts of different currencies are not
//  compared: currencies in code order, then the amounts.
static int
s_compare_past_due (const void *pa, const void *pb)
{
    const dash_row_t *a = pa, *b = pb;
    int diff = strcmp (a->aging->currency, b->aging->currency);
    if (diff)
        return diff;
    if (a->aging->past_due_minor != b->aging->past_due_minor)
        return a->aging->past_due_minor > b->aging->past_due_minor ? -1 : 1;
    return s_compare_text (a, b);
}

//  Longest late first: days past due, then the oldest bucket (the same
//  when the server sends no days), then past due.
static int
s_compare_days (const void *pa, const void *pb)
{
    const dash_row_t *a = pa, *b = pb;
    if (a->account->days_past_due != b->account->days_past_due)
        return a->account->days_past_due > b->account->days_past_due ? -1 : 1;
    if (a->oldest != b->oldest)
        return a->oldest > b->oldest ? -1 : 1;
    return s_compare_past_due (pa, pb);
}

//  Furthest along the policy first, then by stage name, then the longest late.
static int
s_compare_stage (const void *pa, const void *pb)
{
    const dash_row_t *a = pa, *b = pb;
    if (a->stage_rank != b->stage_rank)
        return a->stage_rank > b->stage_rank ? -1 : 1;
    int diff = strcmp (a->account->stage, b->account->stage);
    if (diff)
        return -diff;
    return s_compare_days (pa, pb);
}

//  Adds a late row. -1 when out of memory.
static int
s_add_row (dash_view_t *view, const dash_t *dash, const dash_account_t *account,
           const dash_aging_t *aging)
{
    if (view->n_rows == view->cap_rows) {
        size_t cap = view->cap_rows ? view->cap_rows * 2 : 64;
        dash_row_t *rows = realloc (view->rows, cap * sizeof *rows);
        if (!rows)
            return -1;
        view->rows = rows;
        view->cap_rows = cap;
    }
    dash_row_t *row = &view->rows [view->n_rows++];
    row->account = account;
    row->aging = aging;
    row->stage_rank = s_stage_rank (dash, account->stage);
    row->oldest = 0;
    for (int b = DASH_BUCKETS - 1; b > 0 && !row->oldest; b--)
        if (aging->minor [b] > 0)
            row->oldest = b;
    return 0;
}

//  Computes a frame from the state: totals per currency, the counts,
//  the late rows in the chosen order.
static void
s_view_build (const dash_t *dash, dash_view_t *view)
{
    memset (view, 0, sizeof *view);
    for (size_t slot = 0; slot < dash->store.cap; slot++) {
        const dash_account_t *a = dash->store.slots [slot];
        if (!a || !s_in_view (dash, a))
            continue;
        view->accounts++;
        int late = 0;
        for (size_t i = 0; i < a->n_aging; i++) {
            const dash_aging_t *g = &a->aging [i];
            if (!s_wanted (dash, g->currency))
                continue;
            dash_total_t *t = s_total (view, g->currency);
            if (!t) {
                view->failed = 1;
                return;
            }
            t->open_count += g->open_count;
            s_add (&t->open_minor, g->open_minor, &t->overflow);
            for (int b = 0; b < DASH_BUCKETS; b++) {
                t->count [b] += g->count [b];
                s_add (&t->minor [b], g->minor [b], &t->overflow);
            }
            s_add (&t->past_due_minor, g->past_due_minor, &t->overflow);
            t->accounts_open++;
            t->on_hold += a->on_hold != 0;
            t->cash_only += a->cash_only != 0;
            if (g->past_due_minor > 0) {
                t->accounts_late++;
                late = 1;
                if (s_add_row (view, dash, a, g) != 0) {
                    view->failed = 1;
                    return;
                }
            }
        }
        for (size_t i = 0; i < a->n_promises; i++) {
            if (!s_wanted (dash, a->promises [i].currency))
                continue;
            dash_total_t *t = s_total (view, a->promises [i].currency);
            if (!t) {
                view->failed = 1;
                return;
            }
            t->promises++;
            s_add (&t->promised_minor, a->promises [i].minor, &t->overflow);
            view->promises++;
        }
        for (size_t i = 0; i < a->n_disputes; i++) {
            if (!s_wanted (dash, a->disputes [i].currency))
                continue;
            dash_total_t *t = s_total (view, a->disputes [i].currency);
            if (!t) {
                view->failed = 1;
                return;
            }
            t->disputes++;
            view->disputes++;
        }
        view->late += late;
        view->on_hold += a->on_hold != 0;
        view->cash_only += a->cash_only != 0;
        view->flags += (uint32_t) a->n_flags;
        if (a->n_flags && (!view->oldest_flag
                           || strcmp (a->flag_raised, view->oldest_flag->flag_raised) < 0
                           || (strcmp (a->flag_raised, view->oldest_flag->flag_raised) == 0
                               && strcmp (a->ref, view->oldest_flag->ref) < 0)))
            view->oldest_flag = a;
    }
    int (*compare) (const void *, const void *) =
        dash->sort == DASH_SORT_DAYS ? s_compare_days
        : dash->sort == DASH_SORT_STAGE ? s_compare_stage : s_compare_past_due;
    if (view->n_rows)
        qsort (view->rows, view->n_rows, sizeof *view->rows, compare);
}

//  Is this recent event in view: the rep's customer's when only the
//  rep's are shown (engine runs concern everyone)?
static int
s_line_in_view (const dash_t *dash, const dash_line_t *line)
{
    return !dash->rep_only || strcmp (line->rep, dash->rep) == 0
           || strncmp (line->text, "engine ran", 10) == 0;
}

//  The recent events in view, newest last: up to `most` pointers into
//  the ring. Returns how many.
static size_t
s_recent (const dash_t *dash, const dash_line_t **out, size_t most)
{
    size_t kept = dash->n_lines < DASH_EVENTS ? dash->n_lines : DASH_EVENTS;
    size_t found = 0;
    //  Newest first, then reversed.
    for (size_t k = 0; k < kept && found < most; k++) {
        const dash_line_t *line = &dash->lines [(dash->n_lines - 1 - k) % DASH_EVENTS];
        if (s_line_in_view (dash, line))
            out [found++] = line;
    }
    for (size_t i = 0; i < found / 2; i++) {
        const dash_line_t *swap = out [i];
        out [i] = out [found - 1 - i];
        out [found - 1 - i] = swap;
    }
    return found;
}

//  ---------------------------------------------------------------------
//  Text frames

//  Where the stream stands, in words, into buf [128].
static const char *
s_connection (const dash_t *dash, char *buf)
{
    if (!dash->live)
        snprintf (buf, 128, "snapshot");
    else if (dash->head > dash->seq)
        snprintf (buf, 128, "catching up, head %" PRIu64 ", %" PRIu64 " gap%s repaired",
                  dash->head, dash->gaps, dash->gaps == 1 ? "" : "s");
    else
        snprintf (buf, 128, "live, head %" PRIu64 ", %" PRIu64 " gap%s repaired",
                  dash->head, dash->gaps, dash->gaps == 1 ? "" : "s");
    return buf;
}

//  The header and the totals, one line each, into out.
static void
s_text_head (const dash_t *dash, const dash_view_t *view, strbuf_t *out)
{
    char conn [128], m [2][MONEY_GROUPED_MAX], pct [48];
    strbuf_printf (out, "recoup dashboard: as of %s, seq %" PRIu64 " (%s)\n",
                   *dash->as_of ? dash->as_of : "?", dash->seq, s_connection (dash, conn));
    if (dash->rep_only)
        strbuf_printf (out, "view: %s's customers", dash->rep);
    else
        strbuf_puts (out, "view: all customers");
    strbuf_printf (out, ", %s%s, sorted by %s\n", *dash->currency ? dash->currency : "all currencies",
                   *dash->currency ? " only" : "", s_sort_name [dash->sort]);
    if (view->failed || dash->failed)
        strbuf_puts (out, "warning: out of memory, the view is incomplete\n");
    strbuf_puts (out, "\n");
    if (view->n_totals == 0)
        strbuf_puts (out, "nothing open\n");
    for (size_t i = 0; i < view->n_totals; i++) {
        const dash_total_t *t = &view->totals [i];
        strbuf_printf (out, "%s  open %s (%u invoice%s, %u account%s), past due %s (%s), "
                       "%u account%s late%s\n", t->currency,
                       s_money (t->open_minor, t->currency, m [0]), t->open_count,
                       t->open_count == 1 ? "" : "s", t->accounts_open,
                       t->accounts_open == 1 ? "" : "s",
                       s_money (t->past_due_minor, t->currency, m [1]),
                       s_percent (t->past_due_minor, t->open_minor, pct), t->accounts_late,
                       t->accounts_late == 1 ? "" : "s",
                       t->overflow ? " (a total overflowed)" : "");
        for (int b = 0; b < DASH_BUCKETS; b++) {
            strbuf_printf (out, "%s%s %s (%s)", b % 3 == 0 ? "     " : "  ", s_bucket_text [b],
                           s_money (t->minor [b], t->currency, m [0]),
                           s_percent (t->minor [b], t->open_minor, pct));
            if (b % 3 == 2)
                strbuf_puts (out, "\n");
        }
        strbuf_printf (out, "     on hold %u, cash only %u, promises pending %u (%s), "
                       "disputes open %u\n", t->on_hold, t->cash_only, t->promises,
                       s_money (t->promised_minor, t->currency, m [0]), t->disputes);
    }
    strbuf_printf (out, "accounts late %u, on hold %u, cash only %u; promises pending %u, "
                   "disputes open %u\n", view->late, view->on_hold, view->cash_only,
                   view->promises, view->disputes);
    strbuf_printf (out, "flags unacknowledged %u", view->flags);
    const dash_account_t *f = view->oldest_flag;
    if (f)
        strbuf_printf (out, ", oldest %d day%s: %s %s (%s)", f->flag_days,
                       f->flag_days == 1 ? "" : "s", f->ref, f->flag_text,
                       *f->flag_rep ? f->flag_rep : "no rep");
    strbuf_puts (out, "\n");
}

//  The late accounts table's heading line.
static void
s_text_table_head (strbuf_t *out)
{
    s_cell (out, "customer", 12, 0);
    strbuf_puts (out, " ");
    s_cell (out, "name", 22, 0);
    strbuf_puts (out, " cur ");
    s_cell (out, "past due", 14, 1);
    strbuf_puts (out, " oldest  days ");
    s_cell (out, "stage", 16, 0);
    strbuf_puts (out, " ");
    s_cell (out, "marks", 9, 0);
    strbuf_puts (out, "  P  D  F  ");
    s_cell (out, "rep", 10, 0);
    strbuf_puts (out, " reason\n");
}

//  One late row, one line.
static void
s_text_row (const dash_row_t *row, strbuf_t *out)
{
    const dash_account_t *a = row->account;
    char m [MONEY_GROUPED_MAX], text [64];
    s_cell (out, a->ref, 12, 0);
    strbuf_puts (out, " ");
    s_cell (out, a->name, 22, 0);
    strbuf_printf (out, " %-3s ", row->aging->currency);
    s_cell (out, s_money (row->aging->past_due_minor, row->aging->currency, m), 14, 1);
    strbuf_puts (out, " ");
    s_cell (out, s_bucket_text [row->oldest], 6, 0);
    snprintf (text, sizeof text, "%d", a->days_past_due);
    s_cell (out, text, 6, 1);
    strbuf_puts (out, " ");
    s_cell (out, *a->stage ? a->stage : "-", 16, 0);
    strbuf_puts (out, " ");
    snprintf (text, sizeof text, "%s%s%s", a->on_hold ? "hold" : "",
              a->on_hold && a->cash_only ? "+" : "", a->cash_only ? "cash" : "");
    s_cell (out, *text ? text : "-", 9, 0);
    strbuf_printf (out, " %2zu %2zu %2zu%s ", a->n_promises, a->n_disputes, a->n_flags,
                   a->fresh_flag ? "!" : " ");
    s_cell (out, *a->sales_rep ? a->sales_rep : "-", 10, 0);
    strbuf_printf (out, " %s\n", *a->reason ? a->reason : "-");
}

//  One recent event, one line.
static void
s_text_line (const dash_line_t *line, strbuf_t *out)
{
    char when [32];
    strbuf_printf (out, "%s%s %s\n", line->fresh ? "* " : "",
                   s_when (line->at_us, when, sizeof when), line->text);
}

//  A whole frame in text.
static void
s_text_frame (const dash_t *dash, const dash_view_t *view, strbuf_t *out)
{
    s_text_head (dash, view, out);
    size_t shown = view->n_rows;
    if (dash->limit > 0 && shown > (size_t) dash->limit)
        shown = (size_t) dash->limit;
    strbuf_printf (out, "\nlate accounts: %zu", view->n_rows);
    if (shown < view->n_rows)
        strbuf_printf (out, " (the first %zu shown)", shown);
    strbuf_puts (out, "\n");
    if (shown) {
        s_text_table_head (out);
        for (size_t i = 0; i < shown; i++)
            s_text_row (&view->rows [i], out);
    }
    const dash_line_t *lines [DASH_SHOWN];
    size_t n = s_recent (dash, lines, DASH_SHOWN);
    strbuf_printf (out, "\nrecent events:%s\n", n ? "" : " none");
    for (size_t i = 0; i < n; i++)
        s_text_line (lines [i], out);
}

//  ---------------------------------------------------------------------
//  JSON frames

static void
s_json_percent (strbuf_t *out, int64_t part, int64_t whole)
{
    char text [48];
    strbuf_puts (out, s_ratio_text (part, whole, 2, text) ? text : "null");
}

//  A whole frame as one JSON object on one line.
static void
s_json_frame (const dash_t *dash, const dash_view_t *view, strbuf_t *out)
{
    strbuf_puts (out, "{\"as_of\":");
    json_string (out, dash->as_of);
    strbuf_printf (out, ",\"seq\":%" PRIu64 ",\"head\":%" PRIu64 ",\"gaps_repaired\":%" PRIu64
                   ",\"live\":%s,\"rep\":", dash->seq, dash->head, dash->gaps,
                   dash->live ? "true" : "false");
    if (dash->rep_only)
        json_string (out, dash->rep);
    else
        strbuf_puts (out, "null");
    strbuf_puts (out, ",\"currency\":");
    if (*dash->currency)
        json_string (out, dash->currency);
    else
        strbuf_puts (out, "null");
    strbuf_puts (out, ",\"sort\":");
    json_string (out, dash->sort == DASH_SORT_DAYS ? "days_past_due"
                      : dash->sort == DASH_SORT_STAGE ? "stage" : "past_due");
    if (view->failed || dash->failed)
        strbuf_puts (out, ",\"incomplete\":true");
    strbuf_puts (out, ",\"currencies\":[");
    for (size_t i = 0; i < view->n_totals; i++) {
        const dash_total_t *t = &view->totals [i];
        strbuf_puts (out, i ? ",{\"currency\":" : "{\"currency\":");
        json_string (out, t->currency);
        strbuf_printf (out, ",\"open_minor\":%" PRId64 ",\"open_count\":%u,\"accounts_open\":%u"
                       ",\"past_due_minor\":%" PRId64 ",\"past_due_percent\":",
                       t->open_minor, t->open_count, t->accounts_open, t->past_due_minor);
        s_json_percent (out, t->past_due_minor, t->open_minor);
        strbuf_puts (out, ",\"buckets\":{");
        for (int b = 0; b < DASH_BUCKETS; b++) {
            strbuf_printf (out, "%s\"%s\":{\"count\":%u,\"amount_minor\":%" PRId64
                           ",\"percent\":", b ? "," : "", s_bucket_json [b], t->count [b],
                           t->minor [b]);
            s_json_percent (out, t->minor [b], t->open_minor);
            strbuf_puts (out, "}");
        }
        strbuf_printf (out, "},\"accounts_late\":%u,\"on_hold\":%u,\"cash_only\":%u"
                       ",\"promises_pending\":%u,\"promised_minor\":%" PRId64
                       ",\"disputes_open\":%u%s}", t->accounts_late, t->on_hold,
                       t->cash_only, t->promises, t->promised_minor, t->disputes,
                       t->overflow ? ",\"overflow\":true" : "");
    }
    strbuf_printf (out, "],\"accounts_in_view\":%u,\"accounts_late\":%u,\"on_hold\":%u"
                   ",\"cash_only\":%u,\"promises_pending\":%u,\"disputes_open\":%u"
                   ",\"flags_unacknowledged\":%u,\"oldest_flag\":", view->accounts,
                   view->late, view->on_hold, view->cash_only, view->promises,
                   view->disputes, view->flags);
    const dash_account_t *f = view->oldest_flag;
    if (f) {
        strbuf_puts (out, "{\"customer\":");
        json_string (out, f->ref);
        strbuf_puts (out, ",\"flag\":");
        json_string (out, f->flag_text);
        strbuf_puts (out, ",\"rep\":");
        json_string (out, f->flag_rep);
        strbuf_puts (out, ",\"raised_on\":");
        json_string (out, f->flag_raised);
        strbuf_printf (out, ",\"days_open\":%d}", f->flag_days);
    }
    else
        strbuf_puts (out, "null");
    size_t shown = view->n_rows;
    if (dash->limit > 0 && shown > (size_t) dash->limit)
        shown = (size_t) dash->limit;
    strbuf_printf (out, ",\"accounts_late_listed\":%zu,\"accounts\":[", shown);
    for (size_t i = 0; i < shown; i++) {
        const dash_row_t *row = &view->rows [i];
        const dash_account_t *a = row->account;
        strbuf_puts (out, i ? ",{\"customer\":" : "{\"customer\":");
        json_string (out, a->ref);
        strbuf_puts (out, ",\"name\":");
        json_string (out, a->name);
        strbuf_puts (out, ",\"sales_rep\":");
        json_string (out, a->sales_rep);
        strbuf_puts (out, ",\"currency\":");
        json_string (out, row->aging->currency);
        strbuf_printf (out, ",\"open_minor\":%" PRId64 ",\"past_due_minor\":%" PRId64
                       ",\"oldest_bucket\":\"%s\",\"days_past_due\":%d,\"stage\":",
                       row->aging->open_minor, row->aging->past_due_minor,
                       s_bucket_json [row->oldest], a->days_past_due);
        json_string (out, a->stage);
        strbuf_printf (out, ",\"on_hold\":%s,\"hold_reason\":", a->on_hold ? "true" : "false");
        json_string (out, a->hold_reason);
        strbuf_printf (out, ",\"cash_only\":%s,\"reason\":", a->cash_only ? "true" : "false");
        json_string (out, a->reason);
        strbuf_printf (out, ",\"promises\":%zu,\"disputes\":%zu,\"flags\":%zu"
                       ",\"new_flag\":%s}", a->n_promises, a->n_disputes, a->n_flags,
                       a->fresh_flag ? "true" : "false");
    }
    strbuf_puts (out, "],\"events\":[");
    const dash_line_t *lines [DASH_SHOWN];
    size_t n = s_recent (dash, lines, DASH_SHOWN);
    for (size_t i = 0; i < n; i++) {
        char at [40];
        strbuf_printf (out, "%s{\"seq\":%" PRIu64 ",\"at\":\"%s\",\"text\":", i ? "," : "",
                       lines [i]->seq, wire_format_time (lines [i]->at_us, at, sizeof at));
        json_string (out, lines [i]->text);
        strbuf_printf (out, ",\"new_flag\":%s}", lines [i]->fresh ? "true" : "false");
    }
    strbuf_puts (out, "]}\n");
}

//  The frame in the chosen form.
static void
s_frame (const dash_t *dash, strbuf_t *out)
{
    dash_view_t view;
    s_view_build (dash, &view);
    if (dash->json)
        s_json_frame (dash, &view, out);
    else
        s_text_frame (dash, &view, out);
    s_view_free (&view);
}

//  ---------------------------------------------------------------------
//  Full screen

//  Draws one line of text at row y, cut at the screen's width.
static void
s_curses_line (int y, const char *text, size_t len, int attrs)
{
    if (y < 0 || y >= LINES)
        return;
    attron (attrs);
    mvaddnstr (y, 0, text, (int) len);
    attroff (attrs);
}

//  Draws the whole screen from the state.
static void
s_curses_draw (dash_t *dash)
{
    dash_view_t view;
    s_view_build (dash, &view);
    erase ();
    strbuf_t text;
    strbuf_init (&text);
    s_text_head (dash, &view, &text);
    int y = 0;
    for (const char *line = text.data; *line; y++) {
        size_t len = strcspn (line, "\n");
        s_curses_line (y, line, len, y == 0 ? A_BOLD : 0);
        line += len + (line [len] == '\n');
    }
    const dash_line_t *lines [DASH_SHOWN];
    size_t n_lines = s_recent (dash, lines, DASH_SHOWN);
    //  Below the header: a blank line, the table's two heading lines, its
    //  rows, the recent events with their heading, the key line. The
    //  table keeps at least three rows; the events give way first.
    int room = LINES - y - 4;
    int events_room = n_lines ? (int) n_lines + 1 : 0;
    if (room - events_room < 3) {
        events_room = room - 3 > 1 ? room - 3 : 0;
        n_lines = events_room ? (size_t) events_room - 1 : 0;
    }
    int table_room = room - events_room > 0 ? room - events_room : 0;
    dash->page = table_room;
    long most = (long) view.n_rows;
    if (dash->limit > 0 && most > dash->limit)
        most = dash->limit;
    if (dash->scroll > most - table_room)
        dash->scroll = most - table_room;
    if (dash->scroll < 0)
        dash->scroll = 0;
    strbuf_reset (&text);
    strbuf_printf (&text, "late accounts: %zu", view.n_rows);
    if (most)
        strbuf_printf (&text, " (%ld-%ld)", dash->scroll + 1,
                       dash->scroll + table_room < most ? dash->scroll + table_room : most);
    s_curses_line (++y, text.data, text.len, A_BOLD);
    strbuf_reset (&text);
    s_text_table_head (&text);
    s_curses_line (++y, text.data, text.len - 1, A_UNDERLINE);
    for (long i = dash->scroll; i < most && i < dash->scroll + table_room; i++) {
        const dash_row_t *row = &view.rows [i];
        strbuf_reset (&text);
        s_text_row (row, &text);
        int attrs = row->account->fresh_flag ? A_REVERSE | A_BOLD
                  : row->oldest >= 4 || row->account->on_hold ? COLOR_PAIR (1) : 0;
        s_curses_line (++y, text.data, text.len - 1, attrs);
    }
    if (n_lines) {
        y = LINES - 2 - (int) n_lines;      //  the events end above the key line
        s_curses_line (y, "recent events:", 14, A_BOLD);
        for (size_t i = 0; i < n_lines; i++) {
            strbuf_reset (&text);
            s_text_line (lines [i], &text);
            s_curses_line (++y, text.data, text.len - 1, lines [i]->fresh ? A_REVERSE : 0);
        }
    }
    strbuf_reset (&text);
    strbuf_printf (&text, "q quit  arrows/PgUp/PgDn scroll  r %s  s sort (%s)",
                   dash->rep_only ? "all customers" : "only the rep's",
                   s_sort_name [dash->sort]);
    s_curses_line (LINES - 1, text.data, text.len, A_REVERSE);
    strbuf_free (&text);
    s_view_free (&view);
    if (dash->bells) {
        beep ();                //  once per draw, however many flags came
        dash->bells = 0;
    }
    refresh ();
}

//  Handles the keys waiting. Returns 1 when the screen must be drawn
//  again, and sets s_stop on q.
static int
s_curses_keys (dash_t *dash)
{
    int redraw = 0, key;
    while ((key = getch ()) != ERR) {
        redraw = 1;
        switch (key) {
        case 'q': case 'Q':
            s_stop = 1;
            break;
        case KEY_UP: case 'k':
            dash->scroll--;
            break;
        case KEY_DOWN: case 'j':
            dash->scroll++;
            break;
        case KEY_PPAGE:
            dash->scroll -= dash->page > 1 ? dash->page - 1 : 1;
            break;
        case KEY_NPAGE: case ' ':
            dash->scroll += dash->page > 1 ? dash->page - 1 : 1;
            break;
        case KEY_HOME:
            dash->scroll = 0;
            break;
        case KEY_END:
            dash->scroll = (long) dash->store.count;     //  clamped when drawn
            break;
        case 'r': case 'R':
            dash->rep_only = !dash->rep_only && *dash->rep;
            dash->scroll = 0;
            break;
        case 's': case 'S':
            dash->sort = (dash->sort + 1) % DASH_SORTS;
            dash->scroll = 0;
            break;
        default:                //  KEY_RESIZE among them: draw again
            break;
        }
    }
    return redraw;
}

//  ---------------------------------------------------------------------
//  The connection

//  One request on the agent's command connection. Returns the reply
//  (caller frees) or NULL with err and *exit_status.
static Recoup__Reply *
s_call (sync_t *sync, Recoup__Request *request, Recoup__Reply__ResultCase want,
        int timeout_ms, int *exit_status, char *err, size_t errlen)
{
    client_status_t status;
    Recoup__Reply *reply = client_call (sync_client (sync), request, timeout_ms, &status,
                                        err, errlen);
    if (!reply) {
        *exit_status = status == CLIENT_FAILED ? EXIT_USAGE : EXIT_UNREACHABLE;
        return NULL;
    }
    if (reply->result_case == RECOUP__REPLY__RESULT_ERROR) {
        snprintf (err, errlen, "%s: %s", wire_error_name (reply->error->code),
                  reply->error->message);
        *exit_status = reply->error->code == RECOUP__ERROR_CODE__UNAVAILABLE
                       ? EXIT_UNREACHABLE : EXIT_REFUSED;
        recoup__reply__free_unpacked (reply, NULL);
        return NULL;
    }
    if (reply->result_case != want) {
        snprintf (err, errlen, "unexpected reply from the server");
        *exit_status = EXIT_REFUSED;
        recoup__reply__free_unpacked (reply, NULL);
        return NULL;
    }
    return reply;
}

//  Who we are and the business date (status). Returns 0 or an exit status.
static int
s_status (dash_t *dash, sync_t *sync, int timeout_ms, char *err, size_t errlen)
{
    Recoup__StatusRequest status = RECOUP__STATUS_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
    request.status = &status;
    int rc;
    Recoup__Reply *reply = s_call (sync, &request, RECOUP__REPLY__RESULT_STATUS, timeout_ms,
                                   &rc, err, errlen);
    if (!reply)
        return rc;
    snprintf (dash->user, sizeof dash->user, "%s", reply->status->user);
    dash->role = reply->status->role;
    //  The date only moves forward, so that an event dated ahead of the
    //  business date cannot make the view start over and over.
    if (strcmp (reply->status->business_date, dash->as_of) > 0)
        snprintf (dash->as_of, sizeof dash->as_of, "%s", reply->status->business_date);
    recoup__reply__free_unpacked (reply, NULL);
    return 0;
}

//  The policy's step order, for sorting by stage; without one (or when
//  it cannot be read) stages sort by name.
static void
s_policy (dash_t *dash, sync_t *sync, int timeout_ms)
{
    Recoup__PolicyShowRequest show = RECOUP__POLICY_SHOW_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_POLICY_SHOW;
    request.policy_show = &show;
    char err [256];
    int rc;
    Recoup__Reply *reply = s_call (sync, &request, RECOUP__REPLY__RESULT_POLICY_SHOW, timeout_ms,
                                   &rc, err, sizeof err);
    if (reply) {
        s_set_stages (dash, reply->policy_show->policy);
        recoup__reply__free_unpacked (reply, NULL);
    }
}

//  Replays the events after `after` up to `end` into pages (a reply may
//  stop short of what was asked: the server caps its size). Returns the
//  number of pages filled, 0 when the first call failed.
static size_t
s_history_window (sync_t *sync, uint64_t after, uint64_t end, int timeout_ms,
                  Recoup__Reply **pages, size_t most)
{
    size_t n = 0;
    while (after < end && n < most) {
        Recoup__ReplayRequest replay = RECOUP__REPLAY_REQUEST__INIT;
        replay.after = after;
        replay.limit = (uint32_t) (end - after);
        Recoup__Request request = RECOUP__REQUEST__INIT;
        request.command_case = RECOUP__REQUEST__COMMAND_REPLAY;
        request.replay = &replay;
        char err [256];
        int rc;
        Recoup__Reply *reply = s_call (sync, &request, RECOUP__REPLY__RESULT_REPLAY,
                                       timeout_ms, &rc, err, sizeof err);
        if (!reply)
            break;
        pages [n++] = reply;
        const Recoup__ReplayReply *r = reply->replay;
        if (r->n_events == 0 || r->events [r->n_events - 1]->seq <= after)
            break;              //  nothing more: never loop on a stuck reply
        after = r->events [r->n_events - 1]->seq;
    }
    return n;
}

//  The recent events from the history before the snapshot, so that the
//  view does not start empty. The history is read backwards in windows
//  (an engine run ends with thousands of events the list leaves out)
//  until enough of them are notable, then applied oldest first. Failing
//  to read it is not an error.
static void
s_history (dash_t *dash, sync_t *sync, int timeout_ms)
{
    Recoup__Reply *pages [DASH_HISTORY_WINDOWS][DASH_HISTORY_PAGES];
    size_t n_pages [DASH_HISTORY_WINDOWS] = { 0 };
    size_t n_windows = 0, notable = 0;
    uint64_t until = sync_last_seq (sync);
    while (n_windows < DASH_HISTORY_WINDOWS && notable < DASH_SHOWN
           && until > n_windows * DASH_HISTORY) {
        uint64_t end = until - n_windows * DASH_HISTORY;
        uint64_t after = end > DASH_HISTORY ? end - DASH_HISTORY : 0;
        size_t w = n_windows;
        n_pages [w] = s_history_window (sync, after, end, timeout_ms, pages [w],
                                        DASH_HISTORY_PAGES);
        if (n_pages [w] == 0)
            break;
        n_windows++;
        for (size_t p = 0; p < n_pages [w]; p++)
            for (size_t i = 0; i < pages [w][p]->replay->n_events; i++) {
                char text [256];
                const char *rep;
                const Recoup__Event *event = pages [w][p]->replay->events [i];
                if (event->seq <= end && s_describe (dash, event, text, sizeof text, &rep))
                    notable++;
            }
    }
    for (size_t w = n_windows; w-- > 0; ) {
        uint64_t end = until - w * DASH_HISTORY;
        for (size_t p = 0; p < n_pages [w]; p++) {
            const Recoup__ReplayReply *replay = pages [w][p]->replay;
            for (size_t i = 0; i < replay->n_events; i++)
                if (replay->events [i]->seq <= end)
                    s_note_event (dash, replay->events [i], 0);
            recoup__reply__free_unpacked (pages [w][p], NULL);
        }
    }
}

//  An importer key is kept off the event stream at the handshake: wait
//  for the server's refusal and say it. Returns the exit status (3).
static int
s_refused_importer (sync_t *sync, int timeout_ms)
{
    char err [1024];
    long long deadline = wire_clock_ms () + timeout_ms;
    while (wire_clock_ms () < deadline)
        if (sync_poll (sync, 200, err, sizeof err) < 0 && strstr (err, "refused")) {
            cli_fail ("%s", err);
            cli_fail ("the dashboard needs the event stream: an admin, manager, "
                      "collector or sales key; importer keys may only send commands");
            return EXIT_UNREACHABLE;
        }
    cli_fail ("the server refuses the event stream to importer keys: the dashboard "
              "needs an admin, manager, collector or sales key");
    return EXIT_UNREACHABLE;
}

//  A new agent for the view: status, policy, snapshot, recent history.
//  Returns 0 and *sync_p, or an exit status after saying what went wrong.
static int
s_connect (dash_t *dash, cli_t *cli, void *ctx, sync_t **sync_p, int first)
{
    char err [1024];
    sync_t *sync = sync_new (ctx, &cli->identity, err, sizeof err);
    if (!sync) {
        cli_fail ("%s", err);
        return EXIT_UNREACHABLE;
    }
    int rc = s_status (dash, sync, cli->timeout_ms, err, sizeof err);
    if (rc == 0 && dash->role == RECOUP__ROLE__IMPORTER) {
        rc = s_refused_importer (sync, cli->timeout_ms);
        sync_destroy (&sync);
        return rc;
    }
    if (rc == 0 && first) {
        //  --mine, and what `r` switches to without --rep: our own customers.
        if (!*dash->rep)
            snprintf (dash->rep, sizeof dash->rep, "%s", dash->user);
        //  A rep's new flags stand out: the rep asked for, or ourselves
        //  when we are a rep.
        if (dash->rep_only || dash->role == RECOUP__ROLE__SALES)
            snprintf (dash->watch, sizeof dash->watch, "%s",
                      dash->rep_only ? dash->rep : dash->user);
    }
    if (rc == 0) {
        s_policy (dash, sync, cli->timeout_ms);
        sync_set_handlers (sync, s_on_snapshot, s_on_event, dash);
        if (sync_start (sync, SYNC_FROM_SNAPSHOT, 0, err, sizeof err) != 0)
            rc = strstr (err, "PERMISSION") ? EXIT_REFUSED : EXIT_UNREACHABLE;
        else {
            dash->redate = 0;
            s_history (dash, sync, cli->timeout_ms);
            dash->seq = sync_last_seq (sync);
            dash->head = sync_head_seq (sync);
            dash->gaps = dash->gaps_before;
        }
    }
    if (rc != 0) {
        cli_fail ("%s", err);
        sync_destroy (&sync);
        return rc;
    }
    *sync_p = sync;
    return 0;
}

//  ---------------------------------------------------------------------
//  The command

//  Parses the options into dash. Returns 0 or EXIT_USAGE (said why).
static int
s_parse (dash_t *dash, int argc, char **argv, int *once, int *plain)
{
    static const char *const known [] = { "--rep", "--currency", "--limit", "--sort", NULL };
    static const char *const flags [] = { "--mine", "--once", "--plain", NULL };
    cli_args_t args;
    if (cli_args_parse_flags (&args, argc, argv, 1, known, flags) != 0) {
        fputs (USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *rep = cli_args_get (&args, "--rep");
    const char *currency = cli_args_get (&args, "--currency");
    const char *limit = cli_args_get (&args, "--limit");
    const char *sort = cli_args_get (&args, "--sort");
    int mine = cli_args_flag (&args, "--mine");
    *once = cli_args_flag (&args, "--once");
    *plain = cli_args_flag (&args, "--plain");
    if (rep && mine) {
        cli_fail ("--rep and --mine both name whose customers to show: give one");
        return EXIT_USAGE;
    }
    if (rep) {
        //  A user name as user_add takes them: [a-z][a-z0-9._-]{0,62}.
        size_t len = strlen (rep);
        int ok = len >= 1 && len <= 63 && *rep >= 'a' && *rep <= 'z';
        for (const char *p = rep; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.'
                 || *p == '_' || *p == '-';
        if (!ok) {
            cli_fail ("--rep wants a user name (a-z first, then a-z, 0-9, '.', '_', '-'), "
                      "got '%s'", rep);
            return EXIT_USAGE;
        }
        snprintf (dash->rep, sizeof dash->rep, "%s", rep);
    }
    dash->rep_only = rep || mine;
    if (currency) {
        if (money_currency_exponent (currency) < 0) {
            cli_fail ("--currency wants an ISO 4217 code such as USD, got '%s'", currency);
            return EXIT_USAGE;
        }
        snprintf (dash->currency, sizeof dash->currency, "%s", currency);
    }
    if (limit) {
        char *end;
        errno = 0;
        long n = strtol (limit, &end, 10);
        if (*limit < '0' || *limit > '9' || *end || errno || n <= 0) {
            cli_fail ("--limit wants a number of accounts above 0, got '%s'", limit);
            return EXIT_USAGE;
        }
        dash->limit = n;
    }
    if (sort) {
        if (strcmp (sort, "past-due") == 0)
            dash->sort = DASH_SORT_PAST_DUE;
        else if (strcmp (sort, "days") == 0)
            dash->sort = DASH_SORT_DAYS;
        else if (strcmp (sort, "stage") == 0)
            dash->sort = DASH_SORT_STAGE;
        else {
            cli_fail ("--sort wants past-due, days or stage, got '%s'", sort);
            return EXIT_USAGE;
        }
    }
    return 0;
}

//  Writes text to stdout, at once. Returns -1 when stdout is gone (a
//  closed pipe).
static int
s_print (const char *text)
{
    fputs (text, stdout);
    return fflush (stdout) == 0 && !ferror (stdout) ? 0 : -1;
}

int
cmd_dashboard (cli_t *cli, int argc, char **argv)
{
    dash_t dash;
    memset (&dash, 0, sizeof dash);
    int once = 0, plain = 0;
    int rc = s_parse (&dash, argc, argv, &once, &plain);
    if (rc != 0)
        return rc;
    dash.json = cli->json;
    int curses = !once && !plain && !dash.json && isatty (STDOUT_FILENO)
                 && isatty (STDIN_FILENO);
    dash.live = !once;
    rc = cli_load_identity (cli);
    if (rc != 0)
        return rc;
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);

    void *ctx = zmq_ctx_new ();
    sync_t *sync = NULL;
    strbuf_t frame, last;
    strbuf_init (&frame);
    strbuf_init (&last);
    int screen = 0;             //  curses started
    rc = s_connect (&dash, cli, ctx, &sync, 1);
    if (rc != 0)
        goto done;
    if (once) {
        s_frame (&dash, &frame);
        if (s_print (frame.data) != 0)
            rc = EXIT_USAGE;
        goto done;
    }
    if (curses) {
        setlocale (LC_ALL, "");
        initscr ();
        screen = 1;
        cbreak ();
        noecho ();
        keypad (stdscr, TRUE);
        nodelay (stdscr, TRUE);
        curs_set (0);
        if (has_colors ()) {
            start_color ();
            use_default_colors ();
            init_pair (1, COLOR_RED, -1);
        }
        s_curses_draw (&dash);
    }
    int dirty = 1;
    char err [1024];
    while (!s_stop) {
        if (!curses && dirty) {
            //  A new frame only when the view changed.
            strbuf_reset (&frame);
            s_frame (&dash, &frame);
            if (!last.data || strcmp (frame.data, last.data) != 0) {
                //  Text frames end with a blank line.
                if (s_print (frame.data) != 0 || (!dash.json && s_print ("\n") != 0))
                    break;      //  nobody reads any more
                strbuf_reset (&last);
                strbuf_puts (&last, frame.data);
            }
            dirty = 0;
        }
        int applied = sync_poll (sync, DASH_POLL_MS, err, sizeof err);
        if (applied < 0) {
            if (s_stop)
                break;
            if (strcmp (err, "interrupted") == 0)
                continue;       //  a signal, the terminal resized
            if (screen) {
                endwin ();
                screen = 0;
            }
            cli_fail ("%s", err);
            rc = EXIT_UNREACHABLE;
            break;
        }
        uint64_t head = sync_head_seq (sync), seq = sync_last_seq (sync);
        if (head < seq)
            head = seq;
        if (applied > 0 || head != dash.head || seq != dash.seq)
            dirty = 1;
        dash.head = head;
        dash.seq = seq;
        dash.gaps = dash.gaps_before + sync_gaps (sync);
        if (dash.redate) {
            //  Every account's aging moved a day: start over from a
            //  snapshot of the new business date.
            dash.gaps_before = dash.gaps;
            sync_destroy (&sync);
            if (screen) {
                endwin ();      //  messages of a failed start go to the terminal
                screen = 0;
            }
            rc = s_connect (&dash, cli, ctx, &sync, 0);
            if (rc != 0)
                break;
            if (curses) {
                refresh ();
                screen = 1;
            }
            dirty = 1;
            continue;
        }
        if (curses) {
            if (s_curses_keys (&dash))
                dirty = 1;
            if (dirty && !s_stop) {
                s_curses_draw (&dash);
                dirty = 0;
            }
        }
    }
done:
    if (screen)
        endwin ();
    strbuf_free (&frame);
    strbuf_free (&last);
    s_store_clear (&dash.store);
    s_set_stages (&dash, NULL);
    sync_destroy (&sync);
    zmq_ctx_term (ctx);
    identity_wipe (&cli->identity);
    return rc;
}
