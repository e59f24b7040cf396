#include "FuzzerDriver.h"

// libFuzzer's driver (compiler-rt, FuzzerDriver.cpp), the same that its own main calls.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size));

int fuzzer_run(int argc, char **argv, FuzzerTestOneInput test) {
    return LLVMFuzzerRunDriver(&argc, &argv, test);
}
