# The front door. `make run` and `make test` work on a fresh Debian 12 machine as root.
.PHONY: all deps build run test fuzz bench format check-format clean install

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

all: build

deps:
	@sh scripts/deps.sh

build:
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: deps build
	$(BUILD)/pipewright run examples/hello.yml

test: deps
	@sh scripts/test.sh

# libFuzzer targets (clang) in build-fuzz, each run FUZZ_TIME seconds from fuzz/corpus.
FUZZ_TIME ?= 30
fuzz: deps
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
		-DPW_FUZZ=ON -DPW_BUILD_TESTS=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@sh fuzz/run.sh build-fuzz $(FUZZ_TIME)

bench: deps build
	@sh bench/run-all.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	@sh scripts/check-format.sh

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf build build-asan build-fuzz
