/*  sb_clock — the two clocks the services use: monotonic for timeouts and
    durations, realtime for deadlines that cross processes and for records.  */

#ifndef SB_CLOCK_H_INCLUDED
#define SB_CLOCK_H_INCLUDED

#include <stdint.h>
#include <time.h>

static inline uint64_t
sb_mono_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t
sb_wall_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t
sb_wall_ms (void)
{
    return sb_wall_us () / 1000u;
}

#endif
