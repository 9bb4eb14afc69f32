// The single-process communicator, and the refusal of an mpirun launch by a binary built without MPI.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "rwkv/error.h"
#include "train/comm.h"

namespace rwkv::train {
namespace {

TEST(Comm, SingleProcessIsIdentity) {
    auto comm = make_comm(nullptr, nullptr);
    EXPECT_EQ(comm->kind(), "single");
    EXPECT_EQ(comm->rank(), 0);
    EXPECT_EQ(comm->size(), 1);
    std::vector<float> f = {1.5f, -2.0f, 3.25f};
    comm->allreduce_sum(f.data(), f.size());
    EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f, 3.25f}));
    std::vector<double> d = {0.1, 1e300, -7};
    comm->allreduce_sum(d.data(), d.size());
    EXPECT_EQ(d, (std::vector<double>{0.1, 1e300, -7}));
    char bytes[4] = {'a', 'b', 'c', 'd'};
    comm->broadcast(bytes, sizeof bytes);
    EXPECT_EQ(std::string(bytes, 4), "abcd");
    comm->barrier();
}

// Sets an environment variable for one scope, as a launcher would have.
struct ScopedEnv {
    ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
    ~ScopedEnv() { unsetenv(name_); }
    const char* name_;
};

TEST(Comm, MpirunLaunchWithoutMpiIsRefused) {
    if (mpi_available()) GTEST_SKIP() << "built with MPI: such a launch would initialise MPI";
    for (auto [name, value] : {std::pair{"OMPI_COMM_WORLD_SIZE", "2"}, std::pair{"PMI_SIZE", "4"},
                               std::pair{"PMIX_RANK", "1"}}) {
        ScopedEnv env(name, value);
        try {
            make_comm(nullptr, nullptr);
            ADD_FAILURE() << name << " set but make_comm did not refuse";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("without MPI"), std::string::npos) << e.what();
        }
    }
    // One rank under mpirun is just a single process.
    ScopedEnv one("OMPI_COMM_WORLD_SIZE", "1");
    EXPECT_EQ(make_comm(nullptr, nullptr)->kind(), "single");
}

}  // namespace
}  // namespace rwkv::train
