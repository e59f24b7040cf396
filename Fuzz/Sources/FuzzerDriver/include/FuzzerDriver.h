// Entry point of the harnesses: SwiftPM links an executable's main to <module>_main, so each harness
// has a @main that hands libFuzzer's driver its LLVMFuzzerTestOneInput.
#include <stddef.h>
#include <stdint.h>

typedef int (*FuzzerTestOneInput)(const uint8_t *data, size_t size);

/// Runs libFuzzer (flags, corpus folders, crash reproduction) with `test`; returns its exit status.
int fuzzer_run(int argc, char **argv, FuzzerTestOneInput test);
