# Included by the top-level CMakeLists.txt when RWKV_FUZZ is ON, before any library is defined, so the whole
# project is built with libFuzzer's coverage instrumentation and AddressSanitizer + UndefinedBehaviorSanitizer.
# UBSan does not recover: a report aborts the run, which libFuzzer records as a crash.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "RWKV_FUZZ needs clang (libFuzzer), but the C++ compiler is ${CMAKE_CXX_COMPILER_ID} "
                      "(${CMAKE_CXX_COMPILER}). Configure a fresh build directory with CC=clang CXX=clang++, "
                      "as scripts/fuzz.sh does.")
endif()

include(CheckCXXSourceCompiles)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer,address,undefined")
check_cxx_source_compiles([=[
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }
]=] RWKV_HAVE_LIBFUZZER)
unset(CMAKE_REQUIRED_FLAGS)
if(NOT RWKV_HAVE_LIBFUZZER)
  message(FATAL_ERROR "RWKV_FUZZ: clang cannot link a libFuzzer target with -fsanitize=fuzzer,address,undefined. "
                      "On Debian/Ubuntu install the compiler runtime: libclang-rt-<clang major>-dev "
                      "(scripts/fuzz.sh does).")
endif()

add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer -gline-tables-only)
add_link_options(-fsanitize=address,undefined)
