/*  arena: a bump allocator for the short-lived protobuf structures of one
    request or one batch. Everything allocated is freed at once by
    arena_reset or arena_destroy; nothing is freed one by one.           */
#ifndef RECOUP_ARENA_H
#define RECOUP_ARENA_H

#include <stddef.h>

typedef struct arena_t arena_t;

//  Returns a new arena, or NULL when memory runs out.
arena_t *arena_new (void);

//  Frees the arena and everything in it; sets *self_p to NULL.
void arena_destroy (arena_t **self_p);

//  Returns zeroed memory for `size` bytes, aligned for any type. Aborts
//  when memory runs out: the server cannot continue a request half done.
void *arena_alloc (arena_t *self, size_t size);

//  Copies a string (NULL gives "") into the arena.
char *arena_strdup (arena_t *self, const char *text);

//  Copies `len` bytes into the arena.
void *arena_memdup (arena_t *self, const void *data, size_t len);

//  printf into the arena.
char *arena_printf (arena_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Frees everything allocated so far, keeping the first block for reuse.
void arena_reset (arena_t *self);

#endif
