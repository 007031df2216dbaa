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
