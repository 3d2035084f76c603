/*  sb_msg — the one codec for every Switchboard message (see sb_msg.h). Field
    tables are generated from the X-macro lists, so adding a field to a list is
    the whole change; encode and decode walk the same table.  */

#include "sb_msg.h"

#include <msgpack.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_U64, K_I64, K_DBL, K_BOOL, K_STR, K_BIN } s_kind_t;

typedef struct {
    s_kind_t kind;
    size_t offset; // within the message struct
    size_t max;    // STR/BIN: maximum size in bytes
    const char *name;
} s_field_t;

#define S_FIELD(kind, fname, maxsz) {K_##kind, 0, (maxsz), #fname},
#define S_TABLE(T, n, num)          static s_field_t s_fields_##n[] = {SB_FIELDS_OF_##n (S_FIELD)};
SB_MSG_LIST (S_TABLE)
#undef S_TABLE
#undef S_FIELD

typedef struct {
    const char *name;
    s_field_t *fields;
    size_t count;
    size_t msg_offset; // where this message's struct sits in sb_msg_t
} s_type_t;

static s_type_t s_types[SB_MSG_MAX];
static atomic_uint_fast64_t s_decode_errors;

//  Offsets cannot be written in the static initialisers above without naming the
//  struct type per field, so they are filled once, before first use.
#define S_FILL(kind, fname, maxsz) fields[i++].offset = offsetof (struct_t, fname);

static void
s_init_types (void)
{
#define S_SETUP(T, n, num)                                                                         \
    {                                                                                              \
        typedef sb_##n##_t struct_t;                                                               \
        s_field_t *fields = s_fields_##n;                                                          \
        size_t i = 0;                                                                              \
        SB_FIELDS_OF_##n (S_FILL);                                                                 \
        s_types[num].name = #n;                                                                    \
        s_types[num].fields = fields;                                                              \
        s_types[num].count = i;                                                                    \
        s_types[num].msg_offset = offsetof (sb_msg_t, n);                                          \
    }
    SB_MSG_LIST (S_SETUP)
#undef S_SETUP
}

#include <pthread.h>
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static const s_type_t *
s_type (sb_msg_type_t type)
{
    pthread_once (&s_once, s_init_types);
    if (type <= SB_MSG_NONE || type >= SB_MSG_MAX || !s_types[type].name) return NULL;
    return &s_types[type];
}

const char *
sb_msg_type_name (sb_msg_type_t type)
{
    const s_type_t *t = s_type (type);
    return t ? t->name : "unknown";
}

sb_bytes_t
sb_bytes (const void *data, size_t size)
{
    sb_bytes_t b = {size ? (const char *)data : NULL, size};
    return b;
}

sb_bytes_t
sb_bytes_str (const char *text)
{
    return sb_bytes (text, text ? strlen (text) : 0);
}

uint64_t
sb_msg_decode_errors (void)
{
    return atomic_load (&s_decode_errors);
}

struct _sb_msg_writer_t {
    msgpack_sbuffer buffer;
    msgpack_packer packer;
};

sb_msg_writer_t *
sb_msg_writer_new (void)
{
    sb_msg_writer_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    msgpack_sbuffer_init (&self->buffer);
    msgpack_packer_init (&self->packer, &self->buffer, msgpack_sbuffer_write);
    return self;
}

void
sb_msg_writer_destroy (sb_msg_writer_t **self_p)
{
    if (!self_p || !*self_p) return;
    msgpack_sbuffer_destroy (&(*self_p)->buffer);
    free (*self_p);
    *self_p = NULL;
}

//  A writer that has grown large for one big body gives the memory back, so an
//  idle service doesn't keep its largest-ever message allocated.
#define S_WRITER_KEEP (256u << 10)

