/*  cmd_outbox: `recoup outbox list|show|due|mark|send`: the emails and
    letters the daily engine queued, and their delivery (PROTOCOL.md,
    outbox_list, outbox_due, outbox_mark).

    `send` is the sender: recoupd speaks no SMTP. It asks outbox_due
    which emails may go out now (a page at a time, so that the contact
    rules judge each page close to when it is sent), writes each as an
    RFC 5322 message (UTF-8 plain text, 8bit, CRLF lines, the body as
    rendered), hands it to the SMTP server with libcurl, and records the
    attempt with outbox_mark: sent with the Message-ID it made, or failed
    with the server's answer. libcurl does the SMTP dot-stuffing and the
    final CRLF.CRLF itself, so the text is given to it as is.

    What counts as an attempt: the SMTP server refusing this message (a
    4xx/5xx answer to its recipient or its data) is the message's
    failure and is recorded; not reaching the SMTP server, TLS, or the
    login failing is nobody's message's fault: the run stops, marks
    nothing, and the next run tries again.

    Delivery is at least once: if this process dies (or recoupd cannot
    be reached) after the SMTP server accepted a message and before
    outbox_mark is recorded, the message stays queued and is sent again
    by a later run.

    Letters are printed by the desk: `show ID` prints the letter with its
    address block on stdout (what to print) and its state on stderr;
    `mark ID --sent` records that it was posted.                         */
#include "args.h"
#include "cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USAGE \
    "usage: recoup outbox list [--customer REF] [--status queued|sent|failed] [--json]\n" \
    "       recoup outbox show ID [--json]\n" \
    "       recoup outbox due [--limit N] [--at ISO8601] [--json]\n" \
    "       recoup outbox mark ID --sent [--at ISO8601] [--message-id ID]\n" \
    "       recoup outbox mark ID --failed --error TEXT [--at ISO8601]\n" \
    "       recoup outbox send --smtp smtp[s]://HOST[:PORT] --from ADDRESS\n" \
    "           [--user NAME --password-file FILE] [--limit N] [--smtp-timeout S]\n" \
    "           [--dry-run] [--json]\n"

#define SEND_PAGE 10            //  messages asked of outbox_due at a time
#define SEND_LIMIT 100          //  default --limit of send
#define LINE_MAX_OCTETS 998     //  RFC 5322, without the CRLF
#define ENCODED_CHUNK 45        //  raw bytes per encoded-word (60 base64 chars)
#define PASSWORD_MAX 1024

//  Takes a flag without a value (--sent) out of argv. 1 when it was there.
static int
s_flag (int *argc, char **argv, const char *name)
{
    int found = 0;
    for (int i = 1; i < *argc; i++)
        if (strcmp (argv [i], name) == 0) {
            found = 1;
            memmove (argv + i, argv + i + 1, (size_t) (*argc - i - 1) * sizeof *argv);
            (*argc)--;
            i--;
        }
    return found;
}

//  A message id: a whole number above zero, or 0.
static uint64_t
s_id (const char *text)
{
    if (!text || *text < '1' || *text > '9')
        return 0;
    char *end;
    errno = 0;
    unsigned long long id = strtoull (text, &end, 10);
    return *end || errno ? 0 : (uint64_t) id;
}

//  A count from 1 to max, or 0.
static uint32_t
s_count (const char *text, uint32_t max)
{
    uint64_t value = s_id (text);
    return value <= max ? (uint32_t) value : 0;
}

static int
s_usage (void)
{
    fputs (USAGE, stderr);
    return EXIT_USAGE;
}

//  The delivery state of a message, one line for people.
static void
s_state (FILE *out, const Recoup__OutboxMessage *m)
{
    if (strcmp (m->status, "sent") == 0) {
        fprintf (out, "Status: sent %s by %s", m->sent_at, m->sent_by);
        if (*m->message_id)
            fprintf (out, ", Message-ID %s", m->message_id);
        if (m->contact_id)
            fprintf (out, ", contact %" PRIu64, m->contact_id);
        fputc ('\n', out);
    }
    else if (strcmp (m->status, "failed") == 0) {
        fprintf (out, "Status: failed, %u attempt%s, the last at %s: %s\n", m->attempts,
                 m->attempts == 1 ? "" : "s", m->last_attempt_at, m->last_error);
        if (*m->retry_at)
            fprintf (out, "        tried again from %s\n", m->retry_at);
        else if (strcmp (m->channel, "email") == 0)
            fprintf (out, "        no more automatic attempts: send it by hand and "
                     "mark it sent\n");
    }
    else
        fprintf (out, "Status: queued %s\n", m->queued_at);
}

//  Asks for outbox_list; the reply or NULL with *rc.
static Recoup__Reply *
s_list_call (cli_t *cli, Recoup__OutboxListRequest *req, int *rc)
{
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_OUTBOX_LIST;
    request.outbox_list = req;
    return cli_call (cli, &request, RECOUP__REPLY__RESULT_OUTBOX_LIST, rc);
}

