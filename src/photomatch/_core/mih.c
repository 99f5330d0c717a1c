/* Multi-index hashing: see mih.h for the structure and why it is exact. */
#include "mih.h"

#include <stdlib.h>
#include <string.h>

#if !defined(_WIN32)
#include <pthread.h>
#define PM_HAVE_PTHREADS 1
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
/* Built portable (no -mpopcnt), the popcount builtin becomes a bit-twiddling routine; a copy of
 * the query loop compiled for the POPCNT instruction is chosen at run time when the CPU has it. */
#define PM_POPCNT_DISPATCH 1
#endif

#if defined(__GNUC__)
#define PM_INLINE static inline __attribute__((always_inline))
#define PM_POPCOUNT64(x) __builtin_popcountll(x)
#define PM_PREFETCH(p) __builtin_prefetch(p)
#else
#define PM_INLINE static inline
#define PM_PREFETCH(p) ((void)0)
static inline int pm_popcount64_soft(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int)((x * 0x0101010101010101ULL) >> 56);
}
#define PM_POPCOUNT64(x) pm_popcount64_soft(x)
#endif

struct pm_mih {
    size_t n, nbytes;
    int m;
    int32_t starts[PM_MIH_MAX_TABLES];
    int32_t widths[PM_MIH_MAX_TABLES];
    size_t base[PM_MIH_MAX_TABLES]; /* where table i's offsets start in `offsets` */
    uint32_t *offsets;              /* sum over tables of 2^w + 1 */
    uint32_t *positions;            /* m * n, table i at i * n */
    size_t n_offsets;
};

/* ---------------------------------------------------------------------------------------- */

int pm_mih_check_layout(size_t nbytes, int m, const int32_t *starts, const int32_t *widths) {
    if (m < 1 || m > PM_MIH_MAX_TABLES || nbytes == 0 || nbytes > (1u << 20)) return -1;
    for (int i = 0; i < m; i++) {
        if (widths[i] < 1 || widths[i] > PM_MIH_MAX_WIDTH || starts[i] < 0) return -1;
        if ((size_t)starts[i] + (size_t)widths[i] > nbytes * 8) return -1;
    }
    return 0;
}

/* Substring value: bits [start, start + width) of the code, first bit most significant. */
PM_INLINE uint32_t sub_value(const uint8_t *code, size_t nbytes, int32_t start, int32_t width) {
    size_t b = (size_t)start >> 3;
    uint32_t x = 0;
    if (b + 4 <= nbytes) {
        x = ((uint32_t)code[b] << 24) | ((uint32_t)code[b + 1] << 16) | ((uint32_t)code[b + 2] << 8) | code[b + 3];
    } else {
        for (size_t k = 0; k < 4; k++) x = (x << 8) | (b + k < nbytes ? code[b + k] : 0u);
    }
    /* width <= 24 and (start & 7) <= 7, so the kept bits fit in 32. */
    return (x << (start & 7)) >> (32 - width);
}

PM_INLINE int hamming(const uint8_t *a, const uint8_t *b, size_t nbytes) {
    int d = 0;
    size_t i = 0;
    for (; i + 8 <= nbytes; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        d += PM_POPCOUNT64(x ^ y);
    }
    for (; i < nbytes; i++) d += PM_POPCOUNT64((uint64_t)(a[i] ^ b[i]));
    return d;
}

/* ---------------------------------------------------------------------------------------- */
/* build */

typedef struct {
    const uint8_t *codes;
    pm_mih *mih;
    int first, step;
    uint32_t *scratch; /* 3 * n values for the radix sort of wide tables, or NULL */
} build_job;

/* Counting sort by substring value, straight into the table: stable, so each bucket lists
 * positions ascending. Its increments and writes go to random places of a 2^w array, which is
 * fine while that array stays in cache (w <= 16). */
