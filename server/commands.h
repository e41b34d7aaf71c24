/*  commands: what every command handler sees, the table of commands with
    the roles allowed to run them, and the handlers themselves (in
    users_cmd.c, notes.c, reader.c).

    Write commands run on the main thread inside the writer's batch
    transaction (writer.c); they change tables and emit events through
    cmd_emit, and must leave no trace outside the database until the
    batch commits. Read commands run on the reader thread (reader.c) in
    their own read-only transaction.                                     */
#ifndef RECOUP_COMMANDS_H
#define RECOUP_COMMANDS_H

#include <stdarg.h>
#include <stdint.h>
#include <zmq.h>

#include "arena.h"
#include "db.h"
#include "../common/wire.h"

typedef struct writer_t writer_t;

//  Everything a handler may use for one request.
typedef struct {
    db_t *db;                   //  connection (in a transaction for writes)
    arena_t *arena;             //  for reply contents; freed after packing
    const char *user;           //  caller, from ZAP User-Id
    Recoup__Role role;          //  caller's role
    const char *request_id;     //  the request's id
    const char *stream_id;      //  this database's event stream
    const char *tenant;         //  this database's tenant
    writer_t *writer;           //  for cmd_emit; NULL for read commands
    int users_changed;          //  set by handlers that touch users
    uint64_t published_seq;     //  last event published when it arrived
    int64_t now_us;             //  the batch's time stamp (writes)
} cmdctx_t;

//  Handlers fill `reply` (its result, or an error through cmd_error) and
//  return 0. They return -1 only when a statement failed unexpectedly
//  (the transaction is then aborted; the batch is retried one command at
//  a time and this one answered INTERNAL).
typedef int (command_fn) (cmdctx_t *ctx, const Recoup__Request *request,
                          Recoup__Reply *reply);

//  What a planned command asks the writer to run.
typedef struct {
    const char *sql;            //  NULL: nothing to run (the reply is set)
    int nparams;                //  number of parameters, all text
    const char **values;        //  this command's values (in ctx->arena),
                                //  none NULL
    int multirow;               //  sql takes each parameter as a text
                                //  array and returns one row per element,
                                //  in order (INSERT ... SELECT * FROM
                                //  unnest ($1::text[], ...) RETURNING ...):
                                //  the writer sends one statement for all
                                //  the batch's commands with the same sql
} cmd_plan_t;

//  Planned commands run in two steps, so that the writer can send the
//  statements of a whole batch in one round trip: `plan` checks the
//  request and either answers it (an error through cmd_error, leaving
//  plan->sql NULL) or describes the statement to run; `finish` gets the
//  statement's result (and, for a multirow statement, which row is this
//  command's) and fills the reply (and emits events). Both return 0, or
//  -1 on an unexpected failure.
//
//  A command whose reply and events do not depend on what the statement
//  returns is "blind": it has no finish, and its plan fills the reply and
//  emits its events itself. A batch of blind commands goes to the
//  database in a single round trip, COMMIT included.
typedef int (command_plan_fn) (cmdctx_t *ctx, const Recoup__Request *request,
                               Recoup__Reply *reply, cmd_plan_t *plan);
typedef int (command_finish_fn) (cmdctx_t *ctx, const Recoup__Request *request,
                                 PGresult *result, int row,
                                 Recoup__Reply *reply);

#define ROLE_BIT(r) (1u << (r))
#define ROLES_ALL (ROLE_BIT (RECOUP__ROLE__ADMIN) | ROLE_BIT (RECOUP__ROLE__MANAGER) \
                   | ROLE_BIT (RECOUP__ROLE__COLLECTOR) | ROLE_BIT (RECOUP__ROLE__SALES) \
                   | ROLE_BIT (RECOUP__ROLE__IMPORTER))
#define ROLES_READERS (ROLES_ALL & ~ROLE_BIT (RECOUP__ROLE__IMPORTER))
#define ROLES_STAFF ROLES_READERS

