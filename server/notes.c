/*  notes: the team's shared notes, the smallest durable command.       */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

#define NOTE_TEXT_MAX 4000
#define NOTE_SUBJECT_MAX 200

int
cmd_note_post_plan (cmdctx_t *ctx, const Recoup__Request *request,
                    Recoup__Reply *reply, cmd_plan_t *plan)
{
    const Recoup__NotePostRequest *post = request->note_post;
    size_t chars;
    if (!wire_utf8_valid (post->text, &chars))
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "note_post.text", "text is not valid UTF-8");
    if (chars == 0 || chars > NOTE_TEXT_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "note_post.text",
                          "text must be 1 to %d characters (got %zu)",
                          NOTE_TEXT_MAX, chars);
    if (!wire_utf8_valid (post->subject, &chars))
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "note_post.subject", "subject is not valid UTF-8");
    if (chars > NOTE_SUBJECT_MAX)
        return cmd_error (ctx, reply, RECOUP__ERROR_CODE__INVALID_ARGUMENT,
                          "note_post.subject",
                          "subject must be at most %d characters (got %zu)",
                          NOTE_SUBJECT_MAX, chars);
    const char **values = arena_alloc (ctx->arena, 3 * sizeof (char *));
    values [0] = ctx->user;
    values [1] = post->subject;
    values [2] = post->text;
    //  One INSERT for all the notes of a batch.
    plan->sql = "INSERT INTO notes (author, subject, text) "
                "SELECT * FROM unnest ($1::text[], $2::text[], $3::text[]) "
                "RETURNING id, created_at";
    plan->nparams = 3;
    plan->values = values;
    plan->multirow = 1;
    return 0;
}

int
cmd_note_post_finish (cmdctx_t *ctx, const Recoup__Request *request,
                      PGresult *res, int row, Recoup__Reply *reply)
{
    const Recoup__NotePostRequest *post = request->note_post;
    Recoup__Note *note = CMD_NEW (ctx, Recoup__Note, recoup__note__init);
    note->id = strtoull (PQgetvalue (res, row, 0), NULL, 10);
    note->created_us = cmd_parse_timestamp (PQgetvalue (res, row, 1));
    note->author = arena_strdup (ctx->arena, ctx->user);
    note->subject = arena_strdup (ctx->arena, post->subject);
    note->text = arena_strdup (ctx->arena, post->text);
    Recoup__NotePostReply *result = CMD_NEW (ctx, Recoup__NotePostReply,
                                             recoup__note_post_reply__init);
    result->note = note;
    result->seq = cmd_emit (ctx, "note.posted", RECOUP__EVENT__BODY_NOTE, note);
    reply->result_case = RECOUP__REPLY__RESULT_NOTE_POST;
    reply->note_post = result;
    return 0;
}
