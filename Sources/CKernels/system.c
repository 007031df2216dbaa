#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
#include "ddplm_kernels.h"

int ddplm_affinity_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return (int)sysconf(_SC_NPROCESSORS_ONLN);
    return CPU_COUNT(&set);
}

int ddplm_online_cores(void) { return (int)sysconf(_SC_NPROCESSORS_ONLN); }

#include <sys/ioctl.h>
int ddplm_terminal_columns(int fd) {
    struct winsize w;
    if (ioctl(fd, TIOCGWINSZ, &w) != 0 || w.ws_col == 0) return 0;
    return w.ws_col;
}

/* Flush-to-zero and denormals-are-zero for this thread's SSE/AVX arithmetic (MXCSR bits 15 and 6).
   Gradients that vanish through hundreds of LSTM steps become denormal floats, and every GEMM touching
   them runs several times slower; flushing them to zero changes results only below 1.2e-38. Threads created
   afterwards inherit the setting (pthread_create copies the floating-point environment). */
void ddplm_flush_denormals(void) {
#if defined(__x86_64__)
    unsigned int csr;
    __asm__ volatile("stmxcsr %0" : "=m"(csr));
    csr |= 0x8040u;
    __asm__ volatile("ldmxcsr %0" : : "m"(csr));
#endif
}

/* OpenBLAS starts its worker threads in its own library constructor, before main: only an entry in the
   executable's .preinit_array runs earlier (glibc calls it before any shared library's initialisers), so
   flushing there gives every OpenBLAS thread the setting too. */
static void ddplm_preinit(int argc, char **argv, char **envp) {
    (void)argc; (void)argv; (void)envp;
    ddplm_flush_denormals();
}
__attribute__((section(".preinit_array"), used)) static void (*ddplm_preinit_entry)(int, char **, char **) = ddplm_preinit;
