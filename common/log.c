/*  log: logfmt lines on stderr. See log.h.                              */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static log_level_t s_level = LOG_LEVEL_INFO;
static int s_level_from_env = 0;
static const char *s_component = "recoup";
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *
s_level_name (log_level_t level)
{
    switch (level) {
        case LOG_LEVEL_DEBUG: return "debug";
        case LOG_LEVEL_INFO:  return "info";
        case LOG_LEVEL_WARN:  return "warn";
        default:              return "error";
    }
}

void
log_set_level (log_level_t level)
{
    s_level = level;
    s_level_from_env = 1;
}

void
log_set_component (const char *component)
{
    s_component = component;
}

//  Reads $RECOUP_LOG_LEVEL once, unless the program set a level itself.
static void
s_level_init (void)
{
    if (s_level_from_env)
        return;
    s_level_from_env = 1;
    const char *env = getenv ("RECOUP_LOG_LEVEL");
    if (!env)
        return;
    if (strcasecmp (env, "debug") == 0)      s_level = LOG_LEVEL_DEBUG;
    else if (strcasecmp (env, "warn") == 0)  s_level = LOG_LEVEL_WARN;
    else if (strcasecmp (env, "error") == 0) s_level = LOG_LEVEL_ERROR;
}

//  Writes a value, quoted and escaped when it needs to be.
static void
s_put_value (FILE *out, const char *value)
{
    if (!value)
        value = "";
    int quote = *value == 0 || strpbrk (value, " \"=\t\n\r\\") != NULL;
    if (!quote) {
        fputs (value, out);
        return;
    }
    fputc ('"', out);
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf (out, "\\%c", *p);
        else if (*p == '\n')
            fputs ("\\n", out);
        else if (*p == '\r')
            fputs ("\\r", out);
        else if (*p == '\t')
            fputs ("\\t", out);
        else
            fputc (*p, out);
    }
    fputc ('"', out);
}

void
log_line (log_level_t level, const char *msg, ...)
{
    s_level_init ();
    if (level < s_level)
        return;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r (&now.tv_sec, &tm);
    char stamp [32];
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    pthread_mutex_lock (&s_lock);
    fprintf (stderr, "ts=%s.%03ldZ level=%s component=%s msg=", stamp,
             now.tv_nsec / 1000000, s_level_name (level), s_component);
    s_put_value (stderr, msg);
    va_list args;
    va_start (args, msg);
    const char *key;
    while ((key = va_arg (args, const char *)) != NULL) {
        const char *value = va_arg (args, const char *);
        fprintf (stderr, " %s=", key);
        s_put_value (stderr, value);
    }
    va_end (args);
    fputc ('\n', stderr);
    fflush (stderr);
    pthread_mutex_unlock (&s_lock);
}
