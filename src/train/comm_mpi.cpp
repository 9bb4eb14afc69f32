// The MPI communicator: gradients summed with MPI_Allreduce over MPI_COMM_WORLD. Built only when CMake finds
// MPI; comm.cpp picks it when the process was started by an MPI launcher.
#include <climits>
#include <exception>
#include <memory>
#include <string>

// Only the C API: the deprecated C++ bindings would need libmpi_cxx at link time.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include "rwkv/error.h"
#include "train/comm.h"

namespace rwkv::train {
namespace {

void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
    const std::string why = len > 0 ? std::string(msg, static_cast<size_t>(len)) : "MPI error " + std::to_string(rc);
    throw Error(std::string(what) + " failed: " + why);
}

// MPI counts are int; larger buffers go in pieces.
template <class T>
void allreduce_chunked(T* data, size_t n, MPI_Datatype type) {
    while (n > 0) {
        const int count = n > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
        check(MPI_Allreduce(MPI_IN_PLACE, data, count, type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
        data += count;
        n -= static_cast<size_t>(count);
    }
}

class MpiComm final : public Comm {
public:
    MpiComm(int* argc, char*** argv) {
        int finalized = 0, initialized = 0;
        MPI_Finalized(&finalized);
        if (finalized) throw Error("MPI was already finalised in this process; make_comm may be called only once");
        MPI_Initialized(&initialized);
        if (!initialized) {
            // Only the calling thread talks to MPI; the thread pool never does.
            int provided = 0;
            check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
            owned_ = true;
        }
        // Errors come back as rwkv::Error with MPI's message instead of aborting inside the library.
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
        check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    }

    ~MpiComm() override {
        if (!owned_) return;
        // Leaving through an exception on one rank while the others wait in a collective: MPI_Finalize would
        // wait for them forever, so take the whole job down instead. The caller should print its error before
        // the communicator goes out of scope (catch, print, rethrow).
        if (std::uncaught_exceptions() > 0 && size_ > 1) MPI_Abort(MPI_COMM_WORLD, 1);
        MPI_Finalize();
    }

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    void allreduce_sum(float* data, size_t n) override { allreduce_chunked(data, n, MPI_FLOAT); }
    void allreduce_sum(double* data, size_t n) override { allreduce_chunked(data, n, MPI_DOUBLE); }

    void broadcast(void* data, size_t n) override {
        auto* p = static_cast<char*>(data);
        while (n > 0) {
            const int count = n > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
            check(MPI_Bcast(p, count, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
            p += count;
            n -= static_cast<size_t>(count);
        }
    }

    void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
    std::string kind() const override { return "mpi"; }

private:
    int rank_ = 0, size_ = 1;
    bool owned_ = false;
};

}  // namespace

std::unique_ptr<Comm> make_mpi_comm(int* argc, char*** argv) { return std::make_unique<MpiComm>(argc, argv); }

}  // namespace rwkv::train
