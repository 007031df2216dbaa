#ifndef DDPLM_CMPI_H
#define DDPLM_CMPI_H
/* MPI for Swift (standard MPI-3 calls only: OpenMPI, MPICH and their derivatives). mpi.h's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE ...) are macros
   Swift cannot import, so this shim hides them: every function works on MPI_COMM_WORLD and returns the MPI
   return code (MPI_SUCCESS == 0). Errors are set to return, not abort, so Swift can name the failing call.

   Watchdog: every collective is posted non-blocking and waited for with a deadline (cmpi_set_timeout).
   When it passes, the call returns CMPI_TIMEOUT and cmpi_timeout_detail() lists the ranks it was waiting
   for. Before it returns, the rank calls the roll: it tells every rank, every rank's waits hear of it and
   answer, and the ranks that never answer (within a quarter of the timeout, 1 to 30 s) are the ones
   named ("2", "1, 3"), the same on every live rank, whichever wait each was in. When everyone answers,
   the wait names its own pending peers ("?" when a collective cannot say). */

#define CMPI_TIMEOUT (-2)
/* max_segment_bytes: the overlapped exchange's largest message; under OpenMPI, cmpi_init raises the TCP
   eager limit above it (unless OMPI_MCA_btl_tcp_eager_limit is set), so segments are not rendezvous
   messages. */
int cmpi_init(long max_segment_bytes);
/* The MPI library's name and version (the first line of MPI_Get_library_version; callable before
   cmpi_init), into buf of len bytes. */
void cmpi_library_version(char *buf, int len);
int cmpi_finalize(void);
int cmpi_rank(int *rank);
int cmpi_size(int *size);
/* How many nodes the ranks span (groups that share memory, MPI_COMM_TYPE_SHARED), counted at cmpi_init. */
int cmpi_nodes(void);
/* 1 when MPI provides MPI_THREAD_MULTIPLE: channel 1 exists and may be used from a second thread while
   the main thread makes calls on channel 0. */
int cmpi_overlap_available(void);
/* Seconds a collective may wait before CMPI_TIMEOUT; 0 = forever. */
void cmpi_set_timeout(double seconds);
const char *cmpi_timeout_detail(void);
/* In rank order on rank 0, then sent back: every rank gets the same bits. */
int cmpi_allreduce_sum_double(double *buf, long count);
int cmpi_bcast_bytes(void *buf, long count, int root);
/* Ring reduce-scatter, in place: buf holds size*count floats; afterwards block `rank` (buf + rank*count)
   holds the element-wise sum over ranks of that block. size-1 steps, each exchanging one block with the
   ring neighbours and adding it: bandwidth-optimal, and faster than OpenMPI 4.1's
   MPI_Reduce_scatter_block on its shared-memory transport. Each step's block travels in 256 KB pieces,
   each added while in cache, two in flight. tmp holds count floats (it uses at most 2^17).
   Block r starts at buf + r*stride (stride >= count): a segment of every rank's block, so a gradient
   can be reduced in segments as they become final, each element summed exactly as the whole ring would.
   channel 0 is MPI_COMM_WORLD; channel 1 its duplicate, for the exchange thread (see
   cmpi_overlap_available), whose waits nap between polls. */
int cmpi_ring_reduce_scatter_float(float *buf, long count, long stride, float *tmp, int channel);
/* The same ring with a bfloat16 wire: each partial sum is rounded to bf16 (nearest, ties to even) before
   it is sent and added in fp32 where it arrives. Half the bytes; block b's sum is rounded size-1 times on
   its way (ranks b+1, b+2, ..., b), the last addition (rank b's own part) is exact fp32.
   wire holds 2*count unsigned shorts (send and receive halves). */
int cmpi_ring_reduce_scatter_bf16(float *buf, long count, long stride, unsigned short *wire, int channel);
/* Ring all-gather, in place: block r is count floats at buf + r*stride; each rank's own block reaches
   everyone. channel as for the reduce-scatter. */
int cmpi_ring_allgather_float(float *buf, long count, long stride, int channel);
/* Collective: `bytes` bytes of memory that every rank maps (MPI_Win_allocate_shared, one segment held
   by rank 0), zeroed, 64-byte aligned, the same offsets on every rank, kept until cmpi_finalize. *ptr
   is NULL (and the call succeeds) on one rank, when the ranks span more than one node, or when the MPI
   could not allocate it on some rank: then every rank gets NULL. *available is then, when the reason was
   room, the bytes free where the window would be backed (/dev/shm, or OpenMPI's
   shmem_mmap_backing_file_base_dir) on this rank; else -1. */
int cmpi_shared_alloc(long bytes, void **ptr, long *available);
/* The room cmpi_shared_alloc leaves free besides its bytes (the MPI's own shared memory). */
#define CMPI_SHARED_HEADROOM (32L << 20)
/* Gathered on rank 0 and released by it (empty messages): rank 0 knows which ranks have not arrived. */
int cmpi_barrier(void);
void cmpi_abort(int code);
void cmpi_error_string(int code, char *buf, int buflen);
#endif
