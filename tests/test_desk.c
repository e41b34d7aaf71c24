/*  `recoup desk` against a real recoupd: the worklist printed once
    (--once, exact text: columns, done and blocked marks, the rule
    holding an item back), whose items are shown (--mine, --assignee,
    --all), who may use it (a sales key reads the worklist, an importer
    key is refused with exit 1, an unreachable server is exit 3, a pipe
    without --once is exit 2), and the full screen driven for real under
    tmux: the due call and the customer's account, a call logged `spoke`
    through the form (recorded, the item done), a call refused by quiet
    hours showing the rule and then recorded with an override reason, a
    letter marked sent, an amount with too many decimals refused before
    anything is sent, a promise showing in the account pane, a dispute,
    a reason and a payment recorded through their forms, a change
    made elsewhere showing live, the server gone and back in the
    header, a find, a hold and the server's refusal, resizing, and q.

    The business date (RECOUP_TODAY) is yesterday in UTC, so that "now"
    (when contacts are logged and letters marked) is on or after it in
    every zone. The contact rules are judged at the real time of day, so
    the customers' zones are chosen from it: `quiet` is a zone where it
    is about 03:00 now (quiet hours), `open` one where it is about
    14:00. The ledger, due dates relative to the business date D:

      acme (open, collector cora):  A-1 due D-7: past_due_notice (email),
                                    first_call (phone, cora)
      tky  (quiet, cora):           T-1 due D-7: the same, both blocked
      lett (open, cora, rep sam):   L-1 due D-30: sales_flag (sam),
                                    second_call, direct_notice (email),
                                    direct_letter (cora), credit_hold
      zed  (open, collector mia):   Z-1 due D-7: past_due_notice,
                                    first_call (mia)                    */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "date.h"
#include "harness.h"

#define SCREEN_WAIT_MS 10000

static th_server_t s_server;
static identity_t s_cora, s_sam, s_mia, s_ivan;
static char s_cora_file [PATH_MAX + 32];
static char s_sam_file [PATH_MAX + 32];
static char s_ivan_file [PATH_MAX + 32];
static char s_day [DATE_ISO_LEN + 1];       //  the business date D
static int32_t s_d;                         //  D as days
static int s_quiet_hours;                   //  UTC offset of the quiet zone
static char s_quiet [32], s_open [32];      //  zone names
static char s_socket [64];                  //  the tmux server's socket name
static char s_rc_file [PATH_MAX + 32];      //  the desk's exit status lands here

typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), NULL, __VA_ARGS__)
#define s_run_as(who, run, ...) th_run (&s_server, (run), (who), __VA_ARGS__)

//  D + offset as YYYY-MM-DD, in one of a few rotating buffers.
static const char *
s_date (int offset)
{
    static char bufs [8][DATE_ISO_LEN + 1];
    static int next = 0;
    char *buf = bufs [next++ % 8];
    date_format_iso (s_d + offset, buf);
    return buf;
}

//  The zone whose local time is UTC + hours (-12..14).
static void
s_zone (int hours, char *name, size_t len)
{
    if (hours == 0)
        snprintf (name, len, "UTC");
    else        //  POSIX-style names: Etc/GMT-9 is nine hours ahead of UTC
        snprintf (name, len, "Etc/GMT%+d", -hours);
}

//  The offset (-9..14 hours) at which local time is `local` o'clock when
//  it is `utc` o'clock in UTC.
static int
s_offset_for (int local, int utc)
{
    int hours = ((local - utc) % 24 + 24) % 24;
    return hours > 14 ? hours - 24 : hours;
}