// ---------------------------------------------------------------- list

static int
s_list (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = { "--customer", "--status", NULL };
    cli_args_t args;
    if (cli_args_parse (&args, argc, argv, 2, known, NULL, 0) != 0)
        return s_usage ();
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__OutboxListRequest req = RECOUP__OUTBOX_LIST_REQUEST__INIT;
    req.customer = cli_args_opt (&args, "--customer");
    req.status = cli_args_opt (&args, "--status");
    Recoup__Reply *reply = s_list_call (cli, &req, &rc);
    if (reply) {
        const Recoup__OutboxListReply *o = reply->outbox_list;
        if (cli->json)
            cli_print_json (&o->base);
        else
            for (size_t i = 0; i < o->n_messages; i++) {
                const Recoup__OutboxMessage *m = o->messages [i];
                printf ("#%" PRIu64 " %s %s %s to %s (%s, policy v%u)\n", m->id,
                        m->business_date, m->channel, m->step, m->customer,
                        *m->recipient ? m->recipient : "no recipient on file",
                        m->policy_version);
                s_state (stdout, m);
                printf ("Subject: %s\n\n%s\n", m->subject, m->body);
            }
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

// ---------------------------------------------------------------- show

//  The letter or email as it goes out, on stdout; what it is, on stderr.
static void
s_show_text (const Recoup__OutboxMessage *m)
{
    fprintf (stderr, "#%" PRIu64 " %s %s for %s, queued for %s (policy v%u)\n", m->id,
             m->channel, m->step, m->customer, m->business_date, m->policy_version);
    s_state (stderr, m);
    if (strcmp (m->channel, "email") == 0) {
        printf ("To: %s <%s>\nSubject: %s\n\n%s", m->customer_name,
                *m->recipient ? m->recipient : "no email address on file",
                m->subject, m->body);
        return;
    }
    //  A letter: the address block, the date, the subject, the text.
    printf ("%s\n%s\n\n%s\n\n%s\n\n%s", m->customer_name,
            *m->recipient ? m->recipient : "NO POSTAL ADDRESS ON FILE",
            m->business_date, m->subject, m->body);
    if (!*m->recipient)
        fprintf (stderr, "recoup: %s has no postal address on file (recoup customer "
                 "update %s --address ...)\n", m->customer, m->customer);
    if (strcmp (m->status, "sent") != 0)
        fprintf (stderr, "when it is posted: recoup outbox mark %" PRIu64 " --sent\n",
                 m->id);
}

static int
s_show (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = { NULL };
    cli_args_t args;
    if (cli_args_parse (&args, argc, argv, 2, known, NULL, 1) != 0
        || args.n_positional != 1)
        return s_usage ();
    Recoup__OutboxListRequest req = RECOUP__OUTBOX_LIST_REQUEST__INIT;
    req.id = s_id (args.positional [0]);
    if (!req.id) {
        cli_fail ("'%s' is not a message number", args.positional [0]);
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Reply *reply = s_list_call (cli, &req, &rc);
    if (reply) {
        const Recoup__OutboxListReply *o = reply->outbox_list;
        if (o->n_messages != 1) {
            cli_fail ("unexpected reply from the server");
            rc = EXIT_REFUSED;
        }
        else if (cli->json)
            cli_print_json (&o->messages [0]->base);
        else
            s_show_text (o->messages [0]);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

// ---------------------------------------------------------------- due

//  Asks for outbox_due; the reply or NULL with *rc.
static Recoup__Reply *
s_due_call (cli_t *cli, uint32_t limit, const char *at, int *rc)
{
    Recoup__OutboxDueRequest req = RECOUP__OUTBOX_DUE_REQUEST__INIT;
    req.limit = limit;
    req.at = (char *) at;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_OUTBOX_DUE;
    request.outbox_due = &req;
    return cli_call (cli, &request, RECOUP__REPLY__RESULT_OUTBOX_DUE, rc);
}

static int
s_due (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = { "--limit", "--at", NULL };
    cli_args_t args;
    if (cli_args_parse (&args, argc, argv, 2, known, NULL, 0) != 0)
        return s_usage ();
    uint32_t limit = 0;
    if (cli_args_get (&args, "--limit")
        && !(limit = s_count (cli_args_get (&args, "--limit"), 1000))) {
        cli_fail ("--limit wants a number from 1 to 1000");
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Reply *reply = s_due_call (cli, limit, cli_args_opt (&args, "--at"), &rc);
    if (reply) {
        const Recoup__OutboxListReply *o = reply->outbox_due;
        if (cli->json)
            cli_print_json (&o->base);
        else {
            printf ("%zu email%s due\n", o->n_messages, o->n_messages == 1 ? "" : "s");
            for (size_t i = 0; i < o->n_messages; i++) {
                const Recoup__OutboxMessage *m = o->messages [i];
                printf ("#%" PRIu64 " %s <%s> %s: %s%s\n", m->id, m->customer,
                        m->recipient, m->step, m->subject,
                        m->attempts ? " (tried before)" : "");
            }
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

// ---------------------------------------------------------------- mark

//  Records one attempt; the reply or NULL with *rc (the reason printed).
static Recoup__Reply *
s_mark_call (cli_t *cli, uint64_t id, const char *status, const char *at,
             const char *message_id, const char *error, int *rc)
{
    Recoup__OutboxMarkRequest req = RECOUP__OUTBOX_MARK_REQUEST__INIT;
    req.id = id;
    req.status = (char *) status;
    req.at = (char *) at;
    req.message_id = (char *) message_id;
    req.error = (char *) error;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_OUTBOX_MARK;
    request.outbox_mark = &req;
    return cli_call (cli, &request, RECOUP__REPLY__RESULT_OUTBOX_MARK, rc);
}

static int
s_mark (cli_t *cli, int argc, char **argv)
{
    int sent = s_flag (&argc, argv, "--sent");
    int failed = s_flag (&argc, argv, "--failed");
    static const char *const known [] = { "--at", "--message-id", "--error", NULL };
    cli_args_t args;
    if (cli_args_parse (&args, argc, argv, 2, known, NULL, 1) != 0
        || args.n_positional != 1)
        return s_usage ();
    if (sent == failed) {
        cli_fail ("say --sent or --failed");
        return s_usage ();
    }
    uint64_t id = s_id (args.positional [0]);
    if (!id) {
        cli_fail ("'%s' is not a message number", args.positional [0]);
        return EXIT_USAGE;
    }
    if (failed && !cli_args_get (&args, "--error")) {
        cli_fail ("--failed needs --error TEXT: what went wrong");
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Reply *reply = s_mark_call (cli, id, sent ? "sent" : "failed",
                                        cli_args_opt (&args, "--at"),
                                        cli_args_opt (&args, "--message-id"),
                                        cli_args_opt (&args, "--error"), &rc);
    if (reply) {
        const Recoup__OutboxMarkReply *r = reply->outbox_mark;
        if (cli->json)
            cli_print_json (&r->base);
        else if (sent)
            printf ("#%" PRIu64 " sent at %s; contact %" PRIu64 " logged (%s to %s)\n",
                    r->message->id, r->message->sent_at, r->contact_id,
                    r->message->channel, r->message->customer);
        else
            printf ("#%" PRIu64 " failed (%u attempt%s)%s%s\n", r->message->id,
                    r->message->attempts, r->message->attempts == 1 ? "" : "s",
                    *r->message->retry_at ? "; tried again from " : "",
                    r->message->retry_at);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

// ---------------------------------------------------------------- RFC 5322

//  1 when text is printable ASCII (spaces included) without "=?", which
//  a reader could take for an encoded-word.
static int
s_plain (const char *text)
{
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return 0;
    return strstr (text, "=?") == NULL;
}

//  Appends text as RFC 2047 encoded-words (UTF-8, base64), each of at
//  most ENCODED_CHUNK bytes of whole characters, joined by `separator`.
static void
s_encoded_words (strbuf_t *out, const char *text, const char *separator)
{
    size_t len = strlen (text), at = 0;
    while (at < len) {
        size_t take = len - at < ENCODED_CHUNK ? len - at : ENCODED_CHUNK;
        //  Never split a character: back off continuation bytes.
        while (at + take < len && ((unsigned char) text [at + take] & 0xC0) == 0x80)
            take--;
        char b64 [sodium_base64_ENCODED_LEN (ENCODED_CHUNK,
                                             sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64 (b64, sizeof b64, (const unsigned char *) text + at, take,
                           sodium_base64_VARIANT_ORIGINAL);
        if (at > 0)
            strbuf_puts (out, separator);
        strbuf_printf (out, "=?UTF-8?B?%s?=", b64);
        at += take;
    }
}

//  Appends "Name: value" and CRLF: printable ASCII folded at spaces to
//  keep lines near 78 characters; anything else as encoded-words, one
//  per folded line.
static void
s_header_text (strbuf_t *out, const char *name, const char *value)
{
    strbuf_printf (out, "%s:", name);
    if (!s_plain (value)) {
        strbuf_puts (out, " ");
        s_encoded_words (out, value, "\r\n ");
        strbuf_puts (out, "\r\n");
        return;
    }
    //  Each token is a word with the spaces before it; a fold goes in
    //  before a token's first space.
    size_t line = strlen (name) + 1;
    int first = 1;
    const char *p = value;
    while (*p) {
        const char *token = p;
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
        size_t len = (size_t) (p - token);
        if (first) {
            strbuf_puts (out, " ");
            line++;
            first = 0;
        }
        else if (line + len > 78) {
            strbuf_puts (out, "\r\n");
            line = 0;
        }
        strbuf_append (out, token, len);
        line += len;
    }
    strbuf_puts (out, "\r\n");
}

//  Appends a display name and an address: "Name" <a@b>, encoded-words
//  for a name that is not plain ASCII, the bare <a@b> without a name.
static void
s_mailbox (strbuf_t *out, const char *name, const char *address)
{
    if (name && *name) {
        if (s_plain (name)) {
            strbuf_puts (out, "\"");
            for (const char *p = name; *p; p++) {
                if (*p == '"' || *p == '\\')
                    strbuf_puts (out, "\\");
                strbuf_append (out, p, 1);
            }
            strbuf_puts (out, "\" ");
        }
        else {
            s_encoded_words (out, name, " ");
            strbuf_puts (out, " ");
        }
    }
    strbuf_printf (out, "<%s>", address);
}

//  1 when text is a plain ASCII addr-spec we can put between < and >:
//  local@domain, no spaces, controls, brackets, quotes or commas.
static int
s_address_ok (const char *text)
{
    size_t len = strlen (text);
    const char *at = strrchr (text, '@');
    if (len == 0 || len > 254 || !at || at == text || !at [1])
        return 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr ("<>()[]\\,;:\"", *p))
            return 0;
    return 1;
}

//  The sender: --from "Name <a@b>" or "a@b".
typedef struct {
    char name [256];            //  display name, "" for none
    char address [256];         //  the envelope and From address
    const char *domain;         //  in address: after the last @
} s_from_t;

//  Parses --from. 0, or -1 with the problem printed.
static int
s_from_parse (s_from_t *self, const char *text)
{
    memset (self, 0, sizeof *self);
    const char *open = strchr (text, '<');
    if (open) {
        const char *close = strchr (open, '>');
        if (!close || close [1] || (size_t) (close - open - 1) >= sizeof self->address
            || (size_t) (open - text) >= sizeof self->name) {
            cli_fail ("--from '%s': write it as ADDRESS or \"NAME <ADDRESS>\"", text);
            return -1;
        }
        memcpy (self->address, open + 1, (size_t) (close - open - 1));
        size_t len = (size_t) (open - text);
        while (len && text [len - 1] == ' ')
            len--;
        const char *name = text;
        if (len >= 2 && name [0] == '"' && name [len - 1] == '"') {
            name++;
            len -= 2;
        }
        memcpy (self->name, name, len);
        for (const unsigned char *p = (const unsigned char *) self->name; *p; p++)
            if (*p < 0x20 || *p == 0x7f) {
                cli_fail ("--from: the name holds a control character");
                return -1;
            }
    }
    else if (strlen (text) < sizeof self->address)
        strcpy (self->address, text);
    if (!s_address_ok (self->address)) {
        cli_fail ("--from '%s' is not an email address (local@domain)", text);
        return -1;
    }
    self->domain = strrchr (self->address, '@') + 1;
    return 0;
}

//  Writes the message for `m` into out: headers, a blank line, the body
//  with CRLF line ends. The Message-ID goes into message_id. Returns 0,
//  or -1 with why into err (a body line too long for 8bit).
static int
s_compose (strbuf_t *out, const Recoup__OutboxMessage *m, const s_from_t *from,
           char *message_id, size_t id_len, char *err, size_t errlen)
{
    unsigned char raw [8];
    char hex [2 * sizeof raw + 1];
    randombytes_buf (raw, sizeof raw);
    sodium_bin2hex (hex, sizeof hex, raw, sizeof raw);
    snprintf (message_id, id_len, "<recoup.%" PRIu64 ".%s@%s>", m->id, hex,
              from->domain);
    time_t now = time (NULL);
    struct tm tm;
    gmtime_r (&now, &tm);
    char date [64];
    strftime (date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);

    strbuf_reset (out);
    strbuf_printf (out, "Date: %s\r\n", date);
    strbuf_puts (out, "From: ");
    s_mailbox (out, from->name, from->address);
    strbuf_puts (out, "\r\nTo: ");
    s_mailbox (out, m->customer_name, m->recipient);
    strbuf_puts (out, "\r\n");
    s_header_text (out, "Subject", m->subject);
    strbuf_printf (out, "Message-ID: %s\r\n", message_id);
    strbuf_puts (out, "MIME-Version: 1.0\r\n"
                      "Content-Type: text/plain; charset=UTF-8\r\n"
                      "Content-Transfer-Encoding: 8bit\r\n"
                      "Auto-Submitted: auto-generated\r\n"
                      "\r\n");
    //  The body's lines as rendered, whatever ended them (LF, CRLF, CR).
    const char *p = m->body;
    int line = 1;
    while (*p) {
        size_t len = strcspn (p, "\r\n");
        if (len > LINE_MAX_OCTETS) {
            snprintf (err, errlen, "line %d of the body is %zu octets long; an 8bit "
                      "message allows %d", line, len, LINE_MAX_OCTETS);
            return -1;
        }
        strbuf_append (out, p, len);
        strbuf_puts (out, "\r\n");
        p += len;
        if (*p == '\r' && p [1] == '\n')
            p += 2;
        else if (*p)
            p++;
        line++;
    }
    return 0;
}

// ---------------------------------------------------------------- send

//  The SMTP side of a run.
typedef struct {
    CURL *curl;                 //  one handle: the connection is reused
    const char *url;            //  --smtp
    s_from_t from;              //  --from
    const char *user;           //  --user, or NULL
    char password [PASSWORD_MAX];   //  from --password-file; wiped at the end
    long timeout_s;             //  --smtp-timeout
    strbuf_t text;              //  the message being sent
    size_t sent_octets;         //  how much of text libcurl has read
    char refusal [512];         //  the server's last 4xx/5xx line, or ""
} s_smtp_t;

//  libcurl's read callback: the next part of the message.
static size_t
s_smtp_read (char *buffer, size_t size, size_t nitems, void *arg)
{
    s_smtp_t *self = (s_smtp_t *) arg;
    size_t room = size * nitems, left = self->text.len - self->sent_octets;
    size_t n = left < room ? left : room;
    memcpy (buffer, self->text.data + self->sent_octets, n);
    self->sent_octets += n;
    return n;
}

//  libcurl's debug callback: keeps the server's last 4xx or 5xx reply
//  line, to record why a message was refused in the server's words.
//  Nothing we send is looked at (it holds the login).
static int
s_smtp_debug (CURL *handle, curl_infotype type, char *data, size_t size, void *arg)
{
    (void) handle;
    s_smtp_t *self = (s_smtp_t *) arg;
    if (type == CURLINFO_HEADER_IN && size >= 3 && (data [0] == '4' || data [0] == '5')) {
        size_t len = size;
        while (len > 0 && (data [len - 1] == '\r' || data [len - 1] == '\n'))
            len--;
        if (len >= sizeof self->refusal)
            len = sizeof self->refusal - 1;
        memcpy (self->refusal, data, len);
        self->refusal [len] = '\0';
        for (char *p = self->refusal; *p; p++)
            if ((unsigned char) *p < 0x20 || *p == 0x7f)
                *p = ' ';
    }
    return 0;
}

//  Reads the SMTP password: the file's first line. 0, or -1 (printed).
static int
s_password_read (s_smtp_t *self, const char *path)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_fail ("--password-file %s: %s", path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        fprintf (stderr, "recoup: warning: %s can be read by others (chmod 600 it)\n",
                 path);
    ssize_t n = read (fd, self->password, sizeof self->password - 1);
    close (fd);
    if (n < 0) {
        cli_fail ("--password-file %s: %s", path, strerror (errno));
        return -1;
    }
    self->password [n] = '\0';
    self->password [strcspn (self->password, "\r\n")] = '\0';
    if (!self->password [0]) {
        cli_fail ("--password-file %s is empty", path);
        return -1;
    }
    return 0;
}

//  Sets up the handle. 0, or -1 (printed).
static int
s_smtp_open (s_smtp_t *self)
{
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK
        || !(self->curl = curl_easy_init ())) {
        cli_fail ("cannot start libcurl");
        return -1;
    }
    int smtps = strncmp (self->url, "smtps://", 8) == 0;
    CURL *c = self->curl;
    curl_easy_setopt (c, CURLOPT_URL, self->url);
    curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, self->timeout_s < 30 ? self->timeout_s : 30L);
    curl_easy_setopt (c, CURLOPT_TIMEOUT, self->timeout_s);
    //  smtps:// is TLS from the start. On smtp://, a login must not go
    //  out in clear: STARTTLS is required then, else used when offered.
    if (!smtps)
        curl_easy_setopt (c, CURLOPT_USE_SSL, self->user ? (long) CURLUSESSL_ALL
                                                         : (long) CURLUSESSL_TRY);
    if (self->user) {
        curl_easy_setopt (c, CURLOPT_USERNAME, self->user);
        curl_easy_setopt (c, CURLOPT_PASSWORD, self->password);
    }
    curl_easy_setopt (c, CURLOPT_DEBUGFUNCTION, s_smtp_debug);
    curl_easy_setopt (c, CURLOPT_DEBUGDATA, self);
    curl_easy_setopt (c, CURLOPT_VERBOSE, 1L);     //  to the callback only
    curl_easy_setopt (c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt (c, CURLOPT_READFUNCTION, s_smtp_read);
    curl_easy_setopt (c, CURLOPT_READDATA, self);
    return 0;
}

static void
s_smtp_close (s_smtp_t *self)
{
    if (self->curl) {
        curl_easy_cleanup (self->curl);
        self->curl = NULL;
        curl_global_cleanup ();
    }
    strbuf_free (&self->text);
    sodium_memzero (self->password, sizeof self->password);
}

//  What became of one message.
typedef enum {
    S_SENT,                     //  accepted by the SMTP server, recorded
    S_FAILED,                   //  refused by the SMTP server, recorded
    S_UNRECORDED,               //  the attempt could not be recorded
    S_SMTP_DOWN,                //  no SMTP conversation: nothing recorded
    S_WOULD_SEND                //  --dry-run
} s_outcome_t;

//  Hands the composed text to the SMTP server. 0 when it accepted it;
//  else -1 with the error in err and *transport set when the failure was
//  not this message's (no connection, TLS, login, the sender refused).
static int
s_smtp_send (s_smtp_t *self, const char *recipient, char *err, size_t errlen,
             int *transport)
{
    char envelope_from [300], envelope_to [300], curl_err [CURL_ERROR_SIZE] = "";
    snprintf (envelope_from, sizeof envelope_from, "<%s>", self->from.address);
    snprintf (envelope_to, sizeof envelope_to, "<%s>", recipient);
    struct curl_slist *rcpt = curl_slist_append (NULL, envelope_to);
    if (!rcpt) {
        snprintf (err, errlen, "out of memory");
        *transport = 1;
        return -1;
    }
    self->sent_octets = 0;
    self->refusal [0] = '\0';
    curl_easy_setopt (self->curl, CURLOPT_MAIL_FROM, envelope_from);
    curl_easy_setopt (self->curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt (self->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t) self->text.len);
    curl_easy_setopt (self->curl, CURLOPT_ERRORBUFFER, curl_err);
    CURLcode code = curl_easy_perform (self->curl);
    long smtp_code = 0;
    curl_easy_getinfo (self->curl, CURLINFO_RESPONSE_CODE, &smtp_code);
    curl_easy_setopt (self->curl, CURLOPT_MAIL_RCPT, NULL);
    curl_easy_setopt (self->curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all (rcpt);
    if (code == CURLE_OK)
        return 0;
    //  "RCPT failed: 550; the server said: 550 5.1.1 <a@b>: no such user"
    snprintf (err, errlen, "%s%s%s", *curl_err ? curl_err : curl_easy_strerror (code),
              *self->refusal ? "; the server said: " : "", self->refusal);
    //  The server answered this message's recipient or data with 4xx/5xx.
    int refused = (code == CURLE_SEND_ERROR || code == CURLE_WEIRD_SERVER_REPLY
                   || code == CURLE_RECV_ERROR)
                  && smtp_code >= 400 && smtp_code <= 599
                  && strncmp (curl_err, "MAIL failed", 11) != 0;
    *transport = !refused;
    return -1;
}

//  The run's tally and its JSON.
typedef struct {
    int sent;                   //  handed over and recorded sent
    int failed;                 //  refused by the SMTP server, recorded failed
    int unrecorded;             //  outbox_mark refused or unanswered
    int would_send;             //  --dry-run: offered by outbox_due
    strbuf_t json;              //  the messages' objects, comma-separated
} s_tally_t;

static void
s_report (cli_t *cli, s_tally_t *tally, const Recoup__OutboxMessage *m,
          s_outcome_t outcome, const char *message_id, const char *error,
          const char *retry_at)
{
    static const char *const names [] = {
        "sent", "failed", "unrecorded", "not_attempted", "would_send"
    };
    if (cli->json) {
        strbuf_printf (&tally->json, "%s{\"id\":%" PRIu64 ",\"customer\":",
                       tally->json.len ? "," : "", m->id);
        json_string (&tally->json, m->customer);
        strbuf_puts (&tally->json, ",\"recipient\":");
        json_string (&tally->json, m->recipient);
        strbuf_puts (&tally->json, ",\"subject\":");
        json_string (&tally->json, m->subject);
        strbuf_printf (&tally->json, ",\"status\":\"%s\",\"message_id\":",
                       names [outcome]);
        json_string (&tally->json, message_id);
        strbuf_puts (&tally->json, ",\"error\":");
        json_string (&tally->json, error);
        strbuf_puts (&tally->json, ",\"retry_at\":");
        json_string (&tally->json, retry_at);
        strbuf_puts (&tally->json, "}");
        return;
    }
    switch (outcome) {
        case S_SENT:
            printf ("sent       #%" PRIu64 " %s <%s> %s: %s\n", m->id, m->customer,
                    m->recipient, message_id, m->subject);
            break;
        case S_FAILED:
            printf ("failed     #%" PRIu64 " %s <%s>: %s%s%s\n", m->id, m->customer,
                    m->recipient, error, *retry_at ? "; tried again from " : "",
                    retry_at);
            break;
        case S_UNRECORDED:
            printf ("unrecorded #%" PRIu64 " %s <%s>: %s\n", m->id, m->customer,
                    m->recipient, error);
            break;
        case S_SMTP_DOWN:
            printf ("not sent   #%" PRIu64 " %s <%s>: %s\n", m->id, m->customer,
                    m->recipient, error);
            break;
        case S_WOULD_SEND:
            printf ("would send #%" PRIu64 " %s <%s>: %s\n", m->id, m->customer,
                    m->recipient, m->subject);
            break;
    }
}

//  Now as ISO 8601 UTC with milliseconds.
static void
s_now_iso (char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    char head [32];
    strftime (head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
    int ms = (int) (ts.tv_nsec / 1000000) % 1000;
    snprintf (buf, len, "%.19s.%03dZ", head, ms);
}

//  Delivers one message and records the attempt. Returns what became of
//  it; *stop set when the run must end (recoupd or the SMTP server gone).
static s_outcome_t
s_deliver (cli_t *cli, s_smtp_t *smtp, s_tally_t *tally,
           const Recoup__OutboxMessage *m, int *stop, int *rc)
{
    char message_id [300] = "", err [1400] = "";
    int transport = 0;
    int ok;
    if (!s_address_ok (m->recipient)) {
        snprintf (err, sizeof err, "the recipient '%.200s' is not a plain email "
                  "address (local@domain)", m->recipient);
        ok = -1;
    }
    else if (s_compose (&smtp->text, m, &smtp->from, message_id, sizeof message_id,
                        err, sizeof err) != 0)
        ok = -1;
    else
        ok = s_smtp_send (smtp, m->recipient, err, sizeof err, &transport);
    if (ok != 0 && transport) {
        s_report (cli, tally, m, S_SMTP_DOWN, "", err, "");
        cli_fail ("the SMTP server at %s: %s; nothing more is sent this run, nothing "
                  "is marked", smtp->url, err);
        *stop = 1;
        *rc = EXIT_UNREACHABLE;
        return S_SMTP_DOWN;
    }
    char at [40];
    s_now_iso (at, sizeof at);
    int mark_rc = 0;
    Recoup__Reply *reply = s_mark_call (cli, m->id, ok == 0 ? "sent" : "failed", at,
                                        ok == 0 ? message_id : "", ok == 0 ? "" : err,
                                        &mark_rc);
    if (!reply) {
        //  cli_call said why on stderr.
        const char *what = ok == 0
            ? "accepted by the SMTP server, but recoupd did not record it: it stays "
              "queued and may be sent again"
            : "refused by the SMTP server, and recoupd did not record the failure";
        s_report (cli, tally, m, S_UNRECORDED, message_id, what, "");
        tally->unrecorded++;
        if (mark_rc == EXIT_UNREACHABLE) {
            *stop = 1;
            *rc = EXIT_UNREACHABLE;
        }
        else if (*rc == 0)
            *rc = EXIT_REFUSED;
        return S_UNRECORDED;
    }
    const Recoup__OutboxMessage *after = reply->outbox_mark->message;
    s_outcome_t outcome = ok == 0 ? S_SENT : S_FAILED;
    s_report (cli, tally, m, outcome, message_id, ok == 0 ? "" : err, after->retry_at);
    recoup__reply__free_unpacked (reply, NULL);
    if (outcome == S_SENT)
        tally->sent++;
    else {
        tally->failed++;
        if (*rc == 0)
            *rc = EXIT_REFUSED;
    }
    return outcome;
}

static int
s_send (cli_t *cli, int argc, char **argv)
{
    int dry_run = s_flag (&argc, argv, "--dry-run");
    static const char *const known [] = {
        "--smtp", "--from", "--user", "--password-file", "--limit", "--smtp-timeout",
        NULL
    };
    cli_args_t args;
    if (cli_args_parse (&args, argc, argv, 2, known, NULL, 0) != 0)
        return s_usage ();
    s_smtp_t smtp;
    memset (&smtp, 0, sizeof smtp);
    strbuf_init (&smtp.text);
    smtp.url = cli_args_get (&args, "--smtp");
    smtp.user = cli_args_get (&args, "--user");
    const char *password_file = cli_args_get (&args, "--password-file");
    const char *from = cli_args_get (&args, "--from");
    uint32_t limit = SEND_LIMIT;
    smtp.timeout_s = 60;
    int rc = 0;
    if (!smtp.url || !from) {
        cli_fail ("send needs --smtp URL and --from ADDRESS");
        rc = s_usage ();
    }
    else if (strncmp (smtp.url, "smtp://", 7) != 0 && strncmp (smtp.url, "smtps://", 8) != 0) {
        cli_fail ("--smtp '%s': the URL starts with smtp:// (STARTTLS) or smtps:// "
                  "(TLS)", smtp.url);
        rc = EXIT_USAGE;
    }
    else if (s_from_parse (&smtp.from, from) != 0)
        rc = EXIT_USAGE;
    else if (!smtp.user != !password_file) {
        cli_fail ("--user and --password-file go together");
        rc = EXIT_USAGE;
    }
    else if (cli_args_get (&args, "--limit")
             && !(limit = s_count (cli_args_get (&args, "--limit"), 10000))) {
        cli_fail ("--limit wants a number from 1 to 10000");
        rc = EXIT_USAGE;
    }
    else if (cli_args_get (&args, "--smtp-timeout")
             && !(smtp.timeout_s = (long) s_count (cli_args_get (&args, "--smtp-timeout"),
                                                   3600))) {
        cli_fail ("--smtp-timeout wants seconds, from 1 to 3600");
        rc = EXIT_USAGE;
    }
    else if (password_file && s_password_read (&smtp, password_file) != 0)
        rc = EXIT_USAGE;
    if (rc != 0) {
        s_smtp_close (&smtp);
        return rc;
    }
    if (sodium_init () < 0 || (!dry_run && s_smtp_open (&smtp) != 0)) {
        s_smtp_close (&smtp);
        return EXIT_USAGE;
    }
    rc = cli_connect (cli);
    if (rc != 0) {
        s_smtp_close (&smtp);
        return rc;
    }
    s_tally_t tally;
    memset (&tally, 0, sizeof tally);
    strbuf_init (&tally.json);
    //  Ids tried in this run: one that comes back (its mark refused) is
    //  not tried twice.
    uint64_t *tried = calloc (limit, sizeof *tried);
    size_t n_tried = 0;
    int stop = tried == NULL, due_failed = 0;
    if (!tried) {
        cli_fail ("out of memory");
        rc = EXIT_USAGE;
    }
    while (!stop && n_tried < limit) {
        //  A page, and room for the messages whose mark was refused,
        //  which come back and are not tried again.
        size_t left = limit - n_tried;
        size_t page = dry_run ? left : (left < SEND_PAGE ? left : SEND_PAGE)
                                       + (size_t) tally.unrecorded;
        if (page > 1000)
            page = 1000;
        int due_rc = 0;
        Recoup__Reply *reply = s_due_call (cli, (uint32_t) page, "", &due_rc);
        if (!reply) {
            rc = due_rc;
            due_failed = 1;
            break;
        }
        const Recoup__OutboxListReply *due = reply->outbox_due;
        size_t fresh = 0;
        for (size_t i = 0; i < due->n_messages && !stop && n_tried < limit; i++) {
            const Recoup__OutboxMessage *m = due->messages [i];
            int seen = 0;
            for (size_t k = 0; k < n_tried && !seen; k++)
                seen = tried [k] == m->id;
            if (seen)
                continue;
            tried [n_tried++] = m->id;
            fresh++;
            if (dry_run) {
                s_report (cli, &tally, m, S_WOULD_SEND, "", "", "");
                tally.would_send++;
            }
            else
                s_deliver (cli, &smtp, &tally, m, &stop, &rc);
        }
        recoup__reply__free_unpacked (reply, NULL);
        if (fresh == 0 || dry_run)
            break;
    }
    if (due_failed && n_tried == 0)
        ;                       //  cli_call said why
    else if (cli->json)
        printf ("{\"dry_run\":%s,\"sent\":%d,\"failed\":%d,\"unrecorded\":%d,"
                "\"would_send\":%d,\"messages\":[%s]}\n", dry_run ? "true" : "false",
                tally.sent, tally.failed, tally.unrecorded, tally.would_send,
                tally.json.len ? tally.json.data : "");
    else if (dry_run)
        printf ("outbox: %d email%s would be sent (dry run: nothing sent, nothing "
                "marked)\n", tally.would_send, tally.would_send == 1 ? "" : "s");
    else if (n_tried == 0 && rc == 0)
        printf ("outbox: no email is due\n");
    else
        printf ("outbox: %d sent, %d failed, %d unrecorded\n", tally.sent, tally.failed,
                tally.unrecorded);
    free (tried);
    strbuf_free (&tally.json);
    s_smtp_close (&smtp);
    cli_close (cli);
    return rc;
}

// ---------------------------------------------------------------- entry

int
cmd_outbox (cli_t *cli, int argc, char **argv)
{
    if (argc < 2)
        return s_usage ();
    if (strcmp (argv [1], "list") == 0)
        return s_list (cli, argc, argv);
    if (strcmp (argv [1], "show") == 0)
        return s_show (cli, argc, argv);
    if (strcmp (argv [1], "due") == 0)
        return s_due (cli, argc, argv);
    if (strcmp (argv [1], "mark") == 0)
        return s_mark (cli, argc, argv);
    if (strcmp (argv [1], "send") == 0)
        return s_send (cli, argc, argv);
    cli_fail ("unknown outbox command '%s'", argv [1]);
    return s_usage ();
}
