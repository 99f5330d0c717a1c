/* PDQ bit-compatible with Meta's reference (ThreatExchange pdq/cpp as vendored by pdqhash 0.2.8).
 *
 * Exactness: every floating-point operation is done in the reference's precision and order.
 *  - luma = (float)(R*0.299 + G*0.587 + B*0.114) evaluated in double, left to right, which is what
 *    pdqhash.compute does in numpy before it calls the C++ core;
 *  - Jarosz tent filter: twice (box along rows, then box along columns), each box being the
 *    reference's four-phase float running sum (add the entering sample, then subtract the leaving
 *    one, then divide by the window count) with windows (dim + 127) / 128;
 *  - decimation to 64x64 at (int)((i + 0.5) * dim / 64), quality from neighbour gradients, the
 *    16x64 DCT with float accumulators summed in ascending k, and the lower median (rank 128 of 256).
 * The build uses C11 ISO mode, so no multiply-add contraction changes a rounding.
 *
 * Speed without changing any rounding: the filter is streamed over strips of LANES rows. A row
 * pass runs on a strip stored interleaved (x[col * LANES + lane]) so that LANES independent
 * running sums advance together (vectorised across rows); a column pass keeps one running sum per
 * column over a ring of the last `window` rows (vectorised across columns). The second pass only
 * divides where the decimation samples, and its column pass only runs on the 64 sampled columns.
 * Scratch is O(cols * window) instead of two full-size float images.
 */
#include "pdq.h"

#include <float.h>
#include <string.h>

/* Exactness needs each float/double operation rounded to its own type (SSE2 math), not to x87
 * extended precision. */
#if defined(FLT_EVAL_METHOD) && (FLT_EVAL_METHOD == 1 || FLT_EVAL_METHOD == 2)
#error "PDQ needs FLT_EVAL_METHOD 0 for bit-exact hashes (on 32-bit x86 build with -msse2 -mfpmath=sse)"
#endif
#ifdef __FAST_MATH__
#error "PDQ must not be built with -ffast-math: reassociation and reciprocal division change the hash bits"
#endif

#define LANES 8
#define MIN_HASHABLE_DIM 5

/* The reference's 16x64 DCT matrix: (float)((double)(float)sqrt(2/64) * cos(pi/128 * (i+1) * (2j+1))).
 * Generated with photomatch._native_hash._pdq_dct_matrix() (which evaluates that expression with the
 * C library's cos) and printed as exact hexadecimal float literals; the tests compare every hash
 * against the numpy twin and pdqhash, which would expose any difference. */
