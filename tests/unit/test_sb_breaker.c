/*  Unit tests for sb_breaker: trips on consecutive failures and on the error ratio,
    cooldown, exactly one half-open probe, growth and cap of the cooldown, stale
    outcomes, probe timeout and cancel, metrics. Time is simulated.  */

#include "sb_breaker.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int s_failed = 0;

static void
s_check (int line, bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    printf ("%s ", ok ? "ok  " : "FAIL");
    vprintf (fmt, ap);
    printf (ok ? "\n" : "  (line %d)\n", line);
    va_end (ap);
    if (!ok) s_failed++;
}
#define CHECK(cond, ...) s_check (__LINE__, (cond), __VA_ARGS__)

static sb_breaker_config_t
s_config (void)
{
    sb_breaker_config_t c;
    sb_breaker_config_default (&c);
    return c;
}

static void
test_config (void)
{
    printf ("-- config\n");
    sb_breaker_config_t c = s_config ();
    CHECK (c.failure_threshold == 5 && c.window_size == 20 && c.window_min_requests == 10 &&
               c.error_ratio == 0.5 && c.cooldown_ms == 10000 && c.cooldown_max_ms == 60000 &&
               c.cooldown_multiplier == 2.0,
           "defaults: 5 consecutive, 50%% of last 20 (min 10), cooldown 10 s doubling to 60 s");
    char err[128] = "";
    CHECK (sb_breaker_config_check (&c, err, sizeof (err)) == 0, "defaults pass the check");

    c.window_size = 65;
    CHECK (sb_breaker_config_check (&c, err, sizeof (err)) == -1 && strstr (err, "window_size"),
           "window_size 65 refused: \"%s\"", err);
    CHECK (sb_breaker_new (&c) == NULL, "sb_breaker_new refuses that config");
    c = s_config ();
    c.window_min_requests = 21;
    CHECK (sb_breaker_config_check (&c, err, sizeof (err)) == -1, "min_requests > window refused");
    c = s_config ();
    c.error_ratio = nan ("");
    CHECK (sb_breaker_config_check (&c, err, sizeof (err)) == -1, "NaN error_ratio refused");
    c = s_config ();
    c.cooldown_max_ms = 5000;
    CHECK (sb_breaker_config_check (&c, err, sizeof (err)) == -1,
           "cooldown_max < cooldown refused");
    c = s_config ();
    c.failure_threshold = 0;
    c.window_size = 0;
    CHECK (sb_breaker_config_check (&c, err, sizeof (err)) == -1, "both trip rules off refused");
    c = s_config ();
    c.cooldown_multiplier = 0.5;
    CHECK (sb_breaker_config_check (&c, NULL, 0) == -1, "multiplier < 1 refused (no err buffer)");

    sb_breaker_t *b = sb_breaker_new (NULL);
    CHECK (b != NULL, "sb_breaker_new (NULL) uses the defaults");
    CHECK (sb_breaker_cooldown_ms (b) == 10000, "cooldown starts at 10000 ms");
    sb_breaker_destroy (&b);
    CHECK (b == NULL, "destroy nulls the pointer");
    sb_breaker_destroy (&b);
    sb_breaker_destroy (NULL);
    CHECK (true, "destroy accepts NULL and *NULL");

    CHECK (strcmp (sb_breaker_state_name (SB_BREAKER_CLOSED), "closed") == 0 &&
               strcmp (sb_breaker_state_name (SB_BREAKER_OPEN), "open") == 0 &&
               strcmp (sb_breaker_state_name (SB_BREAKER_HALF_OPEN), "half_open") == 0 &&
               strcmp (sb_breaker_state_name ((sb_breaker_state_t)9), "unknown") == 0,
           "state names");
}

//  One request sent and answered at `t`.
static void
s_outcome (sb_breaker_t *b, uint64_t t, bool ok)
{
    sb_breaker_dispatch (b, t);
    sb_breaker_report (b, t, t, ok, 100);
}

