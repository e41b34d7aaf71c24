/*  `recoup dashboard` against a real recoupd: the view from a snapshot
    (--once, text and JSON) with exact totals, aging buckets and
    percentages per currency, the late accounts and their order, the
    collection state of each (days past due, stage, hold, promises,
    disputes, flags) as the server computes it; one rep's customers
    (--rep, --mine); following live (--plain, and a pipe without it): an
    invoice, a payment, a promise and a hold each show in the next
    frames, a new flag for the rep is marked, another rep's customers
    never show; importer keys refused at the handshake (exit 3); bad
    options (exit 2).

    The server runs with RECOUP_TODAY=2026-03-01 and the daily engine off.
    The ledger as of then:

      acme (rep sam, USD): A1 1000.00 due 2025-10-31 (121 days late),
                           A2  250.00 due 2026-01-31 (29, disputed)
      bolt (rep sue, USD): B1  500.00 due 2026-03-15 (current),
                           B2  300.00 due 2026-02-10 (19),
                           B3  400.00 due 2025-12-20 (71), 100.00 paid;
                           a promise of 200.00 by 2026-03-10
      cato (rep sam, USD): C1  200.00 due 2026-04-01 (current)
      dyna (no rep, EUR):  D1  700.00 due 2026-01-15 (45)                 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define TODAY "2026-03-01"
#define FRAME_WAIT_MS 10000

static th_server_t s_server;
static identity_t s_sam;                //  sales: acme, cato
static identity_t s_sue;                //  sales: bolt
static identity_t s_mia;                //  manager
static identity_t s_ivan;               //  importer
static char s_sam_file [PATH_MAX + 32]; //  identity files for th_run
static char s_mia_file [PATH_MAX + 32];
static char s_ivan_file [PATH_MAX + 32];

typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), NULL, __VA_ARGS__)
#define s_run_as(who, run, ...) th_run (&s_server, (run), (who), __VA_ARGS__)

//  Checks that `text` holds `needle`, printing both when not.
#define expect_has(text, needle) s_expect_has (text, needle, __FILE__, __LINE__)

static void
s_expect_has (const char *text, const char *needle, const char *file, int line)
{
    if (!strstr (text, needle)) {
        print_error ("expected to find\n  %s\nin\n%s\n", needle, text);
        _fail (file, line);
    }
}

//  ---------------------------------------------------------------------
//  Reading the JSON frames: flat enough to pick values by key.

//  The row of customer `ref` in a frame's "accounts" (up to its '}') as
//  a new string, or NULL when the customer is not listed.
static char *
s_account_row (const char *frame, const char *ref)
{
    char anchor [128];
    snprintf (anchor, sizeof anchor, "{\"customer\":\"%s\",\"name\"", ref);
    const char *start = strstr (frame, anchor);
    if (!start)
        return NULL;
    const char *end = strchr (start, '}');
    return end ? strndup (start, (size_t) (end - start + 1)) : NULL;
}

//  The number after "key": in text (after `anchor` when not NULL).
//  LLONG_MIN when it is not there.
static long long
s_num (const char *text, const char *anchor, const char *key)
{
    if (anchor && !(text = strstr (text, anchor)))
        return LLONG_MIN;
    char pattern [128];
    snprintf (pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr (text, pattern);
    if (!at)
        return LLONG_MIN;
    return strtoll (at + strlen (pattern), NULL, 10);
}

//  The string after "key": in text, into buf ("" when not there).
static const char *
s_str (const char *text, const char *key, char *buf, size_t len)
{
    char pattern [128];
    snprintf (pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = strstr (text, pattern);
    *buf = 0;
    if (at) {
        at += strlen (pattern);
        size_t n = strcspn (at, "\"");
        snprintf (buf, len, "%.*s", (int) (n < len ? n : len - 1), at);
    }
    return buf;
}

//  A number of customer ref's row in the frame (LLONG_MIN: not listed).
static long long
s_row_num (const char *frame, const char *ref, const char *key)
{
    char *row = s_account_row (frame, ref);
    long long value = row ? s_num (row, NULL, key) : LLONG_MIN;
    free (row);
    return value;
}

//  Where a currency's totals start in a frame, into anchor [64].
static const char *
s_currency (char *anchor, const char *code)
{
    snprintf (anchor, 64, "{\"currency\":\"%s\",\"open_minor\"", code);
    return anchor;
}

//  ---------------------------------------------------------------------
//  A dashboard running in the background (--plain), read through a pipe.

typedef struct {
    pid_t pid;                  //  the recoup process
    int fd;                     //  its stdout
    char *out;                  //  everything it printed, NUL-terminated
    size_t len;                 //  bytes in out
    size_t seen;                //  bytes already matched by a wait
    char err [PATH_MAX + 64];   //  where its stderr goes
} bg_t;

//  Starts `recoup --identity IDENTITY ARGS` in the server's directory
//  with stdout on a pipe. 0 or -1.
static int
s_bg_start (bg_t *self, const char *identity, const char *args)
{
    memset (self, 0, sizeof *self);
    snprintf (self->err, sizeof self->err, "%s/bg.err", s_server.dir);
    char command [8192];
    snprintf (command, sizeof command, "exec %s --identity '%s' %s 2>'%s' </dev/null",
              RECOUP_PATH, identity, args, self->err);
    int pipe_fd [2];
    if (pipe (pipe_fd) != 0)
        return -1;
    self->pid = fork ();
    if (self->pid < 0)
        return -1;
    if (self->pid == 0) {
        dup2 (pipe_fd [1], STDOUT_FILENO);
        close (pipe_fd [0]);
        close (pipe_fd [1]);
        if (chdir (s_server.dir) != 0)
            _exit (127);
        execl ("/bin/sh", "sh", "-c", command, (char *) NULL);
        _exit (127);
    }
    close (pipe_fd [1]);
    self->fd = pipe_fd [0];
    fcntl (self->fd, F_SETFL, O_NONBLOCK);
    self->out = calloc (1, 1);
    return self->out ? 0 : -1;
}

//  Reads what the process printed, waiting up to ms for more. Returns 0,
//  or -1 at end of file (the process is gone).
static int
s_bg_read (bg_t *self, int ms)
{
    struct pollfd item = { self->fd, POLLIN, 0 };
    if (poll (&item, 1, ms) <= 0)
        return 0;
    char chunk [65536];
    ssize_t got = read (self->fd, chunk, sizeof chunk);
    if (got == 0)
        return -1;
    if (got < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    char *out = realloc (self->out, self->len + (size_t) got + 1);
    assert_non_null (out);
    memcpy (out + self->len, chunk, (size_t) got);
    self->out = out;
    self->len += (size_t) got;
    self->out [self->len] = 0;
    return 0;
}

//  Waits for a JSON frame (a whole line) after those already matched in
//  which `check` holds; returns a copy of it (caller frees), or fails
//  the test with what came instead. Frames up to it count as seen.
#define bg_frame(bg, what, check) s_bg_frame (bg, what, check, __FILE__, __LINE__)

static char *
s_bg_frame (bg_t *self, const char *what, int (*check) (const char *frame),
            const char *file, int line)
{
    long long deadline = th_now_ms () + FRAME_WAIT_MS;
    while (1) {
        //  Whole lines after what was seen.
        char *start = self->out + self->seen;
        char *end;
        while ((end = strchr (start, '\n'))) {
            char *frame = strndup (start, (size_t) (end - start));
            assert_non_null (frame);
            self->seen = (size_t) (end + 1 - self->out);
            if (check (frame))
                return frame;
            free (frame);
            start = end + 1;
        }
        if (th_now_ms () >= deadline || s_bg_read (self, 100) < 0)
            break;
    }
    char err [4096] = "";
    FILE *file_err = fopen (self->err, "r");
    if (file_err) {
        size_t n = fread (err, 1, sizeof err - 1, file_err);
        err [n] = 0;
        fclose (file_err);
    }
    print_error ("no frame with %s within %d ms; the dashboard printed:\n%s\nstderr: %s\n",
                 what, FRAME_WAIT_MS, self->len > 6000 ? self->out + self->len - 6000
                                                       : self->out, err);
    _fail (file, line);
    return NULL;
}

//  Waits until the text it printed after what was seen holds needle.
#define bg_text(bg, needle) s_bg_text (bg, needle, __FILE__, __LINE__)

static void
s_bg_text (bg_t *self, const char *needle, const char *file, int line)
{
    long long deadline = th_now_ms () + FRAME_WAIT_MS;
    while (1) {
        char *at = strstr (self->out + self->seen, needle);
        if (at) {
            self->seen = (size_t) (at + strlen (needle) - self->out);
            return;
        }
        if (th_now_ms () >= deadline || s_bg_read (self, 100) < 0)
            break;
    }
    print_error ("no '%s' within %d ms; the dashboard printed:\n%s\n", needle,
                 FRAME_WAIT_MS, self->len > 6000 ? self->out + self->len - 6000 : self->out);
    _fail (file, line);
}

//  SIGTERM, and its exit status.
static int
s_bg_stop (bg_t *self)
{
    kill (self->pid, SIGTERM);
    int status = 0;
    waitpid (self->pid, &status, 0);
    close (self->fd);
    free (self->out);
    self->out = NULL;
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

//  ---------------------------------------------------------------------

static int
s_setup (void **state)
{
    (void) state;
    setenv ("RECOUP_TODAY", TODAY, 1);
    setenv ("RECOUP_ENGINE_DAILY", "off", 1);
    if (th_server_start (&s_server, "dashboard", NULL) != 0)
        return -1;
    if (th_user_add (&s_server, "sam", RECOUP__ROLE__SALES, &s_sam) != 0
        || th_user_add (&s_server, "sue", RECOUP__ROLE__SALES, &s_sue) != 0
        || th_user_add (&s_server, "mia", RECOUP__ROLE__MANAGER, &s_mia) != 0
        || th_user_add (&s_server, "ivan", RECOUP__ROLE__IMPORTER, &s_ivan) != 0)
        return -1;
    if (th_identity_file (&s_server, &s_sam, "sam", s_sam_file, sizeof s_sam_file) != 0
        || th_identity_file (&s_server, &s_mia, "mia", s_mia_file, sizeof s_mia_file) != 0
        || th_identity_file (&s_server,
                             &s_ivan, "ivan", s_ivan_file, sizeof s_ivan_file) != 0)
        return -1;
    if (th_admin (&s_server, "customer add acme --name 'Acme Ltd' --sales-rep sam") != 0
        || th_admin (&s_server, "customer add bolt --name 'Bolt AB' --sales-rep sue") != 0
        || th_admin (&s_server, "customer add cato --name 'Cato Inc' --sales-rep sam") != 0
        || th_admin (&s_server, "customer add dyna --name 'Dyna GmbH' --currency EUR") != 0
        || th_admin (&s_server,
                     "invoice issue A1 --customer acme --amount 1000.00 --issued 2025-10-01"
                     " --due 2025-10-31") != 0
        || th_admin (&s_server,
                     "invoice issue A2 --customer acme --amount 250.00 --issued 2026-01-01"
                     " --due 2026-01-31") != 0
        || th_admin (&s_server,
                     "invoice issue B1 --customer bolt --amount 500.00 --issued 2026-02-13"
                     " --due 2026-03-15") != 0
        || th_admin (&s_server,
                     "invoice issue B2 --customer bolt --amount 300.00 --issued 2026-01-11"
                     " --due 2026-02-10") != 0
        || th_admin (&s_server,
                     "invoice issue B3 --customer bolt --amount 400.00 --issued 2025-11-20"
                     " --due 2025-12-20") != 0
        || th_admin (&s_server,
                     "invoice issue C1 --customer cato --amount 200.00 --issued 2026-03-01"
                     " --due 2026-04-01") != 0
        || th_admin (&s_server,
                     "invoice issue D1 --customer dyna --amount 700.00 --issued 2025-12-16"
                     " --due 2026-01-15") != 0
        || th_admin (&s_server,
                     "payment post --customer bolt --reference BANK-1 --amount 100.00"
                     " --invoice B3 --received 2026-02-20") != 0
        || th_admin (&s_server, "dispute open A2 --reason 'two boxes damaged'") != 0
        || th_admin (&s_server, "promise add bolt --amount 200.00 --by 2026-03-10") != 0)
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

//  The morning summary: totals per currency with each bucket and its
//  share, the counts, the oldest flag, the late accounts by past due
//  (currencies apart), accounts with nothing late left out.
static void
test_once_text (void **state)
{
    (void) state;
    run_t run;
    s_run_as (s_mia_file, &run, "dashboard --once");
    th_expect_run (&run, 0, "recoup dashboard: as of " TODAY ", seq ");
    expect_has (run.out, "(snapshot)\nview: all customers, all currencies, sorted by past due\n");
    expect_has (run.out, "\nEUR  open 700.00 (1 invoice, 1 account), past due 700.00 "
                         "(100.0%), 1 account late\n"
                         "     current 0.00 (0.0%)  1-30 0.00 (0.0%)  31-60 700.00 (100.0%)\n"
                         "     61-90 0.00 (0.0%)  91-120 0.00 (0.0%)  120+ 0.00 (0.0%)\n"
                         "     on hold 0, cash only 0, promises pending 0 (0.00), "
                         "disputes open 0\n");
    expect_has (run.out, "\nUSD  open 2,550.00 (6 invoices, 3 accounts), past due 1,850.00 "
                         "(72.5%), 2 accounts late\n"
                         "     current 700.00 (27.5%)  1-30 550.00 (21.6%)  31-60 0.00 (0.0%)\n"
                         "     61-90 300.00 (11.8%)  91-120 0.00 (0.0%)  120+ 1,000.00 (39.2%)\n"
                         "     on hold 0, cash only 0, promises pending 1 (200.00), "
                         "disputes open 1\n");
    expect_has (run.out, "\naccounts late 3, on hold 0, cash only 0; promises pending 1, "
                         "disputes open 1\n");
    expect_has (run.out, "\nflags unacknowledged 1, oldest 0 days: acme dispute A2 (sam)\n");
    expect_has (run.out, "\nlate accounts: 3\ncustomer ");
    //  Rows: ref, name, currency, past due, oldest bucket, days.
    const char *dyna = strstr (run.out, "\ndyna         Dyna GmbH              EUR         700.00 31-60     45 ");
    const char *acme = strstr (run.out, "\nacme         Acme Ltd               USD       1,250.00 120+     121 ");
    const char *bolt = strstr (run.out, "\nbolt         Bolt AB                USD         600.00 61-90     71 ");
    assert_non_null (dyna);
    assert_non_null (acme);
    assert_non_null (bolt);
    assert_true (dyna < acme && acme < bolt);
    assert_null (strstr (run.out, "\ncato "));
    //  acme: a dispute and its flag; bolt: a promise.
    expect_has (acme, "  0  1  1  sam        -\n");
    expect_has (bolt, "  1  0  0  sue        -\n");
    //  What happened lately, from the history.
    expect_has (run.out, "\nrecent events:\n");
    expect_has (run.out, " payment: bolt 100.00 USD (BANK-1)\n");
    expect_has (run.out, " dispute opened: acme A2: two boxes damaged\n");
    expect_has (run.out, " flag raised for sam: acme dispute A2\n");
    expect_has (run.out, " promise: bolt to pay 200.00 USD by 2026-03-10\n");
    //  --limit lists fewer, the totals stay; --currency keeps one.
    s_run_as (s_mia_file, &run, "dashboard --once --limit 1");
    th_expect_run (&run, 0, "\nlate accounts: 3 (the first 1 shown)\n");
    assert_non_null (strstr (run.out, "\ndyna "));
    assert_null (strstr (run.out, "\nacme "));
    s_run_as (s_mia_file, &run, "dashboard --once --currency USD");
    th_expect_run (&run, 0, "view: all customers, USD only, sorted by past due\n");
    assert_null (strstr (run.out, "EUR"));
    expect_has (run.out, "\naccounts late 2, on hold 0,");
}

//  The same as one JSON object: money in minor units beside the codes,
//  shares with two decimals, each late account with its collection
//  state as the server says (account show).
static void
test_once_json (void **state)
{
    (void) state;
    run_t run;
    s_run_as (s_mia_file, &run, "--json dashboard --once");
    th_expect_run (&run, 0, "{\"as_of\":\"" TODAY "\"");
    const char *out = run.out;
    assert_int_equal (strchr (out, '\n') - out + 1, (long) strlen (out));    //  one line
    expect_has (out, "\"live\":false,\"rep\":null,\"currency\":null,\"sort\":\"past_due\"");
    char usd [64], eur [64];
    s_currency (usd, "USD");
    expect_has (out, usd);
    assert_int_equal (s_num (out, usd, "open_minor"), 255000);
    assert_int_equal (s_num (out, usd, "open_count"), 6);
    assert_int_equal (s_num (out, usd, "accounts_open"), 3);
    assert_int_equal (s_num (out, usd, "past_due_minor"), 185000);
    expect_has (out, "\"past_due_minor\":185000,\"past_due_percent\":72.55,");
    expect_has (out, "\"buckets\":{\"current\":{\"count\":2,\"amount_minor\":70000,"
                     "\"percent\":27.45},\"1-30\":{\"count\":2,\"amount_minor\":55000,"
                     "\"percent\":21.57},\"31-60\":{\"count\":0,\"amount_minor\":0,"
                     "\"percent\":0.00},\"61-90\":{\"count\":1,\"amount_minor\":30000,"
                     "\"percent\":11.76},\"91-120\":{\"count\":0,\"amount_minor\":0,"
                     "\"percent\":0.00},\"over-120\":{\"count\":1,\"amount_minor\":100000,"
                     "\"percent\":39.22}},\"accounts_late\":2,\"on_hold\":0,\"cash_only\":0,"
                     "\"promises_pending\":1,\"promised_minor\":20000,\"disputes_open\":1}");
    s_currency (eur, "EUR");
    assert_int_equal (s_num (out, eur, "open_minor"), 70000);
    assert_int_equal (s_num (out, eur, "past_due_minor"), 70000);
    //  EUR comes first: currencies in code order.
    assert_true (strstr (out, eur) < strstr (out, usd));
    expect_has (out, "\"accounts_in_view\":4,\"accounts_late\":3,\"on_hold\":0,"
                     "\"cash_only\":0,\"promises_pending\":1,\"disputes_open\":1,"
                     "\"flags_unacknowledged\":1,\"oldest_flag\":{\"customer\":\"acme\","
                     "\"flag\":\"dispute A2\",\"rep\":\"sam\",\"raised_on\":\"" TODAY "\","
                     "\"days_open\":0}");
    expect_has (out, "\"accounts_late_listed\":3,\"accounts\":[{\"customer\":\"dyna\",");
    const char *acme_at = strstr (out, "{\"customer\":\"acme\",\"name\"");
    const char *bolt_at = strstr (out, "{\"customer\":\"bolt\",\"name\"");
    assert_non_null (acme_at);
    assert_non_null (bolt_at);
    assert_true (acme_at < bolt_at);
    assert_null (s_account_row (out, "cato"));
    char *acme = s_account_row (out, "acme");
    expect_has (acme, "\"name\":\"Acme Ltd\",\"sales_rep\":\"sam\",\"currency\":\"USD\","
                      "\"open_minor\":125000,\"past_due_minor\":125000,"
                      "\"oldest_bucket\":\"over-120\",\"days_past_due\":121,");
    expect_has (acme, "\"on_hold\":false,\"hold_reason\":\"\",\"cash_only\":false,"
                      "\"reason\":\"\",\"promises\":0,\"disputes\":1,\"flags\":1,"
                      "\"new_flag\":false}");
    assert_int_equal (s_row_num (out, "bolt", "past_due_minor"), 60000);
    assert_int_equal (s_row_num (out, "bolt", "days_past_due"), 71);
    assert_int_equal (s_row_num (out, "bolt", "promises"), 1);
    assert_int_equal (s_row_num (out, "dyna", "days_past_due"), 45);
    //  The stage is the server's: the same as account show says.
    for (const char *const *ref = (const char *const []) { "acme", "bolt", "dyna", NULL };
         *ref; ref++) {
        char want [64], got [64];
        run_t show;
        s_run (&show, "--json account show %s", *ref);
        th_expect_run (&show, 0, NULL);
        s_str (show.out, "stage", want, sizeof want);
        assert_true (*want);
        char *row = s_account_row (out, *ref);
        assert_non_null (row);
        assert_string_equal (s_str (row, "stage", got, sizeof got), want);
        free (row);
    }
    free (acme);
    //  Recent events in JSON, oldest first.
    expect_has (out, "\"text\":\"dispute opened: acme A2: two boxes damaged\",\"new_flag\":false}");
}

//  Sorted by days past due, and by stage (the policy's order): acme
//  (121 days), bolt (71), dyna (45) either way.
static void
test_sort (void **state)
{
    (void) state;
    const char *sorts [] = { "days", "stage" };
    for (int i = 0; i < 2; i++) {
        run_t run;
        s_run_as (s_mia_file, &run, "dashboard --once --sort %s", sorts [i]);
        th_expect_run (&run, 0, i ? "sorted by stage\n" : "sorted by days past due\n");
        const char *acme = strstr (run.out, "\nacme ");
        const char *bolt = strstr (run.out, "\nbolt ");
        const char *dyna = strstr (run.out, "\ndyna ");
        assert_non_null (acme);
        assert_non_null (bolt);
        assert_non_null (dyna);
        assert_true (acme < bolt && bolt < dyna);
    }
}

//  A rep's view: only their customers, in totals, rows and events.
static void
test_rep (void **state)
{
    (void) state;
    run_t run;
    s_run_as (s_mia_file, &run, "dashboard --once --rep sam");
    th_expect_run (&run, 0, "view: sam's customers, all currencies, sorted by past due\n");
    expect_has (run.out, "\nUSD  open 1,450.00 (3 invoices, 2 accounts), past due 1,250.00 "
                         "(86.2%), 1 account late\n");
    expect_has (run.out, "\nlate accounts: 1\n");
    expect_has (run.out, "\nacme ");
    assert_null (strstr (run.out, "EUR"));
    assert_null (strstr (run.out, "bolt"));
    assert_null (strstr (run.out, "dyna"));
    expect_has (run.out, " flag raised for sam: acme dispute A2\n");
    //  --mine: the caller's own customers, the same view.
    run_t mine;
    s_run_as (s_sam_file, &mine, "dashboard --once --mine");
    th_expect_run (&mine, 0, "view: sam's customers,");
    const char *a = strstr (run.out, "\n\nUSD"), *b = strstr (mine.out, "\n\nUSD");
    assert_non_null (a);
    assert_non_null (b);
    assert_string_equal (a, b);
    //  A rep nobody has: nothing open.
    s_run_as (s_mia_file, &run, "dashboard --once --rep nobody");
    th_expect_run (&run, 0, "\nnothing open\n");
    expect_has (run.out, "\nlate accounts: 0\n");
}

static int
s_is_first (const char *frame)
{
    return strstr (frame, "\"live\":true") != NULL;
}

static int
s_invoice_seen (const char *frame)
{
    return s_row_num (frame, "acme", "past_due_minor") == 135000;
}

static int
s_payment_seen (const char *frame)
{
    return s_row_num (frame, "acme", "past_due_minor") == 35000;
}

static int
s_promise_seen (const char *frame)
{
    return s_row_num (frame, "acme", "promises") == 1;
}

static int
s_hold_seen (const char *frame)
{
    char *row = s_account_row (frame, "acme");
    int seen = row && strstr (row, "\"on_hold\":true,\"hold_reason\":\"no payment\"")
               && strstr (row, "\"new_flag\":true");
    free (row);
    return seen;
}

static int
s_reason_seen (const char *frame)
{
    char *row = s_account_row (frame, "acme");
    int seen = row && strstr (row, "\"reason\":\"cannot_pay\"");
    free (row);
    return seen;
}

static int
s_cash_only_seen (const char *frame)
{
    return s_num (frame, "\"accounts_in_view\":", "cash_only") == 1;
}

//  Following live as the rep (--mine --plain --json): each change shows
//  in the next frames; a new flag for the rep is marked; sue's customer
//  never shows.
static void
test_plain_follows (void **state)
{
    (void) state;
    bg_t bg;
    assert_int_equal (s_bg_start (&bg, s_sam_file, "--json dashboard --mine --plain"), 0);
    char *frame = bg_frame (&bg, "the first frame", s_is_first);
    assert_int_equal (s_row_num (frame, "acme", "past_due_minor"), 125000);
    expect_has (frame, "\"rep\":\"sam\"");
    assert_null (strstr (frame, "bolt"));
    free (frame);
    run_t run;
    //  A new invoice, 40 days late: 31-60.
    s_run (&run, "invoice issue A3 --customer acme --amount 100.00 --issued 2025-12-21"
                 " --due 2026-01-20");
    th_expect_run (&run, 0, NULL);
    frame = bg_frame (&bg, "acme's invoice A3", s_invoice_seen);
    char usd [64];
    s_currency (usd, "USD");
    assert_int_equal (s_num (frame, usd, "past_due_minor"), 135000);
    expect_has (frame, "\"31-60\":{\"count\":1,\"amount_minor\":10000,");
    free (frame);
    //  A promise: pending.
    s_run (&run, "promise add acme --amount 100.00 --by 2026-03-10");
    th_expect_run (&run, 0, NULL);
    frame = bg_frame (&bg, "acme's promise", s_promise_seen);
    assert_int_equal (s_num (frame, usd, "promises_pending"), 1);
    assert_int_equal (s_num (frame, usd, "promised_minor"), 10000);
    expect_has (frame, "\"text\":\"promise: acme to pay 100.00 USD by 2026-03-10\"");
    free (frame);
    //  A payment of A1: the oldest late invoice is now A3, and the
    //  promise is kept by it.
    s_run (&run, "payment post --customer acme --reference BANK-9 --amount 1000.00"
                 " --invoice A1");
    th_expect_run (&run, 0, NULL);
    frame = bg_frame (&bg, "acme's payment", s_payment_seen);
    assert_int_equal (s_row_num (frame, "acme", "days_past_due"), 40);
    assert_int_equal (s_row_num (frame, "acme", "promises"), 0);
    assert_int_equal (s_num (frame, usd, "promises_pending"), 0);
    expect_has (frame, "\"oldest_bucket\":\"31-60\"");
    expect_has (frame, "\"text\":\"payment: acme 1,000.00 USD (BANK-9)\"");
    expect_has (frame, "\"text\":\"promise kept: acme, 100.00 USD\"");
    free (frame);
    //  Another rep's customer changes: frames go on, without it.
    s_run (&run, "payment post --customer bolt --reference BANK-10 --amount 50.00");
    th_expect_run (&run, 0, NULL);
    //  A hold: on hold, and the flag it raises for sam is new.
    s_run (&run, "hold place acme --reason 'no payment'");
    th_expect_run (&run, 0, NULL);
    frame = bg_frame (&bg, "acme's hold and new flag", s_hold_seen);
    assert_int_equal (s_num (frame, NULL, "flags_unacknowledged"), 2);
    expect_has (frame, "flag raised for sam: acme hold " TODAY "\",\"new_flag\":true}");
    expect_has (frame, "\"text\":\"hold placed: acme (no payment)\"");
    free (frame);
    //  The reason the customer does not pay.
    s_run (&run, "account reason acme cannot_pay");
    th_expect_run (&run, 0, NULL);
    frame = bg_frame (&bg, "acme's reason", s_reason_seen);
    expect_has (frame, "\"text\":\"reason: acme cannot_pay\"");
    free (frame);
    //  A promise made a month ago and not kept: cato goes on hold and
    //  cash-only; with nothing past due it counts but is not listed.
    s_run (&run, "promise add cato --amount 50.00 --by 2026-02-10 --made-on 2026-02-01");
    th_expect_run (&run, 0, "broken");
    frame = bg_frame (&bg, "cato cash-only", s_cash_only_seen);
    expect_has (frame, "\"accounts_in_view\":2,\"accounts_late\":1,\"on_hold\":2,"
                       "\"cash_only\":1,");
    assert_null (s_account_row (frame, "cato"));
    expect_has (frame, "\"text\":\"promise broken: cato, 50.00 USD by 2026-02-10\"");
    free (frame);
    assert_null (strstr (bg.out, "bolt"));
    //  A frame only when the view changed: never the same twice running,
    //  the stream only forward.
    long long last_seq = 0;
    const char *last = NULL;
    for (const char *line = bg.out, *end; (end = strchr (line, '\n')); line = end + 1) {
        long long seq = s_num (line, NULL, "seq");
        assert_true (seq >= last_seq);
        assert_false (last && end - line == strchr (last, '\n') - last
                      && memcmp (line, last, (size_t) (end - line)) == 0);
        last_seq = seq;
        last = line;
    }
    assert_int_equal (s_bg_stop (&bg), 0);
}

//  Without --plain, stdout a pipe: plain text frames, live.
static void
test_pipe_is_plain (void **state)
{
    (void) state;
    bg_t bg;
    assert_int_equal (s_bg_start (&bg, s_mia_file, "dashboard"), 0);
    bg_text (&bg, "recoup dashboard: as of " TODAY ", seq ");
    bg_text (&bg, " (live, head ");
    bg_text (&bg, "\nrecent events:\n");
    run_t run;
    s_run (&run, "dispute open B2 --reason 'price is wrong'");
    th_expect_run (&run, 0, NULL);
    bg_text (&bg, " dispute opened: bolt B2: price is wrong\n");
    bg_text (&bg, "\n\n");      //  the frame is whole
    assert_int_equal (s_bg_stop (&bg), 0);
}

//  Importer keys never read the stream: refused at the handshake, exit
//  3; bad options: exit 2 with what is wrong.
static void
test_refusals_and_usage (void **state)
{
    (void) state;
    run_t run;
    s_run_as (s_ivan_file, &run, "dashboard --once");
    th_expect_run (&run, 3, "refused this key on the event socket");
    expect_has (run.err, "importer keys may only send commands");
    assert_string_equal (run.out, "");
    s_run (&run, "dashboard --once --bogus");
    th_expect_run (&run, 2, "unexpected argument '--bogus'");
    expect_has (run.err, "usage: recoup dashboard");
    s_run (&run, "dashboard --once --limit 0");
    th_expect_run (&run, 2, "--limit wants a number of accounts above 0, got '0'");
    s_run (&run, "dashboard --once --limit");
    th_expect_run (&run, 2, "--limit needs a value");
    s_run (&run, "dashboard --once --currency XYZ");
    th_expect_run (&run, 2, "--currency wants an ISO 4217 code such as USD, got 'XYZ'");
    s_run (&run, "dashboard --once --rep 'Sam!'");
    th_expect_run (&run, 2, "--rep wants a user name");
    s_run (&run, "dashboard --once --rep sam --mine");
    th_expect_run (&run, 2, "--rep and --mine");
    s_run (&run, "dashboard --once --sort name");
    th_expect_run (&run, 2, "--sort wants past-due, days or stage, got 'name'");
    s_run (&run, "dashboard --once --rep sam --rep sue");
    th_expect_run (&run, 2, "--rep given twice");
    s_run (&run, "--identity nowhere.identity dashboard --once");
    assert_int_equal (run.status, 2);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_once_text),
        cmocka_unit_test (test_once_json),
        cmocka_unit_test (test_sort),
        cmocka_unit_test (test_rep),
        cmocka_unit_test (test_refusals_and_usage),
        //  These two change the ledger: last.
        cmocka_unit_test (test_plain_follows),
        cmocka_unit_test (test_pipe_is_plain),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