static int
s_setup (void **state)
{
    (void) state;
    s_d = date_today_utc () - 1;
    date_format_iso (s_d, s_day);
    setenv ("RECOUP_TODAY", s_day, 1);
    setenv ("RECOUP_ENGINE_DAILY", "off", 1);
    time_t now = time (NULL);
    struct tm utc;
    gmtime_r (&now, &utc);
    s_quiet_hours = s_offset_for (3, utc.tm_hour);
    s_zone (s_quiet_hours, s_quiet, sizeof s_quiet);
    s_zone (s_offset_for (14, utc.tm_hour), s_open, sizeof s_open);
    snprintf (s_socket, sizeof s_socket, "recoup-desk-test-%d", (int) getpid ());
    if (th_server_start (&s_server, "desk", NULL) != 0)
        return -1;
    snprintf (s_rc_file, sizeof s_rc_file, "%s/desk.rc", s_server.dir);
    if (th_user_add (&s_server, "cora", RECOUP__ROLE__COLLECTOR, &s_cora) != 0
        || th_user_add (&s_server, "sam", RECOUP__ROLE__SALES, &s_sam) != 0
        || th_user_add (&s_server, "mia", RECOUP__ROLE__MANAGER, &s_mia) != 0
        || th_user_add (&s_server, "ivan", RECOUP__ROLE__IMPORTER, &s_ivan) != 0
        || th_identity_file (&s_server,
                             &s_cora, "cora", s_cora_file, sizeof s_cora_file) != 0
        || th_identity_file (&s_server, &s_sam, "sam", s_sam_file, sizeof s_sam_file) != 0
        || th_identity_file (&s_server,
                             &s_ivan, "ivan", s_ivan_file, sizeof s_ivan_file) != 0)
        return -1;
    if (th_admin (&s_server,
                  "customer add acme --name 'Acme Ltd' --collector cora --timezone %s",
                  s_open) != 0
        || th_admin (&s_server,
                     "customer add tky --name 'Tokyo KK' --collector cora --timezone %s",
                     s_quiet) != 0
        || th_admin (&s_server,
                     "customer add lett --name 'Letter AB' --collector cora --sales-rep sam "
                     "--timezone %s --address '1 Main Street, Springfield'", s_open) != 0
        || th_admin (&s_server,
                     "customer add zed --name 'Zed Inc' --collector mia --timezone %s",
                     s_open) != 0
        || th_admin (&s_server,
                     "invoice issue A-1 --customer acme --amount 1000.00 --issued %s "
                     "--due %s", s_date (-37), s_date (-7)) != 0
        || th_admin (&s_server,
                     "invoice issue T-1 --customer tky --amount 500.00 --issued %s "
                     "--due %s", s_date (-37), s_date (-7)) != 0
        || th_admin (&s_server,
                     "invoice issue L-1 --customer lett --amount 800.00 --issued %s "
                     "--due %s", s_date (-60), s_date (-30)) != 0
        || th_admin (&s_server,
                     "invoice issue L-2 --customer lett --amount 120.00 --issued %s "
                     "--due %s", s_date (0), s_date (30)) != 0
        || th_admin (&s_server,
                     "invoice issue Z-1 --customer zed --amount 90.00 --issued %s "
                     "--due %s", s_date (-37), s_date (-7)) != 0
        || th_admin (&s_server, "engine run --as-of %s", s_day) != 0)
        return -1;
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    char command [160];
    snprintf (command, sizeof command, "tmux -L %s kill-server >/dev/null 2>&1", s_socket);
    if (system (command) != 0) {
        //  Nothing was left running.
    }
    th_server_destroy (&s_server);
    return 0;
}

//  One worklist line as `--once` prints it.
static void
s_line (char *out, size_t len, const char *mark, const char *customer, const char *name,
        const char *invoices, const char *step, const char *channel, const char *tone,
        const char *due, const char *assignee)
{
    size_t used = strlen (out);
    snprintf (out + used, len - used, "%-7s %-12s %-20s %-16s %-18s %-16s %-8s %-10s %s\n",
              mark, customer, name, invoices, step, channel, tone, due, assignee);
}

//  The start of an item's line, newline before, into a static buffer.
static const char *
s_row (const char *mark, const char *customer, const char *name, const char *invoices,
       const char *step)
{
    static char buf [256];
    snprintf (buf, sizeof buf, "\n%-7s %-12s %-20s %-16s %-18s ", mark, customer, name,
              invoices, step);
    return buf;
}

