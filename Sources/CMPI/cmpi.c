#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <mpi.h>
#include "cmpi.h"
#include "ddplm_kernels.h"

/* The watchdog: every collective is posted non-blocking and waited for with a deadline. */
static double g_timeout = 0;   /* seconds; 0 = wait forever */
static int g_rank = 0, g_size = 1, g_nodes = 1;
/* Per thread: the overlapped exchange's thread can time out while the main thread does too. */
static _Thread_local char g_detail[1024];
/* Channel 0 is MPI_COMM_WORLD; channel 1 its duplicate for the gradient exchange that runs on its own
   thread while the main thread computes (only when MPI provides MPI_THREAD_MULTIPLE). */
static MPI_Comm g_channel[2];
static int g_overlap = 0;
/* Scratch for the small double all-reduce (gathered on rank 0): size * SMALL doubles, allocated once. */
#define SMALL 64
static double *g_small = NULL;
/* Node-shared memory: the windows stay mapped until cmpi_finalize frees them (MPI_Win_free is collective). */
#define MAX_SHARED 16
static MPI_Win g_shared[MAX_SHARED];
static int g_shared_count = 0;

enum { TAG_RING = 77, TAG_UP = 78, TAG_DOWN = 79, TAG_ROLL = 80, TAG_ARRIVED = 81, TAG_RELEASE = 82 };

/* The roll call. A stopped rank blocks its neighbours, who block theirs: the ranks that time out first
   may be waiting on a rank that itself waits (a ring neighbour). So when one rank's wait passes its
   deadline it tells every other rank on a channel of its own, and every rank that hears of it (each wait
   polls for that) answers everyone. The ranks that never answer within the grace period are the
   stopped, hung or lost ones, and every live rank names the same ones, whichever wait it was in. */
static MPI_Comm g_roll = MPI_COMM_NULL;
static MPI_Request g_roll_req = MPI_REQUEST_NULL;   /* posted receive: someone's roll call */
static int g_roll_in = 0, g_roll_me = 0;
static pthread_mutex_t g_roll_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_roll_done = 0;
static char g_silent[1024];                         /* the roll call's result: ranks that never answered */

int cmpi_init(long max_segment_bytes) {
    int provided = 0;
    /* TCP: segments of the overlapped exchange (at most max_segment_bytes) go eagerly. With OpenMPI's
       default 64 KB limit each is a rendezvous whose acknowledgement waits behind the other direction's
       data on the same TCP stream: the two directions then take turns, at half the link's rate. */
#ifdef OPEN_MPI
    if (!getenv("OMPI_MCA_btl_tcp_eager_limit")) {
        char v[32];
        snprintf(v, sizeof v, "%ld", max_segment_bytes + 65536);
        setenv("OMPI_MCA_btl_tcp_eager_limit", v, 0);
    }
#endif
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
    if (rc != MPI_SUCCESS) return rc;
    if ((rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN)) != MPI_SUCCESS) return rc;
    g_channel[0] = g_channel[1] = MPI_COMM_WORLD;
    if (provided >= MPI_THREAD_MULTIPLE) {
        if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &g_channel[1])) != MPI_SUCCESS) return rc;
        if ((rc = MPI_Comm_set_errhandler(g_channel[1], MPI_ERRORS_RETURN)) != MPI_SUCCESS) return rc;
        g_overlap = 1;
    }
    if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, &g_rank)) != MPI_SUCCESS) return rc;
    if ((rc = MPI_Comm_size(MPI_COMM_WORLD, &g_size)) != MPI_SUCCESS) return rc;
    if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &g_roll)) != MPI_SUCCESS) return rc;
    if ((rc = MPI_Comm_set_errhandler(g_roll, MPI_ERRORS_RETURN)) != MPI_SUCCESS) return rc;
    /* nodes: the groups of ranks that share memory, counted by their first ranks */
    MPI_Comm node;
    int local = 0, first;
    if ((rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node)) != MPI_SUCCESS) return rc;
    rc = MPI_Comm_rank(node, &local);
    MPI_Comm_free(&node);
    if (rc != MPI_SUCCESS) return rc;
    first = local == 0;
    if ((rc = MPI_Allreduce(&first, &g_nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD)) != MPI_SUCCESS) return rc;
    g_roll_me = g_rank;
    if ((rc = MPI_Irecv(&g_roll_in, 1, MPI_INT, MPI_ANY_SOURCE, TAG_ROLL, g_roll, &g_roll_req)) != MPI_SUCCESS) return rc;
    g_small = calloc((size_t)g_size * SMALL, sizeof(double));
    return g_small ? MPI_SUCCESS : MPI_ERR_NO_MEM;
}

