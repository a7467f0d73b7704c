/* SPDX-License-Identifier: MIT */
/* RTT histogram buckets, log-linear (HDR style): the one definition shared by the store, which
 * writes per-minute counts (table rtt_hist), and the history queries, which read percentiles
 * from them. tests/bench/history_db.py mirrors it in Python. */
#ifndef WSMON_SRC_RTT_HIST_H
#define WSMON_SRC_RTT_HIST_H

#include <stdint.h>

/* 2^7 = 128 sub-buckets per octave. Values below RTT_HIST_EXACT_US are their own bucket;
 * above, bucket b holds [rtt_hist_low(b), rtt_hist_low(b) + rtt_hist_width(b)), a width of at
 * most 1/128 of its low end, and rtt_hist_mid(b) is within 1/256 (0.39 %) of every value in
 * it. */
#define RTT_HIST_SUB_BITS  7
#define RTT_HIST_EXACT_US  256u
#define RTT_HIST_BUCKETS   3328u /* buckets 0..3327 cover 0..UINT32_MAX */
#define RTT_HIST_MINUTE_US INT64_C(60000000)

/* The bucket of a round trip in microseconds: monotonic, < RTT_HIST_BUCKETS. */
uint32_t rtt_hist_bucket(uint32_t rtt_us);
/* The lowest value of bucket b and its width (values low .. low + width - 1); b must be
 * < RTT_HIST_BUCKETS (larger b give 0). */
uint32_t rtt_hist_low(uint32_t b);
uint32_t rtt_hist_width(uint32_t b);
/* The value reported for a percentile that falls in bucket b: the middle of the bucket
 * (rounded down); b itself below RTT_HIST_EXACT_US. */
uint32_t rtt_hist_mid(uint32_t b);
/* The minute a sample at t_us (UTC microseconds) counts in: t_us rounded down to a multiple of
 * RTT_HIST_MINUTE_US (towards minus infinity; INT64_MIN within a minute of it). */
int64_t rtt_hist_minute(int64_t t_us);

#endif