//  --once: the worklist with its columns, exactly: done (the credit
//  hold recoupd placed itself), blocked with the rule and when it
//  allows the contact, items assigned to others left out.
static void
test_once (void **state)
{
    (void) state;
    //  At an instant when it is 03:00 in the quiet zone (14:00 in the
    //  open one): quiet hours until 08:00 there.
    int64_t at = (int64_t) s_d * 86400 + (int64_t) (((3 - s_quiet_hours) % 24 + 24) % 24) * 3600;
    time_t at_time = (time_t) at;
    struct tm tm;
    gmtime_r (&at_time, &tm);
    char at_text [32], local_day [DATE_ISO_LEN + 1];
    strftime (at_text, sizeof at_text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    date_format_iso ((int32_t) ((at + s_quiet_hours * 3600) / 86400), local_day);
    char blocked [512];
    snprintf (blocked, sizeof blocked, "        quiet_hours: it is 03:00 in %s for tky; "
              "contact is allowed from 08:00 (%sT08:00%c%02d:00)\n", s_quiet, local_day,
              s_quiet_hours < 0 ? '-' : '+', abs (s_quiet_hours));
    run_t run;
    s_run_as (s_cora_file, &run, "desk --once --at %s", at_text);
    th_expect_run (&run, 0, NULL);
    char want [8192];
    snprintf (want, sizeof want, "recoup desk: worklist for %s, cora (collector): assigned "
              "to cora or to nobody: 9 items, 1 done, 2 blocked\n", s_day);
    s_line (want, sizeof want, "mark", "customer", "name", "invoices", "step", "channel",
            "tone", "due", "assignee");
    s_line (want, sizeof want, "", "acme", "Acme Ltd", "A-1", "past_due_notice", "email",
            "friendly", s_date (-6), "-");
    s_line (want, sizeof want, "", "acme", "Acme Ltd", "A-1", "first_call", "phone",
            "friendly", s_date (0), "cora");
    s_line (want, sizeof want, "", "lett", "Letter AB", "L-1", "second_call", "phone",
            "firm", s_date (-16), "cora");
    s_line (want, sizeof want, "", "lett", "Letter AB", "L-1", "direct_notice", "email",
            "direct", s_date (0), "-");
    s_line (want, sizeof want, "", "lett", "Letter AB", "L-1", "direct_letter", "letter",
            "direct", s_date (0), "cora");
    s_line (want, sizeof want, "done", "lett", "Letter AB", "L-1", "credit_hold",
            "credit_hold", "-", s_date (0), "-");
    s_line (want, sizeof want, "blocked", "tky", "Tokyo KK", "T-1", "past_due_notice",
            "email", "friendly", s_date (-6), "-");
    strncat (want, blocked, sizeof want - strlen (want) - 1);
    s_line (want, sizeof want, "blocked", "tky", "Tokyo KK", "T-1", "first_call", "phone",
            "friendly", s_date (0), "cora");
    strncat (want, blocked, sizeof want - strlen (want) - 1);
    s_line (want, sizeof want, "", "zed", "Zed Inc", "Z-1", "past_due_notice", "email",
            "friendly", s_date (-6), "-");
    assert_string_equal (run.out, want);
    assert_string_equal (run.err, "");

    //  Another date: nothing was recorded for it.
    s_run_as (s_cora_file, &run, "desk --once --as-of %s", s_date (-1));
    th_expect_run (&run, 0, NULL);
    snprintf (want, sizeof want, "recoup desk: worklist for %s, cora (collector): assigned "
              "to cora or to nobody: 0 items, 0 done, 0 blocked\nnothing to do\n",
              s_date (-1));
    assert_string_equal (run.out, want);
}

//  --assignee and --all; the options that contradict each other.
static void
test_scope (void **state)
{
    (void) state;
    run_t run;
    s_run_as (s_cora_file, &run, "desk --once --assignee mia");
    th_expect_run (&run, 0, "assigned to mia: 1 item, 0 done, ");
    assert_non_null (strstr (run.out, s_row ("", "zed", "Zed Inc", "Z-1", "first_call")));
    assert_null (strstr (run.out, "acme"));
    s_run_as (s_cora_file, &run, "desk --once --all");
    th_expect_run (&run, 0, "every item: 11 items, 1 done, ");
    assert_non_null (strstr (run.out, " sales_flag "));
    assert_non_null (strstr (run.out, " mia\n"));
    //  Sales may read the worklist (PROTOCOL.md 7.1): sam's and nobody's.
    s_run_as (s_sam_file, &run, "desk --once");
    th_expect_run (&run, 0, "sam (sales): assigned to sam or to nobody: 6 items, 1 done, "
                           "1 blocked\n");
    assert_non_null (strstr (run.out, " sales_flag "));
    assert_null (strstr (run.out, " cora\n"));
    s_run_as (s_cora_file, &run, "desk --once --mine --all");
    th_expect_run (&run, 2, "give one");
    s_run_as (s_cora_file, &run, "desk --once --as-of 2026-02-30");
    th_expect_run (&run, 2, "--as-of 2026-02-30");
    s_run_as (s_cora_file, &run, "desk --once --color");
    th_expect_run (&run, 2, "unexpected argument '--color'");
    s_run_as (s_cora_file, &run, "--json desk --once");
    th_expect_run (&run, 2, "worklist --json");
    //  The server's own checks, in its words.
    s_run_as (s_cora_file, &run, "desk --once --at yesterday");
    th_expect_run (&run, 1, "invalid argument (worklist.at)");
}

//  Who may not: an importer key (the server's refusal, exit 1); a pipe
//  without --once (exit 2); a server that is not there (exit 3).
static void
test_refused (void **state)
{
    (void) state;
    run_t run;
    s_run_as (s_ivan_file, &run, "desk --once");
    th_expect_run (&run, 1, "recoup: permission denied (worklist): ");
    assert_string_equal (run.out, "");
    s_run_as (s_ivan_file, &run, "desk");
    th_expect_run (&run, 2, "desk is interactive");
    s_run_as (s_cora_file, &run, "desk");
    th_expect_run (&run, 2, "desk is interactive and needs a terminal");
    assert_string_equal (run.out, "");
    identity_t away = s_cora;
    snprintf (away.commands, sizeof away.commands, "tcp://127.0.0.1:9");
    snprintf (away.events, sizeof away.events, "tcp://127.0.0.1:9");
    char path [PATH_MAX + 32];
    assert_int_equal (th_identity_file (&s_server, &away, "away", path, sizeof path), 0);
    s_run_as (path, &run, "--timeout 1000 desk --once");
    th_expect_run (&run, 3, "cannot reach the server");
}

//  ---------------------------------------------------------------------
//  The full screen under tmux

//  Runs `tmux -L SOCKET ARGS`. Returns its exit status.
static int
s_tmux (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static int
s_tmux (const char *format, ...)
{
    char args [4096], command [4400];
    va_list ap;
    va_start (ap, format);
    vsnprintf (args, sizeof args, format, ap);
    va_end (ap);
    snprintf (command, sizeof command, "tmux -L %s %s >/dev/null 2>&1", s_socket, args);
    int status = system (command);
    return status == -1 ? -1 : WEXITSTATUS (status);
}

//  The screen as text (caller frees); "" when tmux has none.
static char *
s_capture (void)
{
    char command [160];
    snprintf (command, sizeof command, "tmux -L %s capture-pane -p 2>/dev/null", s_socket);
    FILE *pipe = popen (command, "r");
    size_t len = 0, cap = 16384;
    char *text = calloc (1, cap);
    assert_non_null (text);
    if (pipe) {
        size_t got;
        while ((got = fread (text + len, 1, cap - len - 1, pipe)) > 0) {
            len += got;
            if (len + 1 == cap) {
                cap *= 2;
                text = realloc (text, cap);
                assert_non_null (text);
            }
        }
        pclose (pipe);
    }
    text [len] = 0;
    return text;
}

//  Waits until the screen shows every needle (or, with `gone`, shows
//  none of them); returns the screen (caller frees) or fails the test
//  with what it showed.
#define screen_has(...) s_screen_wait (0, __FILE__, __LINE__, __VA_ARGS__, NULL)
#define screen_lacks(...) s_screen_wait (1, __FILE__, __LINE__, __VA_ARGS__, NULL)

static char *
s_screen_wait (int gone, const char *file, int line, ...)
{
    long long deadline = th_now_ms () + SCREEN_WAIT_MS;
    while (1) {
        char *screen = s_capture ();
        int ok = 1;
        const char *missing = NULL;
        va_list ap;
        va_start (ap, line);
        for (const char *needle; (needle = va_arg (ap, const char *)); )
            if ((strstr (screen, needle) != NULL) == gone) {
                ok = 0;
                missing = needle;
                break;
            }
        va_end (ap);
        if (ok)
            return screen;
        if (th_now_ms () >= deadline) {
            //  The whole screen (print_error cuts long messages).
            fprintf (stderr, "the screen %s '%s' after %d ms; it shows:\n%s\n",
                     gone ? "still shows" : "does not show", missing, SCREEN_WAIT_MS,
                     screen);
            free (screen);
            _fail (file, line);
            return NULL;
        }
        free (screen);
        th_sleep_ms (100);
    }
}

//  The status line (the screen's line before last), into buf.
static const char *
s_status_line (const char *screen, char *buf, size_t len)
{
    const char *lines [64];
    size_t n = 0;
    for (const char *p = screen; *p && n < 64; ) {
        lines [n++] = p;
        const char *end = strchr (p, '\n');
        if (!end)
            break;
        p = end + 1;
    }
    //  capture-pane ends with the last line's newline.
    const char *status = n >= 2 ? lines [n - 2] : "";
    snprintf (buf, len, "%.*s", (int) strcspn (status, "\n"), status);
    return buf;
}

static void
s_need_tmux (void)
{
    if (system ("command -v tmux >/dev/null 2>&1") != 0)
        fail_msg ("tmux is not installed: the desk's screen tests drive the desk through "
                  "it. tests/run.sh installs it (deploy/deps.sh, RECOUP_TEST_PACKAGES); "
                  "by hand: apt-get install tmux");
}

//  The desk starts on the worklist, the first item's account below;
//  the due call for acme and acme's account.
static void
test_screen_start (void **state)
{
    (void) state;
    s_need_tmux ();
    unlink (s_rc_file);
    long long started = th_now_ms ();
    assert_int_equal (s_tmux ("new-session -d -x 140 -y 45 \"env RECOUP_IDENTITY='%s' "
                              "'%s' desk; echo exit \\$? >'%s'\"", s_cora_file, RECOUP_PATH,
                              s_rc_file), 0);
    char *screen = screen_has ("recoup desk [live, seq ", "cora (collector)",
                               "9 items, 1 done, 2 blocked (assigned to cora or to nobody)",
                               "acme         Acme Ltd",
                               "open 1,000.00 USD, past due 1,000.00 USD");
    print_message ("desk: first screen %lld ms after starting tmux\n",
                   th_now_ms () - started);
    //  tky's items: dimmed with the rule, in short.
    assert_non_null (strstr (screen, "blocked: quiet hours until 08:00 their time ("));
    char status [512];
    print_message ("desk: %s\n", s_status_line (screen, status, sizeof status));
    free (screen);
    //  The call, its account and what to do.
    assert_int_equal (s_tmux ("send-keys j"), 0);
    screen = screen_has ("item: first_call by phone (friendly)", "for cora",
                         "what: call to ask when payment will be made",
                         "stage: first_call, 7 days past due", "last contact: none",
                         "open invoices: 1", "A-1");
    free (screen);
    //  Keys typed together (down, then a form): the form is for the
    //  customer now selected, not the one shown a moment ago.
    assert_int_equal (s_tmux ("send-keys j c"), 0);
    free (screen_has ("log a contact with lett (now)"));
    assert_int_equal (s_tmux ("send-keys Escape"), 0);
    free (screen_lacks ("log a contact with lett (now)"));
    assert_int_equal (s_tmux ("send-keys k"), 0);
    free (screen_has ("item: first_call by phone (friendly)", "open invoices: 1", "A-1"));
}

//  c: a call logged `spoke` through the form is recorded and the item
//  shows done.
static void
test_screen_contact (void **state)
{
    (void) state;
    s_need_tmux ();
    assert_int_equal (s_tmux ("send-keys c"), 0);
    free (screen_has ("log a contact with acme (now)", "< phone >", "< out >",
                      "< no_answer >"));
    //  Channel, direction, outcome ('s': the next starting with s), note.
    assert_int_equal (s_tmux ("send-keys Tab Tab s Tab"), 0);
    assert_int_equal (s_tmux ("send-keys -l 'will pay on Friday'"), 0);
    free (screen_has ("< spoke >", "will pay on Friday"));
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    char *screen = screen_has ("logged contact 1: phone out spoke with acme",
                               "9 items, 2 done, 2 blocked",
                               "last contact: phone out spoke at ");
    assert_non_null (strstr (screen, s_row ("done", "acme", "Acme Ltd", "A-1",
                                            "first_call")));
    assert_non_null (strstr (screen, "done: contact phone out spoke at "));
    free (screen);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM contact_log l JOIN customers c "
                                  "ON c.id = l.customer_id WHERE c.ref = 'acme' AND "
                                  "l.channel = 'phone' AND l.direction = 'out' AND "
                                  "l.outcome = 'spoke' AND l.note = 'will pay on Friday' "
                                  "AND l.logged_by = 'cora' AND l.override_reason = ''"), 1);
}

