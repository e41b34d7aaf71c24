/*  cmd_desk: `recoup desk`, the finance desk's working screen.

    The collector works the day's worklist (PROTOCOL.md 7.34) from one
    screen: the items due (top pane), the selected customer's account
    with its open invoices and, for a message step, the text the engine
    wrote (bottom pane), and keys that record what was done through the
    ordinary commands (contact_log, promise_add, dispute_open,
    account_reason, outbox_mark, hold_place, payment_post). The server
    decides everything: a refusal is shown in a status line in the
    server's words, with the field it names; a contact a rule forbids
    shows the rule and when it allows it, and may be recorded anyway
    with a reason (contact_log's override_reason). Money typed is read
    with money_parse in the account currency, so 12.345 USD is refused
    before anything is sent.

    Which items are done today. The worklist lists what the engine
    recorded due; it does not say what was done since. The desk works it
    out from the event stream: an item is done when
      - it has a message in the outbox (email, letter): the message was
        marked sent (outbox.sent);
      - credit_hold: recoupd placed the hold itself (the item's note);
      - otherwise: a contact was logged for the customer after the item
        was recorded (a contact.logged event after its action.due); for
        a call, a phone contact (a letter posted does not make the call).
    At start the history is read backwards, a window of events at a
    time, until every item's action.due is found (at most
    DESK_HISTORY_WINDOWS windows); from then on the live events keep it
    up to date (common/sync.h, from "now"). An item recorded before the
    part of the history read counts only the contacts in that part; a
    message item then asks outbox_list for its state once.

    The contact rules are judged now (or at --at), the instant a clerk
    would make the contact, not at the worklist's default 09:00.

    Keeping up. The whole worklist is asked for at start, on `g`, when
    the engine records new items (action.due, engine.ran) or the policy
    changes, and every DESK_RECHECK_MS (a rule holding an item back
    lapses with the time of day); over the demo data it takes the server
    about 0.3 s. After a write, and after an event about one customer on
    the list (a contact, a message sent or failed, preferences, its
    account changed), only that customer's items are asked again
    (worklist's customer filter): a few milliseconds. The shown account
    is asked again when its account.changed arrives.

    `--once` prints the worklist as plain text with the same columns and
    the done/blocked marks and exits (scripts, tests); without it the
    desk needs a terminal (exit 2 otherwise). Exit status as the other
    commands: 1 the server refused (an importer key's worklist), 3 the
    server could not be reached.                                         */
//  A customer ref: at most 64 characters (the server's limit), UTF-8.
#define DESK_REF_MAX (64 * 4 + 1)
#define NCURSES_WIDECHAR 1
#include "args.h"
#include "cli.h"
#include "../common/date.h"
#include "../common/money.h"
#include "../common/sync.h"

#include <assert.h>
#include <curses.h>
#include <inttypes.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>
#include <zmq.h>

#define USAGE \
    "usage: recoup desk [--as-of YYYY-MM-DD] [--at ISO8601] [--mine | --assignee USER | --all]\n" \
    "                   [--once]\n" \
    "  --as-of D     the worklist of date D (default: the business date)\n" \
    "  --at T        judge the contact rules at instant T (default: now)\n" \
    "  --mine        items assigned to you and to nobody (the default)\n" \
    "  --assignee U  items assigned to user U\n" \
    "  --all         every item\n" \
    "  --once        print the worklist once as text and exit\n" \
    "keys: arrows/j/k move, Enter/Tab switch pane, c contact, p promise, d dispute,\n" \
    "r reason, m mark the letter sent, h hold, $ payment, / find a customer,\n" \
    "g refresh, ? help, q quit\n"

#define DESK_HISTORY 1000           //  events read at a time, backwards
#define DESK_HISTORY_WINDOWS 50     //  at most this many windows at start
#define DESK_HISTORY_PAGES 64       //  replies per window (the server caps each)
#define DESK_POLL_MS 40             //  longest wait for events between key reads
#define DESK_REFRESH_MS 250         //  soonest refetch after an event
#define DESK_PROBE_MS 5000          //  status every so often: connection, date
#define DESK_PROBE_TIMEOUT_MS 1500  //  a probe's own deadline
#define DESK_RECHECK_MS 60000       //  the whole worklist again: rules lapse with time
#define DESK_PENDING_MAX 16         //  customers refetched one by one, beyond: all
#define DESK_MIN_COLS 50            //  smaller screens only say so
#define DESK_MIN_LINES 12
#define FORM_FIELDS 6               //  most fields of a form
#define FIELD_TEXT_MAX 512          //  bytes of a text field, NUL included

static volatile sig_atomic_t s_stop = 0;

//  SIGINT, SIGTERM: leave the loop and restore the terminal.
static void
s_on_signal (int signum)
{
    (void) signum;
    s_stop = 1;
}

static const char *const s_channels [] = {
    "phone", "email", "letter", "certified_letter", "sms", "visit", "meeting"
};
static const char *const s_directions [] = { "out", "in" };
static const char *const s_outcomes [] = {
    "no_answer", "left_message", "spoke", "promised", "disputed", "refused",
    "wrong_number", "sent", "delivered", "returned"
};
static const char *const s_reasons [] = {
    "forgot", "cannot_pay", "slow", "avoiding", "dispute", "complaint"
};
#define COUNT(array) (sizeof (array) / sizeof (array) [0])

//  ---------------------------------------------------------------------
//  Types

//  Which worklist items are shown.
typedef enum { DESK_MINE, DESK_ASSIGNEE, DESK_ALL } desk_scope_t;

//  Why a call failed, for people and for the caller.
typedef struct {
    int exit_status;            //  1 refused, 2 local failure, 3 unreachable
    Recoup__ErrorCode code;     //  the server's code; 0 when it did not answer
    char message [1024];        //  the server's words (or the client's)
    char text [1280];           //  "forbidden by rule (contact_log): ..."
} desk_error_t;

//  The latest contact logged for a customer on a channel that the desk
//  has seen.
typedef struct {
    char *customer;             //  ref, owned
    char channel [24];          //  phone, email, letter, ...
    uint64_t seq;               //  its contact.logged event
    char what [96];             //  "phone out spoke"
    char at [40];               //  when it happened, ISO 8601 UTC
} desk_contact_t;

//  When an item of the worklist was recorded: its action.due event.
typedef struct {
    char *customer;             //  ref, owned
    char *step;                 //  policy step, owned
    uint64_t seq;               //  the latest action.due of them for the date
} desk_action_t;

//  A worklist item in view.
typedef struct {
    const Recoup__EngineAction *item;   //  borrowed from desk->items
    int done;                   //  done today (see the file's header)
    char how [160];             //  what did it, for people
} desk_row_t;

//  One line of the detail pane.
typedef struct {
    char *text;                 //  owned, UTF-8, no newline
    int attrs;                  //  curses attributes
} desk_line_t;

//  The detail pane's text, built for a width.
typedef struct {
    desk_line_t *lines;         //  owned
    size_t count;               //  lines used
    size_t cap;                 //  lines allocated
    int width;                  //  wrap at this many characters
} desk_text_t;

typedef enum {
    FORM_NONE, FORM_CONTACT, FORM_PROMISE, FORM_DISPUTE, FORM_REASON, FORM_MARK,
    FORM_HOLD, FORM_PAYMENT, FORM_FIND
} desk_form_kind_t;

//  A field of a form: free text, or one of a list.
typedef struct {
    const char *label;          //  "channel"
    int choice;                 //  1: one of choices; 0: free text
    const char *const *choices; //  the options, borrowed
    size_t n_choices;           //  how many
    size_t chosen;              //  the one shown
    char text [FIELD_TEXT_MAX]; //  what was typed (UTF-8)
} desk_field_t;

//  The open form, if any.
typedef struct {
    desk_form_kind_t kind;      //  FORM_NONE when no form is open
    char title [DESK_REF_MAX + 200];    //  its first line
    char notice [1280];         //  a refusal to act on, or ""
    desk_field_t fields [FORM_FIELDS];  //  what it asks
    size_t n_fields;            //  fields used
    size_t at;                  //  the field with the focus
    char customer [DESK_REF_MAX];   //  whom it acts on
    char currency [4];          //  amounts typed are in it
    uint64_t outbox_id;         //  FORM_MARK: the message
    char **invoices;            //  choices of an invoice field, owned
    size_t n_invoices;          //  entries in invoices
} desk_form_t;

//  The desk.
typedef struct {
    //  Options
    char as_of_given [16];      //  --as-of, or ""
    char at [48];               //  --at, or "" for now
    desk_scope_t scope;         //  which items
    char assignee [64];         //  --assignee
    int timeout_ms;             //  for commands
    //  Who we are, where the server stands
    char user [64];             //  status.user
    Recoup__Role role;          //  status.role
    char business_date [16];    //  status.business_date
    char base_currency [4];     //  status.base_currency
    uint64_t seq;               //  status.seq: the history's head when asked
    client_t *client;           //  command connection, borrowed
    sync_t *sync;               //  the event stream (NULL with --once)
    int offline;                //  the last call could not reach the server
    char offline_why [1024];    //  why
    //  The worklist
    Recoup__Reply *worklist;    //  the last whole worklist asked for, owned
    Recoup__Reply **patches;    //  one customer's items asked for since, owned
    size_t n_patches;           //  entries in patches
    const Recoup__EngineAction **items; //  every item, in the server's order,
                                //  borrowed from worklist and patches
    size_t n_items;             //  entries in items
    char as_of [16];            //  the date it is for (its reply's as_of)
    desk_row_t *rows;           //  items in view, in the server's order
    size_t n_rows;              //  entries in rows
    size_t n_done;              //  of which done
    size_t n_blocked;           //  of which blocked and not done
    size_t selected;            //  the selected row
    size_t top;                 //  first row shown
    //  What the history told
    desk_contact_t *contacts;   //  latest contact per customer and channel
    size_t n_contacts, cap_contacts;  //  used and allocated
    desk_action_t *actions;     //  action.due per customer and step
    size_t n_actions, cap_actions;  //  used and allocated
    uint64_t *sent;             //  outbox ids sent
    size_t n_sent, cap_sent;  //  used and allocated
    uint64_t *checked;          //  outbox ids asked of outbox_list, not sent
    size_t n_checked, cap_checked;  //  used and allocated
    uint64_t floor;             //  events after this seq have all been seen
    uint64_t scanned;           //  events read from the history at start
    //  The detail pane
    char shown [DESK_REF_MAX];  //  customer ref shown, or ""
    int found;                  //  shown by `/`, not by the selection
    Recoup__Reply *account;     //  account_show, owned, or NULL
    Recoup__Reply *customer;    //  customer_show, owned, or NULL
    Recoup__Reply *outbox;      //  outbox_list of the item's message, or NULL
    char account_err [1280];    //  why account is NULL
    char customer_err [1280];   //  why customer is NULL
    char outbox_err [1280];     //  why outbox is NULL (when it was asked)
    long detail_scroll;         //  first detail line shown
    int detail_page;            //  detail lines that fit
    int list_page;              //  worklist lines that fit
    //  The screen
    int focus;                  //  0 the worklist, 1 the detail pane
    int help;                   //  the help overlay is shown
    char status [1536];         //  the status line
    int status_error;           //  it reports a failure
    desk_form_t form;           //  the open form
    int dirty_worklist;         //  an event asks for the whole worklist again
    char *pending [DESK_PENDING_MAX];   //  customers whose items to ask again
    size_t n_pending;           //  entries in pending
    int dirty_detail;           //  ... for the shown account again
    long long last_fetch_ms;    //  when the whole worklist was last fetched
    long long last_probe_ms;    //  when status was last asked
} desk_t;

//  ---------------------------------------------------------------------
//  Text helpers

//  Characters (code points) in UTF-8 text.
static size_t
s_chars (const char *text)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        chars += (*p & 0xC0) != 0x80;
    return chars;
}

//  Bytes of the first `chars` characters of UTF-8 text.
static size_t
s_bytes_of (const char *text, size_t chars)
{
    size_t seen = 0, i = 0;
    for (; text [i]; i++) {
        if (((unsigned char) text [i] & 0xC0) != 0x80) {
            if (seen == chars)
                break;
            seen++;
        }
    }
    return i;
}

//  Appends text in a cell of `width` characters: cut with '~' when
//  longer, padded with spaces unless `last` (the line's last column).
static void
s_cell (strbuf_t *out, const char *text, size_t width, int last)
{
    size_t chars = s_chars (text);
    if (chars > width) {
        strbuf_append (out, text, s_bytes_of (text, width - 1));
        strbuf_puts (out, "~");
        return;
    }
    strbuf_puts (out, text);
    if (!last)
        for (size_t i = chars; i < width; i++)
            strbuf_puts (out, " ");
}

//  An amount for people with its currency, "1,234.56 USD", into
//  buf [MONEY_TEXT_MAX + 16].
static const char *
s_money (int64_t minor, const char *currency, char *buf)
{
    char grouped [MONEY_GROUPED_MAX];
    money_format_grouped (minor, currency, grouped, sizeof grouped);
    snprintf (buf, MONEY_TEXT_MAX + 16, "%s %s", grouped, currency);
    return buf;
}

//  "a, b, c" of a list of strings into out.
static void
s_join (strbuf_t *out, char **items, size_t count, const char *sep)
{
    for (size_t i = 0; i < count; i++) {
        if (i)
            strbuf_puts (out, sep);
        strbuf_puts (out, items [i]);
    }
}

