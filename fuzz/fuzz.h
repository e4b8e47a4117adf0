/* Shared by the fuzz targets: the libFuzzer entry point and a check that stops the run
 * (the fuzzer or the replay driver) on a broken property. */
#ifndef PW_FUZZ_H
#define PW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken property is a finding like a crash: report it and abort so that the fuzzer keeps
 * the input. */
#define FUZZ_ASSERT(cond)                                                                             \
	do {                                                                                          \
		if (!(cond)) {                                                                        \
			fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                      \
		}                                                                                     \
	} while (0)

#endif