void cmpi_library_version(char *buf, int len) {
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    if (MPI_Get_library_version(v, &n) != MPI_SUCCESS) n = 0;
    v[n < MPI_MAX_LIBRARY_VERSION_STRING ? n : MPI_MAX_LIBRARY_VERSION_STRING - 1] = 0;
    /* its first line: "Open MPI v4.1.4, package: ...", "MPICH Version: 4.0.2" */
    char *nl = strchr(v, '\n');
    if (nl) *nl = 0;
    snprintf(buf, (size_t)len, "%s", v);
}

int cmpi_finalize(void) {
    if (g_roll_req != MPI_REQUEST_NULL) {
        MPI_Cancel(&g_roll_req);
        MPI_Wait(&g_roll_req, MPI_STATUS_IGNORE);
    }
    if (g_roll != MPI_COMM_NULL) MPI_Comm_free(&g_roll);
    if (g_overlap) { MPI_Comm_free(&g_channel[1]); g_overlap = 0; }
    while (g_shared_count > 0) MPI_Win_free(&g_shared[--g_shared_count]);
    return MPI_Finalize();
}
int cmpi_overlap_available(void) { return g_overlap; }
int cmpi_rank(int *rank) { *rank = g_rank; return MPI_SUCCESS; }
int cmpi_size(int *size) { *size = g_size; return MPI_SUCCESS; }
int cmpi_nodes(void) { return g_nodes; }
void cmpi_set_timeout(double seconds) { g_timeout = seconds > 0 ? seconds : 0; }
const char *cmpi_timeout_detail(void) { return g_detail; }

/* Waits for n requests; peer[i] is the rank request i depends on (-1: unknown, a collective). After
   `timeout` seconds without completing, describes the pending peers in g_detail and returns
   CMPI_TIMEOUT. With `nap` (the exchange thread, which shares its core with the computing main thread)
   it sleeps NAP_US between polls instead of spinning. */
#define NAP_US 100
/* Seconds a roll call waits for answers: every live rank is inside a wait (which polls) or soon will be. */
static double roll_grace(void) { double g = g_timeout / 4; return g < 1 ? 1 : (g > 30 ? 30 : g); }

/* Someone called the roll (polled by every wait; one thread at a time tests the posted receive). */
static int roll_called(void) {
    if (atomic_load(&g_roll_done)) return 1;
    if (g_roll_req == MPI_REQUEST_NULL || pthread_mutex_trylock(&g_roll_lock) != 0) return 0;
    int flag = 0;
    /* a message that completes the receive stays in it: roll_call finds the request done */
    if (g_roll_req != MPI_REQUEST_NULL && !atomic_load(&g_roll_done)) MPI_Request_get_status(g_roll_req, &flag, MPI_STATUS_IGNORE);
    pthread_mutex_unlock(&g_roll_lock);
    return flag;
}

/* Calls the roll (once per process; a second thread waits for the first's result): tells every rank,
   collects every rank's answer for roll_grace() seconds, and leaves the silent ranks in g_silent. */