//  A call to a customer in quiet hours: refused with the rule and when
//  it allows the call; recorded with the reason given to override it.
static void
test_screen_quiet_hours (void **state)
{
    (void) state;
    s_need_tmux ();
    //  From acme's call down to tky's: lett's four, tky's email, tky's call.
    assert_int_equal (s_tmux ("send-keys j j j j j j"), 0);
    free (screen_has ("-- tky ", "item: first_call by phone",
                      "blocked: quiet_hours: it is 0"));
    assert_int_equal (s_tmux ("send-keys c Enter"), 0);
    char *screen = screen_has ("refused: quiet_hours: it is 0", "override reason:");
    char status [2048];
    s_status_line (screen, status, sizeof status);
    if (strncmp (status, "forbidden by rule (contact_log): quiet_hours: it is 0", 53) != 0
        || !strstr (status, "contact is allowed from 08:00"))
        fail_msg ("status line: %s", status);
    free (screen);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM contact_log l JOIN customers c "
                                  "ON c.id = l.customer_id WHERE c.ref = 'tky'"), 0);
    //  An empty reason is not sent.
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    free (screen_has ("override reason: type why the rule is overridden"));
    assert_int_equal (s_tmux ("send-keys -l 'they asked us to call after work'"), 0);
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    screen = screen_has ("logged contact 2: phone out no_answer with tky; overridden "
                         "(quiet_hours): quiet_hours:", "9 items, 3 done, 1 blocked");
    free (screen);
    char *recorded = th_sql (&s_server, "SELECT l.rule_overridden || '|' || "
                             "l.override_reason || '|' || l.outcome FROM contact_log l "
                             "JOIN customers c ON c.id = l.customer_id WHERE c.ref = 'tky'");
    assert_non_null (recorded);
    assert_string_equal (recorded, "quiet_hours|they asked us to call after work|no_answer");
    free (recorded);
}

