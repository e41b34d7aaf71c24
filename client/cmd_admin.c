/*  cmd_admin: keygen, user add/list/revoke, status, note post.          */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  Value of option `name` in argv (removing nothing); NULL if absent.
static const char *
s_option (int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp (argv [i], name) == 0)
            return argv [i + 1];
    return NULL;
}

//  Checks that every --option in argv is one of `known` (NULL-ended) and
//  has a value, and collects the positional arguments. Returns 0 or -1.
static int
s_parse (int argc, char **argv, const char *const *known, char **positional,
         int *n_positional, int max_positional)
{
    *n_positional = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp (argv [i], "--", 2) == 0) {
            int ok = 0;
            for (const char *const *k = known; *k; k++)
                if (strcmp (*k, argv [i]) == 0)
                    ok = 1;
            if (!ok) {
                cli_fail ("%s: unknown option %s", argv [0], argv [i]);
                return -1;
            }
            if (i + 1 >= argc) {
                cli_fail ("%s: %s needs a value", argv [0], argv [i]);
                return -1;
            }
            i++;
        }
        else if (*n_positional < max_positional)
            positional [(*n_positional)++] = argv [i];
        else {
            cli_fail ("%s: unexpected argument '%s'", argv [0], argv [i]);
            return -1;
        }
    }
    return 0;
}

int
cmd_keygen (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = { "--out", "--server-from", "--user", NULL };
    char *positional [1];
    int n;
    if (s_parse (argc, argv, known, positional, &n, 0) != 0)
        return EXIT_USAGE;
    const char *out = s_option (argc, argv, "--out");
    const char *from = s_option (argc, argv, "--server-from");
    if (!out || !from) {
        cli_fail ("usage: recoup keygen --out FILE --server-from IDENTITY "
                  "[--user NAME]");
        return EXIT_USAGE;
    }
    char err [1024];
    identity_t source, fresh;
    if (identity_load (&source, from, IDENTITY_SERVER, err, sizeof err) != 0) {
        cli_fail ("%s", err);
        return EXIT_USAGE;
    }
    memset (&fresh, 0, sizeof fresh);
    snprintf (fresh.commands, sizeof fresh.commands, "%s", source.commands);
    snprintf (fresh.events, sizeof fresh.events, "%s", source.events);
    snprintf (fresh.server_public, sizeof fresh.server_public, "%s",
              source.server_public);
    const char *user = s_option (argc, argv, "--user");
    snprintf (fresh.user, sizeof fresh.user, "%s", user ? user : "");
    identity_wipe (&source);
    int rc = 0;
    if (identity_generate (&fresh) != 0) {
        cli_fail ("cannot generate a keypair");
        rc = EXIT_USAGE;
    }
    else if (identity_save (&fresh, out, 0, 1, err, sizeof err) != 0) {
        cli_fail ("%s", err);
        rc = EXIT_USAGE;
    }
    if (rc == 0) {
        if (cli->json) {
            strbuf_t path;
            strbuf_init (&path);
            json_string (&path, out);
            printf ("{\"public_key\":\"%s\",\"file\":%s}\n", fresh.public_key,
                    path.data);
            strbuf_free (&path);
        }
        else {
            printf ("%s\n", fresh.public_key);
            fprintf (stderr,
                     "wrote %s (mode 0600, keep it secret). An admin adds it "
                     "with:\n  recoup user add %s --role ROLE --key %s\n",
                     out, *fresh.user ? fresh.user : "NAME", fresh.public_key);
        }
    }
    identity_wipe (&fresh);
    return rc;
}

//  Prints users as a table.
static void
s_print_users (Recoup__User **users, size_t count)
{
    printf ("%-20s %-10s %-8s %-40s %s\n", "NAME", "ROLE", "STATUS", "PUBLIC KEY",
            "CREATED");
    for (size_t i = 0; i < count; i++) {
        char created [40];
        wire_format_time (users [i]->created_us, created, sizeof created);
        printf ("%-20s %-10s %-8s %-40s %.10s\n", users [i]->name,
                wire_role_name (users [i]->role),
                users [i]->active ? "active" : "revoked", users [i]->public_key,
                created);
    }
}

