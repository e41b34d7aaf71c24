/*  outbox: see outbox.h. (Scaffolding: handlers to be written.)       */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

#define REF_MAX 64


int
cmd_outbox_due (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    (void) request;
    return cmd_error (ctx, reply, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, "outbox_due",
                      "outbox_due is not implemented yet");
}

int
cmd_outbox_mark (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    (void) request;
    return cmd_error (ctx, reply, RECOUP__ERROR_CODE__UNKNOWN_COMMAND, "outbox_mark",
                      "outbox_mark is not implemented yet");
}

// ---------------------------------------------------------------- outbox_list

int
cmd_outbox_list (cmdctx_t *ctx, const Recoup__Request *request, Recoup__Reply *reply)
{
    const char *customer = request->outbox_list->customer;
    if (strlen (customer) > REF_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "outbox_list.customer", "customer: at most %d characters",
                          REF_MAX);
    if (*customer) {
        PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                                 "SELECT 1 FROM customers WHERE ref = $1", 1,
                                 (const char *[]) { customer });
        if (!res)
            return -1;
        int found = PQntuples (res) == 1;
        PQclear (res);
        if (!found)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                              "outbox_list.customer", "there is no customer with ref "
                              "'%s'", customer);
    }
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "SELECT o.id, c.ref, o.step, o.channel, o.tone, "
        " array_to_string (o.invoices, ','), o.recipient, o.subject, o.body, "
        " o.business_date::text, o.policy_version "
        "FROM outbox o JOIN customers c ON c.id = o.customer_id "
        "WHERE $1 = '' OR c.ref = $1 ORDER BY o.id", 1,
        (const char *[]) { customer });
    if (!res)
        return -1;
    int n = PQntuples (res);
    Recoup__OutboxListReply *result = CMD_NEW (ctx, Recoup__OutboxListReply,
                                               recoup__outbox_list_reply__init);
    result->n_messages = (size_t) n;
    result->messages = arena_alloc (ctx->arena,
                                    (size_t) (n + 1) * sizeof *result->messages);
    for (int r = 0; r < n; r++) {
        Recoup__OutboxMessage *m = CMD_NEW (ctx, Recoup__OutboxMessage,
                                            recoup__outbox_message__init);
        m->id = strtoull (PQgetvalue (res, r, 0), NULL, 10);
        m->customer = cmd_value (ctx, res, r, 1);
        m->step = cmd_value (ctx, res, r, 2);
        m->channel = cmd_value (ctx, res, r, 3);
        m->tone = cmd_value (ctx, res, r, 4);
        char *numbers = cmd_value (ctx, res, r, 5);
        size_t count = 1;
        for (char *p = numbers; *p; p++)
            count += *p == ',';
        m->invoices = arena_alloc (ctx->arena, (count + 1) * sizeof (char *));
        for (char *p = strtok (numbers, ","); p; p = strtok (NULL, ","))
            m->invoices [m->n_invoices++] = p;
        m->recipient = cmd_value (ctx, res, r, 6);
        m->subject = cmd_value (ctx, res, r, 7);
        m->body = cmd_value (ctx, res, r, 8);
        m->business_date = cmd_value (ctx, res, r, 9);
        m->policy_version = (uint32_t) strtoul (PQgetvalue (res, r, 10), NULL, 10);
        result->messages [r] = m;
    }
    PQclear (res);
    reply->result_case = RECOUP__REPLY__RESULT_OUTBOX_LIST;
    reply->outbox_list = result;
    return 0;
}

