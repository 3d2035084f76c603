/*  sb_logger_spool — see the header. File layout: spool.dat holds frames as
    [u32 little-endian length][bytes]; spool.pos holds the read offset and the
    number of frames pending, rewritten through a temp file and rename().  */

#include "sb_logger_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAX_FRAME (72u << 20)

struct _sb_logger_spool_t {
    char data_path[512], pos_path[512], tmp_path[512];
    int fd;
    uint64_t size;    // bytes in spool.dat
    uint64_t offset;  // read offset
    uint64_t pending; // frames after offset
    uint64_t max_bytes;
    uint64_t peek_end; // offset after the last peeked frame
    size_t peek_count;
    uint64_t peek_ends[4096]; // offsets after each peeked frame
};

static int
s_save_pos (sb_logger_spool_t *self)
{
    FILE *f = fopen (self->tmp_path, "w");
    if (!f) return -1;
    fprintf (f, "%llu %llu\n", (unsigned long long)self->offset, (unsigned long long)self->pending);
    if (fclose (f) != 0) return -1;
    return rename (self->tmp_path, self->pos_path);
}

//  Counts the frames after `offset` (on open, when the position file is missing).
static uint64_t
s_count_frames (sb_logger_spool_t *self, uint64_t offset)
{
    uint64_t n = 0;
    while (offset + 4 <= self->size) {
        unsigned char head[4];
        if (pread (self->fd, head, 4, (off_t)offset) != 4) break;
        uint32_t len = (uint32_t)head[0] | (uint32_t)head[1] << 8 | (uint32_t)head[2] << 16 |
                       (uint32_t)head[3] << 24;
        if (len > S_MAX_FRAME || offset + 4 + len > self->size) break;
        offset += 4 + len;
        n++;
    }
    return n;
}

sb_logger_spool_t *
sb_logger_spool_new (const char *dir, uint64_t max_bytes)
{
    mkdir (dir, 0700);
    sb_logger_spool_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    snprintf (self->data_path, sizeof self->data_path, "%s/spool.dat", dir);
    snprintf (self->pos_path, sizeof self->pos_path, "%s/spool.pos", dir);
    snprintf (self->tmp_path, sizeof self->tmp_path, "%s/spool.pos.tmp", dir);
    self->max_bytes = max_bytes;
    self->fd = open (self->data_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (self->fd < 0) {
        free (self);
        return NULL;
    }
    struct stat st;
    fstat (self->fd, &st);
    self->size = (uint64_t)st.st_size;
    FILE *f = fopen (self->pos_path, "r");
    unsigned long long off = 0, pend = 0;
    if (f) {
        if (fscanf (f, "%llu %llu", &off, &pend) != 2) off = pend = 0;
        fclose (f);
    }
    self->offset = off <= self->size ? off : 0;
    //  The count is recomputed from the file: it is the truth after a crash.
    self->pending = s_count_frames (self, self->offset);
    return self;
}

void
sb_logger_spool_destroy (sb_logger_spool_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_logger_spool_t *self = *self_p;
    s_save_pos (self);
    close (self->fd);
    free (self);
    *self_p = NULL;
}

int
sb_logger_spool_push (sb_logger_spool_t *self, const void *frame, size_t len)
{
    if (len > S_MAX_FRAME || self->size + 4 + len > self->max_bytes) return -1;
    unsigned char head[4] = {(unsigned char)len, (unsigned char)(len >> 8),
                             (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
    //  One buffer, one write(): a crash leaves a whole frame or a short tail,
    //  and a short tail is ignored by s_count_frames.
    unsigned char *buf = malloc (4 + len);
    if (!buf) return -1;
    memcpy (buf, head, 4);
    memcpy (buf + 4, frame, len);
    ssize_t n = write (self->fd, buf, 4 + len);
    free (buf);
    if (n != (ssize_t)(4 + len)) {
        if (n > 0 && ftruncate (self->fd, (off_t)self->size) != 0) return -1;
        return -1;
    }
    self->size += 4 + len;
    self->pending++;
    return 0;
}

uint64_t
sb_logger_spool_pending (const sb_logger_spool_t *self)
{
    return self->pending;
}

size_t
sb_logger_spool_peek (sb_logger_spool_t *self, size_t max, sb_logger_spool_fn *fn, void *arg)
{
    uint64_t offset = self->offset;
    size_t n = 0;
    if (max > sizeof self->peek_ends / sizeof self->peek_ends[0])
        max = sizeof self->peek_ends / sizeof self->peek_ends[0];
    while (n < max && offset + 4 <= self->size) {
        unsigned char head[4];
        if (pread (self->fd, head, 4, (off_t)offset) != 4) break;
        uint32_t len = (uint32_t)head[0] | (uint32_t)head[1] << 8 | (uint32_t)head[2] << 16 |
                       (uint32_t)head[3] << 24;
        if (len > S_MAX_FRAME || offset + 4 + len > self->size) break;
        char *frame = malloc (len ? len : 1);
        if (!frame || pread (self->fd, frame, len, (off_t)(offset + 4)) != (ssize_t)len) {
            free (frame);
            break;
        }
        fn (arg, frame, len);
        free (frame);
        offset += 4 + len;
        self->peek_ends[n++] = offset;
    }
    self->peek_count = n;
    return n;
}

int
sb_logger_spool_commit (sb_logger_spool_t *self, size_t n)
{
    if (n == 0 || n > self->peek_count) return n == 0 ? 0 : -1;
    self->offset = self->peek_ends[n - 1];
    self->pending = self->pending >= n ? self->pending - n : 0;
    self->peek_count = 0;
    if (self->pending == 0 && self->offset >= self->size) {
        //  All replayed: start the file over.
        if (ftruncate (self->fd, 0) == 0) {
            self->size = 0;
            self->offset = 0;
        }
    }
    return s_save_pos (self);
}
