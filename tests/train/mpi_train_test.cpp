// `mpirun -np 2 rwkv train …` against one process with the same global batch: each rank trains on half of every
// batch and the gradients are summed, so the weights must agree to float rounding (the two runs only differ in
// how the batch's sums are grouped).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "cli_run.h"
#include "rwkv/formats.h"
#include "shakespeare_tokens.h"

namespace rwkv::train {
namespace {

TEST(MpiTrain, TwoRanksEqualOneProcessWithTheSameGlobalBatch) {
    const std::string dir = test::temp_dir("mpi_train");
    const std::string data = test::shakespeare_tokens(dir, 32 * 1024);
    const std::string common = "train --data '" + data +
                               "' --layers 2 --embd 64 --head-size 32 --ctx-len 32 --batch 4 --steps 12 "
                               "--eval-every 6 --eval-windows 8 --lr 3e-3 --warmup 2 -t 1 --seed 5";
    const test::CliRun one = test::run_cli(common + " -o '" + dir + "/one'", "", "mpi_train_one");
    ASSERT_EQ(one.status, 0) << one.err;
    const std::string launcher = std::string(RWKV_MPIEXEC) + " '" + RWKV_EXE + "' ";
    const std::string cmd = launcher + common + " -o '" + dir + "/two' > '" + dir + "/two.out' 2> '" + dir + "/two.err'";
    const int status = std::system(cmd.c_str());
    std::ifstream err(dir + "/two.err");
    ASSERT_EQ(status, 0) << std::string((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
    std::ifstream out(dir + "/two.out");
    const std::string summary((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
    EXPECT_NE(summary.find("\"processes\":2"), std::string::npos) << summary;

    const TensorFile a = load_pth(dir + "/one/rwkv-12.pth");
    const TensorFile b = load_pth(dir + "/two/rwkv-12.pth");
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    float worst = 0, largest = 0;
    for (const auto& [name, t] : a.tensors) {
        const Tensor& u = b.get(name);
        ASSERT_EQ(t.data.size(), u.data.size()) << name;
        for (size_t i = 0; i < t.data.size(); ++i) {
            worst = std::max(worst, std::fabs(t.data[i] - u.data[i]));
            largest = std::max(largest, std::fabs(t.data[i]));
        }
    }
    std::printf("max weight difference %g (largest weight %g)\n", worst, largest);
    // 12 Adam steps of size ≤ lr each from gradients equal to ~1e-6 relative: the weights agree to ~1e-6
    // of their scale (one step of lr 3e-3 is 100 times larger, so a missing all-reduce would show).
    EXPECT_LT(worst, 2e-5f) << "largest weight " << largest;
}

}  // namespace
}  // namespace rwkv::train
