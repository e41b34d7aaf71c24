/*  import: the server side of file imports: begin, stage rows (bulk),
    commit (set-based checks against the ledger, then everything applied
    in one transaction, or nothing), and paged problems.                 */
#ifndef RECOUP_IMPORT_H
#define RECOUP_IMPORT_H

#include "commands.h"

command_fn cmd_import_begin, cmd_import_stage, cmd_import_commit;
command_fn cmd_import_problems;

//  Drops the scratch rows of imports older than a day. Writer only.
void import_prune (db_t *db);

#endif
