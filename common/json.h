/*  json: a growable string buffer, JSON string escaping, and a generic
    protobuf-c message to JSON writer (used by every client's --json).  */
#ifndef RECOUP_JSON_H
#define RECOUP_JSON_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct {
    char *data;         //  NUL-terminated text, owned
    size_t len;         //  bytes used, without the NUL
    size_t cap;         //  bytes allocated
} strbuf_t;

void strbuf_init (strbuf_t *self);
void strbuf_free (strbuf_t *self);
void strbuf_reset (strbuf_t *self);
void strbuf_append (strbuf_t *self, const char *text, size_t len);
void strbuf_puts (strbuf_t *self, const char *text);
void strbuf_printf (strbuf_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Appends text as a JSON string literal, quotes included.
void json_string (strbuf_t *out, const char *text);

//  Appends a JSON object with every field of the message: scalars always
//  (proto3 defaults included), oneof members only when set, enums as
//  lower-case names, bytes as hex.
void json_message (strbuf_t *out, const ProtobufCMessage *message);

#endif
