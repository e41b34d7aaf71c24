/*  cli: what every `recoup` subcommand shares: global options, loading
    the identity, calling the server, reporting errors the same way, and
    JSON output.

    Exit status: 0 success; 1 the server refused or failed the command;
    2 bad usage or local problem; 3 the server could not be reached, our
    key was refused, or no reply came in time.                           */
#ifndef RECOUP_CLI_H
#define RECOUP_CLI_H

#include <stdio.h>

#include "../common/client.h"
#include "../common/identity.h"
#include "../common/json.h"
#include "../common/wire.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

typedef struct {
    const char *identity_path;  //  --identity, or NULL for the default
    int json;                   //  --json
    int timeout_ms;             //  --timeout
    int timeout_given;          //  --timeout was on the command line
    void *ctx;                  //  ZeroMQ context, after cli_connect
    identity_t identity;        //  loaded identity
    client_t *client;           //  command connection
} cli_t;

//  Loads the identity (reporting what is wrong). Returns 0 or an exit
//  status.
int cli_load_identity (cli_t *self);

//  Loads the identity and connects. Returns 0 or an exit status.
int cli_connect (cli_t *self);

//  Sends a request and checks the reply is `want`. On failure prints the
//  reason on stderr, sets *exit_status and returns NULL. Caller frees the
//  reply with recoup__reply__free_unpacked.
Recoup__Reply *cli_call (cli_t *self, Recoup__Request *request,
                         Recoup__Reply__ResultCase want, int *exit_status);

//  Closes the connection and wipes the identity.
void cli_close (cli_t *self);

//  Prints a message as one line of JSON on stdout.
void cli_print_json (const ProtobufCMessage *message);

//  Prints "recoup: <message>" on stderr.
void cli_fail (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  Subcommands: argv[0] is the subcommand's name.
int cmd_keygen (cli_t *cli, int argc, char **argv);
int cmd_user (cli_t *cli, int argc, char **argv);
int cmd_status (cli_t *cli, int argc, char **argv);
int cmd_note (cli_t *cli, int argc, char **argv);
int cmd_tail (cli_t *cli, int argc, char **argv);
int cmd_customer (cli_t *cli, int argc, char **argv);     //  cmd_ledger.c
int cmd_invoice (cli_t *cli, int argc, char **argv);
int cmd_payment (cli_t *cli, int argc, char **argv);
int cmd_entry (cli_t *cli, int argc, char **argv);
int cmd_import (cli_t *cli, int argc, char **argv);       //  cmd_import.c
int cmd_report (cli_t *cli, int argc, char **argv);       //  cmd_report.c
int cmd_contact (cli_t *cli, int argc, char **argv);      //  cmd_contacts.c
int cmd_audit (cli_t *cli, int argc, char **argv);
int cmd_policy (cli_t *cli, int argc, char **argv);       //  cmd_policy.c
int cmd_promise (cli_t *cli, int argc, char **argv);      //  cmd_accounts.c
int cmd_plan (cli_t *cli, int argc, char **argv);
int cmd_dispute (cli_t *cli, int argc, char **argv);
int cmd_account (cli_t *cli, int argc, char **argv);
int cmd_hold (cli_t *cli, int argc, char **argv);
int cmd_settlement (cli_t *cli, int argc, char **argv);   //  cmd_resolution.c
int cmd_agency (cli_t *cli, int argc, char **argv);
int cmd_writeoff (cli_t *cli, int argc, char **argv);
int cmd_credit (cli_t *cli, int argc, char **argv);
int cmd_engine (cli_t *cli, int argc, char **argv);       //  cmd_engine.c
int cmd_worklist (cli_t *cli, int argc, char **argv);
int cmd_outbox (cli_t *cli, int argc, char **argv);       //  cmd_outbox.c
int cmd_flag (cli_t *cli, int argc, char **argv);         //  cmd_flags.c
int cmd_dashboard (cli_t *cli, int argc, char **argv);    //  cmd_dashboard.c
int cmd_desk (cli_t *cli, int argc, char **argv);         //  cmd_desk.c

#endif
