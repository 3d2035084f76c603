/*  sb_test — the few macros the C unit tests share: a check that counts and
    prints failures with their place, and a summary line that sets the exit code. */

#ifndef SB_TEST_H_INCLUDED
#define SB_TEST_H_INCLUDED

#include <stdio.h>
#include <string.h>

static int sb_test_failed;
static int sb_test_passed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond)                                                                                  \
            sb_test_passed++;                                                                      \
        else {                                                                                     \
            sb_test_failed++;                                                                      \
            fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);              \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *sb_a_ = (a), *sb_b_ = (b);                                                     \
        if (sb_a_ && sb_b_ && strcmp (sb_a_, sb_b_) == 0)                                          \
            sb_test_passed++;                                                                      \
        else {                                                                                     \
            sb_test_failed++;                                                                      \
            fprintf (stderr, "%s:%d: CHECK_STR failed: %s\n  got:  %s\n  want: %s\n", __FILE__,    \
                     __LINE__, #a, sb_a_ ? sb_a_ : "(null)", sb_b_ ? sb_b_ : "(null)");            \
        }                                                                                          \
    } while (0)

#define SB_TEST_DONE()                                                                             \
    (printf ("%s: %d checks passed, %d failed\n", __FILE__, sb_test_passed, sb_test_failed),       \
     sb_test_failed ? 1 : 0)

#endif