static void
test_consecutive_trip (void)
{
    printf ("-- opens after N consecutive failures\n");
    sb_breaker_t *b = sb_breaker_new (NULL);
    uint64_t t = 1000;
    for (int i = 0; i < 4; i++)
        s_outcome (b, t++, false);
    CHECK (sb_breaker_state (b) == SB_BREAKER_CLOSED && sb_breaker_consecutive_failures (b) == 4,
           "4 failures: still closed, consecutive = %d", sb_breaker_consecutive_failures (b));
    s_outcome (b, t++, true);
    CHECK (sb_breaker_consecutive_failures (b) == 0, "a success resets the consecutive count");
    for (int i = 0; i < 4; i++)
        s_outcome (b, t++, false);
    CHECK (sb_breaker_state (b) == SB_BREAKER_CLOSED, "4 more failures: closed");
    uint64_t trip_at = t;
    s_outcome (b, t++, false);
    CHECK (sb_breaker_state (b) == SB_BREAKER_OPEN, "5th consecutive failure: %s",
           sb_breaker_state_name (sb_breaker_state (b)));
    CHECK (sb_breaker_open_until_ms (b) == trip_at + 10000, "open until trip + 10000 ms (%llu)",
           (unsigned long long)sb_breaker_open_until_ms (b));
    CHECK (sb_breaker_open_count (b) == 1, "open_count = 1");
    CHECK (!sb_breaker_available (b, trip_at + 9999), "unavailable 1 ms before the cooldown ends");
    CHECK (sb_breaker_wait_ms (b, trip_at + 2500) == 7500 &&
               sb_breaker_wait_ms (b, trip_at + 9999) == 1 &&
               sb_breaker_wait_ms (b, trip_at + 10000) == 0,
           "wait: the rest of the open period, then 0");
    CHECK (sb_breaker_dispatch (b, trip_at + 9999) == -1, "dispatch refused while open");
    CHECK (sb_breaker_state (b) == SB_BREAKER_OPEN, "a refused dispatch changes nothing");
    sb_breaker_destroy (&b);
}

static void
test_half_open_probe (void)
{
    printf ("-- half-open: exactly one probe; success closes, failure reopens\n");
    sb_breaker_t *b = sb_breaker_new (NULL);
    for (int i = 0; i < 5; i++)
        s_outcome (b, 0, false);
    CHECK (sb_breaker_state (b) == SB_BREAKER_OPEN, "open at t=0");
    uint64_t t = 10000;
    CHECK (sb_breaker_available (b, t), "available when the 10 s cooldown is over");
    CHECK (sb_breaker_state (b) == SB_BREAKER_OPEN, "still OPEN until something is sent");
    CHECK (sb_breaker_dispatch (b, t) == 0 && sb_breaker_state (b) == SB_BREAKER_HALF_OPEN,
           "the first dispatch is the probe: half_open");
    int extra = 0;
    for (uint64_t u = t; u < t + 5000; u += 100)
        extra += sb_breaker_dispatch (b, u) == 0;
    CHECK (extra == 0 && !sb_breaker_available (b, t + 1),
           "while the probe is out, 50 more dispatches are refused (%d let through)", extra);
    CHECK (sb_breaker_wait_ms (b, t + 1) == 1000, "wait while the probe is out: 1000 ms");

    //  Probe fails: reopen, cooldown doubles, and keeps doubling up to the cap.
    uint64_t expect[] = {20000, 40000, 60000, 60000};
    for (int round = 0; round < 4; round++) {
        sb_breaker_report (b, t, t + 50, false, 50);
        t += 50;
        CHECK (sb_breaker_state (b) == SB_BREAKER_OPEN &&
                   sb_breaker_cooldown_ms (b) == expect[round],
               "failed probe %d: open again, cooldown %llu ms", round + 1,
               (unsigned long long)sb_breaker_cooldown_ms (b));
        CHECK (!sb_breaker_available (b, t + expect[round] - 1) &&
                   sb_breaker_available (b, t + expect[round]),
               "  unavailable until exactly now + %llu", (unsigned long long)expect[round]);
        t += expect[round];
        CHECK (sb_breaker_dispatch (b, t) == 0 && sb_breaker_state (b) == SB_BREAKER_HALF_OPEN,
               "  next probe sent");
    }
    CHECK (sb_breaker_open_count (b) == 5, "open_count = 5 (1 trip + 4 failed probes)");

    sb_breaker_report (b, t, t + 80, true, 80);
    t += 80;
    CHECK (sb_breaker_state (b) == SB_BREAKER_CLOSED, "successful probe closes");
    CHECK (sb_breaker_cooldown_ms (b) == 10000, "cooldown back to 10000 ms");
    CHECK (sb_breaker_consecutive_failures (b) == 0 && sb_breaker_window_count (b) == 0,
           "counters start fresh after closing");
    CHECK (sb_breaker_available (b, t) && sb_breaker_dispatch (b, t) == 0, "traffic flows again");
    sb_breaker_destroy (&b);
}