static const float DCT[16][64] = {
    {
        0x1.69edfcp-3f, 0x1.690ec6p-3f, 0x1.6750e4p-3f, 0x1.64b568p-3f, 0x1.613decp-3f, 0x1.5cec98p-3f,
        0x1.57c414p-3f, 0x1.51c78cp-3f, 0x1.4afab2p-3f, 0x1.4361bap-3f, 0x1.3b015p-3f, 0x1.31dea2p-3f,
        0x1.27ff5p-3f, 0x1.1d6972p-3f, 0x1.12238ep-3f, 0x1.063498p-3f, 0x1.f347dap-4f, 0x1.d8f29ap-4f,
        0x1.bd79aap-4f, 0x1.a0edfep-4f, 0x1.83613p-4f, 0x1.64e57ap-4f, 0x1.458daap-4f, 0x1.256d12p-4f,
        0x1.049782p-4f, 0x1.c6427ap-5f, 0x1.823dc8p-5f, 0x1.3d4aep-5f, 0x1.ef2894p-6f, 0x1.628a08p-6f,
        0x1.aa21a8p-7f, 0x1.1c50e2p-8f, -0x1.1c50e2p-8f, -0x1.aa21a8p-7f, -0x1.628a08p-6f, -0x1.ef2894p-6f,
        -0x1.3d4aep-5f, -0x1.823dc8p-5f, -0x1.c6427ap-5f, -0x1.049782p-4f, -0x1.256d12p-4f, -0x1.458daap-4f,
        -0x1.64e57ap-4f, -0x1.83613p-4f, -0x1.a0edfep-4f, -0x1.bd79aap-4f, -0x1.d8f29ap-4f, -0x1.f347dap-4f,
        -0x1.063498p-3f, -0x1.12238ep-3f, -0x1.1d6972p-3f, -0x1.27ff5p-3f, -0x1.31dea2p-3f, -0x1.3b015p-3f,
        -0x1.4361bap-3f, -0x1.4afab2p-3f, -0x1.51c78cp-3f, -0x1.57c414p-3f, -0x1.5cec98p-3f, -0x1.613decp-3f,
        -0x1.64b568p-3f, -0x1.6750e4p-3f, -0x1.690ec6p-3f, -0x1.69edfcp-3f,
    },
    {
        0x1.699a42p-3f, 0x1.661ec2p-3f, 0x1.5f3056p-3f, 0x1.54e018p-3f, 0x1.474772p-3f, 0x1.3687eap-3f,
        0x1.22caccp-3f, 0x1.0c40c2p-3f, 0x1.e642b8p-4f, 0x1.af5516p-4f, 0x1.74400ap-4f, 0x1.35953cp-4f,
        0x1.e7de5ep-5f, 0x1.5fdf76p-5f, 0x1.a8fa12p-6f, 0x1.1c3af6p-7f, -0x1.1c3af6p-7f, -0x1.a8fa12p-6f,
        -0x1.5fdf76p-5f, -0x1.e7de5ep-5f, -0x1.35953cp-4f, -0x1.74400ap-4f, -0x1.af5516p-4f, -0x1.e642b8p-4f,
        -0x1.0c40c2p-3f, -0x1.22caccp-3f, -0x1.3687eap-3f, -0x1.474772p-3f, -0x1.54e018p-3f, -0x1.5f3056p-3f,
        -0x1.661ec2p-3f, -0x1.699a42p-3f, -0x1.699a42p-3f, -0x1.661ec2p-3f, -0x1.5f3056p-3f, -0x1.54e018p-3f,
        -0x1.474772p-3f, -0x1.3687eap-3f, -0x1.22caccp-3f, -0x1.0c40c2p-3f, -0x1.e642b8p-4f, -0x1.af5516p-4f,
        -0x1.74400ap-4f, -0x1.35953cp-4f, -0x1.e7de5ep-5f, -0x1.5fdf76p-5f, -0x1.a8fa12p-6f, -0x1.1c3af6p-7f,
        0x1.1c3af6p-7f, 0x1.a8fa12p-6f, 0x1.5fdf76p-5f, 0x1.e7de5ep-5f, 0x1.35953cp-4f, 0x1.74400ap-4f,
        0x1.af5516p-4f, 0x1.e642b8p-4f, 0x1.0c40c2p-3f, 0x1.22caccp-3f, 0x1.3687eap-3f, 0x1.474772p-3f,
        0x1.54e018p-3f, 0x1.5f3056p-3f, 0x1.661ec2p-3f, 0x1.699a42p-3f,
    },
    {
        0x1.690ec6p-3f, 0x1.613decp-3f, 0x1.51c78cp-3f, 0x1.3b015p-3f, 0x1.1d6972p-3f, 0x1.f347dap-4f,
        0x1.a0edfep-4f, 0x1.458daap-4f, 0x1.c6427ap-5f, 0x1.ef2894p-6f, 0x1.1c50e2p-8f, -0x1.628a08p-6f,
        -0x1.823dc8p-5f, -0x1.256d12p-4f, -0x1.83613p-4f, -0x1.d8f29ap-4f, -0x1.12238ep-3f, -0x1.31dea2p-3f,
        -0x1.4afab2p-3f, -0x1.5cec98p-3f, -0x1.6750e4p-3f, -0x1.69edfcp-3f, -0x1.64b568p-3f, -0x1.57c414p-3f,
        -0x1.4361bap-3f, -0x1.27ff5p-3f, -0x1.063498p-3f, -0x1.bd79aap-4f, -0x1.64e57ap-4f, -0x1.049782p-4f,
        -0x1.3d4aep-5f, -0x1.aa21a8p-7f, 0x1.aa21a8p-7f, 0x1.3d4aep-5f, 0x1.049782p-4f, 0x1.64e57ap-4f,
        0x1.bd79aap-4f, 0x1.063498p-3f, 0x1.27ff5p-3f, 0x1.4361bap-3f, 0x1.57c414p-3f, 0x1.64b568p-3f,
        0x1.69edfcp-3f, 0x1.6750e4p-3f, 0x1.5cec98p-3f, 0x1.4afab2p-3f, 0x1.31dea2p-3f, 0x1.12238ep-3f,
        0x1.d8f29ap-4f, 0x1.83613p-4f, 0x1.256d12p-4f, 0x1.823dc8p-5f, 0x1.628a08p-6f, -0x1.1c50e2p-8f,
        -0x1.ef2894p-6f, -0x1.c6427ap-5f, -0x1.458daap-4f, -0x1.a0edfep-4f, -0x1.f347dap-4f, -0x1.1d6972p-3f,
        -0x1.3b015p-3f, -0x1.51c78cp-3f, -0x1.613decp-3f, -0x1.690ec6p-3f,
    },
    {
        0x1.684b9cp-3f, 0x1.5a730cp-3f, 0x1.3f4a24p-3f, 0x1.17dc14p-3f, 0x1.cb598cp-4f, 0x1.5553e4p-4f,
        0x1.a4608ap-5f, 0x1.1be352p-6f, -0x1.1be352p-6f, -0x1.a4608ap-5f, -0x1.5553e4p-4f, -0x1.cb598cp-4f,
        -0x1.17dc14p-3f, -0x1.3f4a24p-3f, -0x1.5a730cp-3f, -0x1.684b9cp-3f, -0x1.684b9cp-3f, -0x1.5a730cp-3f,
        -0x1.3f4a24p-3f, -0x1.17dc14p-3f, -0x1.cb598cp-4f, -0x1.5553e4p-4f, -0x1.a4608ap-5f, -0x1.1be352p-6f,
        0x1.1be352p-6f, 0x1.a4608ap-5f, 0x1.5553e4p-4f, 0x1.cb598cp-4f, 0x1.17dc14p-3f, 0x1.3f4a24p-3f,
        0x1.5a730cp-3f, 0x1.684b9cp-3f, 0x1.684b9cp-3f, 0x1.5a730cp-3f, 0x1.3f4a24p-3f, 0x1.17dc14p-3f,
        0x1.cb598cp-4f, 0x1.5553e4p-4f, 0x1.a4608ap-5f, 0x1.1be352p-6f, -0x1.1be352p-6f, -0x1.a4608ap-5f,
        -0x1.5553e4p-4f, -0x1.cb598cp-4f, -0x1.17dc14p-3f, -0x1.3f4a24p-3f, -0x1.5a730cp-3f, -0x1.684b9cp-3f,
        -0x1.684b9cp-3f, -0x1.5a730cp-3f, -0x1.3f4a24p-3f, -0x1.17dc14p-3f, -0x1.cb598cp-4f, -0x1.5553e4p-4f,
        -0x1.a4608ap-5f, -0x1.1be352p-6f, 0x1.1be352p-6f, 0x1.a4608ap-5f, 0x1.5553e4p-4f, 0x1.cb598cp-4f,
        0x1.17dc14p-3f, 0x1.3f4a24p-3f, 0x1.5a730cp-3f, 0x1.684b9cp-3f,
    },
    {
        0x1.6750e4p-3f, 0x1.51c78cp-3f, 0x1.27ff5p-3f, 0x1.d8f29ap-4f, 0x1.458daap-4f, 0x1.3d4aep-5f,
        -0x1.1c50e2p-8f, -0x1.823dc8p-5f, -0x1.64e57ap-4f, -0x1.f347dap-4f, -0x1.31dea2p-3f, -0x1.57c414p-3f,
        -0x1.690ec6p-3f, -0x1.64b568p-3f, -0x1.4afab2p-3f, -0x1.1d6972p-3f, -0x1.bd79aap-4f, -0x1.256d12p-4f,
        -0x1.ef2894p-6f, 0x1.aa21a8p-7f, 0x1.c6427ap-5f, 0x1.83613p-4f, 0x1.063498p-3f, 0x1.3b015p-3f,
        0x1.5cec98p-3f, 0x1.69edfcp-3f, 0x1.613decp-3f, 0x1.4361bap-3f, 0x1.12238ep-3f, 0x1.a0edfep-4f,
        0x1.049782p-4f, 0x1.628a08p-6f, -0x1.628a08p-6f, -0x1.049782p-4f, -0x1.a0edfep-4f, -0x1.12238ep-3f,
        -0x1.4361bap-3f, -0x1.613decp-3f, -0x1.69edfcp-3f, -0x1.5cec98p-3f, -0x1.3b015p-3f, -0x1.063498p-3f,
        -0x1.83613p-4f, -0x1.c6427ap-5f, -0x1.aa21a8p-7f, 0x1.ef2894p-6f, 0x1.256d12p-4f, 0x1.bd79aap-4f,
        0x1.1d6972p-3f, 0x1.4afab2p-3f, 0x1.64b568p-3f, 0x1.690ec6p-3f, 0x1.57c414p-3f, 0x1.31dea2p-3f,
        0x1.f347dap-4f, 0x1.64e57ap-4f, 0x1.823dc8p-5f, 0x1.1c50e2p-8f, -0x1.3d4aep-5f, -0x1.458daap-4f,
        -0x1.d8f29ap-4f, -0x1.27ff5p-3f, -0x1.51c78cp-3f, -0x1.6750e4p-3f,
    },
    {
        0x1.661ec2p-3f, 0x1.474772p-3f, 0x1.0c40c2p-3f, 0x1.74400ap-4f, 0x1.5fdf76p-5f, -0x1.1c3af6p-7f,
        -0x1.e7de5ep-5f, -0x1.af5516p-4f, -0x1.22caccp-3f, -0x1.54e018p-3f, -0x1.699a42p-3f, -0x1.5f3056p-3f,
        -0x1.3687eap-3f, -0x1.e642b8p-4f, -0x1.35953cp-4f, -0x1.a8fa12p-6f, 0x1.a8fa12p-6f, 0x1.35953cp-4f,
        0x1.e642b8p-4f, 0x1.3687eap-3f, 0x1.5f3056p-3f, 0x1.699a42p-3f, 0x1.54e018p-3f, 0x1.22caccp-3f,
        0x1.af5516p-4f, 0x1.e7de5ep-5f, 0x1.1c3af6p-7f, -0x1.5fdf76p-5f, -0x1.74400ap-4f, -0x1.0c40c2p-3f,
        -0x1.474772p-3f, -0x1.661ec2p-3f, -0x1.661ec2p-3f, -0x1.474772p-3f, -0x1.0c40c2p-3f, -0x1.74400ap-4f,
        -0x1.5fdf76p-5f, 0x1.1c3af6p-7f, 0x1.e7de5ep-5f, 0x1.af5516p-4f, 0x1.22caccp-3f, 0x1.54e018p-3f,
        0x1.699a42p-3f, 0x1.5f3056p-3f, 0x1.3687eap-3f, 0x1.e642b8p-4f, 0x1.35953cp-4f, 0x1.a8fa12p-6f,
        -0x1.a8fa12p-6f, -0x1.35953cp-4f, -0x1.e642b8p-4f, -0x1.3687eap-3f, -0x1.5f3056p-3f, -0x1.699a42p-3f,
        -0x1.54e018p-3f, -0x1.22caccp-3f, -0x1.af5516p-4f, -0x1.e7de5ep-5f, -0x1.1c3af6p-7f, 0x1.5fdf76p-5f,
        0x1.74400ap-4f, 0x1.0c40c2p-3f, 0x1.474772p-3f, 0x1.661ec2p-3f,
    },
    {
        0x1.64b568p-3f, 0x1.3b015p-3f, 0x1.d8f29ap-4f, 0x1.049782p-4f, 0x1.1c50e2p-8f, -0x1.c6427ap-5f,
        -0x1.bd79aap-4f, -0x1.31dea2p-3f, -0x1.613decp-3f, -0x1.6750e4p-3f, -0x1.4361bap-3f, -0x1.f347dap-4f,
        -0x1.256d12p-4f, -0x1.aa21a8p-7f, 0x1.823dc8p-5f, 0x1.a0edfep-4f, 0x1.27ff5p-3f, 0x1.5cec98p-3f,
        0x1.690ec6p-3f, 0x1.4afab2p-3f, 0x1.063498p-3f, 0x1.458daap-4f, 0x1.628a08p-6f, -0x1.3d4aep-5f,
        -0x1.83613p-4f, -0x1.1d6972p-3f, -0x1.57c414p-3f, -0x1.69edfcp-3f, -0x1.51c78cp-3f, -0x1.12238ep-3f,
        -0x1.64e57ap-4f, -0x1.ef2894p-6f, 0x1.ef2894p-6f, 0x1.64e57ap-4f, 0x1.12238ep-3f, 0x1.51c78cp-3f,
        0x1.69edfcp-3f, 0x1.57c414p-3f, 0x1.1d6972p-3f, 0x1.83613p-4f, 0x1.3d4aep-5f, -0x1.628a08p-6f,
        -0x1.458daap-4f, -0x1.063498p-3f, -0x1.4afab2p-3f, -0x1.690ec6p-3f, -0x1.5cec98p-3f, -0x1.27ff5p-3f,
        -0x1.a0edfep-4f, -0x1.823dc8p-5f, 0x1.aa21a8p-7f, 0x1.256d12p-4f, 0x1.f347dap-4f, 0x1.4361bap-3f,
        0x1.6750e4p-3f, 0x1.613decp-3f, 0x1.31dea2p-3f, 0x1.bd79aap-4f, 0x1.c6427ap-5f, -0x1.1c50e2p-8f,
        -0x1.049782p-4f, -0x1.d8f29ap-4f, -0x1.3b015p-3f, -0x1.64b568p-3f,
    },
    {
        0x1.63150ap-3f, 0x1.2d062ep-3f, 0x1.92469cp-4f, 0x1.1a855ep-5f, -0x1.1a855ep-5f, -0x1.92469cp-4f,
        -0x1.2d062ep-3f, -0x1.63150ap-3f, -0x1.63150ap-3f, -0x1.2d062ep-3f, -0x1.92469cp-4f, -0x1.1a855ep-5f,
        0x1.1a855ep-5f, 0x1.92469cp-4f, 0x1.2d062ep-3f, 0x1.63150ap-3f, 0x1.63150ap-3f, 0x1.2d062ep-3f,
        0x1.92469cp-4f, 0x1.1a855ep-5f, -0x1.1a855ep-5f, -0x1.92469cp-4f, -0x1.2d062ep-3f, -0x1.63150ap-3f,
        -0x1.63150ap-3f, -0x1.2d062ep-3f, -0x1.92469cp-4f, -0x1.1a855ep-5f, 0x1.1a855ep-5f, 0x1.92469cp-4f,
        0x1.2d062ep-3f, 0x1.63150ap-3f, 0x1.63150ap-3f, 0x1.2d062ep-3f, 0x1.92469cp-4f, 0x1.1a855ep-5f,
        -0x1.1a855ep-5f, -0x1.92469cp-4f, -0x1.2d062ep-3f, -0x1.63150ap-3f, -0x1.63150ap-3f, -0x1.2d062ep-3f,
        -0x1.92469cp-4f, -0x1.1a855ep-5f, 0x1.1a855ep-5f, 0x1.92469cp-4f, 0x1.2d062ep-3f, 0x1.63150ap-3f,
        0x1.63150ap-3f, 0x1.2d062ep-3f, 0x1.92469cp-4f, 0x1.1a855ep-5f, -0x1.1a855ep-5f, -0x1.92469cp-4f,
        -0x1.2d062ep-3f, -0x1.63150ap-3f, -0x1.63150ap-3f, -0x1.2d062ep-3f, -0x1.92469cp-4f, -0x1.1a855ep-5f,
        0x1.1a855ep-5f, 0x1.92469cp-4f, 0x1.2d062ep-3f, 0x1.63150ap-3f,
    },
    {
        0x1.613decp-3f, 0x1.1d6972p-3f, 0x1.458daap-4f, 0x1.1c50e2p-8f, -0x1.256d12p-4f, -0x1.12238ep-3f,
        -0x1.5cec98p-3f, -0x1.64b568p-3f, -0x1.27ff5p-3f, -0x1.64e57ap-4f, -0x1.aa21a8p-7f, 0x1.049782p-4f,
        0x1.063498p-3f, 0x1.57c414p-3f, 0x1.6750e4p-3f, 0x1.31dea2p-3f, 0x1.83613p-4f, 0x1.628a08p-6f,
        -0x1.c6427ap-5f, -0x1.f347dap-4f, -0x1.51c78cp-3f, -0x1.690ec6p-3f, -0x1.3b015p-3f, -0x1.a0edfep-4f,
        -0x1.ef2894p-6f, 0x1.823dc8p-5f, 0x1.d8f29ap-4f, 0x1.4afab2p-3f, 0x1.69edfcp-3f, 0x1.4361bap-3f,
        0x1.bd79aap-4f, 0x1.3d4aep-5f, -0x1.3d4aep-5f, -0x1.bd79aap-4f, -0x1.4361bap-3f, -0x1.69edfcp-3f,
        -0x1.4afab2p-3f, -0x1.d8f29ap-4f, -0x1.823dc8p-5f, 0x1.ef2894p-6f, 0x1.a0edfep-4f, 0x1.3b015p-3f,
        0x1.690ec6p-3f, 0x1.51c78cp-3f, 0x1.f347dap-4f, 0x1.c6427ap-5f, -0x1.628a08p-6f, -0x1.83613p-4f,
        -0x1.31dea2p-3f, -0x1.6750e4p-3f, -0x1.57c414p-3f, -0x1.063498p-3f, -0x1.049782p-4f, 0x1.aa21a8p-7f,
        0x1.64e57ap-4f, 0x1.27ff5p-3f, 0x1.64b568p-3f, 0x1.5cec98p-3f, 0x1.12238ep-3f, 0x1.256d12p-4f,
        -0x1.1c50e2p-8f, -0x1.458daap-4f, -0x1.1d6972p-3f, -0x1.613decp-3f,
    },
    {
        0x1.5f3056p-3f, 0x1.0c40c2p-3f, 0x1.e7de5ep-5f, -0x1.a8fa12p-6f, -0x1.af5516p-4f, -0x1.474772p-3f,
        -0x1.699a42p-3f, -0x1.3687eap-3f, -0x1.74400ap-4f, -0x1.1c3af6p-7f, 0x1.35953cp-4f, 0x1.22caccp-3f,
        0x1.661ec2p-3f, 0x1.54e018p-3f, 0x1.e642b8p-4f, 0x1.5fdf76p-5f, -0x1.5fdf76p-5f, -0x1.e642b8p-4f,
        -0x1.54e018p-3f, -0x1.661ec2p-3f, -0x1.22caccp-3f, -0x1.35953cp-4f, 0x1.1c3af6p-7f, 0x1.74400ap-4f,
        0x1.3687eap-3f, 0x1.699a42p-3f, 0x1.474772p-3f, 0x1.af5516p-4f, 0x1.a8fa12p-6f, -0x1.e7de5ep-5f,
        -0x1.0c40c2p-3f, -0x1.5f3056p-3f, -0x1.5f3056p-3f, -0x1.0c40c2p-3f, -0x1.e7de5ep-5f, 0x1.a8fa12p-6f,
        0x1.af5516p-4f, 0x1.474772p-3f, 0x1.699a42p-3f, 0x1.3687eap-3f, 0x1.74400ap-4f, 0x1.1c3af6p-7f,
        -0x1.35953cp-4f, -0x1.22caccp-3f, -0x1.661ec2p-3f, -0x1.54e018p-3f, -0x1.e642b8p-4f, -0x1.5fdf76p-5f,
        0x1.5fdf76p-5f, 0x1.e642b8p-4f, 0x1.54e018p-3f, 0x1.661ec2p-3f, 0x1.22caccp-3f, 0x1.35953cp-4f,
        -0x1.1c3af6p-7f, -0x1.74400ap-4f, -0x1.3687eap-3f, -0x1.699a42p-3f, -0x1.474772p-3f, -0x1.af5516p-4f,
        -0x1.a8fa12p-6f, 0x1.e7de5ep-5f, 0x1.0c40c2p-3f, 0x1.5f3056p-3f,
    },
    {
        0x1.5cec98p-3f, 0x1.f347dap-4f, 0x1.3d4aep-5f, -0x1.c6427ap-5f, -0x1.12238ep-3f, -0x1.64b568p-3f,
        -0x1.51c78cp-3f, -0x1.bd79aap-4f, -0x1.628a08p-6f, 0x1.256d12p-4f, 0x1.27ff5p-3f, 0x1.690ec6p-3f,
        0x1.4361bap-3f, 0x1.83613p-4f, 0x1.1c50e2p-8f, -0x1.64e57ap-4f, -0x1.3b015p-3f, -0x1.69edfcp-3f,
        -0x1.31dea2p-3f, -0x1.458daap-4f, 0x1.aa21a8p-7f, 0x1.a0edfep-4f, 0x1.4afab2p-3f, 0x1.6750e4p-3f,
        0x1.1d6972p-3f, 0x1.049782p-4f, -0x1.ef2894p-6f, -0x1.d8f29ap-4f, -0x1.57c414p-3f, -0x1.613decp-3f,
        -0x1.063498p-3f, -0x1.823dc8p-5f, 0x1.823dc8p-5f, 0x1.063498p-3f, 0x1.613decp-3f, 0x1.57c414p-3f,
        0x1.d8f29ap-4f, 0x1.ef2894p-6f, -0x1.049782p-4f, -0x1.1d6972p-3f, -0x1.6750e4p-3f, -0x1.4afab2p-3f,
        -0x1.a0edfep-4f, -0x1.aa21a8p-7f, 0x1.458daap-4f, 0x1.31dea2p-3f, 0x1.69edfcp-3f, 0x1.3b015p-3f,
        0x1.64e57ap-4f, -0x1.1c50e2p-8f, -0x1.83613p-4f, -0x1.4361bap-3f, -0x1.690ec6p-3f, -0x1.27ff5p-3f,
        -0x1.256d12p-4f, 0x1.628a08p-6f, 0x1.bd79aap-4f, 0x1.51c78cp-3f, 0x1.64b568p-3f, 0x1.12238ep-3f,
        0x1.c6427ap-5f, -0x1.3d4aep-5f, -0x1.f347dap-4f, -0x1.5cec98p-3f,
    },
    {
        0x1.5a730cp-3f, 0x1.cb598cp-4f, 0x1.1be352p-6f, -0x1.5553e4p-4f, -0x1.3f4a24p-3f, -0x1.684b9cp-3f,
        -0x1.17dc14p-3f, -0x1.a4608ap-5f, 0x1.a4608ap-5f, 0x1.17dc14p-3f, 0x1.684b9cp-3f, 0x1.3f4a24p-3f,
        0x1.5553e4p-4f, -0x1.1be352p-6f, -0x1.cb598cp-4f, -0x1.5a730cp-3f, -0x1.5a730cp-3f, -0x1.cb598cp-4f,
        -0x1.1be352p-6f, 0x1.5553e4p-4f, 0x1.3f4a24p-3f, 0x1.684b9cp-3f, 0x1.17dc14p-3f, 0x1.a4608ap-5f,
        -0x1.a4608ap-5f, -0x1.17dc14p-3f, -0x1.684b9cp-3f, -0x1.3f4a24p-3f, -0x1.5553e4p-4f, 0x1.1be352p-6f,
        0x1.cb598cp-4f, 0x1.5a730cp-3f, 0x1.5a730cp-3f, 0x1.cb598cp-4f, 0x1.1be352p-6f, -0x1.5553e4p-4f,
        -0x1.3f4a24p-3f, -0x1.684b9cp-3f, -0x1.17dc14p-3f, -0x1.a4608ap-5f, 0x1.a4608ap-5f, 0x1.17dc14p-3f,
        0x1.684b9cp-3f, 0x1.3f4a24p-3f, 0x1.5553e4p-4f, -0x1.1be352p-6f, -0x1.cb598cp-4f, -0x1.5a730cp-3f,
        -0x1.5a730cp-3f, -0x1.cb598cp-4f, -0x1.1be352p-6f, 0x1.5553e4p-4f, 0x1.3f4a24p-3f, 0x1.684b9cp-3f,
        0x1.17dc14p-3f, 0x1.a4608ap-5f, -0x1.a4608ap-5f, -0x1.17dc14p-3f, -0x1.684b9cp-3f, -0x1.3f4a24p-3f,
        -0x1.5553e4p-4f, 0x1.1be352p-6f, 0x1.cb598cp-4f, 0x1.5a730cp-3f,
    },
    {
        0x1.57c414p-3f, 0x1.a0edfep-4f, -0x1.1c50e2p-8f, -0x1.bd79aap-4f, -0x1.5cec98p-3f, -0x1.51c78cp-3f,
        -0x1.83613p-4f, 0x1.aa21a8p-7f, 0x1.d8f29ap-4f, 0x1.613decp-3f, 0x1.4afab2p-3f, 0x1.64e57ap-4f,
        -0x1.628a08p-6f, -0x1.f347dap-4f, -0x1.64b568p-3f, -0x1.4361bap-3f, -0x1.458daap-4f, 0x1.ef2894p-6f,
        0x1.063498p-3f, 0x1.6750e4p-3f, 0x1.3b015p-3f, 0x1.256d12p-4f, -0x1.3d4aep-5f, -0x1.12238ep-3f,
        -0x1.690ec6p-3f, -0x1.31dea2p-3f, -0x1.049782p-4f, 0x1.823dc8p-5f, 0x1.1d6972p-3f, 0x1.69edfcp-3f,
        0x1.27ff5p-3f, 0x1.c6427ap-5f, -0x1.c6427ap-5f, -0x1.27ff5p-3f, -0x1.69edfcp-3f, -0x1.1d6972p-3f,
        -0x1.823dc8p-5f, 0x1.049782p-4f, 0x1.31dea2p-3f, 0x1.690ec6p-3f, 0x1.12238ep-3f, 0x1.3d4aep-5f,
        -0x1.256d12p-4f, -0x1.3b015p-3f, -0x1.6750e4p-3f, -0x1.063498p-3f, -0x1.ef2894p-6f, 0x1.458daap-4f,
        0x1.4361bap-3f, 0x1.64b568p-3f, 0x1.f347dap-4f, 0x1.628a08p-6f, -0x1.64e57ap-4f, -0x1.4afab2p-3f,
        -0x1.613decp-3f, -0x1.d8f29ap-4f, -0x1.aa21a8p-7f, 0x1.83613p-4f, 0x1.51c78cp-3f, 0x1.5cec98p-3f,
        0x1.bd79aap-4f, 0x1.1c50e2p-8f, -0x1.a0edfep-4f, -0x1.57c414p-3f,
    },
    {
        0x1.54e018p-3f, 0x1.74400ap-4f, -0x1.a8fa12p-6f, -0x1.0c40c2p-3f, -0x1.699a42p-3f, -0x1.22caccp-3f,
        -0x1.5fdf76p-5f, 0x1.35953cp-4f, 0x1.474772p-3f, 0x1.5f3056p-3f, 0x1.af5516p-4f, -0x1.1c3af6p-7f,
        -0x1.e642b8p-4f, -0x1.661ec2p-3f, -0x1.3687eap-3f, -0x1.e7de5ep-5f, 0x1.e7de5ep-5f, 0x1.3687eap-3f,
        0x1.661ec2p-3f, 0x1.e642b8p-4f, 0x1.1c3af6p-7f, -0x1.af5516p-4f, -0x1.5f3056p-3f, -0x1.474772p-3f,
        -0x1.35953cp-4f, 0x1.5fdf76p-5f, 0x1.22caccp-3f, 0x1.699a42p-3f, 0x1.0c40c2p-3f, 0x1.a8fa12p-6f,
        -0x1.74400ap-4f, -0x1.54e018p-3f, -0x1.54e018p-3f, -0x1.74400ap-4f, 0x1.a8fa12p-6f, 0x1.0c40c2p-3f,
        0x1.699a42p-3f, 0x1.22caccp-3f, 0x1.5fdf76p-5f, -0x1.35953cp-4f, -0x1.474772p-3f, -0x1.5f3056p-3f,
        -0x1.af5516p-4f, 0x1.1c3af6p-7f, 0x1.e642b8p-4f, 0x1.661ec2p-3f, 0x1.3687eap-3f, 0x1.e7de5ep-5f,
        -0x1.e7de5ep-5f, -0x1.3687eap-3f, -0x1.661ec2p-3f, -0x1.e642b8p-4f, -0x1.1c3af6p-7f, 0x1.af5516p-4f,
        0x1.5f3056p-3f, 0x1.474772p-3f, 0x1.35953cp-4f, -0x1.5fdf76p-5f, -0x1.22caccp-3f, -0x1.699a42p-3f,
        -0x1.0c40c2p-3f, -0x1.a8fa12p-6f, 0x1.74400ap-4f, 0x1.54e018p-3f,
    },
    {
        0x1.51c78cp-3f, 0x1.458daap-4f, -0x1.823dc8p-5f, -0x1.31dea2p-3f, -0x1.64b568p-3f, -0x1.bd79aap-4f,
        0x1.aa21a8p-7f, 0x1.063498p-3f, 0x1.69edfcp-3f, 0x1.12238ep-3f, 0x1.628a08p-6f, -0x1.a0edfep-4f,
        -0x1.613decp-3f, -0x1.3b015p-3f, -0x1.c6427ap-5f, 0x1.256d12p-4f, 0x1.4afab2p-3f, 0x1.57c414p-3f,
        0x1.64e57ap-4f, -0x1.3d4aep-5f, -0x1.27ff5p-3f, -0x1.6750e4p-3f, -0x1.d8f29ap-4f, 0x1.1c50e2p-8f,
        0x1.f347dap-4f, 0x1.690ec6p-3f, 0x1.1d6972p-3f, 0x1.ef2894p-6f, -0x1.83613p-4f, -0x1.5cec98p-3f,
        -0x1.4361bap-3f, -0x1.049782p-4f, 0x1.049782p-4f, 0x1.4361bap-3f, 0x1.5cec98p-3f, 0x1.83613p-4f,
        -0x1.ef2894p-6f, -0x1.1d6972p-3f, -0x1.690ec6p-3f, -0x1.f347dap-4f, -0x1.1c50e2p-8f, 0x1.d8f29ap-4f,
        0x1.6750e4p-3f, 0x1.27ff5p-3f, 0x1.3d4aep-5f, -0x1.64e57ap-4f, -0x1.57c414p-3f, -0x1.4afab2p-3f,
        -0x1.256d12p-4f, 0x1.c6427ap-5f, 0x1.3b015p-3f, 0x1.613decp-3f, 0x1.a0edfep-4f, -0x1.628a08p-6f,
        -0x1.12238ep-3f, -0x1.69edfcp-3f, -0x1.063498p-3f, -0x1.aa21a8p-7f, 0x1.bd79aap-4f, 0x1.64b568p-3f,
        0x1.31dea2p-3f, 0x1.823dc8p-5f, -0x1.458daap-4f, -0x1.51c78cp-3f,
    },
    {
        0x1.4e7ae8p-3f, 0x1.1517a8p-4f, -0x1.1517a8p-4f, -0x1.4e7ae8p-3f, -0x1.4e7ae8p-3f, -0x1.1517a8p-4f,
        0x1.1517a8p-4f, 0x1.4e7ae8p-3f, 0x1.4e7ae8p-3f, 0x1.1517a8p-4f, -0x1.1517a8p-4f, -0x1.4e7ae8p-3f,
        -0x1.4e7ae8p-3f, -0x1.1517a8p-4f, 0x1.1517a8p-4f, 0x1.4e7ae8p-3f, 0x1.4e7ae8p-3f, 0x1.1517a8p-4f,
        -0x1.1517a8p-4f, -0x1.4e7ae8p-3f, -0x1.4e7ae8p-3f, -0x1.1517a8p-4f, 0x1.1517a8p-4f, 0x1.4e7ae8p-3f,
        0x1.4e7ae8p-3f, 0x1.1517a8p-4f, -0x1.1517a8p-4f, -0x1.4e7ae8p-3f, -0x1.4e7ae8p-3f, -0x1.1517a8p-4f,
        0x1.1517a8p-4f, 0x1.4e7ae8p-3f, 0x1.4e7ae8p-3f, 0x1.1517a8p-4f, -0x1.1517a8p-4f, -0x1.4e7ae8p-3f,
        -0x1.4e7ae8p-3f, -0x1.1517a8p-4f, 0x1.1517a8p-4f, 0x1.4e7ae8p-3f, 0x1.4e7ae8p-3f, 0x1.1517a8p-4f,
        -0x1.1517a8p-4f, -0x1.4e7ae8p-3f, -0x1.4e7ae8p-3f, -0x1.1517a8p-4f, 0x1.1517a8p-4f, 0x1.4e7ae8p-3f,
        0x1.4e7ae8p-3f, 0x1.1517a8p-4f, -0x1.1517a8p-4f, -0x1.4e7ae8p-3f, -0x1.4e7ae8p-3f, -0x1.1517a8p-4f,
        0x1.1517a8p-4f, 0x1.4e7ae8p-3f, 0x1.4e7ae8p-3f, 0x1.1517a8p-4f, -0x1.1517a8p-4f, -0x1.4e7ae8p-3f,
        -0x1.4e7ae8p-3f, -0x1.1517a8p-4f, 0x1.1517a8p-4f, 0x1.4e7ae8p-3f,
    },
};

