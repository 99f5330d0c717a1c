/* pHash compatible with imagehash.phash; see phash.h.
 *
 * scipy computes the DCT with an FFT, whose rounding we cannot reproduce exactly with a direct
 * sum; the bits only differ when a coefficient sits within rounding noise of the median. Two
 * choices keep that rare and deterministic:
 *  - sums run sequentially in double in a fixed order (the numpy twin uses the same order, so C
 *    and numpy agree exactly);
 *  - AC coefficients are summed over differences from the first sample, so constant rows and
 *    columns give exactly 0 as the FFT does (a uniform image hashes to the DC bit only, like
 *    imagehash, instead of to rounding noise). */
#include "phash.h"

#ifdef __FAST_MATH__
#error "pHash must not be built with -ffast-math: the C and numpy sums must round alike"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N PM_PHASH_SIDE
#define K 8 /* frequencies kept per axis */
/* M_PI is not ISO C; this literal rounds to the same double as Python's math.pi. */
#define PI 3.14159265358979323846

static void dct_matrix(double c[K][N]) {
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++) c[k][n] = 2.0 * cos(PI * (double)(k * (2 * n + 1)) / 64.0);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void pm_phash_bits(const uint8_t gray[N * N], uint8_t out[PM_PHASH_BYTES]) {
    double c[K][N], t[K][N], b[K][K];
    dct_matrix(c);
    /* along axis 0: t[u][x] = sum_n c[u][n] * p[n][x] */
    for (int x = 0; x < N; x++) {
        double p0 = (double)gray[x];
        double s0 = 0.0;
        for (int n = 0; n < N; n++) s0 += c[0][n] * (double)gray[n * N + x];
        t[0][x] = s0;
        for (int u = 1; u < K; u++) {
            double s = 0.0;
            for (int n = 0; n < N; n++) s += c[u][n] * ((double)gray[n * N + x] - p0);
            t[u][x] = s;
        }
    }
    /* along axis 1: b[u][v] = sum_x t[u][x] * c[v][x] */
    for (int u = 0; u < K; u++) {
        double s0 = 0.0;
        for (int x = 0; x < N; x++) s0 += t[u][x] * c[0][x];
        b[u][0] = s0;
        for (int v = 1; v < K; v++) {
            double s = 0.0;
            for (int x = 0; x < N; x++) s += (t[u][x] - t[u][0]) * c[v][x];
            b[u][v] = s;
        }
    }
    double sorted[K * K];
    memcpy(sorted, b, sizeof sorted);
    qsort(sorted, K * K, sizeof(double), cmp_double);
    double median = (sorted[K * K / 2 - 1] + sorted[K * K / 2]) / 2.0;
    memset(out, 0, PM_PHASH_BYTES);
    for (int i = 0; i < K * K; i++)
        if (b[i / K][i % K] > median) out[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}
