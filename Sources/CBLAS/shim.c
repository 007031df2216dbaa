/* CBLAS is header-only; this file exists so SwiftPM treats the target as a C library. */
#include "ddplm_blas.h"