static void
test_error_ratio (void)
{
    printf ("-- opens on the error ratio over the sliding window\n");
    sb_breaker_config_t c = s_config ();
    sb_breaker_t *b = sb_breaker_new (&c);
    //  Pattern s s s f f: 40% errors in every window of 20 and in every prefix of 10 or
    //  more, never 5 in a row — must stay closed.
    uint64_t t = 0;
    for (int i = 0; i < 200; i++)
        s_outcome (b, t++, i % 5 < 3);
    CHECK (sb_breaker_state (b) == SB_BREAKER_CLOSED,
           "40%% errors over 200 requests: closed (window rate %.2f over %d)",
           sb_breaker_error_rate (b), sb_breaker_window_count (b));
    CHECK (sb_breaker_window_count (b) == 20 && fabs (sb_breaker_error_rate (b) - 0.4) < 1e-9,
           "window holds the last 20 outcomes at 0.40");
    //  Pattern f s f s ...: 50%, at most 1 in a row.
    int opened_after = -1;
    for (int i = 0; i < 40 && opened_after < 0; i++) {
        s_outcome (b, t++, i % 2 == 1);
        if (sb_breaker_state (b) == SB_BREAKER_OPEN) opened_after = i + 1;
    }
    CHECK (opened_after > 0 && sb_breaker_consecutive_failures (b) < 5,
           "alternating failures trip on the ratio after %d more requests (consecutive %d, "
           "rate %.2f)",
           opened_after, sb_breaker_consecutive_failures (b), sb_breaker_error_rate (b));
    CHECK (sb_breaker_error_rate (b) >= 0.5, "tripped at a rate >= 0.50");
    sb_breaker_destroy (&b);

    printf ("-- the ratio needs window_min_requests outcomes\n");
    c = s_config ();
    c.failure_threshold = 0; // ratio rule only
    b = sb_breaker_new (&c);
    t = 0;
    for (int i = 0; i < 9; i++)
        s_outcome (b, t++, false);
    CHECK (sb_breaker_state (b) == SB_BREAKER_CLOSED,
           "9 failures of 9 (rate %.2f): closed, below the minimum of 10",
           sb_breaker_error_rate (b));
    s_outcome (b, t++, false);
    CHECK (sb_breaker_state (b) == SB_BREAKER_OPEN, "10th outcome: open");
    sb_breaker_destroy (&b);
}

static void
test_stale_outcomes (void)
{
    printf ("-- outcomes of requests sent before a state change do not move the state\n");
    sb_breaker_t *b = sb_breaker_new (NULL);
    //  10 requests go out at t=0..9; 5 fail at t=100 and open the breaker.
    for (uint64_t i = 0; i < 10; i++)
        sb_breaker_dispatch (b, i);
    for (uint64_t i = 0; i < 5; i++)
        sb_breaker_report (b, i, 100, false, 100);
    CHECK (sb_breaker_state (b) == SB_BREAKER_OPEN, "open at t=100");
    sb_breaker_report (b, 5, 200, true, 195);
    sb_breaker_report (b, 6, 300, true, 294);
    CHECK (sb_breaker_state (b) == SB_BREAKER_OPEN, "stragglers' successes while open: still open");

    uint64_t probe_at = 100 + 10000;
    CHECK (sb_breaker_dispatch (b, probe_at) == 0, "probe at %llu", (unsigned long long)probe_at);
    sb_breaker_report (b, 7, probe_at + 10, true, 10103);
    sb_breaker_report (b, 8, probe_at + 20, false, 10112);
    CHECK (sb_breaker_state (b) == SB_BREAKER_HALF_OPEN,
           "a straggler's success and failure during the probe: still half_open");
    CHECK (!sb_breaker_available (b, probe_at + 30), "and the probe slot is still taken");
    sb_breaker_report (b, probe_at, probe_at + 40, true, 40);
    CHECK (sb_breaker_state (b) == SB_BREAKER_CLOSED, "the probe's own success closes");
    sb_breaker_report (b, 9, probe_at + 50, false, 10141);
    CHECK (sb_breaker_consecutive_failures (b) == 0 && sb_breaker_window_count (b) == 0,
           "a straggler's failure after closing is not counted");
    sb_breaker_destroy (&b);
}

