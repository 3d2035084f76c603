/*  sb_logger_spool — an append-only disk queue of log frames for while Redis is
    away: length-prefixed frames in one file, a read offset kept beside it (written
    atomically), a byte bound. Frames come back out in the order they went in; the
    file is truncated once everything in it has been replayed.  */

#ifndef SB_LOGGER_SPOOL_H_INCLUDED
#define SB_LOGGER_SPOOL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _sb_logger_spool_t sb_logger_spool_t;

//  Opens (creating) the spool in `dir`. Frames left by an earlier run are kept.
//  Returns NULL when the directory cannot be used.
sb_logger_spool_t *sb_logger_spool_new (const char *dir, uint64_t max_bytes);
void sb_logger_spool_destroy (sb_logger_spool_t **self_p);

//  Appends one frame. Returns 0, or -1 when the spool is full or the write failed
//  (the caller counts the drop).
int sb_logger_spool_push (sb_logger_spool_t *self, const void *frame, size_t len);

//  Frames waiting to be replayed.
uint64_t sb_logger_spool_pending (const sb_logger_spool_t *self);

//  Reads up to `max` frames from the read offset without consuming them: calls fn
//  for each. Returns the number read. sb_logger_spool_commit (self, n) then
//  consumes the first n of them (after they reached Redis).
typedef void (sb_logger_spool_fn) (void *arg, const void *frame, size_t len);
size_t sb_logger_spool_peek (sb_logger_spool_t *self, size_t max, sb_logger_spool_fn *fn,
                             void *arg);
int sb_logger_spool_commit (sb_logger_spool_t *self, size_t n);

#endif