static void roll_call(void) {
    pthread_mutex_lock(&g_roll_lock);
    if (!atomic_load(&g_roll_done) && g_roll != MPI_COMM_NULL) {
        int heard[g_size];
        memset(heard, 0, sizeof heard);
        heard[g_rank] = 1;
        for (int r = 0; r < g_size; r++) {
            if (r == g_rank) continue;
            MPI_Request s;
            if (MPI_Isend(&g_roll_me, 1, MPI_INT, r, TAG_ROLL, g_roll, &s) == MPI_SUCCESS) MPI_Request_free(&s);
        }
        int missing = g_size - 1;
        double deadline = MPI_Wtime() + roll_grace();
        struct timespec pause = {0, NAP_US * 1000L};
        while (missing > 0 && MPI_Wtime() < deadline && g_roll_req != MPI_REQUEST_NULL) {
            int flag = 0;
            MPI_Status st;
            if (MPI_Test(&g_roll_req, &flag, &st) != MPI_SUCCESS) break;
            if (!flag) { nanosleep(&pause, NULL); continue; }
            if (st.MPI_SOURCE >= 0 && st.MPI_SOURCE < g_size && !heard[st.MPI_SOURCE]) { heard[st.MPI_SOURCE] = 1; missing--; }
            if (MPI_Irecv(&g_roll_in, 1, MPI_INT, MPI_ANY_SOURCE, TAG_ROLL, g_roll, &g_roll_req) != MPI_SUCCESS) break;
        }
        int len = 0;
        g_silent[0] = 0;
        for (int r = 0; r < g_size; r++)
            if (!heard[r] && len < (int)sizeof g_silent - 32) len += snprintf(g_silent + len, sizeof g_silent - (size_t)len, "%s%d", len ? ", " : "", r);
        atomic_store(&g_roll_done, 1);
    }
    pthread_mutex_unlock(&g_roll_lock);
}

static int wait_all_napping(MPI_Request *req, const int *peer, int n, double timeout, int nap) {
    if (timeout <= 0 && !nap) return MPI_Waitall(n, req, MPI_STATUSES_IGNORE);
    double deadline = timeout > 0 ? MPI_Wtime() + timeout : 0;
    struct timespec pause = {0, NAP_US * 1000L};
    for (;;) {
        int pending = 0;
        for (int i = 0; i < n; i++) {
            if (req[i] == MPI_REQUEST_NULL) continue;
            int flag = 0;
            int rc = MPI_Test(&req[i], &flag, MPI_STATUS_IGNORE);
            if (rc != MPI_SUCCESS) return rc;
            if (!flag) pending++;
        }
        if (!pending) return MPI_SUCCESS;
        if (nap) nanosleep(&pause, NULL);
        int called = timeout > 0 && roll_called();
        if (called || (timeout > 0 && MPI_Wtime() > deadline)) {
            roll_call();
            if (g_silent[0]) { snprintf(g_detail, sizeof g_detail, "%s", g_silent); return CMPI_TIMEOUT; }
            /* everyone answered: name what this wait was waiting for */
            int len = 0, listed = 0, unknown = 0;
            g_detail[0] = 0;
            for (int i = 0; i < n; i++) {
                if (req[i] == MPI_REQUEST_NULL) continue;
                if (peer[i] < 0) { unknown = 1; continue; }
                int dup = 0;
                for (int j = 0; j < i; j++) if (req[j] != MPI_REQUEST_NULL && peer[j] == peer[i]) dup = 1;
                if (dup || len > (int)sizeof g_detail - 32) continue;
                len += snprintf(g_detail + len, sizeof g_detail - (size_t)len, "%s%d", listed ? ", " : "", peer[i]);
                listed++;
            }
            if (listed == 0 && unknown) snprintf(g_detail, sizeof g_detail, "?");
            return CMPI_TIMEOUT;
        }
    }
}

static int wait_all(MPI_Request *req, const int *peer, int n, double timeout) { return wait_all_napping(req, peer, n, timeout, 0); }

static int wait_one(MPI_Request *req, int peer, double timeout) { return wait_all(req, &peer, 1, timeout); }

/* MPI counts are int: large buffers go in INT_MAX/2-element pieces. */
static const long PIECE = INT_MAX / 2;

