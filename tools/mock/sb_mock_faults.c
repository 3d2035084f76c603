/*  sb_mock_faults — deterministic failure sequences (see sb_mock_faults.h). Sequences
    are found by a 64-bit FNV-1a hash of their identity in an open-addressed table.  */

#include "sb_mock_faults.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_PPM 1000000

//  Invariant: used entries have hash != 0 (0 marks a free slot).
typedef struct {
    uint64_t hash;
    uint64_t count; // requests seen by this sequence
    uint64_t rng;   // splitmix64 state (seeded sequences)
} s_seq_t;

struct _sb_mock_faults_t {
    s_seq_t table[SB_MOCK_FAULTS_MAX * 2]; // load factor <= 1/2
    size_t used;
};

static uint64_t
s_fnv (uint64_t hash, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        hash ^= p[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

static uint64_t
s_splitmix (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

sb_mock_faults_t *
sb_mock_faults_new (void)
{
    return calloc (1, sizeof (sb_mock_faults_t));
}

void
sb_mock_faults_destroy (sb_mock_faults_t **self_p)
{
    if (!self_p || !*self_p) return;
    free (*self_p);
    *self_p = NULL;
}

void
sb_mock_faults_reset (sb_mock_faults_t *self)
{
    assert (self);
    memset (self, 0, sizeof (*self));
}

static s_seq_t *
s_lookup (sb_mock_faults_t *self, uint64_t hash, uint64_t seed)
{
    const size_t size = sizeof (self->table) / sizeof (self->table[0]);
    for (;;) {
        size_t i = (size_t)(hash % size);
        while (self->table[i].hash && self->table[i].hash != hash)
            i = (i + 1) % size;
        if (self->table[i].hash == hash) return &self->table[i];
        if (self->used < SB_MOCK_FAULTS_MAX) {
            self->used++;
            self->table[i] = (s_seq_t){.hash = hash, .rng = seed};
            return &self->table[i];
        }
        sb_mock_faults_reset (self);
    }
}

bool
sb_mock_faults_next (sb_mock_faults_t *self, const char *key, size_t key_len, int64_t rate_ppm,
                     bool seeded, uint64_t seed)
{
    assert (self);
    if (rate_ppm <= 0) return false;
    if (rate_ppm >= S_PPM) return true;

    uint64_t hash = s_fnv (0xcbf29ce484222325ull, key ? key : "", key ? key_len : 0);
    uint64_t id[3] = {(uint64_t)rate_ppm, seeded ? 1u : 0u, seed};
    hash = s_fnv (hash, id, sizeof (id));
    if (hash == 0) hash = 1;

    s_seq_t *seq = s_lookup (self, hash, seed);
    uint64_t n = seq->count++;
    if (seeded) {
        //  53 random bits against the rate: exact enough for ppm.
        uint64_t x = s_splitmix (&seq->rng) >> 11;
        return (double)x / 9007199254740992.0 * S_PPM < (double)rate_ppm;
    }
    //  Request n fails when ceil ((n + 1) * rate) > ceil (n * rate): failures are spread
    //  evenly and the first request fails. The products stay far below 2^63 for any n a
    //  mock will see (n < 2^43).
    uint64_t r = (uint64_t)rate_ppm;
    uint64_t before = (n * r + S_PPM - 1) / S_PPM;
    uint64_t after = ((n + 1) * r + S_PPM - 1) / S_PPM;
    return after > before;
}
