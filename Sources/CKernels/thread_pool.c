/* A fork-join pool for ddplm's own multi-threaded loops (parallel_loops.c): the softmax rows, Adam, the
   packed per-step products. It replaced DispatchQueue.concurrentPerform, whose Swift closure box cost a
   heap allocation per call (~320 per step at 2 threads).

   One job at a time: part 0 runs on the caller, part k on worker k (started on first need and kept).
   A second caller while a job runs (another in-process rank in the tests, or a nested call) runs its
   parts inline, one after the other: the parts are the same either way, so are the results. Workers
   spin for up to DDPLM_POOL_SPIN_NS on a new job (the recurrent layers call every ~0.1–0.5 ms), then
   sleep on a condition variable. Threads inherit the creator's MXCSR (denormals flushed, see system.c);
   a forked child starts with an empty pool.
   Allocates only when it starts a worker. */
#include "ddplm_kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define DDPLM_POOL_MAX 256
#define DDPLM_POOL_SPIN_NS 50000L

static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER; /* held by the one caller with a job */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the sleeps on the two conditions */
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
/* The current job: its number << 16 | its part count, in one word, so a worker that reads it knows at once
   whether it takes part. One that does is waited for, so pool_fn and pool_ctx (written before the word)
   cannot change under it; one that does not reads nothing else. */
static _Atomic unsigned long pool_job;
static _Atomic long pool_remaining; /* worker parts of the current job not finished */
static long pool_workers;           /* started (only the pool_busy holder changes it) */
static unsigned long pool_start_job[DDPLM_POOL_MAX];
static ddplm_part_fn pool_fn;
static void *pool_ctx;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

static void *pool_worker(void *arg) {
    long id = (long)arg;
    unsigned long seen = pool_start_job[id];
    for (;;) {
        unsigned long job = atomic_load_explicit(&pool_job, memory_order_acquire);
        if (job == seen) {
            long deadline = now_ns() + DDPLM_POOL_SPIN_NS;
            while ((job = atomic_load_explicit(&pool_job, memory_order_acquire)) == seen && now_ns() < deadline) cpu_relax();
        }
        if (job == seen) {
            pthread_mutex_lock(&pool_lock);
            while ((job = atomic_load_explicit(&pool_job, memory_order_acquire)) == seen) pthread_cond_wait(&pool_wake, &pool_lock);
            pthread_mutex_unlock(&pool_lock);
        }
        seen = job;
        if (id >= (long)(job & 0xffff)) continue;
        pool_fn(pool_ctx, id);
        if (atomic_fetch_sub_explicit(&pool_remaining, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool_lock);
            pthread_cond_signal(&pool_done);
            pthread_mutex_unlock(&pool_lock);
        }
    }
    return NULL;
}

/* A forked child has none of the workers (and maybe a lock its parent's other threads held): it starts
   with an empty pool. */
static void pool_after_fork_in_child(void) {
    pthread_mutex_init(&pool_busy, NULL);
    pthread_mutex_init(&pool_lock, NULL);
    pthread_cond_init(&pool_wake, NULL);
    pthread_cond_init(&pool_done, NULL);
    pool_workers = 0;
}

/* Starts workers 1 ..< want; false if the system refuses a thread. Called with pool_busy held. */
static int pool_grow(long want) {
    static int registered;
    if (!registered) registered = pthread_atfork(NULL, NULL, pool_after_fork_in_child) == 0;
    while (pool_workers + 1 < want) {
        long id = pool_workers + 1;
        pool_start_job[id] = atomic_load(&pool_job);
        pthread_t t;
        if (pthread_create(&t, NULL, pool_worker, (void *)id) != 0) return 0;
        pthread_detach(t);
        pool_workers = id;
    }
    return 1;
}

void ddplm_parallel(long parts, ddplm_part_fn fn, void *ctx) {
    int pooled = parts > 1 && parts <= DDPLM_POOL_MAX && pthread_mutex_trylock(&pool_busy) == 0;
    if (pooled && !pool_grow(parts)) {
        pthread_mutex_unlock(&pool_busy);
        pooled = 0;
    }
    if (!pooled) {
        for (long k = 0; k < parts; k++) fn(ctx, k);
        return;
    }
    pool_fn = fn;
    pool_ctx = ctx;
    atomic_store_explicit(&pool_remaining, parts - 1, memory_order_relaxed);
    unsigned long next = ((atomic_load_explicit(&pool_job, memory_order_relaxed) >> 16) + 1) << 16 | (unsigned long)parts;
    pthread_mutex_lock(&pool_lock);
    atomic_store_explicit(&pool_job, next, memory_order_release);
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_lock);
    fn(ctx, 0);
    if (atomic_load_explicit(&pool_remaining, memory_order_acquire) > 0) {
        long deadline = now_ns() + DDPLM_POOL_SPIN_NS;
        while (atomic_load_explicit(&pool_remaining, memory_order_acquire) > 0 && now_ns() < deadline) cpu_relax();
    }
    if (atomic_load_explicit(&pool_remaining, memory_order_acquire) > 0) {
        pthread_mutex_lock(&pool_lock);
        while (atomic_load_explicit(&pool_remaining, memory_order_acquire) > 0) pthread_cond_wait(&pool_done, &pool_lock);
        pthread_mutex_unlock(&pool_lock);
    }
    pthread_mutex_unlock(&pool_busy);
}