/* ---------------------------------------------------------------- box filter pieces */

/* PM_PDQ_PORTABLE builds the plain C paths only (used to check that they agree with the SIMD ones). */
#if !defined(PM_PDQ_PORTABLE) && (defined(__SSE__) || defined(_M_X64))
#include <xmmintrin.h>
#define PM_HAVE_SSE 1
#endif
/* GCC and Clang on x86-64 can build an AVX2 variant of a function and pick it at run time. */
#if !defined(PM_PDQ_PORTABLE) && defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define PM_X86_DISPATCH 1
#endif

/* Divisor of the box filter at output position oi (the reference's current_window_size):
 * growing in phase 2, the full window in phase 3, shrinking in phase 4. */
static size_t box_count(size_t oi, size_t len, size_t window) {
    size_t half = (window + 2) / 2;
    size_t c = half + oi;
    if (c > window) c = window;
    size_t tail = window + len - half - oi; /* >= 1 for oi < len */
    return c < tail ? c : tail;
}

/* The box filter along `len` positions for LANES interleaved rows (x[pos * LANES + lane]),
 * the reference's four phases with its operation order. y receives the average at each
 * position when `divide`, else the running sum before the division (the second row pass
 * divides only where the decimation samples). */
#ifdef PM_HAVE_SSE
/* The LANES = 8 running sums live in two SSE registers; lane-wise this is the scalar code. */
typedef struct {
    __m128 a, b;
} lanes8;

