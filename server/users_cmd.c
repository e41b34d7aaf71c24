/*  users_cmd: the user add, list and revoke commands.                   */
#include "commands.h"
#include "../common/identity.h"

#include <stdlib.h>
#include <string.h>

#define USER_COLUMNS "name, role, public_key, active, created_at, revoked_at"

//  True if name matches [a-z][a-z0-9._-]{0,62} (as the table's CHECK).
static int
s_name_valid (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > 63 || name [0] < 'a' || name [0] > 'z')
        return 0;
    for (size_t i = 1; i < len; i++) {
        char c = name [i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'
              || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

//  Emits user.<what> for the row and sets the reply fields.
static uint64_t
s_emit_user (cmdctx_t *ctx, const char *kind, Recoup__User *user)
{
    Recoup__UserChanged *changed = CMD_NEW (ctx, Recoup__UserChanged,
                                            recoup__user_changed__init);
    changed->user = user;
    ctx->users_changed = 1;
    return cmd_emit (ctx, kind, RECOUP__EVENT__BODY_USER, changed);
}

int
cmd_user_add (cmdctx_t *ctx, const Recoup__Request *request,
              Recoup__Reply *reply)
{
    const Recoup__UserAddRequest *add = request->user_add;
    if (!s_name_valid (add->name))
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "user_add.name",
                          "user name '%.64s' is invalid: use 1-63 characters "
                          "a-z 0-9 . _ -, starting with a letter", add->name);
    const char *role = wire_role_name (add->role);
    if (wire_role_parse (role) == RECOUP__ROLE__ROLE_UNSPECIFIED)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "user_add.role",
                          "role must be one of admin, manager, collector, "
                          "sales, importer");
    if (!identity_key_valid (add->public_key))
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "user_add.public_key",
                          "public key must be 40 characters of Z85 (as "
                          "printed by `recoup keygen`)");
    const char *params [] = { add->name, role, add->public_key };
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
        "INSERT INTO users (name, role, public_key) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING RETURNING " USER_COLUMNS, 3, params);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        res = db_exec (ctx->db, PGRES_TUPLES_OK,
                       "SELECT name = $1, active FROM users "
                       "WHERE name = $1 OR public_key = $2", 2,
                       (const char *[]) { add->name, add->public_key });
        if (!res)
            return -1;
        int same_name = PQntuples (res) > 0 && PQgetvalue (res, 0, 0) [0] == 't';
        PQclear (res);
        if (same_name)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                              "user_add.name",
                              "a user named '%s' already exists (names of "
                              "revoked users are not reused)", add->name);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "user_add.public_key",
                          "this public key already belongs to another user: "
                          "make a new identity with `recoup keygen`");
    }
    Recoup__User *user = CMD_NEW (ctx, Recoup__User, recoup__user__init);
    cmd_user_from_row (ctx, user, res, 0, 0);
    PQclear (res);
    Recoup__UserAddReply *result = CMD_NEW (ctx, Recoup__UserAddReply,
                                            recoup__user_add_reply__init);
    result->user = user;
    result->seq = s_emit_user (ctx, "user.added", user);
    reply->result_case = RECOUP__REPLY__RESULT_USER_ADD;
    reply->user_add = result;
    return 0;
}

int
cmd_user_revoke (cmdctx_t *ctx, const Recoup__Request *request,
                 Recoup__Reply *reply)
{
    const char *name = request->user_revoke->name;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT role, active FROM users WHERE name = $1 "
                             "FOR UPDATE", 1, &name);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__NOT_FOUND,
                          "user_revoke.name", "no user named '%.64s'", name);
    }
    int active = PQgetvalue (res, 0, 1) [0] == 't';
    int admin = strcmp (PQgetvalue (res, 0, 0), "admin") == 0;
    PQclear (res);
    if (!active)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                          "user_revoke.name", "user '%s' is already revoked",
                          name);
    if (admin) {
        res = db_exec (ctx->db, PGRES_TUPLES_OK,
                       "SELECT count(*) FROM users WHERE role = 'admin' AND active",
                       0, NULL);
        if (!res)
            return -1;
        int admins = atoi (PQgetvalue (res, 0, 0));
        PQclear (res);
        if (admins <= 1)
            return cmd_error (ctx, reply, RECOUP__ERROR_CODE__CONFLICT,
                              "user_revoke.name",
                              "'%s' is the last active admin: add another "
                              "admin before revoking this one", name);
    }
    res = db_exec (ctx->db, PGRES_TUPLES_OK,
                   "UPDATE users SET active = false, revoked_at = now() "
                   "WHERE name = $1 RETURNING " USER_COLUMNS, 1, &name);
    if (!res)
        return -1;
    Recoup__User *user = CMD_NEW (ctx, Recoup__User, recoup__user__init);
    cmd_user_from_row (ctx, user, res, 0, 0);
    PQclear (res);
    Recoup__UserRevokeReply *result = CMD_NEW (ctx, Recoup__UserRevokeReply,
                                               recoup__user_revoke_reply__init);
    result->user = user;
    result->seq = s_emit_user (ctx, "user.revoked", user);
    reply->result_case = RECOUP__REPLY__RESULT_USER_REVOKE;
    reply->user_revoke = result;
    return 0;
}

int
cmd_user_list (cmdctx_t *ctx, const Recoup__Request *request,
               Recoup__Reply *reply)
{
    (void) request;
    PGresult *res = db_exec (ctx->db, PGRES_TUPLES_OK,
                             "SELECT " USER_COLUMNS " FROM users ORDER BY name",
                             0, NULL);
    if (!res)
        return -1;
    Recoup__UserListReply *result = CMD_NEW (ctx, Recoup__UserListReply,
                                             recoup__user_list_reply__init);
    result->n_users = (size_t) PQntuples (res);
    result->users = arena_alloc (ctx->arena, result->n_users * sizeof (void *) + 1);
    for (size_t i = 0; i < result->n_users; i++) {
        result->users [i] = CMD_NEW (ctx, Recoup__User, recoup__user__init);
        cmd_user_from_row (ctx, result->users [i], res, (int) i, 0);
    }
    PQclear (res);
    reply->result_case = RECOUP__REPLY__RESULT_USER_LIST;
    reply->user_list = result;
    return 0;
}