typedef struct {
    Recoup__Request__CommandCase which;     //  oneof member
    const char *name;                       //  for logs and errors
    unsigned roles;                         //  ROLE_BIT mask allowed
    int writes;                             //  1: runs in the write batch
    command_fn *run;                        //  the handler, or NULL when planned
    command_plan_fn *plan;                  //  planned: first step
    command_finish_fn *finish;              //  planned: second step
} command_t;

//  The command for a oneof member, or NULL when unknown.
const command_t *commands_find (Recoup__Request__CommandCase which);

//  Sets reply to an error. `field` may be NULL. Returns 0, so handlers
//  can `return cmd_error (...)`.
int cmd_error (cmdctx_t *ctx, Recoup__Reply *reply, Recoup__ErrorCode code,
               const char *field, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

//  Records an event in the current batch: assigns the next sequence
//  number and returns it. `body_case` is the Event oneof member and
//  `body` its message (copied when packed). Write commands only.
uint64_t cmd_emit (cmdctx_t *ctx, const char *kind,
                   Recoup__Event__BodyCase body_case, void *body);

//  The sequence number the next cmd_emit will assign (for an id that
//  must appear inside the event itself).
uint64_t cmd_peek_seq (cmdctx_t *ctx);

//  Allocates and initialises a protobuf message in the arena.
#define CMD_NEW(ctx, type, init) \
    ({ type *_m = arena_alloc ((ctx)->arena, sizeof (type)); init (_m); _m; })

//  Converts "2026-11-22 07:48:23.123456+00" (timestamptz text in UTC)
//  to unix microseconds; 0 for "" or NULL.
int64_t cmd_parse_timestamp (const char *text);

//  Fills a User message from a row (name, role, public_key, active,
//  created_at, revoked_at) starting at column `col`.
void cmd_user_from_row (cmdctx_t *ctx, Recoup__User *user, PGresult *res,
                        int row, int col);

//  ------------------------------------------------------------ helpers
//  Shared by the ledger and collections handlers.

//  The last part of a field path, to name the field in a message
//  ("invoice_issue.invoice.number" -> "number").
const char *cmd_label (const char *field);

//  An amount as a message shows it: "1234.56 USD" (minor units when the
//  currency is unknown).
typedef struct {
    char text [40];
} cmd_money_t;
cmd_money_t cmd_money (int64_t minor, const char *currency);

//  A number as text in the arena (for statement parameters).
const char *cmd_int (cmdctx_t *ctx, int64_t value);

//  A column of a result row: as text copied into the arena, or as a
//  number.
char *cmd_value (cmdctx_t *ctx, PGresult *res, int row, int col);
int64_t cmd_value_int (PGresult *res, int row, int col);

//  The business date (ledger_business_date) as a day count.
int32_t cmd_today (void);

//  A day count as "YYYY-MM-DD" in the arena.
const char *cmd_date_text (cmdctx_t *ctx, int32_t days);

//  Reads an optional date field: "" gives `fallback`. Returns 1 with
//  *days set, or 0 with an INVALID_ARGUMENT naming the field in reply.
int cmd_date (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
              const char *text, int32_t fallback, int32_t *days);

//  Checks a text field: `min`..`max` characters (code points), no
//  control characters (line breaks and tabs allowed when `multiline`).
//  Returns 1 when fine, or 0 with an INVALID_ARGUMENT in reply.
int cmd_text (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
              const char *text, size_t min, size_t max, int multiline);

//  Checks an amount is above zero. Returns 1, or 0 with the error in reply.
int cmd_positive (cmdctx_t *ctx, Recoup__Reply *reply, const char *field,
                  int64_t amount);

//  Handlers.
command_fn cmd_status, cmd_snapshot, cmd_replay;
command_fn cmd_user_add, cmd_user_list, cmd_user_revoke;
command_plan_fn cmd_note_post_plan;

#endif
