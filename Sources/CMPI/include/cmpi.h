#ifndef DDPLM_CMPI_H
#define DDPLM_CMPI_H
/* OpenMPI for Swift. mpi.h's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE ...) are macros
   Swift cannot import, so this shim hides them: every function works on MPI_COMM_WORLD and returns the MPI
   return code (MPI_SUCCESS == 0). Errors are set to return, not abort, so Swift can name the failing call. */

int cmpi_init(void);
int cmpi_finalize(void);
int cmpi_is_initialized(void);
int cmpi_rank(int *rank);
int cmpi_size(int *size);
int cmpi_allreduce_sum_float(float *buf, long count);
int cmpi_allreduce_sum_double(double *buf, long count);
int cmpi_bcast_bytes(void *buf, long count, int root);
/* send holds size*count floats; recv gets this rank's count-float block of the element-wise sum. */
int cmpi_reduce_scatter_sum_float(const float *send, float *recv, long count);
/* buf holds size*count floats; each rank's block r*count.. is shared with everyone, in place. */
int cmpi_allgather_float(float *buf, long count);
int cmpi_barrier(void);
void cmpi_abort(int code);
void cmpi_error_string(int code, char *buf, int buflen);
#endif
