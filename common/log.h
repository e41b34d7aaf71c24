/*  log: structured log lines on stderr, one event per line, logfmt style:

        ts=2026-11-22T07:48:23.123Z level=info msg="listening" commands=tcp://...

    Keys are bare words; values are quoted when they contain spaces, quotes
    or '='. Secrets must never be passed to these functions.            */
#ifndef RECOUP_LOG_H
#define RECOUP_LOG_H

#include <stdarg.h>

typedef enum {
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_INFO,
    LOG_LEVEL_WARN,
    LOG_LEVEL_ERROR
} log_level_t;

//  Lines below this level are dropped. Default: info, or $RECOUP_LOG_LEVEL.
void log_set_level (log_level_t level);

//  Names the program in every line ("recoupd", "recoup").
void log_set_component (const char *component);

//  Writes one line: msg, then key/value pairs given as alternating
//  const char * arguments, terminated by NULL.
//      log_line (LOG_LEVEL_INFO, "listening", "commands", ep, NULL);
void log_line (log_level_t level, const char *msg, ...);

#define log_info(...)  log_line (LOG_LEVEL_INFO, __VA_ARGS__, NULL)
#define log_warn(...)  log_line (LOG_LEVEL_WARN, __VA_ARGS__, NULL)
#define log_error(...) log_line (LOG_LEVEL_ERROR, __VA_ARGS__, NULL)
#define log_debug(...) log_line (LOG_LEVEL_DEBUG, __VA_ARGS__, NULL)

#endif
