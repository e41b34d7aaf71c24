/*  Delivering the outbox against a real recoupd and a real SMTP
    conversation: `recoup outbox send` hands the engine's emails to a small
    SMTP server written here (a thread on 127.0.0.1 that speaks EHLO, MAIL,
    RCPT, DATA, RSET, QUIT, keeps every message, and can refuse one
    recipient with a 550), outbox_mark records each attempt, and sent ones
    land in the contact log.

    Covered: the engine's "or 3 unanswered" step brought forward by three
    emails sent; the messages the sink got, header by header, with a
    non-ASCII subject and dot-stuffed lines; a second run sending nothing;
    a dry run; quiet hours in Tokyo and in a zone where it is night now;
    cease-contact and an email opt-out; an SMTP refusal, its backoff and
    the end of automatic attempts; outbox_mark's errors and roles;
    letters printed and marked by the desk; STARTTLS required with a
    login; the sending rate to the local sink; the contact log's chain.

    `send` works on the real clock: the business date is today (UTC) and
    the customers who should get mail now live in a zone where it is
    about 13:00, so the contact rules' hours never get in the way, at
    whatever time the tests run. Tests share one server and run in order.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "date.h"
#include "harness.h"
#include "json.h"

// ---------------------------------------------------------------- SMTP sink

#define SINK_MAX 2048

//  One message the sink accepted.
typedef struct {
    char from [256];            //  MAIL FROM address
    char rcpt [256];            //  the accepted RCPT TO address
    strbuf_t data;              //  the message, dots unstuffed, CRLF lines
    int stuffed;                //  lines that came with a leading dot
    int bare_lf;                //  lines that ended in LF without CR
} sink_msg_t;

typedef struct {
    int fd;                     //  listening socket
    int port;                   //  its port
    pthread_t thread;           //  accepts connections
    volatile int stop;          //  ends the accept loop
    pthread_mutex_t lock;       //  guards what follows
    sink_msg_t *msgs;           //  what was accepted, in order
    int n_msgs;                 //  how many
    char reject [256];          //  RCPT TO answered 550, "" none
    char reject_data [256];     //  its data answered 554, "" none
    int sessions;               //  connections served
} sink_t;

static sink_t s_sink;

//  A connection's read buffer.
typedef struct {
    int fd;                     //  the connection
    char buf [8192];            //  bytes received, not yet read
    size_t len;                 //  bytes in buf
    size_t pos;                 //  the next byte to read
    int bare_lf;                //  set when a line ended in a bare LF
} sink_conn_t;

//  The next line without its line end; its length, or -1 at the end.
static int
s_sink_line (sink_conn_t *c, char *line, size_t max)
{
    size_t n = 0;
    for (;;) {
        if (c->pos == c->len) {
            ssize_t got = recv (c->fd, c->buf, sizeof c->buf, 0);
            if (got <= 0)
                return -1;
            c->len = (size_t) got;
            c->pos = 0;
        }
        char ch = c->buf [c->pos++];
        if (ch == '\n') {
            if (n > 0 && line [n - 1] == '\r')
                n--;
            else
                c->bare_lf = 1;
            line [n] = '\0';
            return (int) n;
        }
        if (n < max - 1)
            line [n++] = ch;
    }
}

static void
s_sink_say (int fd, const char *text)
{
    size_t len = strlen (text);
    while (len > 0) {
        ssize_t put = send (fd, text, len, MSG_NOSIGNAL);
        if (put <= 0)
            return;
        text += put;
        len -= (size_t) put;
    }
}

//  The address between < and > into out.
static void
s_sink_angle (const char *text, char *out, size_t len)
{
    const char *open = strchr (text, '<'), *close = open ? strchr (open, '>') : NULL;
    if (!open || !close || (size_t) (close - open) > len) {
        snprintf (out, len, "%s", text);
        return;
    }
    memcpy (out, open + 1, (size_t) (close - open - 1));
    out [close - open - 1] = '\0';
}

//  One SMTP session, on its own thread.
static void *
s_sink_session (void *arg)
{
    sink_conn_t *c = (sink_conn_t *) arg;
    char line [4096], from [256] = "", rcpt [256] = "";
    int n_rcpt = 0;
    s_sink_say (c->fd, "220 sink.test ESMTP ready\r\n");
    while (s_sink_line (c, line, sizeof line) >= 0) {
        if (strncasecmp (line, "EHLO", 4) == 0)
            s_sink_say (c->fd, "250-sink.test\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n");
        else if (strncasecmp (line, "HELO", 4) == 0)
            s_sink_say (c->fd, "250 sink.test\r\n");
        else if (strncasecmp (line, "MAIL FROM:", 10) == 0) {
            s_sink_angle (line + 10, from, sizeof from);
            n_rcpt = 0;
            s_sink_say (c->fd, "250 2.1.0 ok\r\n");
        }
        else if (strncasecmp (line, "RCPT TO:", 8) == 0) {
            char addr [256];
            s_sink_angle (line + 8, addr, sizeof addr);
            pthread_mutex_lock (&s_sink.lock);
            int reject = *s_sink.reject && strcmp (addr, s_sink.reject) == 0;
            pthread_mutex_unlock (&s_sink.lock);
            if (reject) {
                char answer [400];
                snprintf (answer, sizeof answer, "550 5.1.1 <%s>: no such user here\r\n",
                          addr);
                s_sink_say (c->fd, answer);
            }
            else {
                snprintf (rcpt, sizeof rcpt, "%s", addr);
                n_rcpt++;
                s_sink_say (c->fd, "250 2.1.5 ok\r\n");
            }
        }
        else if (strncasecmp (line, "DATA", 4) == 0) {
            if (n_rcpt == 0) {
                s_sink_say (c->fd, "503 5.5.1 no valid recipients\r\n");
                continue;
            }
            s_sink_say (c->fd, "354 end data with <CR><LF>.<CR><LF>\r\n");
            strbuf_t data;
            strbuf_init (&data);
            int stuffed = 0, len;
            c->bare_lf = 0;
            while ((len = s_sink_line (c, line, sizeof line)) >= 0
                   && strcmp (line, ".") != 0) {
                const char *text = line;
                if (*text == '.') {
                    stuffed++;
                    text++;
                }
                strbuf_puts (&data, text);
                strbuf_puts (&data, "\r\n");
            }
            if (len < 0) {
                strbuf_free (&data);
                break;
            }
            pthread_mutex_lock (&s_sink.lock);
            if (*s_sink.reject_data && strcmp (rcpt, s_sink.reject_data) == 0) {
                pthread_mutex_unlock (&s_sink.lock);
                strbuf_free (&data);
                s_sink_say (c->fd, "554 5.7.1 message refused: looks like spam\r\n");
                n_rcpt = 0;
                continue;
            }
            if (s_sink.n_msgs < SINK_MAX) {
                sink_msg_t *m = &s_sink.msgs [s_sink.n_msgs++];
                snprintf (m->from, sizeof m->from, "%s", from);
                snprintf (m->rcpt, sizeof m->rcpt, "%s", rcpt);
                m->data = data;
                m->stuffed = stuffed;
                m->bare_lf = c->bare_lf;
            }
            else
                strbuf_free (&data);
            pthread_mutex_unlock (&s_sink.lock);
            s_sink_say (c->fd, "250 2.0.0 ok: queued\r\n");
            n_rcpt = 0;
        }
        else if (strncasecmp (line, "RSET", 4) == 0) {
            n_rcpt = 0;
            s_sink_say (c->fd, "250 2.0.0 ok\r\n");
        }
        else if (strncasecmp (line, "NOOP", 4) == 0)
            s_sink_say (c->fd, "250 2.0.0 ok\r\n");
        else if (strncasecmp (line, "QUIT", 4) == 0) {
            s_sink_say (c->fd, "221 2.0.0 bye\r\n");
            break;
        }
        else if (strncasecmp (line, "AUTH", 4) == 0)
            s_sink_say (c->fd, "535 5.7.8 no authentication here\r\n");
        else
            s_sink_say (c->fd, "502 5.5.2 command not recognized\r\n");
    }
    close (c->fd);
    free (c);
    return NULL;
}

static void *
s_sink_accept (void *arg)
{
    (void) arg;
    while (!s_sink.stop) {
        struct pollfd p = { .fd = s_sink.fd, .events = POLLIN };
        if (poll (&p, 1, 100) <= 0)
            continue;
        int fd = accept (s_sink.fd, NULL, NULL);
        if (fd < 0)
            continue;
        struct timeval tv = { .tv_sec = 20 };
        setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sink_conn_t *c = calloc (1, sizeof *c);
        pthread_t session;
        if (!c) {
            close (fd);
            continue;
        }
        c->fd = fd;
        pthread_mutex_lock (&s_sink.lock);
        s_sink.sessions++;
        pthread_mutex_unlock (&s_sink.lock);
        if (pthread_create (&session, NULL, s_sink_session, c) != 0) {
            close (fd);
            free (c);
            continue;
        }
        pthread_detach (session);
    }
    return NULL;
}

static int
s_sink_start (void)
{
    pthread_mutex_init (&s_sink.lock, NULL);
    s_sink.msgs = calloc (SINK_MAX, sizeof *s_sink.msgs);
    s_sink.fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (!s_sink.msgs || s_sink.fd < 0
        || bind (s_sink.fd, (struct sockaddr *) &addr, sizeof addr) != 0
        || listen (s_sink.fd, 16) != 0
        || getsockname (s_sink.fd, (struct sockaddr *) &addr, &len) != 0)
        return -1;
    s_sink.port = ntohs (addr.sin_port);
    return pthread_create (&s_sink.thread, NULL, s_sink_accept, NULL);
}

static void
s_sink_stop (void)
{
    s_sink.stop = 1;
    pthread_join (s_sink.thread, NULL);
    close (s_sink.fd);
}

static int
s_sink_count (void)
{
    pthread_mutex_lock (&s_sink.lock);
    int n = s_sink.n_msgs;
    pthread_mutex_unlock (&s_sink.lock);
    return n;
}

static void
s_sink_reject (const char *address)
{
    pthread_mutex_lock (&s_sink.lock);
    snprintf (s_sink.reject, sizeof s_sink.reject, "%s", address);
    pthread_mutex_unlock (&s_sink.lock);
}

static void
s_sink_reject_data (const char *address)
{
    pthread_mutex_lock (&s_sink.lock);
    snprintf (s_sink.reject_data, sizeof s_sink.reject_data, "%s", address);
    pthread_mutex_unlock (&s_sink.lock);
}

//  The last message to `rcpt` (messages are never removed, so the
//  pointer stays good), or NULL.
static sink_msg_t *
s_sink_find (const char *rcpt)
{
    sink_msg_t *found = NULL;
    pthread_mutex_lock (&s_sink.lock);
    for (int i = 0; i < s_sink.n_msgs; i++)
        if (strcmp (s_sink.msgs [i].rcpt, rcpt) == 0)
            found = &s_sink.msgs [i];
    pthread_mutex_unlock (&s_sink.lock);
    return found;
}

//  How many messages went to `rcpt`.
static int
s_sink_count_to (const char *rcpt)
{
    int n = 0;
    pthread_mutex_lock (&s_sink.lock);
    for (int i = 0; i < s_sink.n_msgs; i++)
        n += strcmp (s_sink.msgs [i].rcpt, rcpt) == 0;
    pthread_mutex_unlock (&s_sink.lock);
    return n;
}

//  A header's value, unfolded (caller frees), or NULL.
static char *
s_header (const sink_msg_t *m, const char *name)
{
    const char *data = m->data.data;
    const char *end = strstr (data, "\r\n\r\n");
    size_t len = strlen (name);
    for (const char *p = data; p && p < end; p = strstr (p, "\r\n") + 2) {
        if (strncasecmp (p, name, len) == 0 && p [len] == ':') {
            strbuf_t value;
            strbuf_init (&value);
            const char *v = p + len + 1;
            while (*v == ' ')
                v++;
            for (;;) {
                const char *eol = strstr (v, "\r\n");
                strbuf_append (&value, v, (size_t) (eol - v));
                if (eol [2] != ' ' && eol [2] != '\t')
                    break;
                v = eol + 2;
            }
            char *out = strdup (value.data);
            strbuf_free (&value);
            return out;
        }
    }
    return NULL;
}

//  The body: what follows the blank line after the headers.
static const char *
s_body (const sink_msg_t *m)
{
    const char *blank = strstr (m->data.data, "\r\n\r\n");
    return blank ? blank + 4 : "";
}

//  Decodes a header of RFC 2047 B encoded-words (caller frees).
static char *
s_decode_words (const char *value)
{
    strbuf_t out;
    strbuf_init (&out);
    const char *p = value;
    while ((p = strstr (p, "=?UTF-8?B?")) != NULL) {
        p += 10;
        const char *end = strstr (p, "?=");
        assert_non_null (end);
        unsigned char raw [256];
        size_t raw_len = 0;
        assert_int_equal (sodium_base642bin (raw, sizeof raw, p, (size_t) (end - p), NULL,
                                             &raw_len, NULL,
                                             sodium_base64_VARIANT_ORIGINAL), 0);
        strbuf_append (&out, (const char *) raw, raw_len);
        p = end + 2;
    }
    char *text = strdup (out.data ? out.data : "");
    strbuf_free (&out);
    return text;
}

// ---------------------------------------------------------------- fixtures

static th_server_t s_server;
static identity_t s_collector, s_sales, s_manager;
static char s_cora_id [PATH_MAX + 64], s_sam_id [PATH_MAX + 64];
static int32_t s_today;                 //  the business date: today in UTC
static int s_noon_offset;               //  hours from UTC of the noon zone
static char s_noon [32];                //  a zone where it is about 13:00 now
static char s_night [32];               //  a zone where it is night now
static char s_smtp [64];                //  smtp://127.0.0.1:PORT

typedef th_run_t run_t;
#define s_run(run, ...) th_run (&s_server, (run), s_cora_id, __VA_ARGS__)

//  The business date moved by `offset` days, "YYYY-MM-DD" (static).
static const char *
s_day (int offset)
{
    static char buf [4][DATE_ISO_LEN + 1];
    static int next;
    char *out = buf [next++ % 4];
    date_format_iso (s_today + offset, out);
    return out;
}

//  ISO 8601 of a UTC instant, `seconds` from now (static).
static const char *
s_instant (int64_t seconds)
{
    static char buf [4][40];
    static int next;
    char *out = buf [next++ % 4];
    time_t t = time (NULL) + seconds;
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

//  A zone name for `hours` east of UTC (the Etc zones' signs are POSIX's:
//  Etc/GMT-9 is UTC+9).
static void
s_zone (char *out, size_t len, int hours)
{
    if (hours == 0)
        snprintf (out, len, "UTC");
    else
        snprintf (out, len, "Etc/GMT%+d", -hours);
}

static void
s_customer (const char *ref, const char *zone, const char *extra)
{
    run_t run;
    s_run (&run, "customer add %s --name 'Customer %s' --email %s@example.com "
                 "--timezone %s --sales-rep sam --collector cora %s", ref, ref, ref, zone,
           extra);
    th_expect_run (&run, 0, NULL);
}

static void
s_invoice (const char *number, const char *ref, int issued, int due)
{
    run_t run;
    s_run (&run, "invoice issue %s --customer %s --amount 1200.00 --issued %s --due %s",
           number, ref, s_day (issued), s_day (due));
    th_expect_run (&run, 0, NULL);
}

//  Runs the engine as of business date + offset; the reply (caller frees).
static Recoup__Reply *
s_engine (int offset)
{
    Recoup__EngineRunRequest run = RECOUP__ENGINE_RUN_REQUEST__INIT;
    run.as_of = (char *) s_day (offset);
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_ENGINE_RUN;
    request.engine_run = &run;
    client_status_t status;
    Recoup__Reply *reply = th_call (&s_collector, &request, &status);
    if (!reply || reply->result_case != RECOUP__REPLY__RESULT_ENGINE_RUN)
        fail_msg ("engine_run %s failed", run.as_of);
    return reply;
}

//  The action of `customer` at `step` in an engine reply, or NULL.
static const Recoup__EngineAction *
s_action (const Recoup__Reply *reply, const char *customer, const char *step)
{
    for (size_t i = 0; i < reply->engine_run->n_actions; i++) {
        const Recoup__EngineAction *a = reply->engine_run->actions [i];
        if (strcmp (a->customer, customer) == 0 && strcmp (a->step, step) == 0)
            return a;
    }
    return NULL;
}

//  The outbox id of `customer`'s message at `step`.
static int64_t
s_outbox_id (const char *customer, const char *step)
{
    return th_sql_int (&s_server,
                       "SELECT o.id FROM outbox o JOIN customers c ON c.id = o.customer_id "
                       "WHERE c.ref = '%s' AND o.step = '%s'", customer, step);
}

//  outbox_due as `who` at `at` ("" now); the reply (caller frees).
static Recoup__Reply *
s_due (const identity_t *who, const char *at, uint32_t limit)
{
    Recoup__OutboxDueRequest due = RECOUP__OUTBOX_DUE_REQUEST__INIT;
    due.at = (char *) at;
    due.limit = limit;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_OUTBOX_DUE;
    request.outbox_due = &due;
    client_status_t status;
    Recoup__Reply *reply = th_call (who, &request, &status);
    if (!reply)
        fail_msg ("outbox_due: no reply (%d)", (int) status);
    return reply;
}

//  1 when an outbox_due reply offers a message of `customer`.
static int
s_due_has (const Recoup__Reply *reply, const char *customer)
{
    if (reply->result_case != RECOUP__REPLY__RESULT_OUTBOX_DUE)
        fail_msg ("outbox_due failed: %s", reply->result_case == RECOUP__REPLY__RESULT_ERROR
                                           ? reply->error->message : "?");
    for (size_t i = 0; i < reply->outbox_due->n_messages; i++)
        if (strcmp (reply->outbox_due->messages [i]->customer, customer) == 0)
            return 1;
    return 0;
}

//  1 when outbox_due at `at` offers a message of `customer`.
static int
s_due_now (const char *at, const char *customer)
{
    Recoup__Reply *reply = s_due (&s_collector, at, 1000);
    int has = s_due_has (reply, customer);
    recoup__reply__free_unpacked (reply, NULL);
    return has;
}

//  outbox_mark as `who`; the reply (caller frees).
static Recoup__Reply *
s_mark (const identity_t *who, int64_t id, const char *status, const char *at,
        const char *message_id, const char *error)
{
    Recoup__OutboxMarkRequest mark = RECOUP__OUTBOX_MARK_REQUEST__INIT;
    mark.id = (uint64_t) id;
    mark.status = (char *) status;
    mark.at = (char *) at;
    mark.message_id = (char *) message_id;
    mark.error = (char *) error;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_OUTBOX_MARK;
    request.outbox_mark = &mark;
    client_status_t status_;
    Recoup__Reply *reply = th_call (who, &request, &status_);
    if (!reply)
        fail_msg ("outbox_mark: no reply (%d)", (int) status_);
    return reply;
}

//  Checks a reply is the error `code` on `field`, whose message holds
//  `needle`; frees it.
#define expect_error(reply, code, field, needle) \
    s_expect_error (reply, code, field, needle, __FILE__, __LINE__)

static void
s_expect_error (Recoup__Reply *reply, Recoup__ErrorCode code, const char *field,
                const char *needle, const char *file, int line)
{
    if (reply->result_case != RECOUP__REPLY__RESULT_ERROR || reply->error->code != code
        || (field && strcmp (reply->error->field, field) != 0)
        || (needle && !strstr (reply->error->message, needle))) {
        print_error ("expected error %d on %s with '%s', got %s\n", (int) code,
                     field ? field : "-", needle ? needle : "",
                     reply->result_case == RECOUP__REPLY__RESULT_ERROR
                     ? reply->error->message : "a result");
        recoup__reply__free_unpacked (reply, NULL);
        _fail (file, line);
    }
    recoup__reply__free_unpacked (reply, NULL);
}

//  `recoup outbox send` to the sink, as cora, with extra options.
static int
s_send (run_t *run, const char *extra)
{
    return s_run (run, "outbox send --smtp %s --from 'Accounts Receivable "
                       "<ar@example.com>' %s", s_smtp, extra);
}

static int
s_setup (void **state)
{
    (void) state;
    if (sodium_init () < 0)
        return -1;
    time_t now = time (NULL);
    struct tm tm;
    gmtime_r (&now, &tm);
    char today [16];
    strftime (today, sizeof today, "%Y-%m-%d", &tm);
    char err [100];
    if (date_parse_iso (today, &s_today, err, sizeof err) != 0)
        return -1;
    //  13:xx there, on the same date as in UTC.
    s_noon_offset = 13 - tm.tm_hour;
    s_zone (s_noon, sizeof s_noon, s_noon_offset);
    //  02:xx or 23:xx there, on the same date as in UTC: quiet hours.
    s_zone (s_night, sizeof s_night, tm.tm_hour <= 14 ? 2 - tm.tm_hour : 23 - tm.tm_hour);
    setenv ("RECOUP_TODAY", today, 1);
    setenv ("RECOUP_ENGINE_DAILY", "off", 1);
    if (s_sink_start () != 0)
        return -1;
    snprintf (s_smtp, sizeof s_smtp, "smtp://127.0.0.1:%d", s_sink.port);
    if (th_server_start (&s_server, "outbox", NULL) != 0)
        return -1;
    if (th_user_add (&s_server, "cora", RECOUP__ROLE__COLLECTOR, &s_collector) != 0
        || th_user_add (&s_server, "sam", RECOUP__ROLE__SALES, &s_sales) != 0
        || th_user_add (&s_server, "mia", RECOUP__ROLE__MANAGER, &s_manager) != 0)
        return -1;
    snprintf (s_cora_id, sizeof s_cora_id, "%s/cora.identity", s_server.dir);
    snprintf (s_sam_id, sizeof s_sam_id, "%s/sam.identity", s_server.dir);
    if (identity_save (&s_collector, s_cora_id, IDENTITY_FULL, 0, err, sizeof err) != 0
        || identity_save (&s_sales, s_sam_id, IDENTITY_FULL, 0, err, sizeof err) != 0)
        return -1;
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    th_server_destroy (&s_server);
    s_sink_stop ();
    return 0;
}

// ---------------------------------------------------------------- tests

//  The policy's sales_flag is "8 days after due or 3 unanswered": three
//  emails sent with no answer bring it forward to the day of the third.
//  The first two are marked sent by hand on their own days; the third
//  goes out through `send`.
static void
test_three_unanswered (void **state)
{
    (void) state;
    s_customer ("una", s_noon, "");
    s_invoice ("UNA-1", "una", -31, -1);
    //  Day 3 after issue: confirm_receipt.
    recoup__reply__free_unpacked (s_engine (-28), NULL);
    char at [64];
    snprintf (at, sizeof at, "%sT13:00:00%+03d:00", s_day (-28), s_noon_offset);
    Recoup__Reply *reply = s_mark (&s_collector, s_outbox_id ("una", "confirm_receipt"),
                                   "sent", at, "<one@example.com>", "");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_OUTBOX_MARK);
    assert_true (reply->outbox_mark->contact_id > 0);
    assert_string_equal (reply->outbox_mark->message->status, "sent");
    recoup__reply__free_unpacked (reply, NULL);
    //  3 days before due: friendly_reminder.
    recoup__reply__free_unpacked (s_engine (-4), NULL);
    snprintf (at, sizeof at, "%sT13:00:00%+03d:00", s_day (-4), s_noon_offset);
    reply = s_mark (&s_collector, s_outbox_id ("una", "friendly_reminder"), "sent", at,
                    "<two@example.com>", "");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_OUTBOX_MARK);
    recoup__reply__free_unpacked (reply, NULL);
    //  1 day after due: past_due_notice; no sales flag yet (two unanswered).
    reply = s_engine (0);
    assert_non_null (s_action (reply, "una", "past_due_notice"));
    assert_null (s_action (reply, "una", "sales_flag"));
    recoup__reply__free_unpacked (reply, NULL);
    //  The third goes out now, through the sender.
    run_t run;
    s_send (&run, "");
    th_expect_run (&run, 0, "1 sent, 0 failed");
    assert_non_null (s_sink_find ("una@example.com"));
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM contact_log l JOIN customers c "
                                  "ON c.id = l.customer_id WHERE c.ref = 'una' AND "
                                  "l.direction = 'out' AND l.outcome = 'sent'"), 3);
    //  The engine, run again for today, finds the third unanswered email
    //  and raises the sales flag a week early, due today.
    reply = s_engine (0);
    const Recoup__EngineAction *flag = s_action (reply, "una", "sales_flag");
    if (!flag)
        fail_msg ("sales_flag not brought forward by three unanswered emails");
    assert_string_equal (flag->status, "due");
    assert_string_equal (flag->due, s_day (0));
    recoup__reply__free_unpacked (reply, NULL);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM flags f JOIN customers c "
                                  "ON c.id = f.customer_id WHERE c.ref = 'una'"), 1);
}

//  The engine's emails go out: the sink gets exactly them, header by
//  header; outbox_mark recorded each, with a contact; a second run sends
//  nothing. A message of our own has a non-ASCII subject and lines that
//  begin with dots.
static void
test_send (void **state)
{
    (void) state;
    s_customer ("s1", s_noon, "");
    s_customer ("s2", s_noon, "");
    run_t run;
    s_run (&run, "customer add dots --name 'Åsa Öberg AB' --email dots@example.com "
                 "--timezone %s", s_noon);
    th_expect_run (&run, 0, NULL);
    s_invoice ("S1-1", "s1", -3, 27);
    s_invoice ("S2-1", "s2", -3, 27);
    s_invoice ("DOT-1", "dots", -3, 27);
    Recoup__Reply *reply = s_engine (0);
    assert_non_null (s_action (reply, "s1", "confirm_receipt"));
    recoup__reply__free_unpacked (reply, NULL);
    //  A second message to dots, inserted as the engine would queue it.
    char *dots_id = th_sql_text (&s_server, 
        "INSERT INTO outbox (customer_id, step, channel, tone, invoices, recipient, "
        "subject, body, business_date, policy_version) SELECT id, 'confirm_receipt', "
        "'email', '', '{DOT-1}', 'dots@example.com', 'Påminnelse: faktura DOT-1 ✓', "
        "E'Hej,\\n.\\n.hidden line\\n..two dots\\n\\nend\\n', '%s', 1 "
        "FROM customers WHERE ref = 'dots' RETURNING id", s_day (0));
    int before = s_sink_count ();
    int64_t deliveries = th_sql_int (&s_server, "SELECT count (*) FROM outbox_deliveries");

    //  A dry run says what would go (one per customer per answer) and
    //  sends and marks nothing.
    s_send (&run, "--dry-run");
    th_expect_run (&run, 0, "would send");
    assert_non_null (strstr (run.out, "s1 <s1@example.com>"));
    assert_non_null (strstr (run.out, "3 emails would be sent"));
    assert_int_equal (s_sink_count (), before);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM outbox_deliveries"), deliveries);

    s_send (&run, "--json");
    th_expect_run (&run, 0, "\"sent\":4,\"failed\":0,\"unrecorded\":0");
    assert_int_equal (s_sink_count (), before + 4);
    assert_int_equal (s_sink_count_to ("s1@example.com"), 1);
    assert_int_equal (s_sink_count_to ("dots@example.com"), 2);

    //  s1's message, header by header.
    sink_msg_t *m = s_sink_find ("s1@example.com");
    assert_non_null (m);
    assert_string_equal (m->from, "ar@example.com");
    assert_false (m->bare_lf);
    int64_t s1_id = s_outbox_id ("s1", "confirm_receipt");
    char *value = s_header (m, "From");
    assert_string_equal (value, "\"Accounts Receivable\" <ar@example.com>");
    free (value);
    value = s_header (m, "To");
    assert_string_equal (value, "\"Customer s1\" <s1@example.com>");
    free (value);
    value = s_header (m, "Subject");
    char *subject = th_sql_text (&s_server,
                                 "SELECT subject FROM outbox WHERE id = %" PRId64, s1_id);
    assert_string_equal (value, subject);
    free (value);
    free (subject);
    value = s_header (m, "Date");
    assert_non_null (value);
    assert_non_null (strstr (value, " +0000"));
    free (value);
    value = s_header (m, "MIME-Version");
    assert_string_equal (value, "1.0");
    free (value);
    value = s_header (m, "Content-Type");
    assert_string_equal (value, "text/plain; charset=UTF-8");
    free (value);
    value = s_header (m, "Content-Transfer-Encoding");
    assert_string_equal (value, "8bit");
    free (value);
    char *message_id = s_header (m, "Message-ID");
    char prefix [64];
    snprintf (prefix, sizeof prefix, "<recoup.%" PRId64 ".", s1_id);
    assert_memory_equal (message_id, prefix, strlen (prefix));
    assert_int_equal (strlen (message_id), strlen (prefix) + 16 + strlen ("@example.com>"));
    assert_string_equal (message_id + strlen (prefix) + 16, "@example.com>");
    //  The body as rendered, with CRLF line ends.
    char *body = th_sql_text (&s_server,
                              "SELECT replace (body, E'\\n', E'\\r\\n') FROM outbox "
                              "WHERE id = %" PRId64, s1_id);
    assert_string_equal (s_body (m), body);
    free (body);
    //  Recorded: the delivery with the Message-ID, the contact in the log.
    char *stored = th_sql_text (&s_server,
                                "SELECT message_id || ' ' || actor FROM outbox_deliveries "
                                "WHERE outbox_id = %" PRId64 " AND status = 'sent'", s1_id);
    char want [400];
    snprintf (want, sizeof want, "%s cora", message_id);
    assert_string_equal (stored, want);
    free (stored);
    free (message_id);
    char *contact = th_sql_text (&s_server, 
        "SELECT l.channel || ' ' || l.direction || ' ' || l.outcome || ' ' || l.logged_by "
        "|| ' ' || l.note FROM contact_log l JOIN outbox_deliveries d ON d.contact_id = l.id "
        "WHERE d.outbox_id = %" PRId64, s1_id);
    snprintf (want, sizeof want, "email out sent cora outbox %" PRId64 ": ", s1_id);
    assert_memory_equal (contact, want, strlen (want));
    free (contact);
    assert_true (th_events (&s_server, "outbox.sent") >= 4);
    assert_true (th_sql_int (&s_server,
                             "SELECT count (*) FROM events e WHERE kind = 'contact.logged'")
                 >= 4);

    //  Our own message: the subject as encoded-words, the dots kept.
    m = s_sink_find ("dots@example.com");
    assert_non_null (m);
    value = s_header (m, "Subject");
    assert_memory_equal (value, "=?UTF-8?B?", 10);
    char *decoded = s_decode_words (value);
    assert_string_equal (decoded, "Påminnelse: faktura DOT-1 ✓");
    free (decoded);
    free (value);
    value = s_header (m, "To");
    assert_memory_equal (value, "=?UTF-8?B?", 10);
    decoded = s_decode_words (value);
    assert_string_equal (decoded, "Åsa Öberg AB");
    free (decoded);
    free (value);
    assert_string_equal (s_body (m), "Hej,\r\n.\r\n.hidden line\r\n..two dots\r\n\r\nend\r\n");
    assert_int_equal (m->stuffed, 3);       //  each went out with one dot more
    free (dots_id);

    //  The list shows it sent; a second run finds nothing to send.
    s_run (&run, "outbox list --customer s1 --status sent");
    th_expect_run (&run, 0, "Status: sent ");
    assert_non_null (strstr (run.out, "by cora, Message-ID <recoup."));
    s_run (&run, "outbox list --customer s1 --status queued");
    th_expect_run (&run, 0, NULL);
    assert_string_equal (run.out, "");
    s_send (&run, "");
    th_expect_run (&run, 0, "no email is due");
    assert_int_equal (s_sink_count (), before + 4);
}

//  Quiet hours in the customer's own zone: 23:00 in Tokyo is not due,
//  10:00 is. Marking an email sent during a customer's night is refused.
static void
test_quiet_hours (void **state)
{
    (void) state;
    s_customer ("tky", "Asia/Tokyo", "");
    s_invoice ("TKY-1", "tky", -3, 27);
    recoup__reply__free_unpacked (s_engine (0), NULL);
    char at [64];
    snprintf (at, sizeof at, "%sT14:00:00Z", s_day (0));     //  23:00 in Tokyo
    assert_false (s_due_now (at, "tky"));
    snprintf (at, sizeof at, "%sT01:00:00Z", s_day (0));     //  10:00 in Tokyo
    assert_true (s_due_now (at, "tky"));
    snprintf (at, sizeof at, "%sT12:30:00+09:00", s_day (0));
    assert_true (s_due_now (at, "tky"));
    snprintf (at, sizeof at, "%sT21:00:00+09:00", s_day (0));   //  the end is excluded
    assert_false (s_due_now (at, "tky"));

    s_customer ("nite", s_night, "");
    s_invoice ("NITE-1", "nite", -3, 27);
    recoup__reply__free_unpacked (s_engine (0), NULL);
    assert_false (s_due_now ("", "nite"));
    int before = s_sink_count_to ("nite@example.com");
    run_t run;
    s_send (&run, "");
    th_expect_run (&run, 0, NULL);
    assert_int_equal (s_sink_count_to ("nite@example.com"), before);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM outbox_deliveries d JOIN outbox o "
                                  "ON o.id = d.outbox_id JOIN customers c ON c.id = "
                                  "o.customer_id WHERE c.ref = 'nite'"), 0);

    //  A message marked sent when quiet hours have begun (a sender slowed
    //  by its mail server, a letter marked late) went out all the same:
    //  the contact is recorded, as overridden, with why.
    s_customer ("nite2", s_night, "");
    s_invoice ("NITE2-1", "nite2", -3, 27);
    recoup__reply__free_unpacked (s_engine (0), NULL);
    s_run (&run, "outbox mark %" PRId64 " --sent", s_outbox_id ("nite2", "confirm_receipt"));
    th_expect_run (&run, 0, NULL);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM contact_log l JOIN customers c "
                                  "ON c.id = l.customer_id WHERE c.ref = 'nite2' AND "
                                  "l.outcome = 'sent' AND l.rule_overridden LIKE "
                                  "'%%quiet_hours%%' AND l.override_reason LIKE "
                                  "'already sent when recorded%%'"), 1);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM outbox_deliveries d JOIN outbox o "
                                  "ON o.id = d.outbox_id JOIN customers c ON c.id = "
                                  "o.customer_id WHERE c.ref = 'nite2' AND d.status = 'sent'"),
                      1);
}

//  Cease-contact and an email opt-out are absolute: never due, never sent,
//  and a mark is refused.
static void
test_cease_and_opt_out (void **state)
{
    (void) state;
    s_customer ("cease", s_noon, "");
    s_customer ("optout", s_noon, "");
    s_customer ("phoneout", s_noon, "");
    s_invoice ("CEASE-1", "cease", -3, 27);
    s_invoice ("OPT-1", "optout", -3, 27);
    s_invoice ("PHO-1", "phoneout", -3, 27);
    run_t run;
    s_run (&run, "contact prefs cease --cease-contact yes");
    th_expect_run (&run, 0, NULL);
    s_run (&run, "contact prefs optout --opt-out email");
    th_expect_run (&run, 0, NULL);
    s_run (&run, "contact prefs phoneout --opt-out phone");
    th_expect_run (&run, 0, NULL);
    recoup__reply__free_unpacked (s_engine (0), NULL);
    char at [64];
    snprintf (at, sizeof at, "%sT13:00:00%+03d:00", s_day (0), s_noon_offset);
    assert_false (s_due_now (at, "cease"));
    assert_false (s_due_now (at, "optout"));
    assert_true (s_due_now (at, "phoneout"));       //  only phone opted out
    s_send (&run, "");
    th_expect_run (&run, 0, NULL);
    assert_null (s_sink_find ("cease@example.com"));
    assert_null (s_sink_find ("optout@example.com"));
    assert_non_null (s_sink_find ("phoneout@example.com"));
    expect_error (s_mark (&s_collector, s_outbox_id ("cease", "confirm_receipt"), "sent",
                          "", "", ""),
                  RECOUP__ERROR_CODE__FORBIDDEN_BY_RULE, "outbox_mark", "cease_contact");
    expect_error (s_mark (&s_collector, s_outbox_id ("optout", "confirm_receipt"), "sent",
                          "", "", ""),
                  RECOUP__ERROR_CODE__FORBIDDEN_BY_RULE, "outbox_mark", "opt_out");
}

//  A reminder about invoices paid since it was queued is not sent, nor
//  one queued more than a week ago (stale: the next step took its place),
//  nor one whose invoices are in a dispute opened since.
static void
test_not_offered (void **state)
{
    (void) state;
    s_customer ("stale", s_noon, "");
    s_invoice ("STALE-1", "stale", -20, 10);
    char *sql = NULL;
    for (int age = 8; age >= 7; age--) {
        free (sql);
        sql = th_sql_text (&s_server,
                           "INSERT INTO outbox (customer_id, step, channel, invoices, "
                           "recipient, subject, body, business_date, policy_version) "
                           "SELECT id, 'friendly_reminder', 'email', '{STALE-1}', "
                           "'stale@example.com', 'Reminder %d', E'Hello\n', '%s', 1 "
                           "FROM customers WHERE ref = 'stale' RETURNING id", age,
                           s_day (-age));
    }
    Recoup__Reply *reply = s_due (&s_collector, "", 1000);
    int offered = 0;
    for (size_t i = 0; i < reply->outbox_due->n_messages; i++)
        if (strcmp (reply->outbox_due->messages [i]->customer, "stale") == 0) {
            assert_int_equal (reply->outbox_due->messages [i]->id, strtoll (sql, NULL, 10));
            offered++;
        }
    assert_int_equal (offered, 1);          //  the 7-day-old one, not the 8
    recoup__reply__free_unpacked (reply, NULL);
    free (sql);

    s_customer ("paid", s_noon, "");
    s_invoice ("PAID-1", "paid", -3, 27);
    recoup__reply__free_unpacked (s_engine (0), NULL);
    assert_true (s_due_now ("", "paid"));
    run_t run;
    s_run (&run, "payment post --customer paid --reference PAID-P1 --amount 1200.00 "
                 "--invoice PAID-1");
    th_expect_run (&run, 0, NULL);
    assert_false (s_due_now ("", "paid"));
    s_send (&run, "");
    th_expect_run (&run, 0, NULL);
    assert_null (s_sink_find ("paid@example.com"));
    s_run (&run, "outbox list --customer paid --status queued");
    th_expect_run (&run, 0, "Status: queued");

    //  A dispute opened after the message was queued holds it back, as
    //  it pauses the dunning; resolved, the message may go again.
    s_customer ("disp", s_noon, "");
    s_invoice ("DISP-1", "disp", -3, 27);
    recoup__reply__free_unpacked (s_engine (0), NULL);
    assert_true (s_due_now ("", "disp"));
    s_run (&run, "dispute open DISP-1 --reason 'wrong quantity'");
    th_expect_run (&run, 0, NULL);
    assert_false (s_due_now ("", "disp"));
    s_send (&run, "");
    th_expect_run (&run, 0, NULL);
    assert_null (s_sink_find ("disp@example.com"));
    char *dispute = th_sql_text (&s_server,
                                 "SELECT id FROM disputes ORDER BY id DESC LIMIT 1");
    s_run (&run, "dispute resolve %s --outcome customer_wrong", dispute);
    th_expect_run (&run, 0, NULL);
    free (dispute);
    assert_true (s_due_now ("", "disp"));

    //  One message about two invoices, one of them disputed since: held
    //  back too (it would ask for the disputed amount).
    s_customer ("disp2", s_noon, "");
    s_invoice ("DISP2-A", "disp2", -3, 27);
    s_invoice ("DISP2-B", "disp2", -3, 27);
    recoup__reply__free_unpacked (s_engine (0), NULL);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT cardinality (o.invoices) FROM outbox o JOIN "
                                  "customers c ON c.id = o.customer_id WHERE c.ref = 'disp2'"),
                      2);
    assert_true (s_due_now ("", "disp2"));
    s_run (&run, "dispute open DISP2-B --reason 'not ordered'");
    th_expect_run (&run, 0, NULL);
    assert_false (s_due_now ("", "disp2"));
}

//  The SMTP server refuses a recipient: the attempt is recorded failed
//  with its answer, offered again after 15 minutes, and after six
//  attempts no more.
static void
test_smtp_failure (void **state)
{
    (void) state;
    s_customer ("bad", s_noon, "");
    s_invoice ("BAD-1", "bad", -3, 27);
    recoup__reply__free_unpacked (s_engine (0), NULL);
    int64_t id = s_outbox_id ("bad", "confirm_receipt");
    s_sink_reject ("bad@example.com");
    run_t run;
    s_send (&run, "");
    s_sink_reject ("");
    th_expect_run (&run, 1, "failed");
    assert_non_null (strstr (run.out, "550"));
    assert_non_null (strstr (run.out, "tried again from"));
    char *error = th_sql_text (&s_server,
                               "SELECT error FROM outbox_deliveries WHERE outbox_id = %"
                               PRId64 " AND status = 'failed'", id);
    assert_non_null (strstr (error, "RCPT failed: 550"));
    assert_non_null (strstr (error, "the server said: 550 5.1.1 <bad@example.com>: "
                                    "no such user here"));
    free (error);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM contact_log l JOIN customers c ON "
                                  "c.id = l.customer_id WHERE c.ref = 'bad'"), 0);
    assert_true (th_events (&s_server, "outbox.failed") >= 1);
    s_run (&run, "outbox list --customer bad --status failed");
    th_expect_run (&run, 0, "Status: failed, 1 attempt, the last at");
    //  Backoff: not offered now nor in 14 minutes; in 16 it is.
    assert_false (s_due_now ("", "bad"));
    assert_false (s_due_now (s_instant (14 * 60), "bad"));
    assert_true (s_due_now (s_instant (16 * 60), "bad"));
    //  Five more failures (a person records them): no more attempts.
    for (int i = 2; i <= 6; i++) {
        s_run (&run, "outbox mark %" PRId64 " --failed --error 'mailbox full (%d)'", id, i);
        th_expect_run (&run, 0, "failed (");
    }
    assert_non_null (strstr (run.out, "6 attempts"));
    assert_null (strstr (run.out, "tried again"));
    assert_false (s_due_now (s_instant (86400), "bad"));
    s_run (&run, "outbox show %" PRId64, id);
    th_expect_run (&run, 0, "no more automatic attempts");
    //  A person sent it by hand after all.
    s_run (&run, "outbox mark %" PRId64 " --sent", id);
    th_expect_run (&run, 0, "logged (email to bad)");

    //  Refused after the data (a spam filter): the message's failure too;
    //  the connection goes on serving the next message.
    s_customer ("spam", s_noon, "");
    s_customer ("fine", s_noon, "");
    s_invoice ("SPAM-1", "spam", -3, 27);
    s_invoice ("FINE-1", "fine", -3, 27);
    recoup__reply__free_unpacked (s_engine (0), NULL);
    s_sink_reject_data ("spam@example.com");
    s_send (&run, "");
    s_sink_reject_data ("");
    th_expect_run (&run, 1, "1 sent, 1 failed");
    assert_null (s_sink_find ("spam@example.com"));
    assert_non_null (s_sink_find ("fine@example.com"));
    error = th_sql_text (&s_server,
                         "SELECT d.error FROM outbox_deliveries d JOIN outbox o ON o.id = "
                         "d.outbox_id JOIN customers c ON c.id = o.customer_id WHERE "
                         "c.ref = 'spam'");
    assert_non_null (strstr (error, "554 5.7.1 message refused"));
    free (error);
}

//  outbox_mark refuses what is wrong, naming the field; roles.
static void
test_mark_errors (void **state)
{
    (void) state;
    int64_t sent_id = s_outbox_id ("s1", "confirm_receipt");
    int64_t queued_id = s_outbox_id ("nite", "confirm_receipt");
    expect_error (s_mark (&s_collector, 999999, "sent", "", "", ""),
                  RECOUP__ERROR_CODE__NOT_FOUND, "outbox_mark.id", "no message 999999");
    expect_error (s_mark (&s_collector, sent_id, "sent", "", "<x@example.com>", ""),
                  RECOUP__ERROR_CODE__CONFLICT, "outbox_mark.id", "was sent already, at");
    expect_error (s_mark (&s_collector, sent_id, "failed", "", "", "too late"),
                  RECOUP__ERROR_CODE__CONFLICT, "outbox_mark.id", "by cora");
    expect_error (s_mark (&s_collector, queued_id, "delivered", "", "", ""),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "outbox_mark.status",
                  "'delivered' is not sent or failed");
    expect_error (s_mark (&s_collector, queued_id, "", "", "", ""),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "outbox_mark.status", "required");
    expect_error (s_mark (&s_collector, 0, "sent", "", "", ""),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "outbox_mark.id", "required");
    expect_error (s_mark (&s_collector, queued_id, "sent", s_instant (3600), "", ""),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "outbox_mark.at", "in the future");
    expect_error (s_mark (&s_collector, queued_id, "sent", "yesterday", "", ""),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "outbox_mark.at", "not a time");
    char at [64];
    snprintf (at, sizeof at, "%sT12:00:00Z", s_day (-5));
    expect_error (s_mark (&s_collector, queued_id, "sent", at, "", ""),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "outbox_mark.at", "queued for");
    expect_error (s_mark (&s_collector, queued_id, "failed", "", "", ""),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "outbox_mark.error", "required");
    expect_error (s_mark (&s_collector, queued_id, "sent", "", "", "oops"),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "outbox_mark.error", "only for");
    expect_error (s_mark (&s_collector, queued_id, "failed", "", "<x@y>", "oops"),
                  RECOUP__ERROR_CODE__INVALID_ARGUMENT, "outbox_mark.message_id",
                  "only for");
    //  Roles: the desk only.
    expect_error (s_mark (&s_sales, queued_id, "failed", "", "", "oops"),
                  RECOUP__ERROR_CODE__PERMISSION_DENIED, "outbox_mark", NULL);
    expect_error (s_due (&s_sales, "", 0), RECOUP__ERROR_CODE__PERMISSION_DENIED,
                  "outbox_due", NULL);
    expect_error (s_due (&s_collector, "", 5000), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "outbox_due.limit", NULL);
    expect_error (s_due (&s_collector, "soon", 0), RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                  "outbox_due.at", NULL);
    Recoup__Reply *reply = s_mark (&s_manager, queued_id, "failed", "", "", "printer jam");
    assert_int_equal (reply->result_case, RECOUP__REPLY__RESULT_OUTBOX_MARK);
    assert_string_equal (reply->outbox_mark->message->status, "failed");
    assert_int_equal (reply->outbox_mark->contact_id, 0);
    recoup__reply__free_unpacked (reply, NULL);
    run_t run;
    th_run (&s_server, &run, s_sam_id, "outbox send --smtp %s --from ar@example.com",
            s_smtp);
    th_expect_run (&run, 1, "permission denied");
    s_run (&run, "outbox mark 999999 --sent");
    th_expect_run (&run, 1, "no message 999999");
    s_run (&run, "outbox mark %" PRId64 " --failed", queued_id);
    th_expect_run (&run, 2, "--error");
    s_run (&run, "outbox mark %" PRId64 " --sent --failed", queued_id);
    th_expect_run (&run, 2, NULL);
    s_run (&run, "outbox list --status bounced");
    th_expect_run (&run, 1, "outbox_list.status");
    s_run (&run, "outbox show 999999");
    th_expect_run (&run, 1, "no message 999999");
    s_run (&run, "outbox send --smtp http://127.0.0.1:1 --from ar@example.com");
    th_expect_run (&run, 2, "smtp://");
    s_run (&run, "outbox send --smtp %s --from 'not an address'", s_smtp);
    th_expect_run (&run, 2, "not an email address");
}

//  The desk prints a letter with its address block and marks it sent:
//  a letter contact in the log. outbox_due never offers letters.
static void
test_letter (void **state)
{
    (void) state;
    s_customer ("let", s_noon, "--address '1 Main Street, Springfield'");
    s_invoice ("LET-1", "let", -60, -30);
    Recoup__Reply *reply = s_engine (0);
    assert_non_null (s_action (reply, "let", "direct_letter"));
    recoup__reply__free_unpacked (reply, NULL);
    int64_t id = s_outbox_id ("let", "direct_letter");
    Recoup__Reply *due = s_due (&s_collector, "", 1000);
    for (size_t i = 0; i < due->outbox_due->n_messages; i++)
        assert_string_equal (due->outbox_due->messages [i]->channel, "email");
    recoup__reply__free_unpacked (due, NULL);
    run_t run;
    s_run (&run, "outbox show %" PRId64, id);
    th_expect_run (&run, 0, NULL);
    char *subject = th_sql_text (&s_server,
                                 "SELECT subject FROM outbox WHERE id = %" PRId64, id);
    char head [600];
    snprintf (head, sizeof head, "Customer let\n1 Main Street, Springfield\n\n%s\n\n%s\n\n"
              "Dear Customer let,\n", s_day (0), subject);
    free (subject);
    assert_memory_equal (run.out, head, strlen (head));
    assert_non_null (strstr (run.err, "Status: queued"));
    assert_non_null (strstr (run.err, "recoup outbox mark"));
    s_run (&run, "outbox mark %" PRId64 " --sent", id);
    th_expect_run (&run, 0, "logged (letter to let)");
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM contact_log l JOIN customers c ON "
                                  "c.id = l.customer_id WHERE c.ref = 'let' AND "
                                  "l.channel = 'letter' AND l.outcome = 'sent' AND "
                                  "l.note LIKE 'outbox %" PRId64 ": %%'", id), 1);
    s_run (&run, "outbox show %" PRId64 " --json", id);
    th_expect_run (&run, 0, "\"status\":\"sent\"");
}

//  On smtp:// with a login, STARTTLS is required: a server that does not
//  offer it gets no message and nothing is marked; the next run without
//  a login sends it.
static void
test_starttls_required (void **state)
{
    (void) state;
    s_customer ("tls", s_noon, "");
    s_invoice ("TLS-1", "tls", -3, 27);
    recoup__reply__free_unpacked (s_engine (0), NULL);
    int64_t deliveries = th_sql_int (&s_server, "SELECT count (*) FROM outbox_deliveries");
    int before = s_sink_count ();
    th_write_file (&s_server, "smtp.password", "secret\n");
    char path [PATH_MAX + 64];
    snprintf (path, sizeof path, "%s/smtp.password", s_server.dir);
    chmod (path, 0600);
    run_t run;
    s_send (&run, "--user ar --password-file smtp.password");
    th_expect_run (&run, 3, "STARTTLS");
    assert_non_null (strstr (run.err, "nothing is marked"));
    assert_null (strstr (run.err, "can be read by others"));
    assert_int_equal (s_sink_count (), before);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM outbox_deliveries"), deliveries);
    s_send (&run, "--user ar");
    th_expect_run (&run, 2, "go together");
    s_send (&run, "");
    th_expect_run (&run, 0, NULL);
    assert_non_null (s_sink_find ("tls@example.com"));
}

//  The rate of `send` to the local sink: 200 customers, one email each.
static void
test_rate (void **state)
{
    (void) state;
    enum { N = 200 };
    strbuf_t customers, invoices;
    strbuf_init (&customers);
    strbuf_init (&invoices);
    strbuf_puts (&customers, "customer,name,email,timezone\n");
    strbuf_puts (&invoices, "customer,invoice,issued,due,amount\n");
    for (int i = 0; i < N; i++) {
        strbuf_printf (&customers, "R%04d,Customer R%04d,r%04d@example.com,%s\n", i, i, i,
                       s_noon);
        strbuf_printf (&invoices, "R%04d,R-%04d,%s,%s,100.00\n", i, i, s_day (-3),
                       s_day (27));
    }
    th_write_file (&s_server, "rate-customers.csv", customers.data);
    th_write_file (&s_server, "rate-invoices.csv", invoices.data);
    strbuf_free (&customers);
    strbuf_free (&invoices);
    run_t run;
    s_run (&run, "import customers rate-customers.csv");
    th_expect_run (&run, 0, NULL);
    s_run (&run, "import invoices rate-invoices.csv");
    th_expect_run (&run, 0, NULL);
    recoup__reply__free_unpacked (s_engine (0), NULL);
    int before = s_sink_count ();
    long long start = th_now_ms ();
    s_send (&run, "--limit 1000 --json");
    long long ms = th_now_ms () - start;
    th_expect_run (&run, 0, "\"failed\":0,\"unrecorded\":0");
    int sent = s_sink_count () - before;
    assert_true (sent >= N);
    assert_int_equal (th_sql_int (&s_server,
                                  "SELECT count (*) FROM outbox_deliveries d JOIN outbox o "
                                  "ON o.id = d.outbox_id JOIN customers c ON c.id = "
                                  "o.customer_id WHERE c.ref LIKE 'R%%' AND d.status = "
                                  "'sent'"), N);
    print_message ("outbox send: %d messages to the local SMTP sink in %lld ms "
                   "(%.0f messages/s, recorded and logged)\n", sent, ms,
                   ms ? sent * 1000.0 / (double) ms : 0.0);
}

//  The contact log's chain holds with the deliveries in it.
static void
test_audit (void **state)
{
    (void) state;
    run_t run;
    th_run (&s_server, &run, NULL, "audit verify");
    th_expect_run (&run, 0, "contact log intact");
    assert_true (th_sql_int (&s_server,
                             "SELECT count (*) FROM contact_log WHERE note LIKE 'outbox %%'")
                 >= 200);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_three_unanswered),
        cmocka_unit_test (test_send),
        cmocka_unit_test (test_quiet_hours),
        cmocka_unit_test (test_cease_and_opt_out),
        cmocka_unit_test (test_not_offered),
        cmocka_unit_test (test_smtp_failure),
        cmocka_unit_test (test_mark_errors),
        cmocka_unit_test (test_letter),
        cmocka_unit_test (test_starttls_required),
        cmocka_unit_test (test_rate),
        cmocka_unit_test (test_audit),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
