#include <limits.h>
#include <stdio.h>
#include <mpi.h>
#include "cmpi.h"

int cmpi_init(void) {
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return rc;
    return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

int cmpi_finalize(void) { return MPI_Finalize(); }

int cmpi_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }
int cmpi_size(int *size) { return MPI_Comm_size(MPI_COMM_WORLD, size); }

/* MPI counts are int: large buffers go in INT_MAX/2-element pieces. */
static const long PIECE = INT_MAX / 2;

int cmpi_allreduce_sum_float(float *buf, long count) {
    for (long off = 0; off < count; off += PIECE) {
        long n = count - off < PIECE ? count - off : PIECE;
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int cmpi_allreduce_sum_double(double *buf, long count) {
    for (long off = 0; off < count; off += PIECE) {
        long n = count - off < PIECE ? count - off : PIECE;
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int cmpi_bcast_bytes(void *buf, long count, int root) {
    for (long off = 0; off < count; off += PIECE) {
        long n = count - off < PIECE ? count - off : PIECE;
        int rc = MPI_Bcast((char *)buf + off, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int cmpi_ring_reduce_scatter_float(float *buf, long count, float *tmp) {
    int rank, size, rc;
    if (count > INT_MAX) return MPI_ERR_COUNT;
    if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, &rank)) != MPI_SUCCESS) return rc;
    if ((rc = MPI_Comm_size(MPI_COMM_WORLD, &size)) != MPI_SUCCESS) return rc;
    int right = (rank + 1) % size, left = (rank + size - 1) % size;
    for (int s = 0; s < size - 1; s++) {
        /* send block (rank-s-1), receive block (rank-s-2) and add it: after size-1 steps block `rank` is whole */
        long send_block = ((rank - s - 1) % size + size) % size;
        long recv_block = ((rank - s - 2) % size + size) % size;
        rc = MPI_Sendrecv(buf + send_block * count, (int)count, MPI_FLOAT, right, 77,
                          tmp, (int)count, MPI_FLOAT, left, 77, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return rc;
        float *dst = buf + recv_block * count;
        for (long i = 0; i < count; i++) dst[i] += tmp[i];
    }
    return MPI_SUCCESS;
}

int cmpi_allgather_float(float *buf, long count) {
    if (count > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, (int)count, MPI_FLOAT, MPI_COMM_WORLD);
}

int cmpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

void cmpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void cmpi_error_string(int code, char *buf, int buflen) {
    char tmp[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, tmp, &len) != MPI_SUCCESS) snprintf(tmp, sizeof tmp, "MPI error %d", code);
    snprintf(buf, (size_t)buflen, "%s", tmp);
}