static void build_table_counting(const uint8_t *codes, pm_mih *mih, int i) {
    const size_t n = mih->n, nbytes = mih->nbytes;
    const int32_t start = mih->starts[i], width = mih->widths[i];
    const size_t size = (size_t)1 << width;
    uint32_t *off = mih->offsets + mih->base[i];
    uint32_t *pos = mih->positions + (size_t)i * n;
    memset(off, 0, (size + 1) * sizeof *off);
    for (size_t p = 0; p < n; p++) off[sub_value(codes + p * nbytes, nbytes, start, width) + 1]++;
    for (size_t v = 0; v < size; v++) off[v + 1] += off[v];
    for (size_t p = 0; p < n; p++) {
        uint32_t v = sub_value(codes + p * nbytes, nbytes, start, width);
        pos[off[v]++] = (uint32_t)p;
    }
    /* The scatter left off[v] at the end of bucket v: shift back to starts. */
    memmove(off + 1, off, size * sizeof *off);
    off[0] = 0;
}

/* The same order for wide tables by a two-pass LSD radix sort on digits of <= 12 bits (each
 * pass scatters into at most 4096 cache-friendly streams), then offsets from one sequential
 * sweep of the sorted values. About 10x faster than counting sort once 2^w outgrows the cache. */
static void build_table_radix(const uint8_t *codes, pm_mih *mih, int i, uint32_t *scratch) {
    const size_t n = mih->n, nbytes = mih->nbytes;
    const int32_t start = mih->starts[i], width = mih->widths[i];
    const size_t size = (size_t)1 << width;
    uint32_t *off = mih->offsets + mih->base[i];
    uint32_t *pos = mih->positions + (size_t)i * n;
    uint32_t *vals = scratch, *vals2 = scratch + n, *pos2 = scratch + 2 * n;
    const int lo_bits = width / 2, hi_bits = width - lo_bits;
    const uint32_t lo_mask = ((uint32_t)1 << lo_bits) - 1;
    uint32_t cnt[1 << 12];
    for (size_t p = 0; p < n; p++) vals[p] = sub_value(codes + p * nbytes, nbytes, start, width);
    /* pass 1: by the low digit, (vals, p) -> (vals2, pos2) */
    memset(cnt, 0, ((size_t)1 << lo_bits) * sizeof *cnt);
    for (size_t p = 0; p < n; p++) cnt[vals[p] & lo_mask]++;
    uint32_t sum = 0;
    for (size_t d = 0; d < ((size_t)1 << lo_bits); d++) {
        uint32_t c = cnt[d];
        cnt[d] = sum;
        sum += c;
    }
    for (size_t p = 0; p < n; p++) {
        uint32_t j = cnt[vals[p] & lo_mask]++;
        vals2[j] = vals[p];
        pos2[j] = (uint32_t)p;
    }
    /* pass 2: by the high digit, (vals2, pos2) -> (vals, pos); stable, so ties keep p order */
    memset(cnt, 0, ((size_t)1 << hi_bits) * sizeof *cnt);
    for (size_t j = 0; j < n; j++) cnt[vals2[j] >> lo_bits]++;
    sum = 0;
    for (size_t d = 0; d < ((size_t)1 << hi_bits); d++) {
        uint32_t c = cnt[d];
        cnt[d] = sum;
        sum += c;
    }
    for (size_t j = 0; j < n; j++) {
        uint32_t k = cnt[vals2[j] >> lo_bits]++;
        vals[k] = vals2[j];
        pos[k] = pos2[j];
    }
    /* off[v] = how many values are below v */
    size_t j = 0;
    for (size_t v = 0; v <= size; v++) {
        while (j < n && vals[j] < v) j++;
        off[v] = (uint32_t)j;
    }
}

static void *build_worker(void *arg) {
    build_job *job = (build_job *)arg;
    for (int i = job->first; i < job->mih->m; i += job->step) {
        if (job->mih->widths[i] > 16 && job->scratch != NULL)
            build_table_radix(job->codes, job->mih, i, job->scratch);
        else
            build_table_counting(job->codes, job->mih, i);
    }
    return NULL;
}

