#pragma once
// Data parallelism: each process (rank) trains on its own shard of every global batch, and the gradients are
// summed across ranks before each optimiser step. One process needs no MPI; under `mpirun` the MPI
// communicator is used when the engine was built with OpenMPI.
#include <cstdint>
#include <memory>
#include <string>

namespace rwkv::train {

class Comm {
public:
    virtual ~Comm() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    // In place: every rank ends with the element-wise sum over all ranks.
    virtual void allreduce_sum(float* data, size_t n) = 0;
    virtual void allreduce_sum(double* data, size_t n) = 0;
    // Rank 0's bytes copied to every rank (n must agree).
    virtual void broadcast(void* data, size_t n) = 0;
    virtual void barrier() = 0;
    virtual std::string kind() const = 0;  // "single" or "mpi"
};

// The communicator for this process: MPI when built with it and launched by mpirun (or when the MPI
// environment says there is more than one rank), else a single-process one. MPI is initialised on first use
// and finalised when the returned object is destroyed; call at most once per process.
std::unique_ptr<Comm> make_comm(int* argc, char*** argv);

// Whether this binary was built with MPI support.
bool mpi_available();

}  // namespace rwkv::train
