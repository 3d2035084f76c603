/*  sb_breaker — passive circuit breaker for one upstream channel.
    It learns only from the outcomes the router reports (no health-check traffic): closed →
    open after N consecutive failures or a high error ratio over the last outcomes, open for
    a cooldown, then half-open lets exactly one probe through. Pure logic, no I/O, no clock:
    the caller passes the time in, so behaviour is deterministic and testable. Used from the
    router's event-loop thread only (not thread-safe).  */

#ifndef SB_BREAKER_H_INCLUDED
#define SB_BREAKER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_breaker_t sb_breaker_t;

//  The sliding window is a bit ring in one uint64_t, hence the cap.
#define SB_BREAKER_WINDOW_MAX 64

typedef enum {
    SB_BREAKER_CLOSED = 0,    // traffic flows; outcomes are counted
    SB_BREAKER_OPEN = 1,      // no traffic until the cooldown has passed
    SB_BREAKER_HALF_OPEN = 2, // one probe at a time; its outcome closes or reopens
} sb_breaker_state_t;

typedef struct {
    int failure_threshold;      // consecutive failures that open (default 5; 0 = rule off)
    int window_size;            // outcomes in the sliding window (default 20; 1..64; 0 = off)
    int window_min_requests;    // ratio rule applies from this many outcomes (default 10)
    double error_ratio;         // open when failures/outcomes >= this (default 0.5; (0,1])
    uint64_t cooldown_ms;       // first open period (default 10000; > 0)
    uint64_t cooldown_max_ms;   // cap for the growing cooldown (default 60000; >= cooldown_ms)
    double cooldown_multiplier; // growth after a failed probe (default 2.0; >= 1)
    uint64_t probe_timeout_ms;  // a probe without an outcome for this long is presumed lost
                                // and another may go (default 30000; > 0)
    double latency_alpha;       // EWMA weight of a new latency sample (default 0.2; (0,1])
} sb_breaker_config_t;

//  Fills `config` with the defaults listed above.
void sb_breaker_config_default (sb_breaker_config_t *config);

//  Returns 0 when `config` is usable, else -1 with a reason in err (if err_size > 0).
int sb_breaker_config_check (const sb_breaker_config_t *config, char *err, size_t err_size);

//  A closed breaker. `config` is copied; NULL means the defaults. Returns NULL when the
//  config fails sb_breaker_config_check or memory runs out. Caller owns the result.
sb_breaker_t *sb_breaker_new (const sb_breaker_config_t *config);
void sb_breaker_destroy (sb_breaker_t **self_p);

//  True when a request may be sent now: closed; open with the cooldown over (the next
//  dispatch becomes the half-open probe); half-open with no probe in flight (or the
//  probe timed out). Does not change state.
bool sb_breaker_available (const sb_breaker_t *self, uint64_t now_ms);

//  Takes over what `old` has learnt (state, open period, failure counts, latency) when
//  a new config replaces the breaker of the same channel. The new config's window and
//  cooldown bounds apply: a window of another size starts empty.
void sb_breaker_inherit (sb_breaker_t *self, const sb_breaker_t *old);

//  Milliseconds until the breaker lets a request through: 0 now; the rest of the
//  open period; while a half-open probe is out (its outcome decides), 1000.
uint64_t sb_breaker_wait_ms (const sb_breaker_t *self, uint64_t now_ms);

//  Records that a request is sent now. Open with the cooldown over moves to half-open
//  and the request becomes the probe; while it is in flight, sb_breaker_available is
//  false. Returns 0, or -1 (nothing recorded) when sb_breaker_available is false.
int sb_breaker_dispatch (sb_breaker_t *self, uint64_t now_ms);

//  Reports the outcome of a request sent at `dispatched_ms` (the now_ms its dispatch
//  was recorded with). Outcomes of requests sent before the current state began (e.g.
//  stragglers sent before the breaker opened, or a probe that was presumed lost) are
//  stale: they feed the latency EWMA but never move the state. latency_ms < 0 = unknown;
//  only successes feed the latency EWMA (a fast failure says nothing about speed).
void sb_breaker_report (sb_breaker_t *self, uint64_t dispatched_ms, uint64_t now_ms, bool ok,
                        double latency_ms);

//  The request sent at `dispatched_ms` ended without an outcome about the channel (the
//  client went away). If it was the half-open probe, the probe slot is freed at once
//  instead of after probe_timeout_ms. Otherwise nothing happens.
void sb_breaker_cancel (sb_breaker_t *self, uint64_t dispatched_ms);

//  For metrics and logs. State is the stored one: an OPEN breaker whose cooldown is over
//  stays OPEN until the next dispatch turns it HALF_OPEN.
sb_breaker_state_t sb_breaker_state (const sb_breaker_t *self);
//  "closed", "open", "half_open" (static string; "unknown" for a bad value).
const char *sb_breaker_state_name (sb_breaker_state_t state);
int sb_breaker_consecutive_failures (const sb_breaker_t *self);
//  Failures / outcomes in the window; 0 when the window is empty or off.
double sb_breaker_error_rate (const sb_breaker_t *self);
//  Outcomes currently in the window (at most window_size).
int sb_breaker_window_count (const sb_breaker_t *self);
//  EWMA of successful requests' latency in ms; -1 before the first sample.
double sb_breaker_latency_ewma (const sb_breaker_t *self);
//  The cooldown the next (or current) open period uses, in ms.
uint64_t sb_breaker_cooldown_ms (const sb_breaker_t *self);
//  When the current open period ends (meaningful in OPEN only).
uint64_t sb_breaker_open_until_ms (const sb_breaker_t *self);
//  Times the breaker has opened since it was created (trips and failed probes).
uint64_t sb_breaker_open_count (const sb_breaker_t *self);

#endif
