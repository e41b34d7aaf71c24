/*  notes: the team's shared notes, the smallest durable command.       */
#include "commands.h"

#include <assert.h>
#include <inttypes.h>
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
    //  A note's id is the sequence number of the event that announces
    //  it: known now, so the reply and the event need nothing back from
    //  the database and the whole batch is one round trip.
    Recoup__Note *note = CMD_NEW (ctx, Recoup__Note, recoup__note__init);
    note->id = cmd_peek_seq (ctx);
    note->created_us = ctx->now_us;
    note->author = arena_strdup (ctx->arena, ctx->user);
    note->subject = arena_strdup (ctx->arena, post->subject);
    note->text = arena_strdup (ctx->arena, post->text);
    Recoup__NotePostReply *result = CMD_NEW (ctx, Recoup__NotePostReply,
                                             recoup__note_post_reply__init);
    result->note = note;
    result->seq = cmd_emit (ctx, "note.posted", RECOUP__EVENT__BODY_NOTE, note);
    assert (result->seq == note->id);
    reply->result_case = RECOUP__REPLY__RESULT_NOTE_POST;
    reply->note_post = result;

    const char **values = arena_alloc (ctx->arena, 5 * sizeof (char *));
    values [0] = arena_printf (ctx->arena, "%" PRIu64, note->id);
    values [1] = note->author;
    values [2] = note->subject;
    values [3] = note->text;
    values [4] = arena_printf (ctx->arena, "%" PRId64, note->created_us);
    //  One INSERT for all the notes of a batch.
    plan->sql = "INSERT INTO notes (id, author, subject, text, created_at) "
                "SELECT i::bigint, a, s, t, to_timestamp (c::float8 / 1000000) "
                "FROM unnest ($1::text[], $2::text[], $3::text[], $4::text[], "
                "$5::text[]) AS u (i, a, s, t, c)";
    plan->nparams = 5;
    plan->values = values;
    plan->multirow = 1;
    return 0;
}
