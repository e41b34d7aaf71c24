/*  policy: the written collection policy: a file a business owner can
    read, edit and print, parsed and checked by the server and kept as
    numbered versions (policy_versions); the shipped default; and the
    customer-facing payment terms text.                                 */
#ifndef RECOUP_POLICY_H
#define RECOUP_POLICY_H

#include "commands.h"

command_fn cmd_policy_load, cmd_policy_show, cmd_policy_print;

#endif