static inline lanes8 ld8(const float *p) { return (lanes8){_mm_loadu_ps(p), _mm_loadu_ps(p + 4)}; }
static inline lanes8 add8(lanes8 x, lanes8 y) { return (lanes8){_mm_add_ps(x.a, y.a), _mm_add_ps(x.b, y.b)}; }
static inline lanes8 sub8(lanes8 x, lanes8 y) { return (lanes8){_mm_sub_ps(x.a, y.a), _mm_sub_ps(x.b, y.b)}; }
static inline void st8(float *p, lanes8 x, int divide, float c) {
    if (divide) {
        __m128 d = _mm_set1_ps(c);
        x.a = _mm_div_ps(x.a, d);
        x.b = _mm_div_ps(x.b, d);
    }
    _mm_storeu_ps(p, x.a);
    _mm_storeu_ps(p + 4, x.b);
}

static inline void row_box(const float *restrict x, float *restrict y, size_t len, size_t window, int divide) {
    size_t half = (window + 2) / 2;
    lanes8 acc = {_mm_setzero_ps(), _mm_setzero_ps()};
    size_t ri = 0, li = 0, oi = 0;
    for (; ri < half - 1; ri++) acc = add8(acc, ld8(x + ri * LANES)); /* phase 1 */
    for (; ri < window; ri++, oi++) {                                 /* phase 2 */
        acc = add8(acc, ld8(x + ri * LANES));
        st8(y + oi * LANES, acc, divide, (float)(ri + 1));
    }
    for (; ri < len; ri++, li++, oi++) { /* phase 3: add, then subtract */
        acc = sub8(add8(acc, ld8(x + ri * LANES)), ld8(x + li * LANES));
        st8(y + oi * LANES, acc, divide, (float)window);
    }
    for (size_t c = window - 1; oi < len; li++, oi++, c--) { /* phase 4 */
        acc = sub8(acc, ld8(x + li * LANES));
        st8(y + oi * LANES, acc, divide, (float)c);
    }
}
#else
static inline void row_box(const float *restrict x, float *restrict y, size_t len, size_t window, int divide) {
    size_t half = (window + 2) / 2;
    float acc[LANES] = {0};
    size_t ri = 0, li = 0, oi = 0;
    for (; ri < half - 1; ri++) /* phase 1: accumulate, no output */
        for (int l = 0; l < LANES; l++) acc[l] += x[ri * LANES + l];
    for (; ri < window; ri++, oi++) { /* phase 2: add and write, growing window */
        float c = (float)(ri + 1);
        for (int l = 0; l < LANES; l++) {
            acc[l] += x[ri * LANES + l];
            y[oi * LANES + l] = divide ? acc[l] / c : acc[l];
        }
    }
    float cw = (float)window;
    for (; ri < len; ri++, li++, oi++) /* phase 3: add, then subtract, then write */
        for (int l = 0; l < LANES; l++) {
            acc[l] += x[ri * LANES + l];
            acc[l] -= x[li * LANES + l];
            y[oi * LANES + l] = divide ? acc[l] / cw : acc[l];
        }
    for (size_t c = window - 1; oi < len; li++, oi++, c--) /* phase 4: subtract and write */
        for (int l = 0; l < LANES; l++) {
            acc[l] -= x[li * LANES + l];
            y[oi * LANES + l] = divide ? acc[l] / (float)c : acc[l];
        }
}
#endif

