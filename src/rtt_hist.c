/* SPDX-License-Identifier: MIT */
/* RTT histogram buckets (see rtt_hist.h). */
#include "config.h"

#include "rtt_hist.h"

/* floor(log2(v)) for v > 0 */
static unsigned top_bit(uint32_t v)
{
    return 31u - (unsigned)__builtin_clz(v);
}

uint32_t rtt_hist_bucket(uint32_t rtt_us)
{
    unsigned e, shift;

    if (rtt_us < RTT_HIST_EXACT_US)
        return rtt_us;
    /* rtt_us in [2^e, 2^(e+1)), e >= 8: keep its top 8 bits (128..255) */
    e = top_bit(rtt_us);
    shift = e - RTT_HIST_SUB_BITS;
    return (uint32_t)(shift << RTT_HIST_SUB_BITS) + (rtt_us >> shift);
}

uint32_t rtt_hist_low(uint32_t b)
{
    unsigned shift;

    if (b < RTT_HIST_EXACT_US)
        return b;
    if (b >= RTT_HIST_BUCKETS)
        return 0;
    shift = (b >> RTT_HIST_SUB_BITS) - 1; /* the inverse of rtt_hist_bucket */
    return ((b & ((1u << RTT_HIST_SUB_BITS) - 1)) | (1u << RTT_HIST_SUB_BITS)) << shift;
}

uint32_t rtt_hist_width(uint32_t b)
{
    if (b < RTT_HIST_EXACT_US)
        return 1;
    if (b >= RTT_HIST_BUCKETS)
        return 0;
    return 1u << ((b >> RTT_HIST_SUB_BITS) - 1);
}

uint32_t rtt_hist_mid(uint32_t b)
{
    uint32_t w = rtt_hist_width(b);

    return w ? rtt_hist_low(b) + (w - 1) / 2 : 0;
}

int64_t rtt_hist_minute(int64_t t_us)
{
    int64_t r = t_us % RTT_HIST_MINUTE_US;

    if (r >= 0)
        return t_us - r;
    t_us -= r; /* up to a multiple, then one minute down unless that overflows */
    return t_us >= INT64_MIN + RTT_HIST_MINUTE_US ? t_us - RTT_HIST_MINUTE_US : INT64_MIN;
}
