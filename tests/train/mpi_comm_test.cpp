// Run by ctest under mpirun with two ranks: the MPI communicator's sums and broadcast, through make_comm as the
// trainer uses it. Each rank checks its own results; a failure makes mpirun exit non-zero.
#include <cstdio>
#include <cstring>
#include <exception>
#include <vector>

#include "train/comm.h"

namespace {

int failures = 0;

void expect(bool ok, int rank, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "rank %d: %s\n", rank, what);
    ++failures;
}

int run(int argc, char** argv) {
    auto comm = rwkv::train::make_comm(&argc, &argv);
    const int r = comm->rank(), n = comm->size();
    expect(comm->kind() == "mpi", r, "make_comm under mpirun did not give the MPI communicator");
    expect(n == 2, r, "expected 2 ranks");

    // Odd length, values exact in float, so the sum is exact whatever the reduction order.
    std::vector<float> f(1001);
    for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(i) + 0.5f * static_cast<float>(r);
    comm->allreduce_sum(f.data(), f.size());
    bool ok = true;
    for (size_t i = 0; i < f.size(); ++i)
        ok &= f[i] == static_cast<float>(n * static_cast<double>(i) + 0.5 * (n * (n - 1) / 2));
    expect(ok, r, "float allreduce sum wrong");

    std::vector<double> d(7);
    for (size_t i = 0; i < d.size(); ++i) d[i] = (r + 1) * 1e10 + static_cast<double>(i);
    comm->allreduce_sum(d.data(), d.size());
    ok = true;
    for (size_t i = 0; i < d.size(); ++i) ok &= d[i] == (n * (n + 1) / 2) * 1e10 + n * static_cast<double>(i);
    expect(ok, r, "double allreduce sum wrong");

    comm->allreduce_sum(static_cast<float*>(nullptr), 0);  // nothing to do, must not hang or fail

    char msg[13];
    std::snprintf(msg, sizeof msg, "from rank %d", r);
    comm->broadcast(msg, sizeof msg);
    expect(std::strcmp(msg, "from rank 0") == 0, r, "broadcast did not deliver rank 0's bytes");

    comm->barrier();
    if (r == 0 && failures == 0) std::printf("mpi_comm_test: %d ranks OK\n", n);
    return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mpi_comm_test: %s\n", e.what());
        return 1;
    }
}