/* Interleaved tile (tile[col * LANES + lane]) to nl row-major rows, and back. The interleaved
 * layout lets LANES running sums along rows advance together; these transposes move whole 4x4
 * blocks through registers. Lanes past nl are zero-filled in the tile. */
static void tile_to_rows(const float *restrict tile, size_t cols, size_t nl, float *const rows[LANES]) {
    size_t j = 0;
#ifdef PM_HAVE_SSE
    if (nl == LANES)
        for (; j + 4 <= cols; j += 4)
            for (int g = 0; g < LANES; g += 4) {
                __m128 a = _mm_loadu_ps(tile + (j + 0) * LANES + g);
                __m128 b = _mm_loadu_ps(tile + (j + 1) * LANES + g);
                __m128 c = _mm_loadu_ps(tile + (j + 2) * LANES + g);
                __m128 d = _mm_loadu_ps(tile + (j + 3) * LANES + g);
                _MM_TRANSPOSE4_PS(a, b, c, d);
                _mm_storeu_ps(rows[g + 0] + j, a);
                _mm_storeu_ps(rows[g + 1] + j, b);
                _mm_storeu_ps(rows[g + 2] + j, c);
                _mm_storeu_ps(rows[g + 3] + j, d);
            }
#endif
    for (; j < cols; j++)
        for (size_t l = 0; l < nl; l++) rows[l][j] = tile[j * LANES + l];
}

