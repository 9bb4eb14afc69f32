// Choosing the communicator. A process started by an MPI launcher must join the other ranks: training N
// unconnected copies would look like it works and waste every machine but one, so a binary without MPI refuses
// such a launch instead. A process started by hand stays single even in an MPI build, so ordinary runs and the
// unit tests never pay for (or leak from) MPI initialisation.
#include "train/comm.h"

#include <cstdlib>
#include <string>

#include "rwkv/error.h"

namespace rwkv::train {

#ifdef RWKV_HAVE_MPI
// comm_mpi.cpp; only that file includes mpi.h.
std::unique_ptr<Comm> make_mpi_comm(int* argc, char*** argv);
#endif

namespace {

class SingleComm final : public Comm {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    void allreduce_sum(float*, size_t) override {}
    void allreduce_sum(double*, size_t) override {}
    void broadcast(void*, size_t) override {}
    void barrier() override {}
    std::string kind() const override { return "single"; }
};

long env_int(const char* name, long fallback) {
    const char* s = std::getenv(name);
    if (!s || !*s) return fallback;
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    return *end == '\0' ? v : fallback;
}

bool env_set(const char* name) { return std::getenv(name) != nullptr; }

// What the launchers leave in each rank's environment: Open MPI's mpirun (OMPI_COMM_WORLD_*), PMIx-based
// launchers (PMIX_RANK; srun --mpi=pmix too), and PMI-1/2 ones such as MPICH's Hydra or srun --mpi=pmi2.
[[maybe_unused]] bool launched_by_mpi() {
    return env_set("OMPI_COMM_WORLD_SIZE") || env_set("OMPI_COMM_WORLD_RANK") || env_set("PMIX_RANK") ||
           env_set("PMI_RANK") || env_set("PMI_SIZE");
}

// More than one rank, as far as the environment tells. PMIx gives no size, but any rank above 0 implies others.
[[maybe_unused]] bool launched_with_many_ranks() {
    for (const char* size : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
        if (env_int(size, 1) > 1) return true;
    for (const char* rank : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
        if (env_int(rank, 0) > 0) return true;
    return false;
}

}  // namespace

bool mpi_available() {
#ifdef RWKV_HAVE_MPI
    return true;
#else
    return false;
#endif
}

std::unique_ptr<Comm> make_comm(int* argc, char*** argv) {
#ifdef RWKV_HAVE_MPI
    if (launched_by_mpi()) return make_mpi_comm(argc, argv);
#else
    (void)argc;
    (void)argv;
    if (launched_with_many_ranks())
        throw Error("started by mpirun with several ranks, but this binary was built without MPI; install OpenMPI "
                    "(libopenmpi-dev) and rebuild, or run a single process");
#endif
    return std::make_unique<SingleComm>();
}

}  // namespace rwkv::train
