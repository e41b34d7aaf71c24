/*  recoupd: the recoup server. Parses the command line and runs the
    server in the foreground.                                            */
#include "server.h"
#include "../common/log.h"
#include "../common/wire.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: recoupd --data DIR [--db CONNINFO] [--commands ENDPOINT]\n"
        "               [--events ENDPOINT] [--db-user USER]\n"
        "\n"
        "Runs the recoup server in the foreground until SIGINT or SIGTERM.\n"
        "\n"
        "  --data DIR          keys, identities and (without --db) the embedded\n"
        "                      PostgreSQL cluster; created on first start\n"
        "  --db CONNINFO       use this PostgreSQL database instead of the\n"
        "                      embedded one (libpq connection string)\n"
        "  --commands ENDPOINT command socket (default tcp://127.0.0.1:7650)\n"
        "  --events ENDPOINT   event socket (default tcp://127.0.0.1:7651)\n"
        "  --db-user USER      system user for the embedded database when\n"
        "                      recoupd runs as root (default postgres)\n"
        "  --version           print the version and exit\n"
        "\n"
        "On first start it writes DIR/admin.identity (the first admin's key);\n"
        "DIR/db.conninfo always says how to reach its database; DIR/ready\n"
        "appears when it serves.\n");
}

int
main (int argc, char *argv [])
{
    log_set_component ("recoupd");
    server_config_t config = {
        .datadir = NULL,
        .db_conninfo = NULL,
        .db_user = NULL,
        .commands = "tcp://127.0.0.1:7650",
        .events = "tcp://127.0.0.1:7651",
    };
    static const struct option options [] = {
        { "data", required_argument, NULL, 'd' },
        { "db", required_argument, NULL, 'b' },
        { "commands", required_argument, NULL, 'c' },
        { "events", required_argument, NULL, 'e' },
        { "db-user", required_argument, NULL, 'u' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
            case 'd': config.datadir = optarg; break;
            case 'b': config.db_conninfo = optarg; break;
            case 'c': config.commands = optarg; break;
            case 'e': config.events = optarg; break;
            case 'u': config.db_user = optarg; break;
            case 'V':
                printf ("recoupd %s (protocol %d)\n", RECOUP_VERSION,
                        PROTOCOL_VERSION);
                return 0;
            case 'h':
                s_usage (stdout);
                return 0;
            default:
                s_usage (stderr);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "recoupd: unexpected argument '%s'\n", argv [optind]);
        s_usage (stderr);
        return 2;
    }
    if (!config.datadir) {
        fprintf (stderr, "recoupd: --data DIR is required\n");
        s_usage (stderr);
        return 2;
    }
    return server_run (&config);
}
