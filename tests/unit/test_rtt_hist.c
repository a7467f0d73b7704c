/* SPDX-License-Identifier: MIT */
/* RTT histogram buckets: boundaries, monotonic, the inverse, the error bound, the largest
 * value, and minutes. The table of known buckets is also checked by
 * tests/bench/history_db.py --self-test, so the Python copy of the function agrees. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rtt_hist.h"

/* value -> bucket; the same table is in tests/bench/history_db.py (KNOWN_BUCKETS) */
static const uint32_t known[][2] = {
    {0, 0},
    {1, 1},
    {255, 255},
    {256, 256},
    {257, 256},
    {258, 257},
    {511, 383},
    {512, 384},
    {515, 384},
    {516, 385},
    {1000, 506},
    {1023, 511},
    {1024, 512},
    {65535, 1279},
    {65536, 1280},
    {1000000, 1780},
    {2147483647, 3199},
    {2147483648u, 3200},
    {4294967295u, 3327},
};

static void test_known(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        uint32_t b = rtt_hist_bucket(known[i][0]);
        if (b != known[i][1])
            fail_msg("bucket(%u) = %u, want %u", known[i][0], b, known[i][1]);
    }
    assert_int_equal(rtt_hist_bucket(UINT32_MAX), RTT_HIST_BUCKETS - 1);
    assert_int_equal(rtt_hist_low(RTT_HIST_BUCKETS - 1) +
                         (rtt_hist_width(RTT_HIST_BUCKETS - 1) - 1),
                     UINT32_MAX);
    /* out of range: no value, no width (a hostile bucket number reads as nothing) */
    assert_int_equal(rtt_hist_low(RTT_HIST_BUCKETS), 0);
    assert_int_equal(rtt_hist_width(RTT_HIST_BUCKETS), 0);
    assert_int_equal(rtt_hist_width(UINT32_MAX), 0);
    assert_int_equal(rtt_hist_mid(UINT32_MAX), 0);
}

/* Every bucket: its low end maps to it, the value before to the one before, the last value
 * to it; widths double once an octave; the middle is within 1/256 of every value in it. */
static void test_every_bucket(void **state)
{
    (void)state;
    for (uint32_t b = 0; b < RTT_HIST_BUCKETS; b++) {
        uint32_t lo = rtt_hist_low(b), w = rtt_hist_width(b), hi = lo + (w - 1),
                 mid = rtt_hist_mid(b);

        assert_true(w >= 1);
        assert_int_equal(rtt_hist_bucket(lo), b);
        assert_int_equal(rtt_hist_bucket(hi), b);
        if (b > 0) {
            assert_int_equal(rtt_hist_bucket(lo - 1), b - 1);
            assert_int_equal(rtt_hist_low(b - 1) + rtt_hist_width(b - 1), lo);
        }
        assert_true(mid >= lo && mid <= hi);
        if (b < RTT_HIST_EXACT_US) {
            assert_int_equal(lo, b);
            assert_int_equal(w, 1);
            assert_int_equal(mid, b);
        } else {
            /* width <= low / 128, and |mid - v| * 256 <= v for every v in the bucket */
            assert_true((uint64_t)w * 128 <= lo);
            assert_true((uint64_t)(mid - lo) * 256 <= lo);
            assert_true((uint64_t)(hi - mid) * 256 <= lo);
        }
    }
}

/* Monotonic over a walk through the whole range. */
static void test_monotonic(void **state)
{
    uint32_t prev = 0;

    (void)state;
    for (uint64_t v = 0; v <= UINT32_MAX; v += 1 + v / 1000) {
        uint32_t b = rtt_hist_bucket((uint32_t)v);
        assert_true(b >= prev);
        assert_true(b - prev <= 1 || v > 1000);
        assert_true(b < RTT_HIST_BUCKETS);
        prev = b;
    }
    for (uint32_t v = 0; v < 1u << 20; v++) /* exact, then one step at a time */
        assert_true(rtt_hist_bucket(v + 1) - rtt_hist_bucket(v) <= 1);
}

static void test_minute(void **state)
{
    const int64_t m = RTT_HIST_MINUTE_US;

    (void)state;
    assert_int_equal(rtt_hist_minute(0), 0);
    assert_int_equal(rtt_hist_minute(m - 1), 0);
    assert_int_equal(rtt_hist_minute(m), m);
    assert_int_equal(rtt_hist_minute(INT64_C(1795651200000000) + 59999999),
                     INT64_C(1795651200000000));
    assert_int_equal(rtt_hist_minute(-1), -m);
    assert_int_equal(rtt_hist_minute(-m), -m);
    assert_int_equal(rtt_hist_minute(INT64_MAX), INT64_MAX - INT64_MAX % m);
    assert_int_equal(rtt_hist_minute(INT64_MIN), INT64_MIN);
    assert_true(rtt_hist_minute(INT64_MIN + m) <= INT64_MIN + m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known),
        cmocka_unit_test(test_monotonic),
        cmocka_unit_test(test_every_bucket),
        cmocka_unit_test(test_minute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
