/*  ledger: the receivables ledger commands (customers, invoices,
    payments with allocation, credit notes, reversals, customer show) and
    what other modules share about accounts: the business date, and the
    Account summary (balances and aging per currency, unapplied cash)
    that account.changed events and snapshots carry.                     */
#ifndef RECOUP_LEDGER_H
#define RECOUP_LEDGER_H

#include "commands.h"

//  The server's business date ("today") as YYYY-MM-DD into buf [11]: the
//  RECOUP_TODAY environment variable when set (tests, demos), else the
//  current date in UTC.
void ledger_business_date (char buf [11]);

//  The base currency (meta.base_currency) into buf [4]. 0 or -1.
int ledger_base_currency (db_t *db, char buf [4]);

//  Loads the accounts of the customers whose ids are in `ids` (a
//  PostgreSQL array literal text such as "{1,5,9}"; NULL: every
//  customer), as of `as_of` (YYYY-MM-DD), into arena-allocated Account
//  messages ordered by customer ref. Returns 0 with *accounts / *count
//  set, or -1 on a database error.
int ledger_accounts_load (cmdctx_t *ctx, const char *ids, const char *as_of,
                          Recoup__Account ***accounts, size_t *count);

//  Emits one account.changed event per customer in `ids` (as above, not
//  NULL), with the account as of the business date. Write commands only.
//  Returns 0 or -1.
int ledger_emit_accounts (cmdctx_t *ctx, const char *ids);

//  Emits entry.posted for the entry with id `entry_id` (text). Returns
//  the Entry (arena), or NULL on a database error or no such entry.
Recoup__Entry *ledger_emit_entry (cmdctx_t *ctx, const char *entry_id);

//  Fills a Customer message from a row of
//  LEDGER_CUSTOMER_COLUMNS starting at column `col`.
#define LEDGER_CUSTOMER_COLUMNS \
    "c.ref, c.name, c.email, c.phone, c.address, c.timezone, c.language, " \
    "c.currency, c.terms, c.credit_limit_minor, coalesce(c.sales_rep, ''), " \
    "coalesce(c.collector, ''), c.late_fees"
void ledger_customer_from_row (cmdctx_t *ctx, Recoup__Customer *customer,
                               PGresult *res, int row, int col);

//  Handlers.
command_fn cmd_customer_create, cmd_customer_update, cmd_customer_show;
command_fn cmd_invoice_issue, cmd_payment_post, cmd_credit_note;
command_fn cmd_entry_reverse;

#endif