int
sb_msg_encode (sb_msg_writer_t *self, const sb_msg_t *msg, const void **data, size_t *size)
{
    const s_type_t *t = s_type (msg->type);
    if (!t) return -1;
    if (self->buffer.alloc > S_WRITER_KEEP) {
        msgpack_sbuffer_destroy (&self->buffer);
        msgpack_sbuffer_init (&self->buffer);
    } else
        msgpack_sbuffer_clear (&self->buffer);

    msgpack_packer *pk = &self->packer;
    const char *base = (const char *)msg + t->msg_offset;
    int rc = msgpack_pack_array (pk, 2 + t->count);
    rc |= msgpack_pack_uint32 (pk, SB_PROTO_VERSION);
    rc |= msgpack_pack_uint32 (pk, (uint32_t)msg->type);
    for (size_t i = 0; i < t->count && rc == 0; i++) {
        const s_field_t *f = &t->fields[i];
        const void *p = base + f->offset;
        switch (f->kind) {
            case K_U64:
                rc = msgpack_pack_uint64 (pk, *(const uint64_t *)p);
                break;
            case K_I64:
                rc = msgpack_pack_int64 (pk, *(const int64_t *)p);
                break;
            case K_DBL:
                rc = msgpack_pack_double (pk, *(const double *)p);
                break;
            case K_BOOL:
                rc = *(const bool *)p ? msgpack_pack_true (pk) : msgpack_pack_false (pk);
                break;
            case K_STR:
            case K_BIN: {
                const sb_bytes_t *b = p;
                if (b->size > f->max || (b->size && !b->data)) return -1;
                if (f->kind == K_STR)
                    rc = msgpack_pack_str_with_body (pk, b->data, b->size);
                else
                    rc = msgpack_pack_bin_with_body (pk, b->data, b->size);
                break;
            }
        }
    }
    if (rc != 0) return -1;
    *data = self->buffer.data;
    *size = self->buffer.size;
    return 0;
}

static int
s_fail (const char **why, const char *reason)
{
    atomic_fetch_add (&s_decode_errors, 1);
    if (why) *why = reason;
    return -1;
}

//  Reads one field from a decoded msgpack object into the message struct.
static int
s_read_field (const s_field_t *f, const msgpack_object *o, void *p, const char **why)
{
    switch (f->kind) {
        case K_U64:
            if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return s_fail (why, "field is not an unsigned integer");
            *(uint64_t *)p = o->via.u64;
            return 0;
        case K_I64:
            if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
                *(int64_t *)p = (int64_t)o->via.u64;
            else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                *(int64_t *)p = o->via.i64;
            else
                return s_fail (why, "field is not an integer");
            return 0;
        case K_DBL:
            if (o->type != MSGPACK_OBJECT_FLOAT64 && o->type != MSGPACK_OBJECT_FLOAT32)
                return s_fail (why, "field is not a float");
            *(double *)p = o->via.f64;
            return 0;
        case K_BOOL:
            if (o->type != MSGPACK_OBJECT_BOOLEAN) return s_fail (why, "field is not a boolean");
            *(bool *)p = o->via.boolean;
            return 0;
        case K_STR:
        case K_BIN: {
            sb_bytes_t *b = p;
            if (f->kind == K_STR && o->type == MSGPACK_OBJECT_STR) {
                b->data = o->via.str.size ? o->via.str.ptr : NULL;
                b->size = o->via.str.size;
            } else if (f->kind == K_BIN && o->type == MSGPACK_OBJECT_BIN) {
                b->data = o->via.bin.size ? o->via.bin.ptr : NULL;
                b->size = o->via.bin.size;
            } else
                return s_fail (why, f->kind == K_STR ? "field is not a str" : "field is not a bin");
            if (b->size > f->max) return s_fail (why, "field over its maximum size");
            return 0;
        }
    }
    return s_fail (why, "bad field kind");
}