//  m: the letter of the selected item marked sent (posted): recorded,
//  the item done.
static void
test_screen_letter (void **state)
{
    (void) state;
    s_need_tmux ();
    //  Back up to lett's letter: past tky's email, the credit hold.
    assert_int_equal (s_tmux ("send-keys k k k"), 0);
    free (screen_has ("item: direct_letter by letter (direct)", "(letter, queued): print it",
                      "to: 1 Main Street, Springfield", "credit hold: yes (policy version 1"));
    assert_int_equal (s_tmux ("send-keys m"), 0);
    free (screen_has ("mark outbox message ", "was posted now"));
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    char *screen = screen_has (" marked sent (contact 3)", "(letter, sent)",
                               "done: outbox message ");
    free (screen);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM outbox_deliveries d JOIN outbox o "
                                  "ON o.id = d.outbox_id JOIN customers c ON c.id = "
                                  "o.customer_id WHERE c.ref = 'lett' AND o.channel = 'letter' "
                                  "AND d.status = 'sent' AND d.actor = 'cora'"), 1);
    //  A letter posted is not a call: lett's call is still to do.
    screen = screen_has ("9 items, 4 done, 1 blocked");
    assert_non_null (strstr (screen, s_row ("", "lett", "Letter AB", "L-1", "second_call")));
    free (screen);
    //  The credit hold's item has no message to mark.
    assert_int_equal (s_tmux ("send-keys j m"), 0);
    free (screen_has ("the selected item has no message in the outbox to mark sent"));
}