static void rows_to_tile(const float *restrict src, size_t cols, size_t nl, float *restrict tile) {
    size_t j = 0;
#ifdef PM_HAVE_SSE
    if (nl == LANES)
        for (; j + 4 <= cols; j += 4)
            for (int g = 0; g < LANES; g += 4) {
                __m128 a = _mm_loadu_ps(src + (size_t)(g + 0) * cols + j);
                __m128 b = _mm_loadu_ps(src + (size_t)(g + 1) * cols + j);
                __m128 c = _mm_loadu_ps(src + (size_t)(g + 2) * cols + j);
                __m128 d = _mm_loadu_ps(src + (size_t)(g + 3) * cols + j);
                _MM_TRANSPOSE4_PS(a, b, c, d);
                _mm_storeu_ps(tile + (j + 0) * LANES + g, a);
                _mm_storeu_ps(tile + (j + 1) * LANES + g, b);
                _mm_storeu_ps(tile + (j + 2) * LANES + g, c);
                _mm_storeu_ps(tile + (j + 3) * LANES + g, d);
            }
#endif
    for (; j < cols; j++)
        for (size_t l = 0; l < LANES; l++) tile[j * LANES + l] = l < nl ? src[l * cols + j] : 0.0f;
}

/* A box filter along columns fed one row at a time: one running sum per column, the input
 * rows kept in a ring of `cap` rows (at least window + 1 plus any rows written ahead). */
typedef struct {
    size_t len, window, half, width, cap;
    size_t nin, nout;
    float *acc;
    float *ring;
} colbox;

static void colbox_init(colbox *b, size_t len, size_t window, size_t width, size_t cap, float *acc, float *ring) {
    b->len = len;
    b->window = window;
    b->half = (window + 2) / 2;
    b->width = width;
    b->cap = cap;
    b->nin = b->nout = 0;
    b->acc = acc;
    b->ring = ring;
    memset(acc, 0, width * sizeof *acc);
}

static float *colbox_slot(const colbox *b, size_t row) { return b->ring + (row % b->cap) * b->width; }

/* Consumes input row b->nin (already written to its slot). When that completes an output row,
 * writes it to out and returns 1. */
static int colbox_push(colbox *b, float *restrict out) {
    size_t ri = b->nin++;
    const float *restrict in = colbox_slot(b, ri);
    float *restrict acc = b->acc;
    size_t w = b->width;
    if (ri < b->window) { /* phases 1 and 2 */
        for (size_t j = 0; j < w; j++) acc[j] += in[j];
        if (ri + 1 < b->half) return 0;
        float c = (float)(ri + 1);
        for (size_t j = 0; j < w; j++) out[j] = acc[j] / c;
    } else { /* phase 3 */
        const float *restrict old = colbox_slot(b, ri - b->window);
        float c = (float)b->window;
        for (size_t j = 0; j < w; j++) {
            acc[j] += in[j];
            acc[j] -= old[j];
            out[j] = acc[j] / c;
        }
    }
    b->nout++;
    return 1;
}

/* Phase 4, after the last input: returns 0 when every output row has been written. */
static int colbox_flush(colbox *b, float *restrict out) {
    if (b->nout >= b->len) return 0;
    size_t k = b->nout - (b->len - b->half + 1); /* 0 .. half - 2 */
    const float *restrict old = colbox_slot(b, b->len - b->window + k);
    float *restrict acc = b->acc;
    float c = (float)(b->window - (k + 1));
    for (size_t j = 0; j < b->width; j++) {
        acc[j] -= old[j];
        out[j] = acc[j] / c;
    }
    b->nout++;
    return 1;
}

/* ---------------------------------------------------------------- the pipeline */

/* luma = (double)R * 0.299 + (double)G * 0.587 + (double)B * 0.114, left to right, rounded once
 * to float: pdqhash.compute's numpy expression. The products come from exact per-channel tables
 * (the same doubles as computing them), which leaves two additions per pixel. */
typedef struct {
    double r[256], g[256], b[256];
} luma_tables;

static void luma_tables_init(luma_tables *t) {
    for (int v = 0; v < 256; v++) {
        t->r[v] = (double)v * 0.299;
        t->g[v] = (double)v * 0.587;
        t->b[v] = (double)v * 0.114;
    }
}

static float luma_of(const luma_tables *t, const uint8_t *p) { return (float)(t->r[p[0]] + t->g[p[1]] + t->b[p[2]]); }

/* Luma of nl rows of the image into nl row-major float rows (out[l * cols + j]). */
static void luma_rows_scalar(const luma_tables *t, const uint8_t *rgb, size_t cols, size_t nl, float *restrict out) {
    for (size_t l = 0; l < nl; l++) {
        const uint8_t *p = rgb + l * cols * 3;
        for (size_t j = 0; j < cols; j++, p += 3) out[l * cols + j] = luma_of(t, p);
    }
}

#ifdef PM_X86_DISPATCH
/* The same arithmetic 8 pixels at a time: exact int -> double conversions, the three double
 * products and the two additions in the same order, one rounding to float (MXCSR's
 * round-to-nearest, like a C cast). AVX2 only widens it; no FMA is used. */