/* Through rank 0: every other rank sends `count` doubles of `buf` up (rank r's land in g_small at
   r·SMALL), rank 0 adds them to its `buf` in rank order and sends that back down, into every
   rank's `buf`. Rank 0 therefore knows exactly which ranks have not arrived. With count 0 it is a
   barrier. Point to point only: nothing is allocated (a non-blocking collective's schedule is). */
static int through_root(double *buf, long count, int up, int down) {
    MPI_Request req[g_size];
    int peer[g_size];
    int rc;
    if (g_rank == 0) {
        for (int r = 1; r < g_size; r++) {
            peer[r - 1] = r;
            if ((rc = MPI_Irecv(g_small + (long)r * SMALL, (int)count, MPI_DOUBLE, r, up, MPI_COMM_WORLD, &req[r - 1])) != MPI_SUCCESS) return rc;
        }
        if ((rc = wait_all(req, peer, g_size - 1, g_timeout)) != MPI_SUCCESS) return rc;
        for (int r = 1; r < g_size; r++)
            for (long i = 0; i < count; i++) buf[i] += g_small[(long)r * SMALL + i];
        for (int r = 1; r < g_size; r++) {
            if ((rc = MPI_Isend(buf, (int)count, MPI_DOUBLE, r, down, MPI_COMM_WORLD, &req[r - 1])) != MPI_SUCCESS) return rc;
        }
        return wait_all(req, peer, g_size - 1, g_timeout);
    }
    peer[0] = 0; peer[1] = 0;
    if ((rc = MPI_Isend(buf, (int)count, MPI_DOUBLE, 0, up, MPI_COMM_WORLD, &req[0])) != MPI_SUCCESS) return rc;
    if ((rc = MPI_Irecv(g_small, (int)count, MPI_DOUBLE, 0, down, MPI_COMM_WORLD, &req[1])) != MPI_SUCCESS) return rc;
    if ((rc = wait_all(req, peer, 2, g_timeout)) != MPI_SUCCESS) return rc;
    if (count > 0) memcpy(buf, g_small, (size_t)count * sizeof(double));
    return MPI_SUCCESS;
}

/* Small sums (loss and stop flags, norms, evaluation totals, fingerprints): gathered on rank 0, summed
   in rank order, sent back. */
int cmpi_allreduce_sum_double(double *buf, long count) {
    if (g_size == 1) return MPI_SUCCESS;
    if (count > SMALL) {
        MPI_Request r;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &r);
        return rc == MPI_SUCCESS ? wait_one(&r, -1, g_timeout) : rc;
    }
    return through_root(buf, count, TAG_UP, TAG_DOWN);
}