//  p: 12.345 USD is refused before anything is sent; a promise shows
//  in the account pane.
static void
test_screen_promise (void **state)
{
    (void) state;
    s_need_tmux ();
    assert_int_equal (s_tmux ("send-keys p"), 0);
    free (screen_has ("lett promises to pay (USD)"));
    assert_int_equal (s_tmux ("send-keys -l 12.345"), 0);
    assert_int_equal (s_tmux ("send-keys Tab"), 0);
    assert_int_equal (s_tmux ("send-keys -l %s", s_date (10)), 0);
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    char *screen = screen_has ("amount: '12.345' is not an amount in USD: too many decimals");
    char status [2048];
    assert_non_null (strstr (s_status_line (screen, status, sizeof status),
                             "amount: '12.345' is not an amount in USD"));
    free (screen);
    assert_int_equal (th_sql_int (&s_server, "SELECT count (*) FROM promises"), 0);
    //  The form is still there: the amount corrected.
    assert_int_equal (s_tmux ("send-keys Up BSpace BSpace BSpace BSpace BSpace BSpace"), 0);
    assert_int_equal (s_tmux ("send-keys -l 250.00"), 0);
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    char want [128];
    snprintf (want, sizeof want, ": 250.00 USD by %s, pending (broken after ", s_date (10));
    screen = screen_has (want, "promise 1: 250.00 USD by ");
    free (screen);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM promises p JOIN customers c ON "
                                  "c.id = p.customer_id WHERE c.ref = 'lett' AND "
                                  "p.amount_minor = 25000 AND p.made_by = 'cora'"), 1);
    //  A payment with too many decimals, the same.
    assert_int_equal (s_tmux ("send-keys $"), 0);
    free (screen_has ("post a payment from lett (USD)"));
    assert_int_equal (s_tmux ("send-keys -l BANK-1"), 0);
    assert_int_equal (s_tmux ("send-keys Tab"), 0);
    assert_int_equal (s_tmux ("send-keys -l 1.001"), 0);
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    free (screen_has ("amount: '1.001' is not an amount in USD"));
    assert_int_equal (s_tmux ("send-keys Escape"), 0);
    free (screen_lacks ("post a payment from lett"));
    assert_int_equal (th_sql_int (&s_server, "SELECT count (*) FROM payments"), 0);
}