__attribute__((target("avx2"))) static void luma_rows_avx2(const luma_tables *t, const uint8_t *rgb, size_t cols,
                                                            size_t nl, float *restrict out) {
    const __m128i r_lo = _mm_setr_epi8(0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i r_hi = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i g_lo = _mm_setr_epi8(1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i g_hi = _mm_setr_epi8(-1, -1, -1, -1, -1, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i b_lo = _mm_setr_epi8(2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i b_hi = _mm_setr_epi8(-1, -1, -1, -1, -1, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256d cr = _mm256_set1_pd(0.299), cg = _mm256_set1_pd(0.587), cb = _mm256_set1_pd(0.114);
    for (size_t l = 0; l < nl; l++) {
        const uint8_t *row = rgb + l * cols * 3;
        float *dst = out + l * cols;
        size_t j = 0;
        for (; j + 8 <= cols; j += 8) {
            const uint8_t *p = row + 3 * j;
            __m128i lo = _mm_loadu_si128((const __m128i *)p);       /* bytes 0..15 */
            __m128i hi = _mm_loadu_si128((const __m128i *)(p + 8)); /* bytes 8..23 */
            __m256i r = _mm256_cvtepu8_epi32(_mm_or_si128(_mm_shuffle_epi8(lo, r_lo), _mm_shuffle_epi8(hi, r_hi)));
            __m256i g = _mm256_cvtepu8_epi32(_mm_or_si128(_mm_shuffle_epi8(lo, g_lo), _mm_shuffle_epi8(hi, g_hi)));
            __m256i b = _mm256_cvtepu8_epi32(_mm_or_si128(_mm_shuffle_epi8(lo, b_lo), _mm_shuffle_epi8(hi, b_hi)));
            for (int h = 0; h < 2; h++) {
                __m128i r4 = h ? _mm256_extracti128_si256(r, 1) : _mm256_castsi256_si128(r);
                __m128i g4 = h ? _mm256_extracti128_si256(g, 1) : _mm256_castsi256_si128(g);
                __m128i b4 = h ? _mm256_extracti128_si256(b, 1) : _mm256_castsi256_si128(b);
                __m256d y = _mm256_add_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(r4), cr),
                                          _mm256_mul_pd(_mm256_cvtepi32_pd(g4), cg));
                y = _mm256_add_pd(y, _mm256_mul_pd(_mm256_cvtepi32_pd(b4), cb));
                _mm_storeu_ps(dst + j + 4 * h, _mm256_cvtpd_ps(y));
            }
        }
        for (const uint8_t *p = row + 3 * j; j < cols; j++, p += 3) dst[j] = luma_of(t, p);
    }
}

static int have_avx2(void) { return __builtin_cpu_supports("avx2"); }
#endif

static void luma_rows(const luma_tables *t, const uint8_t *rgb, size_t cols, size_t nl, float *restrict out) {
#ifdef PM_X86_DISPATCH
    if (have_avx2()) {
        luma_rows_avx2(t, rgb, cols, nl, out);
        return;
    }
#endif
    luma_rows_scalar(t, rgb, cols, nl, out);
}

/* The luma of a grey pixel v, as the RGB path computes it for (v, v, v): a grey image hashes
 * exactly as the RGB image whose three channels equal it. */
static void grey_table_init(const luma_tables *t, float g[256]) {
    for (int v = 0; v < 256; v++) {
        const uint8_t p[3] = {(uint8_t)v, (uint8_t)v, (uint8_t)v};
        g[v] = luma_of(t, p);
    }
}

/* Pixels in one of the two layouts the kernels take: RGB (channels 3) or grey (channels 1). */
typedef struct {
    const uint8_t *pix;
    size_t channels;
    luma_tables lt;
    float grey[256];
    int grey_is_identity; /* grey[v] == (float)v for every v */
} pixels;

static void pixels_init(pixels *px, const uint8_t *pix, size_t channels) {
    px->pix = pix;
    px->channels = channels;
    px->grey_is_identity = 0;
    luma_tables_init(&px->lt);
    if (channels == 1) {
        grey_table_init(&px->lt, px->grey);
        /* The three weights sum to 1 within a few double ulps, so the luma of (v, v, v) rounds to
         * the float v itself; checked, not assumed, so that the table stays the definition. When
         * it holds, the conversion vectorises (a table lookup does not): ~25% of the kernel. */
        px->grey_is_identity = 1;
        for (int v = 0; v < 256; v++)
            if (px->grey[v] != (float)v) px->grey_is_identity = 0;
    }
}

/* Luma of nl rows starting at row r into out (row-major, cols floats per row). */
static void pixels_luma_rows(const pixels *px, size_t r, size_t cols, size_t nl, float *restrict out) {
    const uint8_t *src = px->pix + r * cols * px->channels;
    if (px->channels == 3) {
        luma_rows(&px->lt, src, cols, nl, out);
        return;
    }
    size_t n = nl * cols;
    if (px->grey_is_identity) {
        for (size_t i = 0; i < n; i++) out[i] = (float)src[i];
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = px->grey[src[i]];
}

static size_t mul_ok(size_t a, size_t b, int *ok) {
    if (a != 0 && b > SIZE_MAX / a) *ok = 0;
    return a * b;
}

static size_t add_ok(size_t a, size_t b, int *ok) {
    if (b > SIZE_MAX - a) *ok = 0;
    return a + b;
}

size_t pm_pdq_scratch_floats(size_t rows, size_t cols) {
    int ok = 1;
    size_t wc = rows / 128 + 1; /* >= (rows + 127) / 128 without overflow */
    size_t n = mul_ok(cols, 4 * LANES + 1, &ok);                    /* tiles x, y, strips s1, s2; acc1 */
    n = add_ok(n, mul_ok(add_ok(wc, LANES, &ok), cols, &ok), &ok); /* ring1 */
    n = add_ok(n, mul_ok(add_ok(wc, LANES, &ok), 64, &ok), &ok);   /* ring2 */
    n = add_ok(n, 64 + 64, &ok);                                   /* acc2, one output row */
    if (!ok || n > SIZE_MAX / sizeof(float)) return 0;
    return n;
}

/* State of the second pass. Its row pass divides only at the 64 sampled columns, its column
 * pass runs on those 64 columns only, and the outputs at the sampled rows land in a64. */
typedef struct {
    const size_t *csel, *rsel;
    size_t cols, wr;
    float *x, *y;
    float *orow; /* 64 floats */
    colbox *cb2;
    size_t kk; /* next a64 row to fill */
    float (*a64)[64];
} pass2;

static void pass2_take_output(pass2 *p) {
    size_t oi = p->cb2->nout - 1;
    while (p->kk < 64 && p->rsel[p->kk] == oi) {
        memcpy(p->a64[p->kk], p->orow, 64 * sizeof(float));
        p->kk++;
    }
}

/* Second row pass over nl rows of the first column pass's output (row-major in s2). */
static void pass2_rows(pass2 *p, const float *s2, size_t nl) {
    float cnt[64];
    for (int k = 0; k < 64; k++) cnt[k] = (float)box_count(p->csel[k], p->cols, p->wr);
    rows_to_tile(s2, p->cols, nl, p->x);
    row_box(p->x, p->y, p->cols, p->wr, 0);
    for (size_t l = 0; l < nl; l++) {
        float *dst = colbox_slot(p->cb2, p->cb2->nin);
        for (int k = 0; k < 64; k++) dst[k] = p->y[p->csel[k] * LANES + l] / cnt[k];
        if (colbox_push(p->cb2, p->orow)) pass2_take_output(p);
    }
}

/* Tent filter and decimation of the rows x cols image into a64 (rows, cols >= 5). */
static void jarosz_decimate(const pixels *px, size_t rows, size_t cols, float *scratch, float a64[64][64]) {
    size_t wr = (cols + 127) / 128; /* window of the row passes (spans columns) */
    size_t wc = (rows + 127) / 128; /* window of the column passes */
    size_t rsel[64], csel[64];
    for (int k = 0; k < 64; k++) {
        rsel[k] = (size_t)(((k + 0.5) * (double)rows) / 64);
        csel[k] = (size_t)(((k + 0.5) * (double)cols) / 64);
    }
    float *x = scratch;
    float *y = x + cols * LANES;
    float *s1 = y + cols * LANES;
    float *s2 = s1 + cols * LANES;
    float *acc1 = s2 + cols * LANES;
    float *ring1 = acc1 + cols;
    float *ring2 = ring1 + (wc + LANES) * cols;
    float *acc2 = ring2 + (wc + LANES) * 64;
    float *orow = acc2 + 64;

    colbox cb1, cb2;
    colbox_init(&cb1, rows, wc, cols, wc + LANES, acc1, ring1);
    colbox_init(&cb2, rows, wc, 64, wc + LANES, acc2, ring2);
    pass2 p2 = {csel, rsel, cols, wr, x, y, orow, &cb2, 0, a64};

    size_t n1 = 0; /* rows of the first column pass's output waiting in s2 */
    for (size_t s = 0; s < rows; s += LANES) {
        size_t nl = rows - s < LANES ? rows - s : LANES;
        /* luma and first row pass on the strip, into the ring of the first column pass */
        pixels_luma_rows(px, s, cols, nl, s1);
        rows_to_tile(s1, cols, nl, x);
        row_box(x, y, cols, wr, 1);
        float *dst[LANES];
        for (size_t l = 0; l < LANES; l++) dst[l] = colbox_slot(&cb1, s + (l < nl ? l : 0));
        tile_to_rows(y, cols, nl, dst);
        /* first column pass; its output rows gather in s2 for the second row pass */
        for (size_t l = 0; l < nl; l++) {
            if (colbox_push(&cb1, s2 + n1 * cols) && ++n1 == LANES) {
                pass2_rows(&p2, s2, LANES);
                n1 = 0;
            }
        }
    }
    while (colbox_flush(&cb1, s2 + n1 * cols)) {
        if (++n1 == LANES) {
            pass2_rows(&p2, s2, LANES);
            n1 = 0;
        }
    }
    if (n1) pass2_rows(&p2, s2, n1);
    while (colbox_flush(&cb2, orow)) pass2_take_output(&p2);
}

/* ---------------------------------------------------------------- quality, DCT, bits */

static int quality_of(float a[64][64]) {
    int sum = 0;
    for (int i = 0; i < 63; i++)
        for (int j = 0; j < 64; j++) {
            int d = (int)(((a[i][j] - a[i + 1][j]) * 100.0f) / 255.0f);
            sum += d < 0 ? -d : d;
        }
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 63; j++) {
            int d = (int)(((a[i][j] - a[i][j + 1]) * 100.0f) / 255.0f);
            sum += d < 0 ? -d : d;
        }
    int q = sum / 90;
    return q > 100 ? 100 : q;
}

/* B = D A D^T, float accumulators summed in ascending k as the reference does. */
static void dct64to16(float a[64][64], float b[16][16]) {
    float t[16][64];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 64; j++) {
            float s = 0.0f;
            for (int k = 0; k < 64; k++) s += DCT[i][k] * a[k][j];
            t[i][j] = s;
        }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float s = 0.0f;
            for (int k = 0; k < 64; k++) s += t[i][k] * DCT[j][k];
            b[i][j] = s;
        }
}

/* The element of rank k (0-based) of a[0..n-1], reordering a (Hoare-style selection). */
static float select_rank(float *a, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = a[k];
        int i = lo, j = hi;
        do {
            while (a[i] < pivot) i++;
            while (pivot < a[j]) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < k) lo = i;
        if (k < i) hi = j;
    }
    return a[k];
}

