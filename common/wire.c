/*  wire: protocol constants and helpers. See wire.h.                    */
#include "wire.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *s_roles [] = {
    [RECOUP__ROLE__ROLE_UNSPECIFIED] = "unspecified",
    [RECOUP__ROLE__ADMIN] = "admin",
    [RECOUP__ROLE__MANAGER] = "manager",
    [RECOUP__ROLE__COLLECTOR] = "collector",
    [RECOUP__ROLE__SALES] = "sales",
    [RECOUP__ROLE__IMPORTER] = "importer",
};

const char *
wire_role_name (Recoup__Role role)
{
    if ((int) role < 0 || (size_t) role >= sizeof s_roles / sizeof *s_roles)
        return "unspecified";
    return s_roles [role];
}

Recoup__Role
wire_role_parse (const char *name)
{
    for (size_t i = 1; name && i < sizeof s_roles / sizeof *s_roles; i++)
        if (strcmp (s_roles [i], name) == 0)
            return (Recoup__Role) i;
    return RECOUP__ROLE__ROLE_UNSPECIFIED;
}

const char *
wire_error_name (Recoup__ErrorCode code)
{
    const ProtobufCEnumValue *value = protobuf_c_enum_descriptor_get_value (
        &recoup__error_code__descriptor, (int) code);
    return value ? value->name : "UNKNOWN_ERROR";
}

void
wire_request_id (char *buf)
{
    uint8_t raw [16];
    randombytes_buf (raw, sizeof raw);
    sodium_bin2hex (buf, 33, raw, sizeof raw);
}

int
wire_request_id_valid (const char *id)
{
    size_t len = id ? strlen (id) : 0;
    if (len == 0 || len > WIRE_REQUEST_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (id [i] < 0x21 || id [i] > 0x7e)
            return 0;
    return 1;
}

uint8_t *
wire_pack (const ProtobufCMessage *message, size_t *len)
{
    size_t size = protobuf_c_message_get_packed_size (message);
    uint8_t *buf = malloc (size ? size : 1);
    if (!buf)
        return NULL;
    *len = protobuf_c_message_pack (message, buf);
    return buf;
}

int64_t
wire_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

int64_t
wire_clock_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

const char *
wire_format_time (int64_t us, char *buf, size_t len)
{
    time_t secs = (time_t) (us / 1000000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    char base [32];
    strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buf, len, "%s.%03dZ", base, (int) ((us % 1000000) / 1000));
    return buf;
}

int
wire_check_utf8 (const ProtobufCMessage *message, char *path, size_t len)
{
    const ProtobufCMessageDescriptor *desc = message->descriptor;
    const char *base = (const char *) message;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &desc->fields [i];
        if (field->type != PROTOBUF_C_TYPE_STRING
            && field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            && *(const uint32_t *) (base + field->quantifier_offset) != field->id)
            continue;
        size_t count = 1;
        const void *const *items = (const void *const *) (base + field->offset);
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            count = *(const size_t *) (base + field->quantifier_offset);
            items = *(const void *const *const *) (base + field->offset);
        }
        for (size_t j = 0; j < count; j++) {
            const void *item = items [j];
            if (!item)
                continue;
            int bad = 0;
            if (field->type == PROTOBUF_C_TYPE_STRING)
                bad = !wire_utf8_valid (item, NULL);
            else {
                char inner [128] = "";
                bad = wire_check_utf8 (item, inner, sizeof inner) != 0;
                if (bad) {
                    snprintf (path, len, "%s.%s", field->name, inner);
                    return -1;
                }
            }
            if (bad) {
                snprintf (path, len, "%s", field->name);
                return -1;
            }
        }
    }
    return 0;
}

int
wire_utf8_valid (const char *text, size_t *chars)
{
    const unsigned char *p = (const unsigned char *) text;
    size_t count = 0;
    while (*p) {
        unsigned c = *p;
        int extra;
        unsigned min;
        if (c < 0x80) { extra = 0; min = 0; }
        else if ((c & 0xe0) == 0xc0) { extra = 1; min = 0x80; c &= 0x1f; }
        else if ((c & 0xf0) == 0xe0) { extra = 2; min = 0x800; c &= 0x0f; }
        else if ((c & 0xf8) == 0xf0) { extra = 3; min = 0x10000; c &= 0x07; }
        else return 0;
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return 0;
            c = (c << 6) | (*p & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        count++;
    }
    if (chars)
        *chars = count;
    return 1;
}
