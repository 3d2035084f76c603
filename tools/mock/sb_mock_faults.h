/*  sb_mock_faults — decides which requests a fail_rate knob turns into failures, so
    that tests are repeatable: each sequence (one per channel, i.e. per /x/<knobs>/
    prefix, rate and seed) is deterministic. Without a seed the failures are spread
    evenly, the first request failing: 0.5 fails requests 1, 3, 5 ..., 0.25 fails
    1, 5, 9 .... With a seed they follow a splitmix64 stream of that seed. Used from
    the server's service thread only.  */

#ifndef SB_MOCK_FAULTS_H_INCLUDED
#define SB_MOCK_FAULTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_mock_faults_t sb_mock_faults_t;

//  Sequences are kept in a fixed table; when it is full it is cleared and every
//  sequence starts over (far more channels than any test uses).
#define SB_MOCK_FAULTS_MAX 256

//  Returns NULL when out of memory. Caller owns the result.
sb_mock_faults_t *sb_mock_faults_new (void);
void sb_mock_faults_destroy (sb_mock_faults_t **self_p);

//  Advances the sequence identified by (key, rate_ppm, seeded, seed) and says whether
//  this request fails. rate_ppm is within 0..1000000.
bool sb_mock_faults_next (sb_mock_faults_t *self, const char *key, size_t key_len, int64_t rate_ppm,
                          bool seeded, uint64_t seed);

//  Every sequence starts over.
void sb_mock_faults_reset (sb_mock_faults_t *self);

#endif