int
cmd_user (cli_t *cli, int argc, char **argv)
{
    if (argc < 2) {
        cli_fail ("usage: recoup user add|list|revoke ...");
        return EXIT_USAGE;
    }
    const char *verb = argv [1];
    Recoup__Request request = RECOUP__REQUEST__INIT;
    Recoup__UserAddRequest add = RECOUP__USER_ADD_REQUEST__INIT;
    Recoup__UserListRequest list = RECOUP__USER_LIST_REQUEST__INIT;
    Recoup__UserRevokeRequest revoke = RECOUP__USER_REVOKE_REQUEST__INIT;
    Recoup__Reply__ResultCase want;
    char *positional [2];
    int n;
    if (strcmp (verb, "add") == 0) {
        static const char *const known [] = { "--role", "--key", NULL };
        if (s_parse (argc - 1, argv + 1, known, positional, &n, 1) != 0)
            return EXIT_USAGE;
        const char *role = s_option (argc, argv, "--role");
        const char *key = s_option (argc, argv, "--key");
        if (n != 1 || !role || !key) {
            cli_fail ("usage: recoup user add NAME --role ROLE --key PUBLICKEY");
            return EXIT_USAGE;
        }
        add.role = wire_role_parse (role);
        if (add.role == RECOUP__ROLE__ROLE_UNSPECIFIED) {
            cli_fail ("unknown role '%s': use admin, manager, collector, sales "
                      "or importer", role);
            return EXIT_USAGE;
        }
        add.name = positional [0];
        add.public_key = (char *) key;
        request.command_case = RECOUP__REQUEST__COMMAND_USER_ADD;
        request.user_add = &add;
        want = RECOUP__REPLY__RESULT_USER_ADD;
    }
    else if (strcmp (verb, "list") == 0) {
        static const char *const known [] = { NULL };
        if (s_parse (argc - 1, argv + 1, known, positional, &n, 0) != 0)
            return EXIT_USAGE;
        request.command_case = RECOUP__REQUEST__COMMAND_USER_LIST;
        request.user_list = &list;
        want = RECOUP__REPLY__RESULT_USER_LIST;
    }
    else if (strcmp (verb, "revoke") == 0) {
        static const char *const known [] = { NULL };
        if (s_parse (argc - 1, argv + 1, known, positional, &n, 1) != 0)
            return EXIT_USAGE;
        if (n != 1) {
            cli_fail ("usage: recoup user revoke NAME");
            return EXIT_USAGE;
        }
        revoke.name = positional [0];
        request.command_case = RECOUP__REQUEST__COMMAND_USER_REVOKE;
        request.user_revoke = &revoke;
        want = RECOUP__REPLY__RESULT_USER_REVOKE;
    }
    else {
        cli_fail ("unknown user command '%s': use add, list or revoke", verb);
        return EXIT_USAGE;
    }
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__Reply *reply = cli_call (cli, &request, want, &rc);
    if (reply) {
        if (want == RECOUP__REPLY__RESULT_USER_LIST) {
            if (cli->json)
                cli_print_json (&reply->user_list->base);
            else
                s_print_users (reply->user_list->users, reply->user_list->n_users);
        }
        else if (want == RECOUP__REPLY__RESULT_USER_ADD) {
            if (cli->json)
                cli_print_json (&reply->user_add->base);
            else
                printf ("added %s (%s), event %" PRIu64 "\n",
                        reply->user_add->user->name,
                        wire_role_name (reply->user_add->user->role),
                        reply->user_add->seq);
        }
        else {
            if (cli->json)
                cli_print_json (&reply->user_revoke->base);
            else
                printf ("revoked %s; their open connections are closed, "
                        "event %" PRIu64 "\n", reply->user_revoke->user->name,
                        reply->user_revoke->seq);
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

int
cmd_status (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = { NULL };
    char *positional [1];
    int n;
    if (s_parse (argc, argv, known, positional, &n, 0) != 0)
        return EXIT_USAGE;
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__StatusRequest status = RECOUP__STATUS_REQUEST__INIT;
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_STATUS;
    request.status = &status;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_STATUS, &rc);
    if (reply) {
        const Recoup__StatusReply *s = reply->status;
        if (cli->json)
            cli_print_json (&s->base);
        else {
            printf ("server    recoupd %s (protocol %u) at %s\n", s->server_version,
                    s->protocol_version, cli->identity.commands);
            printf ("you       %s (%s)\n", s->user, wire_role_name (s->role));
            printf ("events    last seq %" PRIu64 ", stream %s\n", s->seq,
                    s->stream_id);
            printf ("database  %s\n", s->database_ok ? "ok" : "UNAVAILABLE");
            printf ("uptime    %" PRId64 "h%02" PRId64 "m%02" PRId64 "s\n",
                    s->uptime_s / 3600, s->uptime_s / 60 % 60, s->uptime_s % 60);
        }
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}

int
cmd_note (cli_t *cli, int argc, char **argv)
{
    static const char *const known [] = { "--subject", NULL };
    char *positional [2];
    int n;
    if (argc < 2 || strcmp (argv [1], "post") != 0) {
        cli_fail ("usage: recoup note post [--subject S] TEXT");
        return EXIT_USAGE;
    }
    if (s_parse (argc - 1, argv + 1, known, positional, &n, 1) != 0)
        return EXIT_USAGE;
    if (n != 1) {
        cli_fail ("usage: recoup note post [--subject S] TEXT");
        return EXIT_USAGE;
    }
    const char *subject = s_option (argc, argv, "--subject");
    int rc = cli_connect (cli);
    if (rc != 0)
        return rc;
    Recoup__NotePostRequest post = RECOUP__NOTE_POST_REQUEST__INIT;
    post.text = positional [0];
    post.subject = (char *) (subject ? subject : "");
    Recoup__Request request = RECOUP__REQUEST__INIT;
    request.command_case = RECOUP__REQUEST__COMMAND_NOTE_POST;
    request.note_post = &post;
    Recoup__Reply *reply = cli_call (cli, &request, RECOUP__REPLY__RESULT_NOTE_POST, &rc);
    if (reply) {
        if (cli->json)
            cli_print_json (&reply->note_post->base);
        else
            printf ("note %" PRIu64 " posted, event %" PRIu64 "\n",
                    reply->note_post->note->id, reply->note_post->seq);
        recoup__reply__free_unpacked (reply, NULL);
    }
    cli_close (cli);
    return rc;
}
