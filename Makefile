# The front door. `make run` and `make test` work on a fresh Debian 12 machine as root.
.PHONY: all deps build run test bench format check-format clean install

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

bench: deps build
	@sh bench/run-all.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	@sh scripts/check-format.sh

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf build build-asan
