/*  arena: bump allocator. See arena.h.                                  */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (64 * 1024)
#define ARENA_ALIGN 16

typedef struct block_t {
    struct block_t *next;       //  older block
    size_t size;                //  usable bytes in data
    size_t used;                //  bytes handed out
    _Alignas (ARENA_ALIGN) unsigned char data [];
} block_t;

struct arena_t {
    block_t *head;              //  newest block, where allocation happens
};

static block_t *
s_block_new (size_t size)
{
    block_t *block = malloc (sizeof (block_t) + size);
    if (!block) {
        fprintf (stderr, "recoup: out of memory\n");
        abort ();
    }
    block->next = NULL;
    block->size = size;
    block->used = 0;
    return block;
}

arena_t *
arena_new (void)
{
    arena_t *self = calloc (1, sizeof *self);
    if (self)
        self->head = s_block_new (ARENA_BLOCK);
    return self;
}

void
arena_destroy (arena_t **self_p)
{
    if (!*self_p)
        return;
    block_t *block = (*self_p)->head;
    while (block) {
        block_t *next = block->next;
        free (block);
        block = next;
    }
    free (*self_p);
    *self_p = NULL;
}

void *
arena_alloc (arena_t *self, size_t size)
{
    size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
    if (rounded < size)
        abort ();
    if (self->head->used + rounded > self->head->size) {
        block_t *block = s_block_new (rounded > ARENA_BLOCK ? rounded : ARENA_BLOCK);
        block->next = self->head;
        self->head = block;
    }
    void *ptr = self->head->data + self->head->used;
    self->head->used += rounded;
    memset (ptr, 0, size);
    return ptr;
}

char *
arena_strdup (arena_t *self, const char *text)
{
    if (!text)
        text = "";
    return arena_memdup (self, text, strlen (text) + 1);
}

void *
arena_memdup (arena_t *self, const void *data, size_t len)
{
    void *copy = arena_alloc (self, len ? len : 1);
    if (len)
        memcpy (copy, data, len);
    return copy;
}

char *
arena_printf (arena_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int needed = vsnprintf (NULL, 0, format, args);
    va_end (args);
    if (needed < 0)
        return arena_strdup (self, "");
    char *text = arena_alloc (self, (size_t) needed + 1);
    va_start (args, format);
    vsnprintf (text, (size_t) needed + 1, format, args);
    va_end (args);
    return text;
}

void
arena_reset (arena_t *self)
{
    //  Keep the oldest block (the first one made), free the rest.
    block_t *block = self->head;
    while (block->next) {
        block_t *next = block->next;
        free (block);
        block = next;
    }
    block->used = 0;
    self->head = block;
}