int cmpi_bcast_bytes(void *buf, long count, int root) {
    for (long off = 0; off < count; off += PIECE) {
        long n = count - off < PIECE ? count - off : PIECE;
        MPI_Request r;
        int rc = MPI_Ibcast((char *)buf + off, (int)n, MPI_BYTE, root, MPI_COMM_WORLD, &r);
        if (rc == MPI_SUCCESS) rc = wait_one(&r, g_rank == root ? -1 : root, g_timeout);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

/* One ring step on `channel`: send `count` elements to the right neighbour, receive as many from the
   left. The exchange channel's thread naps between polls (it shares a core with the computing main thread). */
static int ring_step_typed(const void *send, void *recv, long count, MPI_Datatype type, int channel) {
    int right = (g_rank + 1) % g_size, left = (g_rank + g_size - 1) % g_size;
    MPI_Request req[2];
    int peer[2] = {left, right};
    MPI_Comm comm = g_channel[channel ? 1 : 0];
    int rc = MPI_Irecv(recv, (int)count, type, left, TAG_RING, comm, &req[0]);
    if (rc != MPI_SUCCESS) return rc;
    if ((rc = MPI_Isend(send, (int)count, type, right, TAG_RING, comm, &req[1])) != MPI_SUCCESS) return rc;
    return wait_all_napping(req, peer, 2, g_timeout, channel != 0);
}

/* A reduce-scatter step's block travels in pieces of ADD_PIECE floats (256 KB), each added to `dst` while
   it is still in cache: received whole, the block would go through memory twice more (written into tmp,
   read back for the sum). Two pieces are in flight: the next one arrives while this one is added, from
   alternate halves of tmp. The sums are the same floats in the same order as a whole block's. */
#define ADD_PIECE (1L << 16)
static int ring_step_add(const float *send, float *dst, long count, float *tmp, int channel) {
    int right = (g_rank + 1) % g_size, left = (g_rank + g_size - 1) % g_size;
    int peer[2] = {left, right};
    MPI_Comm comm = g_channel[channel ? 1 : 0];
    MPI_Request req[2][2];
    long pieces = (count + ADD_PIECE - 1) / ADD_PIECE;
    for (long k = 0; k <= pieces; k++) {
        if (k < pieces) {   /* post piece k into its half */
            long lo = k * ADD_PIECE, n = count - lo < ADD_PIECE ? count - lo : ADD_PIECE;
            MPI_Request *r = req[k % 2];
            int rc = MPI_Irecv(tmp + (k % 2) * ADD_PIECE, (int)n, MPI_FLOAT, left, TAG_RING, comm, &r[0]);
            if (rc != MPI_SUCCESS) return rc;
            if ((rc = MPI_Isend(send + lo, (int)n, MPI_FLOAT, right, TAG_RING, comm, &r[1])) != MPI_SUCCESS) return rc;
        }
        if (k > 0) {        /* piece k-1 in: add it */
            long j = k - 1, lo = j * ADD_PIECE, n = count - lo < ADD_PIECE ? count - lo : ADD_PIECE;
            int rc = wait_all_napping(req[j % 2], peer, 2, g_timeout, channel != 0);
            if (rc != MPI_SUCCESS) return rc;
            const float *in = tmp + (j % 2) * ADD_PIECE;
            for (long i = 0; i < n; i++) dst[lo + i] += in[i];
        }
    }
    return MPI_SUCCESS;
}

int cmpi_ring_reduce_scatter_float(float *buf, long count, long stride, float *tmp, int channel) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    int rank = g_rank, size = g_size;
    for (int s = 0; s < size - 1; s++) {
        /* send block (rank-s-1), receive block (rank-s-2) and add it: after size-1 steps block `rank` is whole */
        long send_block = ((rank - s - 1) % size + size) % size;
        long recv_block = ((rank - s - 2) % size + size) % size;
        int rc = ring_step_add(buf + send_block * stride, buf + recv_block * stride, count, tmp, channel);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int cmpi_ring_reduce_scatter_bf16(float *buf, long count, long stride, unsigned short *wire, int channel) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    int rank = g_rank, size = g_size;
    for (int s = 0; s < size - 1; s++) {
        /* the blocks of cmpi_ring_reduce_scatter_float; only what travels is bf16 */
        long send_block = ((rank - s - 1) % size + size) % size;
        long recv_block = ((rank - s - 2) % size + size) % size;
        ddplm_f32_to_bf16(buf + send_block * stride, wire, count);
        int rc = ring_step_typed(wire, wire + count, count, MPI_UNSIGNED_SHORT, channel);
        if (rc != MPI_SUCCESS) return rc;
        ddplm_add_bf16(buf + recv_block * stride, wire + count, count);
    }
    return MPI_SUCCESS;
}

int cmpi_ring_allgather_float(float *buf, long count, long stride, int channel) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    int rank = g_rank, size = g_size;
    for (int s = 0; s < size - 1; s++) {
        /* pass on the block received last (our own first); after size-1 steps every block is here */
        long send_block = ((rank - s) % size + size) % size;
        long recv_block = ((rank - s - 1) % size + size) % size;
        int rc = ring_step_typed(buf + send_block * stride, buf + recv_block * stride, count, MPI_FLOAT, channel);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

/* The directory that backs a shared window's file: OpenMPI's shmem_mmap_backing_file_base_dir when set,
   else /dev/shm (OpenMPI's default; MPICH maps its shared memory there too). */
static const char *shared_dir(void) {
    const char *d = getenv("OMPI_MCA_shmem_mmap_backing_file_base_dir");
    return d && *d ? d : "/dev/shm";
}

int cmpi_shared_alloc(long bytes, void **ptr, long *available) {
    *ptr = NULL;
    *available = -1;
    if (g_size == 1 || g_nodes != 1 || g_shared_count == MAX_SHARED) return MPI_SUCCESS;
    /* Room first, on every rank: OpenMPI 4.1 leaves the other ranks waiting inside MPI_Win_allocate_shared
       when rank 0 cannot create the segment (a container's 64 MB /dev/shm), and a file backed short of
       space ends in SIGBUS when touched. CMPI_SHARED_HEADROOM is left for the MPI's own shared memory. */
    struct statvfs st;
    double room = statvfs(shared_dir(), &st) == 0 ? (double)st.f_bavail * (double)st.f_frsize : 0;
    int fits = room >= (double)bytes + CMPI_SHARED_HEADROOM, everywhere = 0;
    MPI_Request r;
    int rc = MPI_Iallreduce(&fits, &everywhere, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &r);
    if (rc != MPI_SUCCESS || (rc = wait_one(&r, -1, g_timeout)) != MPI_SUCCESS) return rc;
    if (!everywhere) { *available = (long)room; return MPI_SUCCESS; }
    /* rank 0 holds the whole segment (one contiguous mapping), 64 bytes more for the alignment */
    MPI_Aint size = g_rank == 0 ? (MPI_Aint)bytes + 64 : 0, got = 0;
    int unit = 0, ok = 1, all = 0;
    char *base = NULL;
    MPI_Win win = MPI_WIN_NULL;
    rc = MPI_Win_allocate_shared(size, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &win);
    if (rc == MPI_SUCCESS) rc = MPI_Win_shared_query(win, 0, &got, &unit, &base);
    if (rc != MPI_SUCCESS || got < (MPI_Aint)bytes + 64 || base == NULL) ok = 0;
    /* the same offset on every rank: the segment is mapped page-aligned everywhere, rank 0 decides */
    long pad = ok ? (long)((64 - (uintptr_t)base % 64) % 64) : 0;
    if ((rc = MPI_Ibcast(&pad, 1, MPI_LONG, 0, MPI_COMM_WORLD, &r)) != MPI_SUCCESS) return rc;
    if ((rc = wait_one(&r, 0, g_timeout)) != MPI_SUCCESS) return rc;
    if (ok && ((uintptr_t)(base + pad)) % 64 != 0) ok = 0;
    /* zeroed before the vote: no rank may return and write into the memory while rank 0 still zeroes it */
    if (ok && g_rank == 0) memset(base + pad, 0, (size_t)bytes);
    if ((rc = MPI_Iallreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &r)) != MPI_SUCCESS) return rc;
    if ((rc = wait_one(&r, -1, g_timeout)) != MPI_SUCCESS) return rc;
    if (!all) {
        if (win != MPI_WIN_NULL) MPI_Win_free(&win);
        return MPI_SUCCESS;
    }
    g_shared[g_shared_count++] = win;
    *ptr = base + pad;
    return MPI_SUCCESS;
}

/* Every rank tells rank 0 it has arrived, and rank 0 releases them all (empty messages, through_root):
   rank 0 knows which ranks have not arrived, and nothing is allocated (MPI_Ibarrier's schedule is, at
   every call). */
int cmpi_barrier(void) {
    return g_size == 1 ? MPI_SUCCESS : through_root(NULL, 0, TAG_ARRIVED, TAG_RELEASE);
}

void cmpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void cmpi_error_string(int code, char *buf, int buflen) {
    char tmp[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (code == CMPI_TIMEOUT) snprintf(tmp, sizeof tmp, "timed out waiting for rank(s) %s", g_detail);
    else if (MPI_Error_string(code, tmp, &len) != MPI_SUCCESS) snprintf(tmp, sizeof tmp, "MPI error %d", code);
    snprintf(buf, (size_t)buflen, "%s", tmp);
}
