/*  reports: aging, DSO, best possible DSO, average days delinquent, CEI
    and customer statements, computed from ledger entries dated on or
    before the as-of date, so any past month-end can be reproduced.
    Read commands: they run on the reader thread.                        */
#ifndef RECOUP_REPORTS_H
#define RECOUP_REPORTS_H

#include "commands.h"

command_fn cmd_report_aging, cmd_report_statement;

#endif