//  Reads a big-endian length of n bytes at p (n = 1, 2 or 4).
static uint64_t
s_be (const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

//  0 when the frame is an array (at most 64 elements) of scalars, str and bin only,
//  whose declared lengths stay inside the frame; -1 otherwise.
static int
s_precheck (const void *data, size_t size)
{
    const unsigned char *p = data, *end = p + size;
    uint64_t count;
    if (*p >= 0x90 && *p <= 0x9f) {
        count = *p & 0x0f;
        p++;
    } else if (*p == 0xdc && size >= 3) {
        count = s_be (p + 1, 2);
        p += 3;
    } else
        return -1;
    if (count > 64) return -1;
    for (uint64_t i = 0; i < count; i++) {
        if (p >= end) return -1;
        unsigned char b = *p++;
        uint64_t skip = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            skip = 0;
        else if (b >= 0xa0 && b <= 0xbf)
            skip = b & 0x1f;
        else if (b == 0xcc || b == 0xd0)
            skip = 1;
        else if (b == 0xcd || b == 0xd1)
            skip = 2;
        else if (b == 0xce || b == 0xd2 || b == 0xca)
            skip = 4;
        else if (b == 0xcf || b == 0xd3 || b == 0xcb)
            skip = 8;
        else if (b == 0xc4 || b == 0xd9 || b == 0xc5 || b == 0xda || b == 0xc6 || b == 0xdb) {
            int n = (b == 0xc4 || b == 0xd9) ? 1 : (b == 0xc5 || b == 0xda) ? 2 : 4;
            if (end - p < n) return -1;
            skip = s_be (p, n);
            p += n;
        } else
            return -1; // nested arrays and maps, ext types, 0xc1
        if ((uint64_t)(end - p) < skip) return -1;
        p += skip;
    }
    return 0;
}

int
sb_msg_decode (const void *data, size_t size, sb_msg_t *msg, const char **why)
{
    memset (msg, 0, sizeof *msg);
    if (!data || size == 0) return s_fail (why, "empty frame");
    if (size > SB_MAX_BODY + (1u << 20)) return s_fail (why, "frame too large");

    //  msgpack-c allocates an array's or map's element storage from the count the
    //  frame declares, before it knows the elements are there: a 9-byte frame can ask
    //  for gigabytes. Our messages are one flat array of scalars, strings and bins,
    //  so the frame's shape is checked first, without allocating.
    if (s_precheck (data, size) != 0) return s_fail (why, "not a flat message array");

    //  msgpack_unpack_next keeps str/bin objects pointing into `data`, so only the
    //  object tree (a few hundred bytes) lives in its zone, freed below.
    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    size_t offset = 0;
    int rc = -1;
    msgpack_unpack_return ur = msgpack_unpack_next (&result, data, size, &offset);
    if (ur != MSGPACK_UNPACK_SUCCESS) {
        s_fail (why, "not a complete msgpack object");
        goto cleanup;
    }
    if (offset != size) {
        s_fail (why, "trailing bytes after the message");
        goto cleanup;
    }
    const msgpack_object *root = &result.data;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 2) {
        s_fail (why, "not a message array");
        goto cleanup;
    }
    const msgpack_object *items = root->via.array.ptr;
    if (items[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || items[0].via.u64 != SB_PROTO_VERSION) {
        s_fail (why, "unknown protocol version");
        goto cleanup;
    }
    if (items[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || items[1].via.u64 >= SB_MSG_MAX) {
        s_fail (why, "unknown message type");
        goto cleanup;
    }
    const s_type_t *t = s_type ((sb_msg_type_t)items[1].via.u64);
    if (!t) {
        s_fail (why, "unknown message type");
        goto cleanup;
    }
    //  Same version, same fields: a different count is a broken peer, not a newer one.
    if (root->via.array.size != 2 + t->count) {
        s_fail (why, "wrong field count");
        goto cleanup;
    }
    msg->type = (sb_msg_type_t)items[1].via.u64;
    char *base = (char *)msg + t->msg_offset;
    for (size_t i = 0; i < t->count; i++)
        if (s_read_field (&t->fields[i], &items[2 + i], base + t->fields[i].offset, why) != 0)
            goto cleanup;
    rc = 0;

cleanup:
    msgpack_unpacked_destroy (&result);
    if (rc != 0) msg->type = SB_MSG_NONE;
    return rc;
}