//  A blocked_by message, short, for the worklist pane: "quiet hours
//  until 08:00 their time (2026-11-23T08:00+09:00)", "attempt gap until
//  2026-11-28T10:00:00Z"; rules that never lapse as the server says
//  them. Into buf [len].
static const char *
s_blocked_short (const char *message, char *buf, size_t len)
{
    size_t name_len = strcspn (message, ":");
    const char *from = strstr (message, "allowed from ");
    if (!message [name_len] || !from || name_len > 40) {
        snprintf (buf, len, "%s", message);
        return buf;
    }
    char name [48];
    snprintf (name, sizeof name, "%.*s", (int) name_len, message);
    for (char *p = name; *p; p++)
        if (*p == '_')
            *p = ' ';
    from += strlen ("allowed from ");
    const char *paren = strstr (from, " (");
    if (strncmp (message, "quiet_hours", 11) == 0 && paren)
        snprintf (buf, len, "%s until %.*s their time%s", name, (int) (paren - from),
                  from, paren);
    else
        snprintf (buf, len, "%s until %s", name, from);
    return buf;
}

//  Appends a line to the pane's text, wrapped at its width; embedded
//  newlines start new lines. Out of memory: the line is left out.
static void
s_text_add (desk_text_t *t, int attrs, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Appends `bytes` of text as one line (copied). Out of memory: left out.
static void
s_text_push (desk_text_t *t, int attrs, const char *text, size_t bytes)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        desk_line_t *lines = realloc (t->lines, cap * sizeof *lines);
        if (!lines)
            return;             //  the pane is shorter: nothing worse
        t->lines = lines;
        t->cap = cap;
    }
    char *copy = strndup (text, bytes);
    if (!copy)
        return;
    t->lines [t->count].text = copy;
    t->lines [t->count].attrs = attrs;
    t->count++;
}

//  See the declaration above.
static void
s_text_add (desk_text_t *t, int attrs, const char *format, ...)
{
    va_list ap, again;
    va_start (ap, format);
    va_copy (again, ap);
    int made = vsnprintf (NULL, 0, format, ap);
    va_end (ap);
    char *buf = made >= 0 ? malloc ((size_t) made + 1) : NULL;
    if (buf)
        vsnprintf (buf, (size_t) made + 1, format, again);
    va_end (again);
    if (!buf)
        return;
    //  Each line of it, wrapped at the width (continuations indented).
    size_t width = t->width > 8 ? (size_t) t->width : 8;
    char *piece = malloc (strlen (buf) + 1);
    if (!piece) {
        free (buf);
        return;
    }
    for (const char *line = buf; ; ) {
        size_t len = strcspn (line, "\n");
        memcpy (piece, line, len);
        piece [len] = '\0';
        const char *rest = piece;
        int first = 1;
        do {
            size_t room = first ? width : width - 4;
            size_t take = strlen (rest), next = take;
            if (s_chars (rest) > room) {
                //  At the last blank that fits, else mid-word.
                take = s_bytes_of (rest, room);
                size_t blank = take;
                while (blank > 0 && rest [blank] != ' ')
                    blank--;
                if (blank > take / 2)
                    take = blank;
                for (next = take; rest [next] == ' '; next++)
                    ;
            }
            if (first)
                s_text_push (t, attrs, rest, take);
            else {
                char indented [8192];
                snprintf (indented, sizeof indented, "    %.*s", (int) take, rest);
                s_text_push (t, attrs, indented, strlen (indented));
            }
            rest += next;
            first = 0;
        } while (*rest);
        if (!line [len])
            break;
        line += len + 1;
    }
    free (piece);
    free (buf);
}

//  Frees the lines; the text is empty and usable again.
static void
s_text_free (desk_text_t *t)
{
    for (size_t i = 0; i < t->count; i++)
        free (t->lines [i].text);
    free (t->lines);
    memset (t, 0, sizeof *t);
}

//  ---------------------------------------------------------------------
//  Calling the server

