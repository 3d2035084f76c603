# Switchboard — the two commands:
#   make run    install what is missing, build, start the whole stack (Ctrl-C stops it)
#   make test   install what is missing, build, run every test
.PHONY: all build run test deps format bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j2

run: build
	@scripts/run.sh

test:
	@scripts/test.sh

bench: build
	@bench/run.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-logs