//  d, r, $: a dispute on the invoice picked, the reason, a payment on
//  one invoice, each recorded and shown in the account pane.
static void
test_screen_dispute_reason_payment (void **state)
{
    (void) state;
    s_need_tmux ();
    //  The invoice offered first is the item's; Right picks the next.
    assert_int_equal (s_tmux ("send-keys d"), 0);
    free (screen_has ("lett disputes an invoice", "< L-1 >"));
    assert_int_equal (s_tmux ("send-keys Right Tab"), 0);
    assert_int_equal (s_tmux ("send-keys -l 'wrong size delivered'"), 0);
    free (screen_has ("< L-2 >", "wrong size delivered"));
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    char want [160];
    snprintf (want, sizeof want, "dispute 1 on L-2, open since %s: wrong size delivered "
              "(routed to sam)", s_day);
    free (screen_has ("dispute 1 opened on L-2, routed to sam", want));
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM disputes d JOIN invoices i ON "
                                  "i.id = d.invoice_id WHERE i.number = 'L-2' AND "
                                  "d.reason = 'wrong size delivered'"), 1);
    //  The reason: 'c' picks cannot_pay.
    assert_int_equal (s_tmux ("send-keys r"), 0);
    free (screen_has ("why lett does not pay", "< forgot >"));
    assert_int_equal (s_tmux ("send-keys c Tab"), 0);
    assert_int_equal (s_tmux ("send-keys -l 'slow season'"), 0);
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    free (screen_has ("reason cannot_pay recorded; next: ", "reason: cannot_pay (slow season)"));
    //  A payment of 100.00 on L-1: the account's balance goes down.
    assert_int_equal (s_tmux ("send-keys $"), 0);
    free (screen_has ("post a payment from lett (USD)", "< (oldest due first) >"));
    assert_int_equal (s_tmux ("send-keys -l BANK-7"), 0);
    assert_int_equal (s_tmux ("send-keys Tab"), 0);
    assert_int_equal (s_tmux ("send-keys -l 100.00"), 0);
    assert_int_equal (s_tmux ("send-keys Tab Right"), 0);
    free (screen_has ("< L-1 >", "BANK-7", " 100.00 "));
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    free (screen_has ("payment BANK-7 of 100.00 USD posted, 0.00 USD unapplied",
                      "open 820.00 USD, past due 700.00 USD"));
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM payments p JOIN customers c ON "
                                  "c.id = p.customer_id WHERE c.ref = 'lett' AND "
                                  "p.reference = 'BANK-7' AND p.amount_minor = 10000"), 1);
}

//  Changes made elsewhere show by themselves: the shown account (an
//  account.changed), the worklist (a message sent by someone else).
static void
test_screen_live (void **state)
{
    (void) state;
    s_need_tmux ();
    run_t run;
    s_run (&run, "account reason lett forgot --note 'lost the invoice'");
    th_expect_run (&run, 0, NULL);
    free (screen_has ("reason: forgot (lost the invoice)",
                      "next action: "));
    char *id = th_sql (&s_server, "SELECT o.id FROM outbox o JOIN customers c ON "
                       "c.id = o.customer_id WHERE c.ref = 'zed'");
    assert_non_null (id);
    s_run (&run, "outbox mark %s --sent", id);
    free (id);
    th_expect_run (&run, 0, NULL);
    char *screen = screen_has ("9 items, 5 done, 1 blocked");
    assert_non_null (strstr (screen, s_row ("done", "zed", "Zed Inc", "Z-1",
                                            "past_due_notice")));
    free (screen);
}

//  The header says when the server is gone, and when it is back.
static void
test_screen_offline (void **state)
{
    (void) state;
    s_need_tmux ();
    th_server_stop (&s_server);
    free (screen_has ("recoup desk [OFFLINE, retrying: "));
    assert_int_equal (th_server_restart (&s_server), 0);
    free (screen_has ("recoup desk [live, seq ", "9 items, 5 done, 1 blocked"));
}