pm_mih *pm_mih_build(const uint8_t *codes, size_t n, size_t nbytes, int m, const int32_t *starts,
                     const int32_t *widths, int nthreads) {
    if (pm_mih_check_layout(nbytes, m, starts, widths) != 0 || n >= UINT32_MAX) return NULL;
    pm_mih *mih = (pm_mih *)calloc(1, sizeof *mih);
    if (mih == NULL) return NULL;
    mih->n = n;
    mih->nbytes = nbytes;
    mih->m = m;
    size_t total = 0;
    for (int i = 0; i < m; i++) {
        mih->starts[i] = starts[i];
        mih->widths[i] = widths[i];
        mih->base[i] = total;
        total += ((size_t)1 << widths[i]) + 1;
    }
    mih->n_offsets = total;
    mih->offsets = (uint32_t *)malloc(total * sizeof *mih->offsets);
    mih->positions = (uint32_t *)malloc((n ? n : 1) * (size_t)m * sizeof *mih->positions);
    if (mih->offsets == NULL || mih->positions == NULL) {
        pm_mih_free(mih);
        return NULL;
    }
    if (nthreads < 1) nthreads = 1;
    if (nthreads > m) nthreads = m;
    if (nthreads > PM_MIH_MAX_THREADS) nthreads = PM_MIH_MAX_THREADS;
    int wide = 0;
    for (int i = 0; i < m; i++) wide |= widths[i] > 16;
    build_job jobs[PM_MIH_MAX_THREADS];
    for (int t = 0; t < nthreads; t++) {
        /* Without scratch memory a thread falls back to the (slower) counting sort. */
        uint32_t *scratch = wide && n ? (uint32_t *)malloc(3 * n * sizeof *scratch) : NULL;
        jobs[t] = (build_job){codes, mih, t, nthreads, scratch};
    }
#ifdef PM_HAVE_PTHREADS
    pthread_t th[PM_MIH_MAX_THREADS];
    int started[PM_MIH_MAX_THREADS] = {0};
    for (int t = 1; t < nthreads; t++) started[t] = pthread_create(&th[t], NULL, build_worker, &jobs[t]) == 0;
    /* A thread that could not start has its tables built here instead. */
    build_worker(&jobs[0]);
    for (int t = 1; t < nthreads; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            build_worker(&jobs[t]);
    }
#else
    for (int t = 0; t < nthreads; t++) build_worker(&jobs[t]);
#endif
    for (int t = 0; t < nthreads; t++) free(jobs[t].scratch);
    return mih;
}

void pm_mih_free(pm_mih *mih) {
    if (mih == NULL) return;
    free(mih->offsets);
    free(mih->positions);
    free(mih);
}

size_t pm_mih_count(const pm_mih *mih) { return mih->n; }
size_t pm_mih_code_size(const pm_mih *mih) { return mih->nbytes; }
int pm_mih_tables(const pm_mih *mih) { return mih->m; }
size_t pm_mih_memory(const pm_mih *mih) {
    return sizeof *mih + mih->n_offsets * sizeof *mih->offsets + mih->n * (size_t)mih->m * sizeof *mih->positions;
}

/* ---------------------------------------------------------------------------------------- */
/* query */

typedef struct {
    int32_t *dist;
    int64_t *pos;
    size_t len, cap;
} hitbuf;

static int hitbuf_push(hitbuf *b, int32_t d, int64_t p) {
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        int32_t *nd = (int32_t *)realloc(b->dist, cap * sizeof *nd);
        if (nd == NULL) return -1;
        b->dist = nd;
        int64_t *np = (int64_t *)realloc(b->pos, cap * sizeof *np);
        if (np == NULL) return -1;
        b->pos = np;
        b->cap = cap;
    }
    b->dist[b->len] = d;
    b->pos[b->len] = p;
    b->len++;
    return 0;
}

typedef struct {
    const pm_mih *mih;
    const uint8_t *codes, *queries;
    const int32_t *radii;
    int threshold;
    size_t q0, q1;   /* this worker's queries */
    int64_t *counts; /* hits per query, shared (each worker writes its own range) */
    hitbuf hits;
    uint32_t *cand; /* scratch: positions gathered for one query */
    size_t cand_cap;
    uint64_t candidates;
    int failed;
} query_job;

