/*  policy: the written collection policy: a file a business owner can
    read, edit and print, parsed and checked by the server and kept as
    numbered versions (policy_versions); the shipped default; and the
    customer-facing payment terms text. The file format and its parser
    are in common/policy.h; deploy/POLICY.md describes them for people.  */
#ifndef RECOUP_POLICY_H
#define RECOUP_POLICY_H

#include "commands.h"
#include "writer.h"

command_fn cmd_policy_load, cmd_policy_show, cmd_policy_print;

//  Called once at start-up, after migrations and writer_prepare: when no
//  policy has been loaded yet, stores the shipped default
//  (deploy/policy.conf, compiled in) as version 1, loaded by "recoupd",
//  through the writer like any command, so it emits policy.loaded
//  (published on `pub`, which may be NULL before the sockets exist: the
//  event is then published with the next batch). Returns 0 (also when a
//  policy exists already), or -1 when the database could not be read or
//  written.
int policy_ensure_default (db_t *db, writer_t *writer, void *pub);

#endif