/* Threshold at the lower median (rank (n+1)/2 = 128 of 256, what Torben's method returns) and
 * pack: bit 16i+j of the reference's Hash256 is word i bit j, and its hex prints word 15 first. */
static void bits_of(float b[16][16], uint8_t out[PM_PDQ_BYTES]) {
    float tmp[256];
    memcpy(tmp, b, sizeof tmp);
    float median = select_rank(tmp, 256, 127);
    memset(out, 0, PM_PDQ_BYTES);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            if (b[i][j] > median) out[2 * (15 - i) + (j < 8)] |= (uint8_t)(1u << (j & 7));
}

static void pdq_dct(const uint8_t *pix, size_t channels, size_t rows, size_t cols, float *scratch, int blur_64x64,
                    float b[16][16], int *quality) {
    float a64[64][64];
    pixels px;
    pixels_init(&px, pix, channels);
    if (!blur_64x64 && rows == 64 && cols == 64) {
        /* the reference skips the filter when the input is already 64x64 (pdq_hash only) */
        for (int i = 0; i < 64; i++)
            for (int j = 0; j < 64; j++) {
                size_t k = (size_t)i * 64 + (size_t)j;
                a64[i][j] = channels == 3 ? luma_of(&px.lt, pix + k * 3) : px.grey[pix[k]];
            }
    } else {
        jarosz_decimate(&px, rows, cols, scratch, a64);
    }
    *quality = quality_of(a64);
    dct64to16(a64, b);
}

static int pdq_hash_of(const uint8_t *pix, size_t channels, size_t rows, size_t cols, float *scratch,
                       uint8_t hash[PM_PDQ_BYTES], int *quality) {
    if (rows < MIN_HASHABLE_DIM || cols < MIN_HASHABLE_DIM) {
        memset(hash, 0, PM_PDQ_BYTES);
        *quality = 0;
        return 0;
    }
    float b[16][16];
    pdq_dct(pix, channels, rows, cols, scratch, 0, b, quality);
    bits_of(b, hash);
    return 0;
}

static int pdq_dihedral_of(const uint8_t *pix, size_t channels, size_t rows, size_t cols, float *scratch,
                           uint8_t hashes[PM_PDQ_DIHEDRAL][PM_PDQ_BYTES], int *quality) {
    if (rows < MIN_HASHABLE_DIM || cols < MIN_HASHABLE_DIM) {
        memset(hashes, 0, (size_t)PM_PDQ_DIHEDRAL * PM_PDQ_BYTES);
        *quality = 0;
        return 0;
    }
    float a[16][16], b[16][16];
    pdq_dct(pix, channels, rows, cols, scratch, 1, a, quality);
    bits_of(a, hashes[0]);
    /* The reference's DCT-domain symmetries: a transpose for the quarter turns and diagonal
     * flips, and sign changes of odd rows and/or columns. */
    for (int v = 1; v < PM_PDQ_DIHEDRAL; v++) {
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++) {
                int oi = i & 1, oj = j & 1, oij = (i + j) & 1;
                float x = a[i][j];
                switch (v) {
                case 1: b[j][i] = oj ? x : -x; break;   /* rotate90 */
                case 2: b[i][j] = oij ? -x : x; break;  /* rotate180 */
                case 3: b[j][i] = oi ? x : -x; break;   /* rotate270 */
                case 4: b[i][j] = oi ? x : -x; break;   /* flipX */
                case 5: b[i][j] = oj ? x : -x; break;   /* flipY */
                case 6: b[j][i] = x; break;             /* flipPlus1 */
                default: b[j][i] = oij ? -x : x; break; /* flipMinus1 */
                }
            }
        bits_of(b, hashes[v]);
    }
    return 0;
}

int pm_pdq_hash(const uint8_t *rgb, size_t rows, size_t cols, float *scratch, uint8_t hash[PM_PDQ_BYTES],
                int *quality) {
    return pdq_hash_of(rgb, 3, rows, cols, scratch, hash, quality);
}

int pm_pdq_dihedral(const uint8_t *rgb, size_t rows, size_t cols, float *scratch,
                    uint8_t hashes[PM_PDQ_DIHEDRAL][PM_PDQ_BYTES], int *quality) {
    return pdq_dihedral_of(rgb, 3, rows, cols, scratch, hashes, quality);
}

int pm_pdq_hash_gray(const uint8_t *gray, size_t rows, size_t cols, float *scratch, uint8_t hash[PM_PDQ_BYTES],
                     int *quality) {
    return pdq_hash_of(gray, 1, rows, cols, scratch, hash, quality);
}

int pm_pdq_dihedral_gray(const uint8_t *gray, size_t rows, size_t cols, float *scratch,
                         uint8_t hashes[PM_PDQ_DIHEDRAL][PM_PDQ_BYTES], int *quality) {
    return pdq_dihedral_of(gray, 1, rows, cols, scratch, hashes, quality);
}
