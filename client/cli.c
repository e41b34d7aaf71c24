/*  cli: shared plumbing of the recoup client. See cli.h.                */
#include "cli.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

void
cli_fail (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fputs ("recoup: ", stderr);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
}

int
cli_load_identity (cli_t *self)
{
    char fallback [4096];
    const char *path = self->identity_path
                       ? self->identity_path
                       : identity_default_path (fallback, sizeof fallback);
    if (!self->identity_path && access (path, F_OK) != 0) {
        cli_fail ("no identity: pass --identity FILE, set RECOUP_IDENTITY, or "
                  "put one at %s (an admin makes one with `recoup keygen`)",
                  path);
        return EXIT_USAGE;
    }
    char err [1024];
    if (identity_load (&self->identity, path, 0, err, sizeof err) != 0) {
        cli_fail ("%s", err);
        return EXIT_USAGE;
    }
    return 0;
}

int
cli_connect (cli_t *self)
{
    int rc = cli_load_identity (self);
    if (rc != 0)
        return rc;
    self->ctx = zmq_ctx_new ();
    char err [1024];
    self->client = client_new (self->ctx, &self->identity, err, sizeof err);
    if (!self->client) {
        cli_fail ("%s", err);
        return EXIT_UNREACHABLE;
    }
    return 0;
}

Recoup__Reply *
cli_call (cli_t *self, Recoup__Request *request, Recoup__Reply__ResultCase want,
          int *exit_status)
{
    char err [1024];
    client_status_t status;
    Recoup__Reply *reply = client_call (self->client, request, self->timeout_ms,
                                        &status, err, sizeof err);
    if (!reply) {
        cli_fail ("%s", err);
        *exit_status = status == CLIENT_FAILED ? EXIT_USAGE : EXIT_UNREACHABLE;
        return NULL;
    }
    if (reply->result_case == RECOUP__REPLY__RESULT_ERROR) {
        const Recoup__Error *error = reply->error;
        char code [64];
        size_t i = 0;
        for (const char *p = wire_error_name (error->code); *p && i < sizeof code - 1; p++)
            code [i++] = *p == '_' ? ' ' : (char) (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        code [i] = 0;
        if (*error->field)
            cli_fail ("%s (%s): %s", code, error->field, error->message);
        else
            cli_fail ("%s: %s", code, error->message);
        if (self->json)
            cli_print_json (&error->base);
        *exit_status = error->code == RECOUP__ERROR_CODE__UNAVAILABLE
                       ? EXIT_UNREACHABLE : EXIT_REFUSED;
        recoup__reply__free_unpacked (reply, NULL);
        return NULL;
    }
    if (reply->result_case != want) {
        cli_fail ("unexpected reply from the server");
        recoup__reply__free_unpacked (reply, NULL);
        *exit_status = EXIT_REFUSED;
        return NULL;
    }
    *exit_status = 0;
    return reply;
}

void
cli_close (cli_t *self)
{
    client_destroy (&self->client);
    if (self->ctx) {
        zmq_ctx_term (self->ctx);
        self->ctx = NULL;
    }
    identity_wipe (&self->identity);
}

void
cli_print_json (const ProtobufCMessage *message)
{
    strbuf_t out;
    strbuf_init (&out);
    json_message (&out, message);
    strbuf_puts (&out, "\n");
    fputs (out.data, stdout);
    fflush (stdout);
    strbuf_free (&out);
}