//  Sends a request (a fresh request id; resent with the same id and bytes
//  when a signal interrupts the wait) and checks the reply is `want`.
//  Returns the reply (caller frees), or NULL with *error filled in.
static Recoup__Reply *
s_call (desk_t *desk, Recoup__Request *request, Recoup__Reply__ResultCase want,
        int timeout_ms, desk_error_t *error)
{
    memset (error, 0, sizeof *error);
    char id [33];
    wire_request_id (id);
    request->request_id = id;
    //  A resize (SIGWINCH) would interrupt the wait: it is taken after.
    sigset_t block, old;
    sigemptyset (&block);
    sigaddset (&block, SIGWINCH);
    sigprocmask (SIG_BLOCK, &block, &old);
    long long deadline = wire_clock_ms () + timeout_ms;
    client_status_t status = CLIENT_OK;
    char err [1024] = "";
    Recoup__Reply *reply;
    while (1) {
        long long left = deadline - wire_clock_ms ();
        reply = client_call (desk->client, request, left > 0 ? (int) left : 1, &status,
                             err, sizeof err);
        if (reply || status != CLIENT_FAILED || strcmp (err, "interrupted") != 0
            || s_stop || wire_clock_ms () >= deadline)
            break;
    }
    sigprocmask (SIG_SETMASK, &old, NULL);
    request->request_id = "";
    if (!reply) {
        error->exit_status = status == CLIENT_FAILED ? EXIT_USAGE : EXIT_UNREACHABLE;
        snprintf (error->message, sizeof error->message, "%s", err);
        snprintf (error->text, sizeof error->text, "%s", err);
        if (status != CLIENT_FAILED) {
            desk->offline = 1;
            snprintf (desk->offline_why, sizeof desk->offline_why, "%s", err);
        }
        return NULL;
    }
    desk->offline = 0;
    if (reply->result_case == RECOUP__REPLY__RESULT_ERROR) {
        const Recoup__Error *e = reply->error;
        //  As cli_call says it: "permission denied (worklist): ...".
        char code [64];
        size_t i = 0;
        for (const char *p = wire_error_name (e->code); *p && i < sizeof code - 1; p++)
            code [i++] = *p == '_' ? ' ' : (char) (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        code [i] = 0;
        error->code = e->code;
        snprintf (error->message, sizeof error->message, "%s", e->message);
        if (*e->field)
            snprintf (error->text, sizeof error->text, "%s (%s): %s", code, e->field,
                      e->message);
        else
            snprintf (error->text, sizeof error->text, "%s: %s", code, e->message);
        error->exit_status = e->code == RECOUP__ERROR_CODE__UNAVAILABLE
                             ? EXIT_UNREACHABLE : EXIT_REFUSED;
        recoup__reply__free_unpacked (reply, NULL);
        return NULL;
    }
    if (reply->result_case != want) {
        error->exit_status = EXIT_REFUSED;
        snprintf (error->message, sizeof error->message, "unexpected reply from the server");
        snprintf (error->text, sizeof error->text, "%s", error->message);
        recoup__reply__free_unpacked (reply, NULL);
        return NULL;
    }
    return reply;
}

//  Who we are and the business date. 0, or -1 with *error.
static int
s_status (desk_t *desk, int timeout_ms, desk_error_t *error)
{
    Recoup__StatusRequest status = RECOUP__STATUS_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
    request.status = &status;
    Recoup__Reply *reply = s_call (desk, &request, RECOUP__REPLY__RESULT_STATUS, timeout_ms,
                                   error);
    if (!reply)
        return -1;
    const Recoup__StatusReply *s = reply->status;
    snprintf (desk->user, sizeof desk->user, "%s", s->user);
    desk->role = s->role;
    snprintf (desk->business_date, sizeof desk->business_date, "%s", s->business_date);
    snprintf (desk->base_currency, sizeof desk->base_currency, "%s", s->base_currency);
    desk->seq = s->seq;
    recoup__reply__free_unpacked (reply, NULL);
    return 0;
}

//  ---------------------------------------------------------------------
//  What the event stream says about the items

//  The latest contact seen with a customer on a channel (NULL: on any
//  channel), or NULL.
static desk_contact_t *
s_contact_find (const desk_t *desk, const char *customer, const char *channel)
{
    desk_contact_t *latest = NULL;
    for (size_t i = 0; i < desk->n_contacts; i++)
        if (strcmp (desk->contacts [i].customer, customer) == 0
            && (!channel || strcmp (desk->contacts [i].channel, channel) == 0)
            && (!latest || desk->contacts [i].seq > latest->seq))
            latest = &desk->contacts [i];
    return latest;
}

//  Notes a contact logged for a customer (event seq `seq`); the latest
//  one per channel is kept.
static void
s_contact_note (desk_t *desk, const Recoup__Contact *contact, uint64_t seq)
{
    if (!contact || !contact->customer || !*contact->customer || !contact->channel)
        return;
    desk_contact_t *known = s_contact_find (desk, contact->customer, contact->channel);
    if (!known) {
        if (desk->n_contacts == desk->cap_contacts) {
            size_t cap = desk->cap_contacts ? desk->cap_contacts * 2 : 32;
            desk_contact_t *grown = realloc (desk->contacts, cap * sizeof *grown);
            if (!grown)
                return;
            desk->contacts = grown;
            desk->cap_contacts = cap;
        }
        known = &desk->contacts [desk->n_contacts];
        memset (known, 0, sizeof *known);
        if (!(known->customer = strdup (contact->customer)))
            return;
        snprintf (known->channel, sizeof known->channel, "%s", contact->channel);
        desk->n_contacts++;
    }
    else if (known->seq >= seq)
        return;
    known->seq = seq;
    snprintf (known->what, sizeof known->what, "%s %s %s", contact->channel,
              contact->direction, contact->outcome);
    snprintf (known->at, sizeof known->at, "%s", contact->at);
}

//  The action.due seen for a customer's step, or NULL.
static desk_action_t *
s_action_find (const desk_t *desk, const char *customer, const char *step)
{
    for (size_t i = 0; i < desk->n_actions; i++)
        if (strcmp (desk->actions [i].customer, customer) == 0
            && strcmp (desk->actions [i].step, step) == 0)
            return &desk->actions [i];
    return NULL;
}

//  Notes an action.due of the worklist's date.
static void
s_action_note (desk_t *desk, const Recoup__EngineAction *action, uint64_t seq)
{
    desk_action_t *known = s_action_find (desk, action->customer, action->step);
    if (known) {
        if (seq > known->seq)
            known->seq = seq;
        return;
    }
    if (desk->n_actions == desk->cap_actions) {
        size_t cap = desk->cap_actions ? desk->cap_actions * 2 : 64;
        desk_action_t *grown = realloc (desk->actions, cap * sizeof *grown);
        if (!grown)
            return;
        desk->actions = grown;
        desk->cap_actions = cap;
    }
    desk_action_t *a = &desk->actions [desk->n_actions];
    a->customer = strdup (action->customer);
    a->step = strdup (action->step);
    a->seq = seq;
    if (!a->customer || !a->step) {
        free (a->customer);
        free (a->step);
        return;
    }
    desk->n_actions++;
}

//  Is `id` in the set (an array of `count` ids)?
static int
s_ids_have (const uint64_t *ids, size_t count, uint64_t id)
{
    for (size_t i = 0; i < count; i++)
        if (ids [i] == id)
            return 1;
    return 0;
}

//  Adds an id to a set kept as an array. Out of memory: not added.
static void
s_ids_add (uint64_t **ids, size_t *count, size_t *cap, uint64_t id)
{
    if (s_ids_have (*ids, *count, id))
        return;
    if (*count == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 32;
        uint64_t *grown = realloc (*ids, grown_cap * sizeof *grown);
        if (!grown)
            return;
        *ids = grown;
        *cap = grown_cap;
    }
    (*ids) [(*count)++] = id;
}

//  Takes what an event says about the items: contacts, recorded
//  actions, messages sent.
static void
s_learn (desk_t *desk, const Recoup__Event *event)
{
    switch (event->body_case) {
    case RECOUP__EVENT__BODY_CONTACT:
        s_contact_note (desk, event->contact, event->seq);
        break;
    case RECOUP__EVENT__BODY_ACTION: {
        const Recoup__EngineAction *a = event->action;
        if (a && strcmp (event->kind, "action.due") == 0 && a->customer && a->step
            && (!*a->recorded_on || strcmp (a->recorded_on, desk->as_of) == 0))
            s_action_note (desk, a, event->seq);
        break;
    }
    case RECOUP__EVENT__BODY_OUTBOX:
        if (event->outbox && strcmp (event->kind, "outbox.sent") == 0)
            s_ids_add (&desk->sent, &desk->n_sent, &desk->cap_sent, event->outbox->id);
        break;
    default:
        break;
    }
}

//  Forgets what the history said (the worklist's date moved).
static void
s_knowledge_clear (desk_t *desk)
{
    for (size_t i = 0; i < desk->n_contacts; i++)
        free (desk->contacts [i].customer);
    for (size_t i = 0; i < desk->n_actions; i++) {
        free (desk->actions [i].customer);
        free (desk->actions [i].step);
    }
    free (desk->contacts);
    free (desk->actions);
    free (desk->sent);
    free (desk->checked);
    desk->contacts = NULL;
    desk->actions = NULL;
    desk->sent = desk->checked = NULL;
    desk->n_contacts = desk->cap_contacts = desk->n_actions = desk->cap_actions = 0;
    desk->n_sent = desk->cap_sent = desk->n_checked = desk->cap_checked = 0;
    desk->floor = 0;
    desk->scanned = 0;
}

//  Every item of the worklist (those out of view too) has its
//  action.due found, or needs none.
static int
s_actions_known (const desk_t *desk)
{
    for (size_t i = 0; i < desk->n_items; i++)
        if (strcmp (desk->items [i]->channel, "credit_hold") != 0
            && !s_action_find (desk, desk->items [i]->customer, desk->items [i]->step))
            return 0;
    return 1;
}

//  Reads the history backwards from `until`, a window of DESK_HISTORY
//  events at a time, until every item's action.due is found, the
//  history begins, or DESK_HISTORY_WINDOWS windows were read. Sets
//  desk->floor: every event after it was seen. Failing to read it only
//  leaves the floor higher.
static void
s_scan_history (desk_t *desk, uint64_t until)
{
    desk->floor = until;
    for (int window = 0; window < DESK_HISTORY_WINDOWS && desk->floor > 0; window++) {
        if (s_actions_known (desk))
            break;
        uint64_t end = desk->floor;
        uint64_t after = end > DESK_HISTORY ? end - DESK_HISTORY : 0;
        uint64_t from = after;
        int pages = 0;
        while (from < end && pages++ < DESK_HISTORY_PAGES) {
            Recoup__ReplayRequest replay = RECOUP__REPLAY_REQUEST__INIT;
            replay.after = from;
            replay.limit = (uint32_t) (end - from);
            Recoup__Request request = RECOUP__REQUEST__INIT;
            request.command_case = RECOUP__REQUEST__COMMAND_REPLAY;
            request.replay = &replay;
            desk_error_t error;
            Recoup__Reply *reply = s_call (desk, &request, RECOUP__REPLY__RESULT_REPLAY,
                                           desk->timeout_ms, &error);
            if (!reply)
                return;
            const Recoup__ReplayReply *r = reply->replay;
            uint64_t last = from;
            for (size_t i = 0; i < r->n_events; i++)
                if (r->events [i]->seq > from && r->events [i]->seq <= end) {
                    s_learn (desk, r->events [i]);
                    desk->scanned++;
                    last = r->events [i]->seq;
                }
            recoup__reply__free_unpacked (reply, NULL);
            if (last == from)
                break;          //  nothing more: never loop on a stuck reply
            from = last;
        }
        if (from < end)
            return;             //  the window was not read in full
        desk->floor = after;
    }
}

//  ---------------------------------------------------------------------
//  The worklist

//  Is the item in view: --mine (ours and nobody's), --assignee, --all.
static int
s_in_scope (const desk_t *desk, const Recoup__EngineAction *a)
{
    switch (desk->scope) {
    case DESK_MINE:
        return !*a->assignee || strcmp (a->assignee, desk->user) == 0;
    case DESK_ASSIGNEE:
        return strcmp (a->assignee, desk->assignee) == 0;
    default:
        return 1;
    }
}

//  The state of a message asked of outbox_list. Returns 1 when sent
//  (and notes it), 0 otherwise (not sent, or not to be known: a sales
//  key may not read the outbox); asked at most once per message.
static int
s_outbox_sent_asked (desk_t *desk, uint64_t id)
{
    if (s_ids_have (desk->checked, desk->n_checked, id))
        return 0;
    Recoup__OutboxListRequest list = RECOUP__OUTBOX_LIST_REQUEST__INIT;
    list.id = id;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_OUTBOX_LIST;
    request.outbox_list = &list;
    desk_error_t error;
    Recoup__Reply *reply = s_call (desk, &request, RECOUP__REPLY__RESULT_OUTBOX_LIST,
                                   desk->timeout_ms, &error);
    if (!reply) {
        s_ids_add (&desk->checked, &desk->n_checked, &desk->cap_checked, id);
        return 0;               //  not known: shown as not done
    }
    int sent = reply->outbox_list->n_messages == 1
               && strcmp (reply->outbox_list->messages [0]->status, "sent") == 0;
    recoup__reply__free_unpacked (reply, NULL);
    if (sent)
        s_ids_add (&desk->sent, &desk->n_sent, &desk->cap_sent, id);
    else
        s_ids_add (&desk->checked, &desk->n_checked, &desk->cap_checked, id);
    return sent;
}

//  Is the row's item done today (see the file's header)?
static void
s_row_done (desk_t *desk, desk_row_t *row)
{
    const Recoup__EngineAction *a = row->item;
    row->done = 0;
    row->how [0] = 0;
    if (strcmp (a->channel, "credit_hold") == 0) {
        row->done = 1;
        snprintf (row->how, sizeof row->how, "by recoupd: %s",
                  *a->why ? a->why : "credit hold placed");
        return;
    }
    const desk_action_t *action = s_action_find (desk, a->customer, a->step);
    if (a->outbox_id) {
        if (s_ids_have (desk->sent, desk->n_sent, a->outbox_id)
            || (!action && desk->floor > 0 && s_outbox_sent_asked (desk, a->outbox_id))) {
            row->done = 1;
            snprintf (row->how, sizeof row->how, "outbox message %" PRIu64 " sent",
                      a->outbox_id);
        }
        return;
    }
    //  Recorded before the part of the history read: every contact seen
    //  came after it. A call is done by a phone contact (either way);
    //  the other steps (sales_flag, review) by any contact.
    uint64_t since = action ? action->seq : desk->floor;
    const desk_contact_t *contact =
        s_contact_find (desk, a->customer, strcmp (a->channel, "phone") == 0 ? "phone" : NULL);
    if (contact && contact->seq > since) {
        row->done = 1;
        snprintf (row->how, sizeof row->how, "contact %s at %s", contact->what,
                  contact->at);
    }
}

//  The rows in view from the worklist, done and blocked worked out; the
//  selection stays on the same item when it is still there.
static void
s_rows_build (desk_t *desk)
{
    const Recoup__EngineAction *was = desk->n_rows && desk->selected < desk->n_rows
                                      ? desk->rows [desk->selected].item : NULL;
    char was_customer [DESK_REF_MAX] = "", was_step [DESK_REF_MAX] = "";
    if (was) {
        snprintf (was_customer, sizeof was_customer, "%s", was->customer);
        snprintf (was_step, sizeof was_step, "%s", was->step);
    }
    free (desk->rows);
    desk->rows = NULL;
    desk->n_rows = desk->n_done = desk->n_blocked = 0;
    desk->rows = calloc (desk->n_items + 1, sizeof *desk->rows);
    if (!desk->rows)
        return;
    size_t keep = desk->selected;
    for (size_t i = 0; i < desk->n_items; i++) {
        if (!s_in_scope (desk, desk->items [i]))
            continue;
        desk_row_t *row = &desk->rows [desk->n_rows];
        row->item = desk->items [i];
        s_row_done (desk, row);
        desk->n_done += row->done != 0;
        desk->n_blocked += !row->done && *row->item->blocked_by;
        if (*was_customer && strcmp (row->item->customer, was_customer) == 0
            && strcmp (row->item->step, was_step) == 0)
            keep = desk->n_rows;
        desk->n_rows++;
    }
    desk->selected = desk->n_rows == 0 ? 0 : keep < desk->n_rows ? keep : desk->n_rows - 1;
}

//  worklist for the date, judged now (or at --at); one customer's items
//  when `customer` is not NULL. The reply (caller frees) or NULL.
static Recoup__Reply *
s_worklist_ask (desk_t *desk, const char *customer, desk_error_t *error)
{
    char now [48];
    Recoup__WorklistRequest list = RECOUP__WORKLIST_REQUEST__INIT;
    list.as_of = desk->as_of_given;
    list.at = *desk->at ? desk->at : (char *) wire_format_time (wire_now_us (), now,
                                                                sizeof now);
    if (customer)
        list.customer = (char *) customer;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_WORKLIST;
    request.worklist = &list;
    return s_call (desk, &request, RECOUP__REPLY__RESULT_WORKLIST, desk->timeout_ms, error);
}

//  Forgets the customers whose items were to be asked again.
static void
s_pending_clear (desk_t *desk)
{
    for (size_t i = 0; i < desk->n_pending; i++)
        free (desk->pending [i]);
    desk->n_pending = 0;
}

//  Frees the worklist replies and the item list (the rows must not be
//  used until built again).
static void
s_items_free (desk_t *desk)
{
    if (desk->worklist)
        recoup__reply__free_unpacked (desk->worklist, NULL);
    desk->worklist = NULL;
    for (size_t i = 0; i < desk->n_patches; i++)
        recoup__reply__free_unpacked (desk->patches [i], NULL);
    free (desk->patches);
    desk->patches = NULL;
    desk->n_patches = 0;
    free (desk->items);
    desk->items = NULL;
    desk->n_items = 0;
}

//  Asks for the whole worklist again. 0, or -1 with *error (the old one
//  stays).
static int
s_worklist_fetch (desk_t *desk, desk_error_t *error)
{
    Recoup__Reply *reply = s_worklist_ask (desk, NULL, error);
    desk->last_fetch_ms = wire_clock_ms ();
    if (!reply)
        return -1;
    const Recoup__WorklistReply *w = reply->worklist;
    const Recoup__EngineAction **items = calloc (w->n_items + 1, sizeof *items);
    if (!items) {
        recoup__reply__free_unpacked (reply, NULL);
        snprintf (error->text, sizeof error->text, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < w->n_items; i++)
        items [i] = w->items [i];
    if (*desk->as_of && strcmp (w->as_of, desk->as_of) != 0)
        s_knowledge_clear (desk);       //  another date: its own items
    snprintf (desk->as_of, sizeof desk->as_of, "%s", w->as_of);
    //  The rows keep the selection by its customer and step: built again
    //  before the old replies are freed.
    Recoup__Reply *old = desk->worklist;
    Recoup__Reply **old_patches = desk->patches;
    size_t n_old_patches = desk->n_patches;
    const Recoup__EngineAction **old_items = desk->items;
    desk->worklist = reply;
    desk->patches = NULL;
    desk->n_patches = 0;
    desk->items = items;
    desk->n_items = w->n_items;
    s_rows_build (desk);
    if (old)
        recoup__reply__free_unpacked (old, NULL);
    for (size_t i = 0; i < n_old_patches; i++)
        recoup__reply__free_unpacked (old_patches [i], NULL);
    free (old_patches);
    free (old_items);
    desk->dirty_worklist = 0;
    s_pending_clear (desk);
    return 0;
}

//  Asks for one customer's items again and puts them in place of those
//  the list has (the server orders by customer, so they are together).
//  A customer with no items on the list is left to the next whole
//  worklist. 0, or -1 with *error.
static int
s_worklist_fetch_customer (desk_t *desk, const char *customer, desk_error_t *error)
{
    size_t at = 0, had = 0;
    while (at < desk->n_items && strcmp (desk->items [at]->customer, customer) != 0)
        at++;
    for (size_t i = at; i < desk->n_items; i++)
        had += strcmp (desk->items [i]->customer, customer) == 0;
    if (!had)
        return 0;
    Recoup__Reply *reply = s_worklist_ask (desk, customer, error);
    if (!reply)
        return -1;
    const Recoup__WorklistReply *w = reply->worklist;
    Recoup__Reply **patches = realloc (desk->patches,
                                       (desk->n_patches + 1) * sizeof *patches);
    const Recoup__EngineAction **items = calloc (desk->n_items - had + w->n_items + 1,
                                                 sizeof *items);
    if (patches)
        desk->patches = patches;
    if (!patches || !items || strcmp (w->as_of, desk->as_of) != 0) {
        //  Out of memory, or the date moved: the whole worklist then.
        free (items);
        recoup__reply__free_unpacked (reply, NULL);
        desk->dirty_worklist = 1;
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < at; i++)
        items [n++] = desk->items [i];
    for (size_t i = 0; i < w->n_items; i++)
        items [n++] = w->items [i];
    for (size_t i = at; i < desk->n_items; i++)
        if (strcmp (desk->items [i]->customer, customer) != 0)
            items [n++] = desk->items [i];
    const Recoup__EngineAction **old_items = desk->items;
    desk->items = items;
    desk->n_items = n;
    desk->patches [desk->n_patches++] = reply;
    s_rows_build (desk);
    free (old_items);
    return 0;
}

//  Notes that a customer's items are to be asked again (too many: the
//  whole worklist instead).
static void
s_pending_add (desk_t *desk, const char *customer)
{
    if (desk->dirty_worklist)
        return;
    for (size_t i = 0; i < desk->n_pending; i++)
        if (strcmp (desk->pending [i], customer) == 0)
            return;
    char *copy = desk->n_pending < DESK_PENDING_MAX ? strdup (customer) : NULL;
    if (!copy) {
        s_pending_clear (desk);
        desk->dirty_worklist = 1;
        return;
    }
    desk->pending [desk->n_pending++] = copy;
}

//  Is a customer on the worklist?
static int
s_listed (const desk_t *desk, const char *customer)
{
    for (size_t i = 0; i < desk->n_items; i++)
        if (strcmp (desk->items [i]->customer, customer) == 0)
            return 1;
    return 0;
}

//  Who the items in view are for, in words, into buf [160].
static const char *
s_scope_text (const desk_t *desk, char *buf)
{
    if (desk->scope == DESK_MINE)
        snprintf (buf, 160, "assigned to %s or to nobody", desk->user);
    else if (desk->scope == DESK_ASSIGNEE)
        snprintf (buf, 160, "assigned to %s", desk->assignee);
    else
        snprintf (buf, 160, "every item");
    return buf;
}

//  The worklist's columns: their heading and widths, wide (every column:
//  --once, screens of DESK_WIDE_COLS and more) and narrow (0: left out).
typedef struct {
    const char *head;           //  heading
    size_t wide;                //  characters when wide
    size_t narrow;              //  characters when narrow, 0 left out
} desk_column_t;

#define DESK_WIDE_COLS 128
static const desk_column_t s_columns [] = {
    { "mark", 7, 7 }, { "customer", 12, 10 }, { "name", 20, 0 }, { "invoices", 16, 10 },
    { "step", 18, 17 }, { "channel", 16, 9 }, { "tone", 8, 8 }, { "due", 10, 10 },
    { "assignee", 10, 0 }
};

//  A row's value in column `column` (see s_columns); `invoices` holds
//  the item's invoices joined.
static const char *
s_column_value (const desk_row_t *row, size_t column, const char *invoices)
{
    const Recoup__EngineAction *a = row->item;
    switch (column) {
    case 0: return row->done ? "done" : *a->blocked_by ? "blocked" : "";
    case 1: return a->customer;
    case 2: return a->customer_name;
    case 3: return invoices;
    case 4: return a->step;
    case 5: return a->channel;
    case 6: return *a->tone ? a->tone : "-";
    case 7: return a->due;
    default: return *a->assignee ? a->assignee : "-";
    }
}

//  The heading line (row NULL) or an item's line, without a newline,
//  every column when `wide`.
static void
s_row_line (const desk_row_t *row, int wide, strbuf_t *out)
{
    strbuf_t invoices;
    strbuf_init (&invoices);
    if (row)
        s_join (&invoices, row->item->invoices, row->item->n_invoices, ",");
    size_t last = COUNT (s_columns);
    while (last > 0 && !(wide ? s_columns [last - 1].wide : s_columns [last - 1].narrow))
        last--;
    for (size_t i = 0; i < last; i++) {
        size_t width = wide ? s_columns [i].wide : s_columns [i].narrow;
        if (!width)
            continue;
        if (i)
            strbuf_puts (out, " ");
        s_cell (out, row ? s_column_value (row, i, invoices.data ? invoices.data : "")
                         : s_columns [i].head, width, i + 1 == last);
    }
    strbuf_free (&invoices);
}

//  `--once`: the worklist as text.
static void
s_print_once (const desk_t *desk, strbuf_t *out)
{
    char scope [160];
    strbuf_printf (out, "recoup desk: worklist for %s, %s (%s): %s: %zu item%s, %zu done, "
                   "%zu blocked\n", desk->as_of, desk->user, wire_role_name (desk->role),
                   s_scope_text (desk, scope), desk->n_rows, desk->n_rows == 1 ? "" : "s",
                   desk->n_done, desk->n_blocked);
    if (desk->n_rows == 0) {
        strbuf_puts (out, "nothing to do\n");
        return;
    }
    s_row_line (NULL, 1, out);
    strbuf_puts (out, "\n");
    for (size_t i = 0; i < desk->n_rows; i++) {
        const desk_row_t *row = &desk->rows [i];
        s_row_line (row, 1, out);
        strbuf_puts (out, "\n");
        if (!row->done && *row->item->blocked_by)
            strbuf_printf (out, "        %s\n", row->item->blocked_by);
    }
}

//  ---------------------------------------------------------------------
//  The detail pane: the shown customer's account

//  Frees what the detail pane shows (the replies and their errors).
static void
s_detail_clear (desk_t *desk)
{
    if (desk->account)
        recoup__reply__free_unpacked (desk->account, NULL);
    if (desk->customer)
        recoup__reply__free_unpacked (desk->customer, NULL);
    if (desk->outbox)
        recoup__reply__free_unpacked (desk->outbox, NULL);
    desk->account = desk->customer = desk->outbox = NULL;
    desk->account_err [0] = desk->customer_err [0] = desk->outbox_err [0] = 0;
}

//  The selected row, or NULL.
static const desk_row_t *
s_selected (const desk_t *desk)
{
    return desk->n_rows && desk->selected < desk->n_rows ? &desk->rows [desk->selected]
                                                         : NULL;
}

//  The selected item when it is the shown customer's, or NULL.
static const Recoup__EngineAction *
s_shown_item (const desk_t *desk)
{
    const desk_row_t *row = s_selected (desk);
    return row && *desk->shown && strcmp (row->item->customer, desk->shown) == 0
           ? row->item : NULL;
}

//  Asks for the shown customer's account, open invoices and the
//  selected item's message. Failures are kept to be shown in the pane.
static void
s_detail_fetch (desk_t *desk)
{
    desk->dirty_detail = 0;
    if (!desk->found) {
        const desk_row_t *row = s_selected (desk);
        snprintf (desk->shown, sizeof desk->shown, "%s", row ? row->item->customer : "");
    }
    s_detail_clear (desk);
    if (!*desk->shown)
        return;
    desk_error_t error;
    Recoup__AccountShowRequest show = RECOUP__ACCOUNT_SHOW_REQUEST__INIT;
    show.customer = desk->shown;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_ACCOUNT_SHOW;
    request.account_show = &show;
    desk->account = s_call (desk, &request, RECOUP__REPLY__RESULT_ACCOUNT_SHOW,
                            desk->timeout_ms, &error);
    if (!desk->account)
        snprintf (desk->account_err, sizeof desk->account_err, "%s", error.text);
    Recoup__CustomerShowRequest customer = RECOUP__CUSTOMER_SHOW_REQUEST__INIT;
    customer.customer = desk->shown;
    request = (Recoup__Request) RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_SHOW;
    request.customer_show = &customer;
    desk->customer = s_call (desk, &request, RECOUP__REPLY__RESULT_CUSTOMER_SHOW,
                             desk->timeout_ms, &error);
    if (!desk->customer)
        snprintf (desk->customer_err, sizeof desk->customer_err, "%s", error.text);
    const Recoup__EngineAction *item = s_shown_item (desk);
    if (item && item->outbox_id) {
        Recoup__OutboxListRequest list = RECOUP__OUTBOX_LIST_REQUEST__INIT;
        list.id = item->outbox_id;
        request = (Recoup__Request) RECOUP__REQUEST__INIT;
        request.command_case = RECOUP__REQUEST__COMMAND_OUTBOX_LIST;
        request.outbox_list = &list;
        desk->outbox = s_call (desk, &request, RECOUP__REPLY__RESULT_OUTBOX_LIST,
                               desk->timeout_ms, &error);
        if (!desk->outbox)
            snprintf (desk->outbox_err, sizeof desk->outbox_err, "%s", error.text);
        else if (desk->outbox->outbox_list->n_messages == 1
                 && strcmp (desk->outbox->outbox_list->messages [0]->status, "sent") == 0)
            s_ids_add (&desk->sent, &desk->n_sent, &desk->cap_sent, item->outbox_id);
    }
}

//  The account currency of the shown customer ("" when not known).
static const char *
s_shown_currency (const desk_t *desk)
{
    if (desk->customer && desk->customer->customer_show->account
        && desk->customer->customer_show->account->customer)
        return desk->customer->customer_show->account->customer->currency;
    return "";
}

//  Days from `from` to `to` (YYYY-MM-DD); 0 when either does not parse.
static int
s_days_between (const char *from, const char *to)
{
    int32_t a, b;
    char err [120];
    if (date_parse_iso (from, &a, err, sizeof err) != 0
        || date_parse_iso (to, &b, err, sizeof err) != 0)
        return 0;
    return (int) (b - a);
}

//  The detail pane's lines, for the pane's width.
static void
s_detail_build (const desk_t *desk, desk_text_t *t)
{
    char m [2][MONEY_TEXT_MAX + 16];
    if (!*desk->shown) {
        s_text_add (t, A_DIM, "nothing selected: the worklist is empty; / finds a customer");
        return;
    }
    const Recoup__AccountShowReply *a = desk->account ? desk->account->account_show : NULL;
    const Recoup__CustomerShowReply *c = desk->customer ? desk->customer->customer_show
                                                        : NULL;
    s_text_add (t, A_BOLD, "%s  %s%s", desk->shown, a ? a->name : "",
                desk->found ? "   (found with /; move in the worklist to go back)" : "");
    if (!a)
        s_text_add (t, A_BOLD, "account: %s", desk->account_err);
    else {
        if (a->n_balances == 0)
            s_text_add (t, 0, "nothing open");
        for (size_t i = 0; i < a->n_balances; i++)
            s_text_add (t, 0, "open %s, past due %s",
                        s_money (a->balances [i]->balance_minor, a->balances [i]->currency,
                                 m [0]),
                        s_money (a->balances [i]->past_due_minor,
                                 a->balances [i]->currency, m [1]));
        if (c && c->account)
            for (size_t i = 0; i < c->account->n_unapplied; i++)
                s_text_add (t, 0, "unapplied cash %s",
                            s_money (c->account->unapplied [i]->amount_minor,
                                     c->account->unapplied [i]->currency, m [0]));
        if (*a->stage)
            s_text_add (t, 0, "stage: %s, %d day%s past due", a->stage,
                        (int) a->days_past_due, a->days_past_due == 1 ? "" : "s");
        else
            s_text_add (t, 0, "stage: none (nothing past due outside disputes)");
        const Recoup__AccountState *s = a->state;
        if (s) {
            s_text_add (t, s->on_hold || s->cash_only ? A_BOLD : 0,
                        "credit hold: %s%s%s%s   cash only: %s", s->on_hold ? "yes" : "no",
                        *s->hold_reason ? " (" : "", s->hold_reason,
                        *s->hold_reason ? ")" : "", s->cash_only ? "yes" : "no");
            if (*s->reason)
                s_text_add (t, 0, "reason: %s%s%s%s", s->reason,
                            *s->reason_note ? " (" : "", s->reason_note,
                            *s->reason_note ? ")" : "");
            else
                s_text_add (t, 0, "reason: not known");
            if (*s->next_action)
                s_text_add (t, 0, "next action: %s", s->next_action);
        }
        for (size_t i = 0; i < a->n_notices; i++)
            s_text_add (t, A_BOLD, "notice: %s", a->notices [i]);
        if (a->n_promises == 0)
            s_text_add (t, 0, "promises: none");
        for (size_t i = 0; i < a->n_promises; i++) {
            const Recoup__Promise *p = a->promises [i];
            int pending = strcmp (p->status, "pending") == 0;
            s_text_add (t, 0, "promise %" PRIu64 ": %s by %s, %s%s%s%s%s%s", p->id,
                        s_money (p->amount_minor, p->currency, m [0]), p->by, p->status,
                        pending ? " (broken after " : "", pending ? p->deadline : "",
                        pending ? ")" : "", *p->note ? ": " : "", p->note);
        }
        for (size_t i = 0; i < a->n_plans; i++) {
            const Recoup__PaymentPlan *p = a->plans [i];
            strbuf_t line;
            strbuf_init (&line);
            strbuf_printf (&line, "plan %" PRIu64 ": %s, started %s:", p->id, p->status,
                           p->started);
            for (size_t k = 0; k < p->n_instalments; k++)
                strbuf_printf (&line, "%s %s %s %s", k ? "," : "", p->instalments [k]->due,
                               s_money (p->instalments [k]->amount_minor, p->currency,
                                        m [0]), p->instalments [k]->status);
            s_text_add (t, 0, "%s", line.data ? line.data : "");
            strbuf_free (&line);
        }
        for (size_t i = 0; i < a->n_disputes; i++) {
            const Recoup__Dispute *d = a->disputes [i];
            if (strcmp (d->status, "open") == 0)
                s_text_add (t, 0, "dispute %" PRIu64 " on %s, open since %s: %s (routed to %s)",
                            d->id, d->invoice, d->opened, d->reason,
                            *d->sales_rep ? d->sales_rep : "nobody");
            else
                s_text_add (t, A_DIM, "dispute %" PRIu64 " on %s, resolved %s: %s", d->id,
                            d->invoice, d->resolved, d->outcome);
        }
        if (a->last_contact)
            s_text_add (t, 0, "last contact: %s %s %s at %s", a->last_contact->channel,
                        a->last_contact->direction, a->last_contact->outcome,
                        a->last_contact->at);
        else
            s_text_add (t, 0, "last contact: none");
    }
    if (c && c->account && c->account->collection)
        for (size_t i = 0; i < c->account->collection->n_flags; i++) {
            const Recoup__SalesFlag *f = c->account->collection->flags [i];
            s_text_add (t, 0, "flag %" PRIu64 ": %s %s for %s, raised %s (%d day%s open)",
                        f->id, f->kind, f->subject, *f->rep ? f->rep : "the collections lead",
                        f->raised_on, (int) f->days_open, f->days_open == 1 ? "" : "s");
        }
    s_text_add (t, 0, " ");
    if (!c)
        s_text_add (t, A_BOLD, "invoices: %s", desk->customer_err);
    else {
        s_text_add (t, A_UNDERLINE, "open invoices: %zu", c->n_open_invoices);
        if (c->n_open_invoices) {
            strbuf_t head;
            strbuf_init (&head);
            s_cell (&head, "number", 16, 0);
            strbuf_puts (&head, " issued     due        late              balance");
            s_text_add (t, A_DIM, "  %s", head.data);
            strbuf_free (&head);
        }
        const char *today = a ? a->as_of : desk->business_date;
        for (size_t i = 0; i < c->n_open_invoices; i++) {
            const Recoup__Invoice *inv = c->open_invoices [i];
            strbuf_t line;
            strbuf_init (&line);
            s_cell (&line, inv->number, 16, 0);
            int late = s_days_between (inv->due, today);
            strbuf_printf (&line, " %-10s %-10s %4d %20s", inv->issued, inv->due,
                           late > 0 ? late : 0,
                           s_money (inv->balance_minor, inv->currency, m [0]));
            s_text_add (t, 0, "  %s", line.data ? line.data : "");
            strbuf_free (&line);
        }
    }
    const Recoup__EngineAction *item = s_shown_item (desk);
    if (item && !desk->found) {
        const desk_row_t *row = s_selected (desk);
        strbuf_t invoices;
        strbuf_init (&invoices);
        s_join (&invoices, item->invoices, item->n_invoices, ", ");
        s_text_add (t, 0, " ");
        s_text_add (t, A_UNDERLINE, "item: %s by %s%s%s%s, due %s, invoices %s, for %s",
                    item->step, item->channel, *item->tone ? " (" : "", item->tone,
                    *item->tone ? ")" : "", item->due, invoices.data ? invoices.data : "",
                    *item->assignee ? item->assignee : "nobody (auto)");
        strbuf_free (&invoices);
        s_text_add (t, 0, "what: %s", item->action);
        if (*item->why)
            s_text_add (t, 0, "note: %s", item->why);
        if (row && row->done)
            s_text_add (t, A_BOLD, "done: %s", row->how);
        else if (*item->blocked_by)
            s_text_add (t, A_BOLD, "blocked: %s", item->blocked_by);
        if (item->outbox_id) {
            s_text_add (t, 0, " ");
            if (!desk->outbox)
                s_text_add (t, A_BOLD, "outbox message %" PRIu64 ": %s", item->outbox_id,
                            *desk->outbox_err ? desk->outbox_err : "not read");
            else if (desk->outbox->outbox_list->n_messages == 1) {
                const Recoup__OutboxMessage *msg = desk->outbox->outbox_list->messages [0];
                s_text_add (t, A_UNDERLINE, "outbox message %" PRIu64 " (%s, %s)%s",
                            msg->id, msg->channel, msg->status,
                            strcmp (msg->status, "sent") == 0 ? ""
                            : strcmp (msg->channel, "email") == 0
                            ? ": the sender emails it; m marks it sent if you sent it yourself"
                            : ": print it, post it, then m marks it sent");
                if (strcmp (msg->status, "sent") == 0)
                    s_text_add (t, 0, "sent %s by %s", msg->sent_at, msg->sent_by);
                else if (strcmp (msg->status, "failed") == 0)
                    s_text_add (t, A_BOLD, "failed %u time%s, the last at %s: %s",
                                msg->attempts, msg->attempts == 1 ? "" : "s",
                                msg->last_attempt_at, msg->last_error);
                s_text_add (t, 0, "to: %s", msg->recipient);
                s_text_add (t, 0, "subject: %s", msg->subject);
                s_text_add (t, 0, " ");
                s_text_add (t, 0, "%s", msg->body);
            }
        }
    }
}

//  ---------------------------------------------------------------------
//  Refreshing

//  The worklist (the whole of it, or only `customer`'s items) and the
//  shown account again; a failure goes to the status line.
static void
s_refresh (desk_t *desk, const char *customer)
{
    desk_error_t error;
    int rc = customer ? s_worklist_fetch_customer (desk, customer, &error)
                      : s_worklist_fetch (desk, &error);
    if (rc != 0) {
        snprintf (desk->status, sizeof desk->status, "worklist: %s", error.text);
        desk->status_error = 1;
    }
    s_detail_fetch (desk);
}

//  Sets the status line.
static void
s_say (desk_t *desk, int error, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  See the declaration above.
static void
s_say (desk_t *desk, int error, const char *format, ...)
{
    va_list ap;
    va_start (ap, format);
    vsnprintf (desk->status, sizeof desk->status, format, ap);
    va_end (ap);
    desk->status_error = error;
}

//  ---------------------------------------------------------------------
//  Forms

static void s_draw (desk_t *desk);

//  Says that a request is on its way, on the screen, before waiting for
//  its answer.
static void
s_sending (desk_t *desk)
{
    s_say (desk, 0, "sending...");
    s_draw (desk);
}

//  Closes the form (if any) and frees what it owns.
static void
s_form_close (desk_t *desk)
{
    desk_form_t *form = &desk->form;
    for (size_t i = 0; i < form->n_invoices; i++)
        free (form->invoices [i]);
    free (form->invoices);
    memset (form, 0, sizeof *form);
}

//  Adds a field; returns it.
static desk_field_t *
s_form_field (desk_form_t *form, const char *label, const char *const *choices,
              size_t n_choices, const char *initial)
{
    assert (form->n_fields < FORM_FIELDS);
    desk_field_t *field = &form->fields [form->n_fields++];
    memset (field, 0, sizeof *field);
    field->label = label;
    field->choice = choices != NULL;
    field->choices = choices;
    field->n_choices = n_choices;
    for (size_t i = 0; choices && initial && i < n_choices; i++)
        if (strcmp (choices [i], initial) == 0)
            field->chosen = i;
    if (!choices && initial)
        snprintf (field->text, sizeof field->text, "%s", initial);
    return field;
}

//  A field's value: the option chosen or the text typed.
static const char *
s_field_value (const desk_field_t *field)
{
    return field->choice ? field->choices [field->chosen] : field->text;
}

//  The open invoices of the shown customer as the form's own list,
//  after `first` (NULL: none). Returns how many invoices.
static size_t
s_form_invoices (desk_t *desk, const char *first)
{
    desk_form_t *form = &desk->form;
    const Recoup__CustomerShowReply *c = desk->customer ? desk->customer->customer_show : NULL;
    size_t n = c ? c->n_open_invoices : 0;
    form->invoices = calloc (n + 2, sizeof *form->invoices);
    if (!form->invoices)
        return 0;
    if (first && (form->invoices [0] = strdup (first)))
        form->n_invoices++;
    for (size_t i = 0; i < n; i++)
        if ((form->invoices [form->n_invoices] = strdup (c->open_invoices [i]->number)))
            form->n_invoices++;
    return n;
}

//  Opens the form for a key. Says why not in the status line when the
//  desk has nothing it could act on.
static void
s_form_open (desk_t *desk, desk_form_kind_t kind)
{
    s_form_close (desk);
    desk_form_t *form = &desk->form;
    //  Keys typed together (j then c) reach here before the main loop
    //  fetched the newly selected account: fetch it now, so that the
    //  form acts on the customer selected, with its current invoices.
    if (kind != FORM_FIND && desk->dirty_detail)
        s_detail_fetch (desk);
    if (kind != FORM_FIND && !*desk->shown) {
        s_say (desk, 1, "select a worklist item or find a customer with / first");
        return;
    }
    snprintf (form->customer, sizeof form->customer, "%s", desk->shown);
    //  "" when the account could not be read: the money forms then refuse
    //  (s_form_amount) rather than guess a currency.
    snprintf (form->currency, sizeof form->currency, "%s", s_shown_currency (desk));
    const Recoup__EngineAction *item = s_shown_item (desk);
    switch (kind) {
    case FORM_CONTACT: {
        //  The item's channel when it is one a person contacts by.
        const char *channel = "phone";
        for (size_t i = 0; item && i < COUNT (s_channels); i++)
            if (strcmp (item->channel, s_channels [i]) == 0)
                channel = item->channel;
        snprintf (form->title, sizeof form->title, "log a contact with %s (now)",
                  form->customer);
        s_form_field (form, "channel", s_channels, COUNT (s_channels), channel);
        s_form_field (form, "direction", s_directions, COUNT (s_directions), "out");
        s_form_field (form, "outcome", s_outcomes, COUNT (s_outcomes),
                      strcmp (channel, "phone") == 0 ? "no_answer" : "sent");
        s_form_field (form, "note", NULL, 0, NULL);
        break;
    }
    case FORM_PROMISE:
        snprintf (form->title, sizeof form->title, "%s promises to pay (%s)",
                  form->customer, form->currency);
        s_form_field (form, "amount", NULL, 0, NULL);
        s_form_field (form, "by (YYYY-MM-DD)", NULL, 0, NULL);
        s_form_field (form, "note", NULL, 0, NULL);
        break;
    case FORM_DISPUTE:
        if (s_form_invoices (desk, NULL) == 0) {
            s_form_close (desk);
            s_say (desk, 1, "%s has no open invoice to dispute", desk->shown);
            return;
        }
        snprintf (form->title, sizeof form->title, "%s disputes an invoice", form->customer);
        s_form_field (form, "invoice", (const char *const *) form->invoices,
                      form->n_invoices,
                      item && item->n_invoices ? item->invoices [0] : NULL);
        s_form_field (form, "reason", NULL, 0, NULL);
        break;
    case FORM_REASON:
        snprintf (form->title, sizeof form->title, "why %s does not pay", form->customer);
        s_form_field (form, "reason", s_reasons, COUNT (s_reasons), NULL);
        s_form_field (form, "note", NULL, 0, NULL);
        break;
    case FORM_MARK: {
        if (!item || !item->outbox_id) {
            s_say (desk, 1, "the selected item has no message in the outbox to mark sent");
            return;
        }
        const Recoup__OutboxMessage *msg = desk->outbox
            && desk->outbox->outbox_list->n_messages == 1
            ? desk->outbox->outbox_list->messages [0] : NULL;
        form->outbox_id = item->outbox_id;
        snprintf (form->title, sizeof form->title, "mark outbox message %" PRIu64 " sent",
                  item->outbox_id);
        snprintf (form->notice, sizeof form->notice,
                  "the %s to %s (%s) was %s now: Enter records it (a contact in the log), "
                  "Esc cancels", msg ? msg->channel : item->channel, form->customer,
                  item->step, strcmp (item->channel, "email") == 0 ? "sent" : "posted");
        break;
    }
    case FORM_HOLD:
        snprintf (form->title, sizeof form->title, "place %s on credit hold",
                  form->customer);
        s_form_field (form, "reason", NULL, 0, NULL);
        break;
    case FORM_PAYMENT:
        s_form_invoices (desk, "(oldest due first)");
        snprintf (form->title, sizeof form->title, "post a payment from %s (%s)",
                  form->customer, form->currency);
        s_form_field (form, "reference", NULL, 0, NULL);
        s_form_field (form, "amount", NULL, 0, NULL);
        s_form_field (form, "invoice", (const char *const *) form->invoices,
                      form->n_invoices, NULL);
        break;
    case FORM_FIND:
        snprintf (form->title, sizeof form->title, "find a customer");
        s_form_field (form, "ref", NULL, 0, NULL);
        break;
    default:
        return;
    }
    form->kind = kind;
}

//  Parses an amount typed in the form's currency: 0 and *minor, or -1
//  after saying what is wrong (nothing is sent then).
static int
s_form_amount (desk_t *desk, const char *label, const char *text, int64_t *minor)
{
    char err [256];
    const char *currency = desk->form.currency;
    if (money_currency_exponent (currency) < 0) {
        s_say (desk, 1, "%s: the account currency of %s is not known; g refreshes", label,
               desk->form.customer);
        return -1;
    }
    if (money_parse (text, currency, NULL, minor, err, sizeof err) != 0) {
        s_say (desk, 1, "%s: '%s' is not an amount in %s: %s", label, text, currency, err);
        return -1;
    }
    if (*minor <= 0) {
        s_say (desk, 1, "%s must be above zero (got '%s')", label, text);
        return -1;
    }
    return 0;
}

//  After a write for `customer` (the form is closed: a copy): the
//  customer's items and the account again (the events will say the
//  same a moment later). The status line keeps what the write said
//  unless asking again fails.
static void
s_after_write (desk_t *desk, const char *customer)
{
    char status [sizeof desk->status];
    int error = desk->status_error;
    memcpy (status, desk->status, sizeof status);
    s_refresh (desk, customer);
    if (!desk->status_error || error) {
        memcpy (desk->status, status, sizeof status);
        desk->status_error = error;
    }
}

//  contact_log from the form; a rule's refusal opens the override field.
static void
s_submit_contact (desk_t *desk)
{
    desk_form_t *form = &desk->form;
    Recoup__ContactLogRequest log = RECOUP__CONTACT_LOG_REQUEST__INIT;
    log.customer = form->customer;
    log.channel = (char *) s_field_value (&form->fields [0]);
    log.direction = (char *) s_field_value (&form->fields [1]);
    log.outcome = (char *) s_field_value (&form->fields [2]);
    log.note = form->fields [3].text;
    if (form->n_fields > 4) {
        if (!*form->fields [4].text) {
            s_say (desk, 1, "override reason: type why the rule is overridden (1 to 500 "
                   "characters), or Esc");
            return;
        }
        log.override_reason = form->fields [4].text;
    }
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_CONTACT_LOG;
    request.contact_log = &log;
    s_sending (desk);
    desk_error_t error;
    Recoup__Reply *reply = s_call (desk, &request, RECOUP__REPLY__RESULT_CONTACT_LOG,
                                   desk->timeout_ms, &error);
    if (!reply) {
        if (error.code == RECOUP__ERROR_CODE__FORBIDDEN_BY_RULE
            && !strstr (error.message, "cannot be overridden") && form->n_fields == 4) {
            //  The rule and when it allows the contact; a reason records it
            //  anyway.
            snprintf (form->notice, sizeof form->notice, "refused: %s\nto record it "
                      "anyway, type why in \"override reason\" and press Enter",
                      error.message);
            s_form_field (form, "override reason", NULL, 0, NULL);
            form->at = form->n_fields - 1;
            s_say (desk, 1, "%s", error.text);
            return;
        }
        s_say (desk, 1, "%s", error.text);
        if (error.code == RECOUP__ERROR_CODE__FORBIDDEN_BY_RULE)
            snprintf (form->notice, sizeof form->notice, "refused: %s", error.message);
        return;
    }
    const Recoup__ContactLogReply *r = reply->contact_log;
    s_contact_note (desk, r->contact, r->seq);
    s_say (desk, 0, "logged contact %" PRIu64 ": %s %s %s with %s%s%s",
           r->contact->id, r->contact->channel, r->contact->direction, r->contact->outcome,
           r->contact->customer, *r->warning ? "; " : "", r->warning);
    recoup__reply__free_unpacked (reply, NULL);
    char customer [sizeof form->customer];
    memcpy (customer, form->customer, sizeof customer);
    s_form_close (desk);
    s_after_write (desk, customer);
}

//  The other forms: build the request, send, say what happened.
static void
s_form_submit (desk_t *desk)
{
    desk_form_t *form = &desk->form;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    Recoup__Reply__ResultCase want;
    char what [DESK_REF_MAX + 160];
    //  Every message a form may send; the one used is in request.
    Recoup__PromiseAddRequest promise = RECOUP__PROMISE_ADD_REQUEST__INIT;
    Recoup__DisputeOpenRequest dispute = RECOUP__DISPUTE_OPEN_REQUEST__INIT;
    Recoup__AccountReasonRequest reason = RECOUP__ACCOUNT_REASON_REQUEST__INIT;
    Recoup__OutboxMarkRequest mark = RECOUP__OUTBOX_MARK_REQUEST__INIT;
    Recoup__HoldPlaceRequest hold = RECOUP__HOLD_PLACE_REQUEST__INIT;
    Recoup__PaymentPostRequest post = RECOUP__PAYMENT_POST_REQUEST__INIT;
    Recoup__Payment payment = RECOUP__PAYMENT__INIT;
    Recoup__Allocation allocation = RECOUP__ALLOCATION__INIT;
    Recoup__Allocation *allocations [1] = { &allocation };
    switch (form->kind) {
    case FORM_CONTACT:
        s_submit_contact (desk);
        return;
    case FORM_FIND: {
        const char *ref = form->fields [0].text;
        if (!*ref || s_chars (ref) > 64 || strlen (ref) >= sizeof desk->shown) {
            s_say (desk, 1, "ref: type the customer's ref (1 to 64 characters)");
            return;
        }
        Recoup__CustomerShowRequest show = RECOUP__CUSTOMER_SHOW_REQUEST__INIT;
        show.customer = (char *) ref;
        request.command_case = RECOUP__REQUEST__COMMAND_CUSTOMER_SHOW;
        request.customer_show = &show;
        desk_error_t error;
        Recoup__Reply *reply = s_call (desk, &request, RECOUP__REPLY__RESULT_CUSTOMER_SHOW,
                                       desk->timeout_ms, &error);
        if (!reply) {
            s_say (desk, 1, "%s", error.text);
            return;
        }
        recoup__reply__free_unpacked (reply, NULL);
        snprintf (desk->shown, sizeof desk->shown, "%.71s", ref);
        desk->found = 1;
        desk->focus = 1;
        desk->detail_scroll = 0;
        s_form_close (desk);
        s_detail_fetch (desk);
        s_say (desk, 0, "showing %s; move in the worklist (or Esc) to go back to it",
               desk->shown);
        return;
    }
    case FORM_PROMISE: {
        const char *by = form->fields [1].text;
        int32_t days;
        char err [160];
        if (s_form_amount (desk, "amount", form->fields [0].text, &promise.amount_minor) != 0)
            return;
        if (date_parse_iso (by, &days, err, sizeof err) != 0) {
            s_say (desk, 1, "by: '%s': %s (write dates as YYYY-MM-DD)", by, err);
            return;
        }
        promise.customer = form->customer;
        promise.currency = form->currency;
        promise.by = (char *) by;
        promise.note = form->fields [2].text;
        request.command_case = RECOUP__REQUEST__COMMAND_PROMISE_ADD;
        request.promise_add = &promise;
        want = RECOUP__REPLY__RESULT_PROMISE_ADD;
        break;
    }
    case FORM_DISPUTE:
        dispute.invoice = (char *) s_field_value (&form->fields [0]);
        dispute.reason = form->fields [1].text;
        request.command_case = RECOUP__REQUEST__COMMAND_DISPUTE_OPEN;
        request.dispute_open = &dispute;
        want = RECOUP__REPLY__RESULT_DISPUTE_OPEN;
        break;
    case FORM_REASON:
        reason.customer = form->customer;
        reason.reason = (char *) s_field_value (&form->fields [0]);
        reason.note = form->fields [1].text;
        request.command_case = RECOUP__REQUEST__COMMAND_ACCOUNT_REASON;
        request.account_reason = &reason;
        want = RECOUP__REPLY__RESULT_ACCOUNT_REASON;
        break;
    case FORM_MARK:
        mark.id = form->outbox_id;
        mark.status = "sent";
        request.command_case = RECOUP__REQUEST__COMMAND_OUTBOX_MARK;
        request.outbox_mark = &mark;
        want = RECOUP__REPLY__RESULT_OUTBOX_MARK;
        break;
    case FORM_HOLD:
        hold.customer = form->customer;
        hold.reason = form->fields [0].text;
        request.command_case = RECOUP__REQUEST__COMMAND_HOLD_PLACE;
        request.hold_place = &hold;
        want = RECOUP__REPLY__RESULT_HOLD_PLACE;
        break;
    case FORM_PAYMENT:
        if (s_form_amount (desk, "amount", form->fields [1].text, &payment.amount_minor) != 0)
            return;
        payment.customer = form->customer;
        payment.reference = form->fields [0].text;
        payment.currency = form->currency;
        if (form->fields [2].chosen > 0) {
            allocation.invoice = (char *) s_field_value (&form->fields [2]);
            payment.allocations = allocations;
            payment.n_allocations = 1;
        }
        post.payment = &payment;
        request.command_case = RECOUP__REQUEST__COMMAND_PAYMENT_POST;
        request.payment_post = &post;
        want = RECOUP__REPLY__RESULT_PAYMENT_POST;
        break;
    default:
        return;
    }
    s_sending (desk);
    desk_error_t error;
    Recoup__Reply *reply = s_call (desk, &request, want, desk->timeout_ms, &error);
    if (!reply) {
        s_say (desk, 1, "%s", error.text);
        return;
    }
    char m [MONEY_TEXT_MAX + 16];
    switch (form->kind) {
    case FORM_PROMISE: {
        const Recoup__Promise *p = reply->promise_add->promise;
        snprintf (what, sizeof what, "promise %" PRIu64 ": %s by %s, %s", p->id,
                  s_money (p->amount_minor, p->currency, m), p->by, p->status);
        break;
    }
    case FORM_DISPUTE:
        snprintf (what, sizeof what, "dispute %" PRIu64 " opened on %s, routed to %s",
                  reply->dispute_open->dispute->id, reply->dispute_open->dispute->invoice,
                  *reply->dispute_open->dispute->sales_rep
                  ? reply->dispute_open->dispute->sales_rep : "nobody");
        break;
    case FORM_REASON:
        snprintf (what, sizeof what, "reason %s recorded%s%s",
                  reply->account_reason->state->reason,
                  *reply->account_reason->state->next_action ? "; next: " : "",
                  reply->account_reason->state->next_action);
        break;
    case FORM_MARK: {
        const Recoup__OutboxMarkReply *r = reply->outbox_mark;
        s_ids_add (&desk->sent, &desk->n_sent, &desk->cap_sent, form->outbox_id);
        if (r->message) {
            //  The contact it logged, known now rather than when its event
            //  comes (it precedes r->seq, after every item recorded).
            Recoup__Contact contact = RECOUP__CONTACT__INIT;
            contact.customer = r->message->customer;
            contact.channel = r->message->channel;
            contact.direction = "out";
            contact.outcome = "sent";
            contact.at = r->message->sent_at;
            s_contact_note (desk, &contact, r->seq);
        }
        snprintf (what, sizeof what, "outbox message %" PRIu64 " marked sent (contact %"
                  PRIu64 ")", form->outbox_id, r->contact_id);
        break;
    }
    case FORM_HOLD:
        snprintf (what, sizeof what, "%s is on credit hold", form->customer);
        break;
    case FORM_PAYMENT: {
        const Recoup__Payment *p = reply->payment_post->payment;
        char left [MONEY_TEXT_MAX + 16];
        snprintf (what, sizeof what, "payment %s of %s posted, %s unapplied", p->reference,
                  s_money (p->amount_minor, p->currency, m),
                  s_money (p->unapplied_minor, p->currency, left));
        break;
    }
    default:
        what [0] = 0;
        break;
    }
    recoup__reply__free_unpacked (reply, NULL);
    s_say (desk, 0, "%s", what);
    char customer [sizeof form->customer];
    memcpy (customer, form->customer, sizeof customer);
    s_form_close (desk);
    s_after_write (desk, customer);
}

//  A key for the open form.
static void
s_form_key (desk_t *desk, int is_key, wint_t key)
{
    desk_form_t *form = &desk->form;
    desk_field_t *field = form->n_fields ? &form->fields [form->at] : NULL;
    if (!is_key && key == 27) {
        s_form_close (desk);
        s_say (desk, 0, "cancelled");
        return;
    }
    if ((!is_key && (key == '\n' || key == '\r')) || (is_key && key == KEY_ENTER)) {
        s_form_submit (desk);
        return;
    }
    if ((!is_key && key == '\t') || (is_key && key == KEY_DOWN)) {
        if (form->n_fields)
            form->at = (form->at + 1) % form->n_fields;
        return;
    }
    if (is_key && (key == KEY_BTAB || key == KEY_UP)) {
        if (form->n_fields)
            form->at = (form->at + form->n_fields - 1) % form->n_fields;
        return;
    }
    if (!field)
        return;
    if (field->choice) {
        if ((is_key && key == KEY_RIGHT) || (!is_key && key == ' '))
            field->chosen = (field->chosen + 1) % field->n_choices;
        else if (is_key && key == KEY_LEFT)
            field->chosen = (field->chosen + field->n_choices - 1) % field->n_choices;
        else if (!is_key && key > ' ' && key < 127) {
            //  The next option starting with the letter.
            for (size_t k = 1; k <= field->n_choices; k++) {
                size_t i = (field->chosen + k) % field->n_choices;
                if (field->choices [i][0] == (char) key) {
                    field->chosen = i;
                    break;
                }
            }
        }
        return;
    }
    size_t len = strlen (field->text);
    if ((is_key && key == KEY_BACKSPACE) || (!is_key && (key == 127 || key == 8))) {
        //  Back over one UTF-8 character.
        while (len > 0 && ((unsigned char) field->text [--len] & 0xC0) == 0x80)
            ;
        field->text [len] = 0;
    }
    else if (!is_key && key == 21)      //  Ctrl-U: clear
        field->text [0] = 0;
    else if (!is_key && key >= ' ' && key != 127) {
        char bytes [MB_LEN_MAX];
        mbstate_t state;
        memset (&state, 0, sizeof state);
        size_t n = wcrtomb (bytes, (wchar_t) key, &state);
        if (n != (size_t) -1 && len + n < sizeof field->text) {
            memcpy (field->text + len, bytes, n);
            field->text [len + n] = 0;
        }
    }
}

//  ---------------------------------------------------------------------
//  Drawing

//  Draws UTF-8 text at (y, x), at most `width` characters.
static void
s_put (int y, int x, const char *text, int width, int attrs)
{
    if (y < 0 || y >= LINES || x >= COLS || width <= 0)
        return;
    if (x + width > COLS)
        width = COLS - x;
    attron (attrs);
    mvaddnstr (y, x, text, (int) s_bytes_of (text, (size_t) width));
    attroff (attrs);
}

//  Fills a line with the attributes and puts text on it.
static void
s_bar (int y, const char *text, int attrs)
{
    attron (attrs);
    mvhline (y, 0, ' ', COLS);
    attroff (attrs);
    s_put (y, 0, text, COLS, attrs);
}

//  Where the stream stands, for the header, into buf [320].
static const char *
s_connection (const desk_t *desk, char *buf)
{
    uint64_t seq = desk->sync ? sync_last_seq (desk->sync) : 0;
    uint64_t head = desk->sync ? sync_head_seq (desk->sync) : 0;
    if (desk->offline)
        snprintf (buf, 320, "OFFLINE, retrying: %.280s", desk->offline_why);
    else if (head > seq)
        snprintf (buf, 320, "catching up: seq %" PRIu64 " of %" PRIu64, seq, head);
    else
        snprintf (buf, 320, "live, seq %" PRIu64, seq);
    return buf;
}

//  Lines a row takes in the worklist pane.
static int
s_row_lines (const desk_row_t *row)
{
    return 1 + (!row->done && *row->item->blocked_by);
}

//  The worklist pane: its heading at y0, then as many rows as fit in
//  `height` lines, the selection kept in view (desk->top moves).
static void
s_draw_worklist (desk_t *desk, int y0, int height)
{
    strbuf_t text;
    strbuf_init (&text);
    int wide = COLS >= DESK_WIDE_COLS;
    s_row_line (NULL, wide, &text);
    s_put (y0, 0, text.data, COLS, A_UNDERLINE);
    int room = height - 1;
    desk->list_page = room;
    if (desk->n_rows == 0) {
        s_put (y0 + 1, 2, "nothing to do", COLS - 2, A_DIM);
        strbuf_free (&text);
        return;
    }
    //  Keep the selection in view.
    if (desk->selected < desk->top)
        desk->top = desk->selected;
    while (desk->top < desk->selected) {
        int lines = 0;
        for (size_t i = desk->top; i <= desk->selected; i++)
            lines += s_row_lines (&desk->rows [i]);
        if (lines <= room)
            break;
        desk->top++;
    }
    int y = y0 + 1;
    for (size_t i = desk->top; i < desk->n_rows && y < y0 + height; i++) {
        const desk_row_t *row = &desk->rows [i];
        strbuf_reset (&text);
        s_row_line (row, wide, &text);
        int attrs = row->done ? COLOR_PAIR (1) : *row->item->blocked_by ? A_DIM : 0;
        if (i == desk->selected)
            attrs |= desk->focus == 0 ? A_REVERSE : A_BOLD | A_UNDERLINE;
        if (i == desk->selected) {
            attron (attrs);
            mvhline (y, 0, ' ', COLS);
            attroff (attrs);
        }
        s_put (y, 0, text.data, COLS, attrs);
        y++;
        if (s_row_lines (row) == 2 && y < y0 + height) {
            char blocked [600];
            strbuf_reset (&text);
            strbuf_printf (&text, "        blocked: %s",
                           s_blocked_short (row->item->blocked_by, blocked, sizeof blocked));
            s_put (y++, 0, text.data, COLS, A_DIM);
        }
    }
    strbuf_free (&text);
}

//  The account pane from y0, `height` lines, from desk->detail_scroll
//  (clamped to the text).
static void
s_draw_detail (desk_t *desk, int y0, int height)
{
    desk_text_t t;
    memset (&t, 0, sizeof t);
    t.width = COLS - 1;
    s_detail_build (desk, &t);
    desk->detail_page = height;
    long most = (long) t.count - height;
    if (desk->detail_scroll > most)
        desk->detail_scroll = most;
    if (desk->detail_scroll < 0)
        desk->detail_scroll = 0;
    for (int i = 0; i < height && (size_t) (desk->detail_scroll + i) < t.count; i++) {
        const desk_line_t *line = &t.lines [desk->detail_scroll + i];
        s_put (y0 + i, 0, line->text, COLS, line->attrs);
    }
    if (desk->detail_scroll + height < (long) t.count)
        s_put (y0 + height - 1, COLS - 10, " (more) ", 8, A_REVERSE);
    s_text_free (&t);
}

//  The open form, in a box in the middle of the screen.
static void
s_draw_form (const desk_t *desk)
{
    const desk_form_t *form = &desk->form;
    int width = COLS - 4 < 96 ? COLS - 4 : 96;
    desk_text_t notice;
    memset (&notice, 0, sizeof notice);
    notice.width = width - 4;
    if (*form->notice)
        s_text_add (&notice, A_BOLD, "%s", form->notice);
    int height = (int) form->n_fields + 2 + (notice.count ? (int) notice.count + 1 : 0);
    if (height > LINES - 2)
        height = LINES - 2;
    int y0 = (LINES - height) / 2, x0 = (COLS - width) / 2;
    for (int y = y0; y < y0 + height; y++)
        mvhline (y, x0, ' ', width);
    mvhline (y0, x0, ACS_HLINE, width);
    mvhline (y0 + height - 1, x0, ACS_HLINE, width);
    mvvline (y0, x0, ACS_VLINE, height);
    mvvline (y0, x0 + width - 1, ACS_VLINE, height);
    mvaddch (y0, x0, ACS_ULCORNER);
    mvaddch (y0, x0 + width - 1, ACS_URCORNER);
    mvaddch (y0 + height - 1, x0, ACS_LLCORNER);
    mvaddch (y0 + height - 1, x0 + width - 1, ACS_LRCORNER);
    char title [DESK_REF_MAX + 204];
    snprintf (title, sizeof title, " %s ", form->title);
    s_put (y0, x0 + 2, title, width - 4, A_BOLD);
    int y = y0 + 1;
    for (size_t i = 0; i < notice.count && y < y0 + height - 1; i++)
        s_put (y++, x0 + 2, notice.lines [i].text, width - 4, notice.lines [i].attrs);
    if (notice.count && form->n_fields)
        y++;
    s_text_free (&notice);
    for (size_t i = 0; i < form->n_fields && y < y0 + height - 1; i++, y++) {
        const desk_field_t *field = &form->fields [i];
        char label [48], value [FIELD_TEXT_MAX + 16];
        snprintf (label, sizeof label, "%s:", field->label);
        s_put (y, x0 + 2, label, 18, 0);
        if (field->choice)
            snprintf (value, sizeof value, "< %s >", field->choices [field->chosen]);
        else
            snprintf (value, sizeof value, "%s%s", field->text, i == form->at ? "_" : "");
        //  The end of a long text stays in view while typing.
        int room = width - 24;
        size_t chars = s_chars (value);
        const char *shown = value;
        if (room > 0 && chars > (size_t) room)
            shown = value + s_bytes_of (value, chars - (size_t) room);
        if (i == form->at)
            attron (A_REVERSE);
        if (i == form->at)
            mvhline (y, x0 + 21, ' ', room);
        attroff (A_REVERSE);
        s_put (y, x0 + 21, shown, room, i == form->at ? A_REVERSE : A_UNDERLINE);
    }
    s_put (y0 + height - 1, x0 + 2,
           form->n_fields ? " Enter send  Tab/arrows field  Left/Right/space/letter choose  "
                            "Esc cancel " : " Enter confirm  Esc cancel ",
           width - 4, 0);
}

static const char *const s_help [] = {
    "recoup desk: the day's worklist and the selected customer's account",
    "",
    "  Up/Down, j/k      move in the pane with the focus (PgUp/PgDn, Home/End)",
    "  Enter, Tab        switch between the worklist and the account pane",
    "  c                 log a contact (channel, direction, outcome, note), now;",
    "                    a contact rule's refusal shows the rule and when it allows",
    "                    it, and asks for a reason to record it anyway",
    "  p                 a promise to pay (amount in the account currency, by date)",
    "  d                 open a dispute on one of the open invoices",
    "  r                 the reason the customer does not pay",
    "  m                 mark the selected item's letter (or email) sent",
    "  h                 place a credit hold",
    "  $                 post a payment (reference, amount, an invoice or oldest first)",
    "  /                 find a customer by ref and show the account (Esc: back)",
    "  g                 ask the server again; q quits",
    "",
    "  marks: done       a message sent, or a contact logged since the item was due",
    "         blocked    a contact rule holds it back now: the rule and when it lapses",
    "  in forms: Tab/arrows move, Left/Right/space/a letter choose, Enter sends, Esc",
    "",
    "  any key closes this help",
};

//  The help overlay (`?`), in the middle of the screen.
static void
s_draw_help (void)
{
    int n = (int) COUNT (s_help);
    int width = COLS - 4 < 86 ? COLS - 4 : 86;
    int y0 = (LINES - n - 2) / 2 > 0 ? (LINES - n - 2) / 2 : 0, x0 = (COLS - width) / 2;
    for (int y = y0; y < y0 + n + 2 && y < LINES; y++)
        mvhline (y, x0, ' ', width);
    for (int i = 0; i < n; i++)
        s_put (y0 + 1 + i, x0 + 1, s_help [i], width - 2, i == 0 ? A_BOLD : 0);
}

//  The whole screen.
static void
s_draw (desk_t *desk)
{
    erase ();
    if (LINES < DESK_MIN_LINES || COLS < DESK_MIN_COLS) {
        s_put (0, 0, "window too small", COLS, A_BOLD);
        s_put (1, 0, "at least 50 x 12;", COLS, 0);
        s_put (2, 0, "q quits", COLS, 0);
        refresh ();
        return;
    }
    char conn [320], scope [160];
    strbuf_t text;
    strbuf_init (&text);
    strbuf_printf (&text, "recoup desk [%s]  %s (%s)  worklist %s: %zu item%s, "
                   "%zu done, %zu blocked (%s)", s_connection (desk, conn), desk->user,
                   wire_role_name (desk->role), desk->as_of, desk->n_rows,
                   desk->n_rows == 1 ? "" : "s", desk->n_done, desk->n_blocked,
                   s_scope_text (desk, scope));
    s_bar (0, text.data, A_REVERSE | (desk->offline ? A_BOLD : 0));
    //  The worklist takes two fifths of what is left, at least 4 lines.
    int body = LINES - 4;
    int list = body * 2 / 5 > 4 ? body * 2 / 5 : 4;
    s_draw_worklist (desk, 1, list);
    strbuf_reset (&text);
    strbuf_printf (&text, "-- %s %s", *desk->shown ? desk->shown : "(none)",
                   desk->focus == 1 ? "[account pane: arrows scroll] " : "");
    s_put (1 + list, 0, text.data, COLS, A_BOLD);
    mvhline (1 + list, (int) s_chars (text.data), ACS_HLINE, COLS);
    s_draw_detail (desk, 2 + list, LINES - 4 - list);
    s_bar (LINES - 2, desk->status, desk->status_error ? A_BOLD | COLOR_PAIR (2) : 0);
    s_bar (LINES - 1, "j/k move  Tab pane  c contact  p promise  d dispute  r reason  "
           "m mark sent  h hold  $ payment  / find  g refresh  ? help  q quit", A_REVERSE);
    if (desk->form.kind != FORM_NONE)
        s_draw_form (desk);
    else if (desk->help)
        s_draw_help ();
    strbuf_free (&text);
    refresh ();
}

//  ---------------------------------------------------------------------
//  Keys

//  Moves the selection (the account pane follows it).
static void
s_move (desk_t *desk, long by)
{
    if (desk->focus == 1) {
        desk->detail_scroll += by;
        return;
    }
    if (desk->n_rows == 0)
        return;
    long at = (long) desk->selected + by;
    if (at < 0)
        at = 0;
    if (at >= (long) desk->n_rows)
        at = (long) desk->n_rows - 1;
    if ((size_t) at != desk->selected || desk->found) {
        desk->selected = (size_t) at;
        desk->found = 0;
        desk->detail_scroll = 0;
        desk->dirty_detail = 1;
    }
}

//  A key on the main screen.
static void
s_key (desk_t *desk, int is_key, wint_t key)
{
    if (desk->help) {
        desk->help = 0;
        return;
    }
    if (desk->form.kind != FORM_NONE) {
        s_form_key (desk, is_key, key);
        return;
    }
    long page = desk->focus ? (desk->detail_page > 2 ? desk->detail_page - 1 : 1)
                            : (desk->list_page > 2 ? desk->list_page / 2 : 1);
    if (is_key) {
        switch (key) {
        case KEY_UP: s_move (desk, -1); break;
        case KEY_DOWN: s_move (desk, 1); break;
        case KEY_PPAGE: s_move (desk, -page); break;
        case KEY_NPAGE: s_move (desk, page); break;
        case KEY_HOME: s_move (desk, -1000000); break;
        case KEY_END: s_move (desk, 1000000); break;
        case KEY_ENTER: desk->focus = !desk->focus; break;
        default: break;     //  KEY_RESIZE among them: drawn again
        }
        return;
    }
    switch (key) {
    case 'q': case 'Q':
        s_stop = 1;
        break;
    case 'k': s_move (desk, -1); break;
    case 'j': s_move (desk, 1); break;
    case '\t': case '\n': case '\r':
        desk->focus = !desk->focus;
        break;
    case 27:
        if (desk->found) {
            desk->found = 0;
            desk->detail_scroll = 0;
            desk->dirty_detail = 1;
        }
        break;
    case '?': desk->help = 1; break;
    case 'g':
        s_say (desk, 0, "asking the server again...");
        s_refresh (desk, NULL);
        if (!desk->status_error)
            s_say (desk, 0, "refreshed");
        break;
    case 'c': s_form_open (desk, FORM_CONTACT); break;
    case 'p': s_form_open (desk, FORM_PROMISE); break;
    case 'd': s_form_open (desk, FORM_DISPUTE); break;
    case 'r': s_form_open (desk, FORM_REASON); break;
    case 'm': s_form_open (desk, FORM_MARK); break;
    case 'h': s_form_open (desk, FORM_HOLD); break;
    case '$': s_form_open (desk, FORM_PAYMENT); break;
    case '/': s_form_open (desk, FORM_FIND); break;
    default: break;
    }
}

//  ---------------------------------------------------------------------
//  Live events

//  The customer an event concerns, or NULL.
static const char *
s_event_customer (const Recoup__Event *event)
{
    switch (event->body_case) {
    case RECOUP__EVENT__BODY_ACCOUNT:
        return event->account && event->account->customer ? event->account->customer->ref
                                                          : NULL;
    case RECOUP__EVENT__BODY_CONTACT:
        return event->contact ? event->contact->customer : NULL;
    case RECOUP__EVENT__BODY_ACTION:
        return event->action ? event->action->customer : NULL;
    case RECOUP__EVENT__BODY_OUTBOX:
        return event->outbox ? event->outbox->customer : NULL;
    case RECOUP__EVENT__BODY_CUSTOMER:
        return event->customer ? event->customer->ref : NULL;
    case RECOUP__EVENT__BODY_CONTACT_PREFS:
        return event->contact_prefs ? event->contact_prefs->customer : NULL;
    default:
        return NULL;
    }
}

//  The sync agent's callback: every event after the start, in order.
static void
s_on_event (void *arg, const Recoup__Event *event)
{
    desk_t *desk = arg;
    s_learn (desk, event);
    const char *kind = event->kind;
    const char *customer = s_event_customer (event);
    int shown = customer && *desk->shown && strcmp (customer, desk->shown) == 0;
    //  What moves the worklist: new items (the whole of it again); for
    //  one customer, things done and what the rules see (a contact,
    //  preferences), an item's invoice paid (its account changed).
    if (strcmp (kind, "action.due") == 0 || strcmp (kind, "engine.ran") == 0
        || strcmp (kind, "policy.loaded") == 0)
        desk->dirty_worklist = 1;
    else if (customer && (strcmp (kind, "contact.logged") == 0
                          || strcmp (kind, "outbox.sent") == 0
                          || strcmp (kind, "outbox.failed") == 0
                          || strcmp (kind, "contact.prefs_changed") == 0
                          || strcmp (kind, "account.changed") == 0)
             && s_listed (desk, customer))
        s_pending_add (desk, customer);
    if (shown && (strcmp (kind, "account.changed") == 0 || strcmp (kind, "contact.logged") == 0
                  || strcmp (kind, "outbox.sent") == 0 || strcmp (kind, "outbox.failed") == 0
                  || strcmp (kind, "customer.updated") == 0))
        desk->dirty_detail = 1;
}

//  ---------------------------------------------------------------------
//  The command

//  Parses the options. Returns 0 or EXIT_USAGE (said why).
static int
s_parse (desk_t *desk, cli_t *cli, int argc, char **argv, int *once)
{
    static const char *const known [] = { "--as-of", "--at", "--assignee", NULL };
    static const char *const flags [] = { "--mine", "--all", "--once", NULL };
    cli_args_t args;
    if (cli_args_parse_flags (&args, argc, argv, 1, known, flags) != 0) {
        fputs (USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *as_of = cli_args_get (&args, "--as-of");
    const char *at = cli_args_get (&args, "--at");
    const char *assignee = cli_args_get (&args, "--assignee");
    int mine = cli_args_flag (&args, "--mine");
    int all = cli_args_flag (&args, "--all");
    *once = cli_args_flag (&args, "--once");
    if (cli->json) {
        cli_fail ("desk has no JSON output: `recoup worklist --json` prints the worklist");
        return EXIT_USAGE;
    }
    if (mine + all + (assignee != NULL) > 1) {
        cli_fail ("--mine, --assignee and --all each say whose items to show: give one");
        return EXIT_USAGE;
    }
    if (as_of) {
        int32_t days;
        char err [160];
        if (date_parse_iso (as_of, &days, err, sizeof err) != 0) {
            cli_fail ("--as-of %s: %s (write dates as YYYY-MM-DD)", as_of, err);
            return EXIT_USAGE;
        }
        snprintf (desk->as_of_given, sizeof desk->as_of_given, "%s", as_of);
    }
    if (at) {
        if (!*at || strlen (at) >= sizeof desk->at) {
            cli_fail ("--at wants an ISO 8601 time with its zone, e.g. "
                      "2026-11-23T09:00:00Z, got '%s'", at);
            return EXIT_USAGE;
        }
        snprintf (desk->at, sizeof desk->at, "%s", at);
    }
    if (assignee) {
        if (!*assignee || strlen (assignee) >= sizeof desk->assignee) {
            cli_fail ("--assignee wants a user name, got '%s'", assignee);
            return EXIT_USAGE;
        }
        snprintf (desk->assignee, sizeof desk->assignee, "%s", assignee);
        desk->scope = DESK_ASSIGNEE;
    }
    else
        desk->scope = all ? DESK_ALL : DESK_MINE;
    return 0;
}

//  Frees what the desk holds (not the connection).
static void
s_desk_free (desk_t *desk)
{
    s_form_close (desk);
    s_detail_clear (desk);
    free (desk->rows);
    desk->rows = NULL;
    desk->n_rows = 0;
    s_items_free (desk);
    s_pending_clear (desk);
    s_knowledge_clear (desk);
}

//  `--once`: who we are, the worklist, what the history up to the
//  worklist says of it; printed. Returns the exit status.
static int
s_once (desk_t *desk, cli_t *cli)
{
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    desk->client = cli->client;
    desk_error_t error;
    //  status again after the worklist: the history read covers it.
    if (s_status (desk, desk->timeout_ms, &error) != 0
        || s_worklist_fetch (desk, &error) != 0
        || s_status (desk, desk->timeout_ms, &error) != 0) {
        cli_fail ("%s", error.text);
        rc = error.exit_status;
    }
    else {
        s_scan_history (desk, desk->seq);
        s_rows_build (desk);
        strbuf_t out;
        strbuf_init (&out);
        s_print_once (desk, &out);
        fputs (out.data, stdout);
        if (fflush (stdout) != 0)
            rc = EXIT_USAGE;
        strbuf_free (&out);
    }
    s_desk_free (desk);
    cli_close (cli);
    return rc;
}

//  Every so often: is the server there, has the business date moved (a
//  new day's worklist when no --as-of was given)?
static void
s_probe (desk_t *desk)
{
    desk->last_probe_ms = wire_clock_ms ();
    char date [16];
    snprintf (date, sizeof date, "%s", desk->business_date);
    desk_error_t error;
    if (s_status (desk, DESK_PROBE_TIMEOUT_MS, &error) != 0)
        return;                 //  the header says offline
    if (!*desk->as_of_given && strcmp (date, desk->business_date) != 0) {
        s_say (desk, 0, "the business date is %s now: its worklist", desk->business_date);
        s_knowledge_clear (desk);
        s_refresh (desk, NULL);
        s_scan_history (desk, sync_last_seq (desk->sync));
        s_rows_build (desk);
    }
}

//  The full screen until q. Returns the exit status.
static int
s_interactive (desk_t *desk, cli_t *cli)
{
    int rc = cli_load_identity (cli);
    if (rc != 0)
        return rc;
    void *ctx = zmq_ctx_new ();
    char err [1024];
    int screen = 0;
    long long started = wire_clock_ms ();
    desk->sync = sync_new (ctx, &cli->identity, err, sizeof err);
    if (!desk->sync) {
        cli_fail ("%s", err);
        rc = EXIT_UNREACHABLE;
        goto done;
    }
    desk->client = sync_client (desk->sync);
    sync_set_handlers (desk->sync, NULL, s_on_event, desk);
    //  The worklist first, so that a key that may not read it (importer)
    //  hears the server's refusal; then the stream from now, and the
    //  history before it.
    desk_error_t error;
    if (s_status (desk, desk->timeout_ms, &error) != 0
        || s_worklist_fetch (desk, &error) != 0) {
        cli_fail ("%s", error.text);
        rc = error.exit_status;
        goto done;
    }
    if (sync_start (desk->sync, SYNC_FROM_NOW, 0, err, sizeof err) != 0) {
        cli_fail ("%s", err);
        rc = strstr (err, "PERMISSION") ? EXIT_REFUSED : EXIT_UNREACHABLE;
        goto done;
    }
    //  Something happened before the stream was followed: it may have
    //  been new items.
    if (sync_last_seq (desk->sync) != desk->seq && s_worklist_fetch (desk, &error) != 0) {
        cli_fail ("%s", error.text);
        rc = error.exit_status;
        goto done;
    }
    s_scan_history (desk, sync_last_seq (desk->sync));
    s_rows_build (desk);
    s_detail_fetch (desk);
    desk->last_probe_ms = wire_clock_ms ();

    setlocale (LC_ALL, "");
    //  newterm, not initscr: an unknown TERM is an error we report, not
    //  an exit inside curses.
    SCREEN *term = newterm (NULL, stdout, stdin);
    if (!term) {
        cli_fail ("desk: cannot use the terminal (TERM=%s)", getenv ("TERM")
                  ? getenv ("TERM") : "");
        rc = EXIT_USAGE;
        goto done;
    }
    screen = 1;
    cbreak ();
    noecho ();
    keypad (stdscr, TRUE);
    nodelay (stdscr, TRUE);
    set_escdelay (50);
    curs_set (0);
    if (has_colors ()) {
        start_color ();
        use_default_colors ();
        init_pair (1, COLOR_GREEN, -1);
        init_pair (2, COLOR_RED, -1);
    }
    s_say (desk, 0, "ready in %lld ms: %zu item%s (%" PRIu64 " events of history read); "
           "? for help", wire_clock_ms () - started, desk->n_rows,
           desk->n_rows == 1 ? "" : "s", desk->scanned);
    s_draw (desk);
    while (!s_stop) {
        int redraw = 0;
        int applied = sync_poll (desk->sync, DESK_POLL_MS, err, sizeof err);
        if (applied < 0) {
            if (s_stop)
                break;
            if (strcmp (err, "interrupted") != 0) {
                //  Fatal: our key was refused on the event socket (revoked).
                endwin ();
                screen = 0;
                cli_fail ("%s", err);
                rc = EXIT_UNREACHABLE;
                break;
            }
            redraw = 1;
        }
        if (applied > 0)
            redraw = 1;     //  the header's seq
        wint_t key;
        int got;
        while ((got = get_wch (&key)) != ERR && !s_stop) {
            s_key (desk, got == KEY_CODE_YES, key);
            redraw = 1;
        }
        long long now = wire_clock_ms ();
        if (now - desk->last_probe_ms >= DESK_PROBE_MS) {
            int was = desk->offline;
            s_probe (desk);
            redraw |= was != desk->offline || desk->offline;
            if (was && !desk->offline)
                desk->dirty_worklist = desk->dirty_detail = 1;     //  back: ask again
        }
        //  While the server cannot be reached, only the probe asks (each
        //  call would wait its whole timeout).
        if (desk->offline) {
            if (redraw && !s_stop)
                s_draw (desk);
            continue;
        }
        //  The whole worklist: new items, or a while since (a rule that
        //  held an item back lapses with the time of day) when no form
        //  is being filled in.
        if ((desk->dirty_worklist && now - desk->last_fetch_ms >= DESK_REFRESH_MS)
            || (desk->form.kind == FORM_NONE && now - desk->last_fetch_ms >= DESK_RECHECK_MS)) {
            desk_error_t failed;
            if (s_worklist_fetch (desk, &failed) != 0)
                s_say (desk, 1, "worklist: %s", failed.text);
            redraw = 1;
        }
        while (desk->n_pending && !desk->dirty_worklist) {
            char *customer = desk->pending [--desk->n_pending];
            desk_error_t failed;
            if (s_worklist_fetch_customer (desk, customer, &failed) != 0)
                s_say (desk, 1, "worklist: %s", failed.text);
            free (customer);
            redraw = 1;
        }
        if (desk->dirty_detail && desk->form.kind == FORM_NONE) {
            s_detail_fetch (desk);
            redraw = 1;
        }
        if (redraw && !s_stop)
            s_draw (desk);
    }
done:
    if (screen)
        endwin ();
    s_desk_free (desk);
    sync_destroy (&desk->sync);
    zmq_ctx_term (ctx);
    identity_wipe (&cli->identity);
    return rc;
}

//  `recoup desk`: see the file's header. Returns the exit status.
int
cmd_desk (cli_t *cli, int argc, char **argv)
{
    desk_t *desk = calloc (1, sizeof *desk);
    if (!desk) {
        cli_fail ("out of memory");
        return EXIT_USAGE;
    }
    int once = 0;
    int rc = s_parse (desk, cli, argc, argv, &once);
    if (rc == 0 && !once && (!isatty (STDOUT_FILENO) || !isatty (STDIN_FILENO))) {
        cli_fail ("desk is interactive and needs a terminal (stdout and stdin); "
                  "`recoup desk --once` prints the worklist as text");
        rc = EXIT_USAGE;
    }
    if (rc == 0) {
        desk->timeout_ms = cli->timeout_ms;
        struct sigaction action;
        memset (&action, 0, sizeof action);
        action.sa_handler = s_on_signal;
        sigaction (SIGINT, &action, NULL);
        sigaction (SIGTERM, &action, NULL);
        signal (SIGPIPE, SIG_IGN);
        rc = once ? s_once (desk, cli) : s_interactive (desk, cli);
    }
    free (desk);
    return rc;
}
