#pragma once
// The files a training run keeps in its folder: checkpoints rwkv-STEP.pth, trainer.state, and the temporaries
// ("<name>.tmp.<pid>") that a save killed before its rename leaves behind. Only rank 0 calls these.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rwkv::train {

inline constexpr const char* kStateFile = "trainer.state";

// The file name of step's checkpoint, and the step a file name holds (-1 when it is not a checkpoint's).
std::string checkpoint_name(int64_t step);
int64_t checkpoint_step(const std::string& file_name);

// Makes the folder ready for a run: creates it; removes the temporaries of saves whose process is gone; and,
// unless `resume`, refuses a folder that holds a run (checkpoints or a trainer state) with an error saying to
// resume or overwrite it, or with `overwrite` removes that run's checkpoints and state first.
void prepare_run_dir(const std::string& dir, bool resume, bool overwrite);

// Removes all but the `keep` (at least 1) newest checkpoints in the folder, whichever process wrote them; never `protect`
// (the checkpoint the trainer state belongs to). fsyncs the folder when it removed anything.
void keep_newest_checkpoints(const std::string& dir, int keep, const std::string& protect);

}  // namespace rwkv::train