static int cand_reserve(query_job *job, size_t need) {
    if (need <= job->cand_cap) return 0;
    size_t cap = job->cand_cap ? job->cand_cap : 4096;
    while (cap < need) cap *= 2;
    uint32_t *c = (uint32_t *)realloc(job->cand, cap * sizeof *c);
    if (c == NULL) {
        job->failed = 1;
        return -1;
    }
    job->cand = c;
    job->cand_cap = cap;
    return 0;
}

/* How many candidates ahead to prefetch: candidates are random rows of the code array, so the
 * loop is bound by memory latency unless many loads are in flight at once. */
#define PM_PREFETCH_AHEAD 12

/* The query loop, specialised on the code size by the callers (NB is a constant there).
 * Per query: gather every probed bucket's positions (cheap: sequential runs), then verify them
 * with prefetching, so the random reads of candidate codes overlap. */
PM_INLINE void query_range(query_job *job, const size_t NB) {
    const pm_mih *mih = job->mih;
    const size_t n = mih->n;
    const int m = mih->m, t = job->threshold;
    const uint8_t *codes = job->codes;
    uint64_t candidates = 0;
    uint32_t qsub[PM_MIH_MAX_TABLES];
    size_t table_end[PM_MIH_MAX_TABLES];
    for (size_t q = job->q0; q < job->q1; q++) {
        const uint8_t *qc = job->queries + q * NB;
        size_t before = job->hits.len;
        size_t ncand = 0;
        for (int i = 0; i < m; i++) qsub[i] = sub_value(qc, NB, mih->starts[i], mih->widths[i]);
        for (int i = 0; i < m; i++) {
            const int r = job->radii[i];
            table_end[i] = ncand;
            if (r < 0) continue;
            const int32_t w = mih->widths[i];
            const uint32_t *off = mih->offsets + mih->base[i];
            const uint32_t *pos = mih->positions + (size_t)i * n;
            const uint32_t limit = (uint32_t)1 << w;
            for (int k = 0; k <= r && k <= w; k++) {
                /* Every w-bit mask with k bits set, in increasing order (Gosper's hack). */
                uint32_t mask = k ? (((uint32_t)1 << k) - 1) : 0;
                while (mask < limit) {
                    const uint32_t v = qsub[i] ^ mask;
                    const uint32_t lo = off[v], hi = off[v + 1];
                    if (hi > lo) {
                        if (cand_reserve(job, ncand + (hi - lo)) != 0) return;
                        memcpy(job->cand + ncand, pos + lo, (size_t)(hi - lo) * sizeof *pos);
                        ncand += hi - lo;
                    }
                    if (k == 0) break;
                    const uint32_t low = mask & (~mask + 1u);
                    const uint32_t ripple = mask + low;
                    mask = (((ripple ^ mask) >> 2) / low) | ripple;
                }
            }
            table_end[i] = ncand;
        }
        candidates += ncand;
        const uint32_t *cand = job->cand;
        for (size_t j = 0; j < ncand && j < PM_PREFETCH_AHEAD; j++) PM_PREFETCH(codes + (size_t)cand[j] * NB);
        size_t j = 0;
        for (int i = 0; i < m; i++) {
            for (; j < table_end[i]; j++) {
                if (j + PM_PREFETCH_AHEAD < ncand) PM_PREFETCH(codes + (size_t)cand[j + PM_PREFETCH_AHEAD] * NB);
                const uint8_t *c = codes + (size_t)cand[j] * NB;
                const int d = hamming(qc, c, NB);
                if (d > t) continue;
                /* Report from the first table where the code is within the radius. */
                int earlier = 0;
                for (int i2 = 0; i2 < i && !earlier; i2++) {
                    if (job->radii[i2] < 0) continue;
                    uint32_t s = sub_value(c, NB, mih->starts[i2], mih->widths[i2]);
                    earlier = PM_POPCOUNT64((uint64_t)(s ^ qsub[i2])) <= job->radii[i2];
                }
                if (!earlier && hitbuf_push(&job->hits, d, (int64_t)cand[j]) != 0) {
                    job->failed = 1;
                    return;
                }
            }
        }
        job->counts[q] = (int64_t)(job->hits.len - before);
        job->candidates = candidates;
    }
}

