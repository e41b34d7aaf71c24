/*  json: string buffer and protobuf-c to JSON. See json.h.              */
#include "json.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
strbuf_init (strbuf_t *self)
{
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
}

void
strbuf_free (strbuf_t *self)
{
    free (self->data);
    strbuf_init (self);
}

void
strbuf_reset (strbuf_t *self)
{
    self->len = 0;
    if (self->data)
        self->data [0] = 0;
}

//  Makes room for `more` bytes plus a NUL; aborts when memory runs out,
//  as every caller would have to.
static void
s_reserve (strbuf_t *self, size_t more)
{
    if (self->len + more + 1 <= self->cap)
        return;
    size_t cap = self->cap ? self->cap * 2 : 256;
    while (cap < self->len + more + 1)
        cap *= 2;
    char *data = realloc (self->data, cap);
    if (!data) {
        fprintf (stderr, "out of memory\n");
        abort ();
    }
    self->data = data;
    self->cap = cap;
}

void
strbuf_append (strbuf_t *self, const char *text, size_t len)
{
    s_reserve (self, len);
    memcpy (self->data + self->len, text, len);
    self->len += len;
    self->data [self->len] = 0;
}

void
strbuf_puts (strbuf_t *self, const char *text)
{
    strbuf_append (self, text, strlen (text));
}

void
strbuf_printf (strbuf_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char small [256];
    int needed = vsnprintf (small, sizeof small, format, args);
    va_end (args);
    if (needed < 0)
        return;
    if ((size_t) needed < sizeof small) {
        strbuf_append (self, small, (size_t) needed);
        return;
    }
    s_reserve (self, (size_t) needed);
    va_start (args, format);
    vsnprintf (self->data + self->len, (size_t) needed + 1, format, args);
    va_end (args);
    self->len += (size_t) needed;
}

void
json_string (strbuf_t *out, const char *text)
{
    strbuf_append (out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *) (text ? text : "");
         *p; p++) {
        switch (*p) {
            case '"':  strbuf_append (out, "\\\"", 2); break;
            case '\\': strbuf_append (out, "\\\\", 2); break;
            case '\n': strbuf_append (out, "\\n", 2); break;
            case '\r': strbuf_append (out, "\\r", 2); break;
            case '\t': strbuf_append (out, "\\t", 2); break;
            default:
                if (*p < 0x20)
                    strbuf_printf (out, "\\u%04x", *p);
                else
                    strbuf_append (out, (const char *) p, 1);
        }
    }
    strbuf_append (out, "\"", 1);
}

//  Writes one value of a field; `member` points at the value in memory.
static void
s_value (strbuf_t *out, const ProtobufCFieldDescriptor *field,
         const void *member)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
            strbuf_printf (out, "%" PRId32, *(const int32_t *) member);
            break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            strbuf_printf (out, "%" PRIu32, *(const uint32_t *) member);
            break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            strbuf_printf (out, "%" PRId64, *(const int64_t *) member);
            break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            strbuf_printf (out, "%" PRIu64, *(const uint64_t *) member);
            break;
        case PROTOBUF_C_TYPE_FLOAT:
            strbuf_printf (out, "%.9g", (double) *(const float *) member);
            break;
        case PROTOBUF_C_TYPE_DOUBLE:
            strbuf_printf (out, "%.17g", *(const double *) member);
            break;
        case PROTOBUF_C_TYPE_BOOL:
            strbuf_puts (out, *(const protobuf_c_boolean *) member
                              ? "true" : "false");
            break;
        case PROTOBUF_C_TYPE_ENUM: {
            int number = *(const int *) member;
            const ProtobufCEnumValue *value =
                protobuf_c_enum_descriptor_get_value (field->descriptor,
                                                      number);
            if (!value) {
                strbuf_printf (out, "%d", number);
                break;
            }
            char name [128];
            size_t i = 0;
            for (; value->name [i] && i < sizeof name - 1; i++)
                name [i] = (char) tolower ((unsigned char) value->name [i]);
            name [i] = 0;
            json_string (out, name);
            break;
        }
        case PROTOBUF_C_TYPE_STRING:
            json_string (out, *(char *const *) member);
            break;
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *data = member;
            strbuf_append (out, "\"", 1);
            for (size_t i = 0; i < data->len; i++)
                strbuf_printf (out, "%02x", data->data [i]);
            strbuf_append (out, "\"", 1);
            break;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *) member;
            if (sub)
                json_message (out, sub);
            else
                strbuf_puts (out, "null");
            break;
        }
    }
}

//  Size in memory of one element of a repeated field.
static size_t
s_element_size (const ProtobufCFieldDescriptor *field)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            return 8;
        case PROTOBUF_C_TYPE_DOUBLE:
            return sizeof (double);
        case PROTOBUF_C_TYPE_BOOL:
            return sizeof (protobuf_c_boolean);
        case PROTOBUF_C_TYPE_STRING:
            return sizeof (char *);
        case PROTOBUF_C_TYPE_BYTES:
            return sizeof (ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE:
            return sizeof (void *);
        default:
            return 4;
    }
}

void
json_message (strbuf_t *out, const ProtobufCMessage *message)
{
    const ProtobufCMessageDescriptor *desc = message->descriptor;
    const char *base = (const char *) message;
    int first = 1;
    strbuf_append (out, "{", 1);
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &desc->fields [i];
        const void *member = base + field->offset;
        if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *) (base + field->quantifier_offset);
            if (which != field->id)
                continue;
        }
        else if (field->label == PROTOBUF_C_LABEL_OPTIONAL
                 && field->quantifier_offset
                 && !*(const protobuf_c_boolean *) (base + field->quantifier_offset))
            continue;
        if (!first)
            strbuf_append (out, ",", 1);
        first = 0;
        json_string (out, field->name);
        strbuf_append (out, ":", 1);
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *) (base + field->quantifier_offset);
            const char *array = *(char *const *) member;
            size_t step = s_element_size (field);
            strbuf_append (out, "[", 1);
            for (size_t j = 0; j < count; j++) {
                if (j)
                    strbuf_append (out, ",", 1);
                s_value (out, field, array + j * step);
            }
            strbuf_append (out, "]", 1);
        }
        else
            s_value (out, field, member);
    }
    strbuf_append (out, "}", 1);
}
