#pragma once
// What every fuzz target shares. The loaders take paths, so each input is written to a file of this process's
// own and the loader is given that path. rwkv::Error is the expected answer to bad input and is swallowed;
// anything else (another exception, a crash, a sanitizer report, a broken invariant) fails the run.
#include <cstddef>
#include <cstdint>
#include <string>

#include "rwkv/error.h"
#include "rwkv/tensor.h"

namespace rwkv::fuzz {

// Writes the input to `name` in this process's scratch directory and returns its path; the next run
// overwrites it. The directory is created on first use under $RWKV_FUZZ_TMPDIR, else /dev/shm, else
// $TMPDIR, else /tmp, named for the pid, and removed at exit (or, after a crash, by a later process).
std::string write_input(const std::string& name, const uint8_t* data, size_t size);

// The scratch directory itself.
const std::string& scratch_dir();

// Runs f; an rwkv::Error is the expected outcome for bad input.
template <class F>
void expect_rwkv_error(F&& f) {
    try {
        f();
    } catch (const rwkv::Error&) {
    }
}

// Aborts (a fuzzer failure) with `what` on stderr unless `ok`: an invariant the loaders promise.
void require(bool ok, const char* what);

// What the file readers promise of every tensor they return: a valid shape, and values (or stored bytes)
// for exactly that many elements. Reads every value, so a bad pointer or size shows up under ASan.
void check_tensors(const TensorFile& file);

}  // namespace rwkv::fuzz
