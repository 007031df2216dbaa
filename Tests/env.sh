# The environment of the end-to-end suites that run ddplm alone and under mpirun (Tests/cli/run.sh,
# Tests/cli/classify.sh, Tests/mpich/run.sh); source it before Tests/lib.sh: `source Tests/env.sh NAME`.
# Tests never change OPENBLAS_CORETYPE: keep OpenBLAS's own kernel choice. mpirun may run as root and
# start more ranks than cores. $tmp is the suite's scratch directory, removed on exit.
export DDPLM_BLAS_AUTOSELECT=0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d "/tmp/ddplm-$1.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
