/*  wire: what server and clients share about the protocol: version
    numbers, role names, request ids, topics, and packing helpers around
    the protoc-c generated code in recoup.pb-c.h.                        */
#ifndef RECOUP_WIRE_H
#define RECOUP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "recoup.pb-c.h"

#define RECOUP_VERSION "0.1.0"
#define PROTOCOL_VERSION 1

//  Server accepts requests up to this size; larger ones get TOO_LARGE.
#define WIRE_MAX_REQUEST (4 * 1024 * 1024)
//  ZMQ_MAXMSGSIZE on the command socket: above this, libzmq drops the peer.
#define WIRE_MAX_FRAME (8 * 1024 * 1024)
//  Request ids are 1..64 printable ASCII characters.
#define WIRE_REQUEST_ID_MAX 64

//  ZAP domains of the two server sockets.
#define WIRE_ZAP_DOMAIN_COMMANDS "recoup-commands"
#define WIRE_ZAP_DOMAIN_EVENTS "recoup-events"

//  Topic frames on the event socket.
#define WIRE_TOPIC_EVENT_PREFIX "event."
#define WIRE_TOPIC_HEARTBEAT "heartbeat"

//  Role names as used in the users table and on the command line.
const char *wire_role_name (Recoup__Role role);
//  Returns the role for a name, or ROLE_UNSPECIFIED when unknown.
Recoup__Role wire_role_parse (const char *name);

//  Error code as text ("PERMISSION_DENIED").
const char *wire_error_name (Recoup__ErrorCode code);

//  Writes a fresh random request id (32 hex characters) into buf [33].
void wire_request_id (char *buf);

//  True if id is a valid request id.
int wire_request_id_valid (const char *id);

//  Packs a message into a new buffer; *len gets its size. Caller frees.
//  Returns NULL on allocation failure.
uint8_t *wire_pack (const ProtobufCMessage *message, size_t *len);

//  Wall clock, unix microseconds.
int64_t wire_now_us (void);

//  Monotonic clock, milliseconds.
int64_t wire_clock_ms (void);

//  Formats unix microseconds as ISO 8601 UTC with milliseconds into buf.
const char *wire_format_time (int64_t us, char *buf, size_t len);

#endif

//  True if text is valid UTF-8 (no overlongs, no surrogates, no NUL).
//  When chars is not NULL it gets the number of code points.
int wire_utf8_valid (const char *text, size_t *chars);

//  Checks every string field of a message (nested ones too) is valid
//  UTF-8; protobuf-c does not. Returns 0, or -1 with the dotted path of
//  the first bad field in `path` (e.g. "note_post.text").
int wire_check_utf8 (const ProtobufCMessage *message, char *path, size_t len);
