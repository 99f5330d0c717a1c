/* Multi-index hashing (MIH): exact Hamming range search over packed binary codes.
 *
 * A code of nbytes*8 bits is cut into m disjoint substrings (bit `starts[i]`, `widths[i]` bits,
 * most significant bit first as numpy.unpackbits orders them). Table i lists every code's
 * position sorted by the value of its substring i, with an offsets array of 2^w + 1 entries
 * (bucket v is positions[offsets[v] .. offsets[v+1])).
 *
 * A query probes, in table i, every substring value within radii[i] bit flips of its own
 * (radii[i] = -1 skips the table). If sum_i (radii[i] + 1) > threshold, no code within the
 * threshold is missed: its substring distances sum to at most the threshold, so at least one
 * of them is within its radius (pigeonhole). Candidates are checked with a full popcount
 * distance, and a code is reported only from the first table in which it is within the radius,
 * which needs no memory of what was reported.
 *
 * Plain C11 on raw buffers; knows nothing of Python. */
#ifndef PHOTOMATCH_MIH_H
#define PHOTOMATCH_MIH_H

#include <stddef.h>
#include <stdint.h>

#define PM_MIH_MAX_TABLES 64
#define PM_MIH_MAX_WIDTH 24
#define PM_MIH_MAX_THREADS 64

typedef struct pm_mih pm_mih; /* opaque; immutable once built, so concurrent queries are safe */

/* 0 if the layout is usable for codes of nbytes bytes: 1 <= m <= PM_MIH_MAX_TABLES, each width in
 * 1..PM_MIH_MAX_WIDTH, substrings inside the code. Otherwise -1. */
int pm_mih_check_layout(size_t nbytes, int m, const int32_t *starts, const int32_t *widths);

/* Build the tables of the n codes (n < 2^32) with up to nthreads threads. NULL when out of memory
 * or the layout is invalid. */
pm_mih *pm_mih_build(const uint8_t *codes, size_t n, size_t nbytes, int m, const int32_t *starts,
                     const int32_t *widths, int nthreads);
void pm_mih_free(pm_mih *mih);

size_t pm_mih_count(const pm_mih *mih);     /* codes indexed */
size_t pm_mih_code_size(const pm_mih *mih); /* nbytes */
int pm_mih_tables(const pm_mih *mih);       /* m */
size_t pm_mih_memory(const pm_mih *mih);    /* bytes held by the tables */

/* Results: query q's hits are dist/pos[lims[q] .. lims[q+1]), in no particular order (the caller
 * sorts by (distance, id), which positions do not know).
 * Arrays are allocated by pm_mih_range_search and released by pm_mih_result_free. */
typedef struct {
    int64_t *lims; /* nq + 1 */
    int32_t *dist;
    int64_t *pos;
    size_t total;
    uint64_t candidates; /* bucket entries examined (a cost statistic) */
} pm_mih_result;

/* Every indexed code within `threshold` (inclusive) of each of the nq queries. `codes` must be
 * the buffer the tables were built from (or one whose first pm_mih_count rows are equal).
 * radii has m entries in -1..width. Returns 0, or -1 when out of memory (out is then empty). */
int pm_mih_range_search(const pm_mih *mih, const uint8_t *codes, const uint8_t *queries, size_t nq,
                        const int32_t *radii, int threshold, int nthreads, pm_mih_result *out);
void pm_mih_result_free(pm_mih_result *res);

#endif