static void
test_probe_timeout_and_cancel (void)
{
    printf ("-- a lost probe times out; a cancelled probe frees the slot\n");
    sb_breaker_t *b = sb_breaker_new (NULL);
    for (int i = 0; i < 5; i++)
        s_outcome (b, 0, false);
    uint64_t p1 = 10000;
    sb_breaker_dispatch (b, p1);
    CHECK (!sb_breaker_available (b, p1 + 29999), "probe out: unavailable at +29999 ms");
    CHECK (sb_breaker_available (b, p1 + 30000), "available at +30000 ms (probe timeout)");
    uint64_t p2 = p1 + 30000;
    CHECK (sb_breaker_dispatch (b, p2) == 0 && !sb_breaker_available (b, p2),
           "a second probe goes and takes the slot");
    sb_breaker_report (b, p1, p2 + 5, false, 30005);
    CHECK (sb_breaker_state (b) == SB_BREAKER_HALF_OPEN,
           "the lost probe's late failure is ignored");
    sb_breaker_cancel (b, p1);
    CHECK (!sb_breaker_available (b, p2 + 6), "cancelling the lost probe does not free the slot");
    sb_breaker_cancel (b, p2);
    CHECK (sb_breaker_available (b, p2 + 7) && sb_breaker_state (b) == SB_BREAKER_HALF_OPEN,
           "cancelling the current probe frees the slot at once");
    uint64_t p3 = p2 + 7;
    sb_breaker_dispatch (b, p3);
    sb_breaker_report (b, p3, p3 + 20, true, 20);
    CHECK (sb_breaker_state (b) == SB_BREAKER_CLOSED, "third probe succeeds: closed");
    sb_breaker_destroy (&b);
}

static void
test_latency_ewma (void)
{
    printf ("-- latency EWMA (successes only)\n");
    sb_breaker_t *b = sb_breaker_new (NULL);
    CHECK (sb_breaker_latency_ewma (b) == -1.0, "no sample: -1");
    sb_breaker_report (b, 0, 100, true, 100);
    CHECK (sb_breaker_latency_ewma (b) == 100.0, "first sample sets it: %.1f",
           sb_breaker_latency_ewma (b));
    sb_breaker_report (b, 0, 200, true, 200);
    CHECK (fabs (sb_breaker_latency_ewma (b) - 120.0) < 1e-9, "100 then 200, alpha 0.2: %.1f",
           sb_breaker_latency_ewma (b));
    sb_breaker_report (b, 0, 300, false, 5);
    sb_breaker_report (b, 0, 300, true, -1);
    CHECK (fabs (sb_breaker_latency_ewma (b) - 120.0) < 1e-9,
           "a failure and an unknown latency leave it at %.1f", sb_breaker_latency_ewma (b));
    sb_breaker_destroy (&b);
}

int
main (void)
{
    test_config ();
    test_consecutive_trip ();
    test_half_open_probe ();
    test_error_ratio ();
    test_stale_outcomes ();
    test_probe_timeout_and_cancel ();
    test_latency_ewma ();
    printf ("%s: %d failure(s)\n", s_failed ? "FAILED" : "PASSED", s_failed);
    return s_failed ? 1 : 0;
}