static void query_generic(query_job *job) {
    switch (job->mih->nbytes) {
    case 8: query_range(job, 8); break;
    case 32: query_range(job, 32); break;
    default: query_range(job, job->mih->nbytes); break;
    }
}

#ifdef PM_POPCNT_DISPATCH
__attribute__((target("popcnt"))) static void query_popcnt(query_job *job) {
    switch (job->mih->nbytes) {
    case 8: query_range(job, 8); break;
    case 32: query_range(job, 32); break;
    default: query_range(job, job->mih->nbytes); break;
    }
}
#endif

static void *query_worker(void *arg) {
    query_job *job = (query_job *)arg;
#ifdef PM_POPCNT_DISPATCH
    if (__builtin_cpu_supports("popcnt")) {
        query_popcnt(job);
        return NULL;
    }
#endif
    query_generic(job);
    return NULL;
}

void pm_mih_result_free(pm_mih_result *res) {
    free(res->lims);
    free(res->dist);
    free(res->pos);
    memset(res, 0, sizeof *res);
}

int pm_mih_range_search(const pm_mih *mih, const uint8_t *codes, const uint8_t *queries, size_t nq,
                        const int32_t *radii, int threshold, int nthreads, pm_mih_result *out) {
    memset(out, 0, sizeof *out);
    out->lims = (int64_t *)calloc(nq + 1, sizeof *out->lims);
    if (out->lims == NULL) return -1;
    if (nq == 0 || mih->n == 0) return 0;
    if (nthreads < 1) nthreads = 1;
    if (nthreads > PM_MIH_MAX_THREADS) nthreads = PM_MIH_MAX_THREADS;
    if ((size_t)nthreads > nq) nthreads = (int)nq;
#ifndef PM_HAVE_PTHREADS
    nthreads = 1;
#endif
    /* counts live in lims[1..nq] and are prefix-summed below. */
    int64_t *counts = out->lims + 1;
    query_job jobs[PM_MIH_MAX_THREADS];
    for (int k = 0; k < nthreads; k++) {
        jobs[k] = (query_job){mih, codes, queries, radii, threshold, nq * (size_t)k / (size_t)nthreads,
                              nq * (size_t)(k + 1) / (size_t)nthreads, counts, {NULL, NULL, 0, 0}, NULL, 0, 0, 0};
    }
#ifdef PM_HAVE_PTHREADS
    pthread_t th[PM_MIH_MAX_THREADS];
    int started[PM_MIH_MAX_THREADS] = {0};
    for (int k = 1; k < nthreads; k++) started[k] = pthread_create(&th[k], NULL, query_worker, &jobs[k]) == 0;
    query_worker(&jobs[0]);
    for (int k = 1; k < nthreads; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            query_worker(&jobs[k]);
    }
#else
    query_worker(&jobs[0]);
#endif
    int failed = 0;
    size_t total = 0;
    for (int k = 0; k < nthreads; k++) {
        failed |= jobs[k].failed;
        total += jobs[k].hits.len;
        out->candidates += jobs[k].candidates;
    }
    if (!failed) {
        out->dist = (int32_t *)malloc((total ? total : 1) * sizeof *out->dist);
        out->pos = (int64_t *)malloc((total ? total : 1) * sizeof *out->pos);
        failed = out->dist == NULL || out->pos == NULL;
    }
    if (!failed) {
        /* Workers own consecutive blocks of queries, so their buffers concatenate in order. */
        size_t at = 0;
        for (int k = 0; k < nthreads; k++) {
            if (jobs[k].hits.len == 0) continue;
            memcpy(out->dist + at, jobs[k].hits.dist, jobs[k].hits.len * sizeof *out->dist);
            memcpy(out->pos + at, jobs[k].hits.pos, jobs[k].hits.len * sizeof *out->pos);
            at += jobs[k].hits.len;
        }
        out->total = total;
        for (size_t q = 0; q < nq; q++) out->lims[q + 1] += out->lims[q];
    }
    for (int k = 0; k < nthreads; k++) {
        free(jobs[k].hits.dist);
        free(jobs[k].hits.pos);
        free(jobs[k].cand);
    }
    if (failed) {
        pm_mih_result_free(out);
        return -1;
    }
    return 0;
}