//  A find, a server error in the status line, resizing, q.
static void
test_screen_resize_quit (void **state)
{
    (void) state;
    s_need_tmux ();
    assert_int_equal (s_tmux ("send-keys /"), 0);
    free (screen_has ("find a customer"));
    assert_int_equal (s_tmux ("send-keys -l nobody"), 0);
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    free (screen_has ("not found (customer_show.customer): "));
    assert_int_equal (s_tmux ("send-keys C-u"), 0);
    assert_int_equal (s_tmux ("send-keys -l zed"), 0);
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    free (screen_has ("zed  Zed Inc   (found with /", "open 90.00 USD"));
    //  A hold for zed: the collector may place one.
    assert_int_equal (s_tmux ("send-keys h"), 0);
    free (screen_has ("place zed on credit hold"));
    assert_int_equal (s_tmux ("send-keys -l 'cheque bounced'"), 0);
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    free (screen_has ("zed is on credit hold", "credit hold: yes (cheque bounced)"));
    //  Again: the server refuses, in its words, with the field.
    assert_int_equal (s_tmux ("send-keys h"), 0);
    assert_int_equal (s_tmux ("send-keys -l again"), 0);
    assert_int_equal (s_tmux ("send-keys Enter"), 0);
    free (screen_has ("conflict (hold_place"));
    assert_int_equal (s_tmux ("send-keys Escape"), 0);
    free (screen_lacks ("place zed on credit hold"));
    //  Smaller, tiny, back: drawn again each time, still running.
    assert_int_equal (s_tmux ("resize-window -x 80 -y 24"), 0);
    free (screen_has ("recoup desk [live", "\nmark    customer   invoices   step      "));
    assert_int_equal (s_tmux ("resize-window -x 70 -y 20"), 0);
    free (screen_has ("recoup desk [live"));
    assert_int_equal (s_tmux ("resize-window -x 30 -y 8"), 0);
    free (screen_has ("window too small", "at least 50 x 12;"));
    assert_int_equal (s_tmux ("resize-window -x 140 -y 45"), 0);
    free (screen_has ("recoup desk [live", "9 items, 5 done"));
    assert_int_equal (s_tmux ("send-keys ?"), 0);
    free (screen_has ("any key closes this help"));
    assert_int_equal (s_tmux ("send-keys x"), 0);
    free (screen_lacks ("any key closes this help"));
    assert_int_equal (access (s_rc_file, F_OK), -1);
    assert_int_equal (s_tmux ("send-keys q"), 0);
    long long deadline = th_now_ms () + SCREEN_WAIT_MS;
    char rc [64] = "";
    while (th_now_ms () < deadline) {
        FILE *file = fopen (s_rc_file, "r");
        if (file) {
            if (!fgets (rc, sizeof rc, file))
                rc [0] = 0;
            fclose (file);
            if (*rc)
                break;
        }
        th_sleep_ms (50);
    }
    assert_string_equal (rc, "exit 0\n");
}

//  On a terminal too, an importer key hears the server's refusal of the
//  worklist before any screen is drawn, and the desk exits 1.
static void
test_screen_importer (void **state)
{
    (void) state;
    s_need_tmux ();
    char err [PATH_MAX + 32];
    snprintf (err, sizeof err, "%s/desk.err", s_server.dir);
    unlink (s_rc_file);
    assert_int_equal (s_tmux ("new-session -d -x 100 -y 30 \"env RECOUP_IDENTITY='%s' "
                              "'%s' desk 2>'%s'; echo exit \\$? >'%s'\"", s_ivan_file,
                              RECOUP_PATH, err, s_rc_file), 0);
    long long deadline = th_now_ms () + SCREEN_WAIT_MS;
    char rc [64] = "";
    while (th_now_ms () < deadline && !*rc) {
        FILE *file = fopen (s_rc_file, "r");
        if (file) {
            if (!fgets (rc, sizeof rc, file))
                rc [0] = 0;
            fclose (file);
        }
        th_sleep_ms (50);
    }
    assert_string_equal (rc, "exit 1\n");
    FILE *file = fopen (err, "r");
    assert_non_null (file);
    char said [1024] = "";
    if (!fgets (said, sizeof said, file))
        said [0] = 0;
    fclose (file);
    if (strncmp (said, "recoup: permission denied (worklist): ", 38) != 0)
        fail_msg ("the desk said: %s", said);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_once),
        cmocka_unit_test (test_scope),
        cmocka_unit_test (test_refused),
        cmocka_unit_test (test_screen_start),
        cmocka_unit_test (test_screen_contact),
        cmocka_unit_test (test_screen_quiet_hours),
        cmocka_unit_test (test_screen_letter),
        cmocka_unit_test (test_screen_promise),
        cmocka_unit_test (test_screen_dispute_reason_payment),
        cmocka_unit_test (test_screen_live),
        cmocka_unit_test (test_screen_offline),
        cmocka_unit_test (test_screen_resize_quit),
        cmocka_unit_test (test_screen_importer),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
