# Build, test and check github.com/goaio/uring.
#
#   make test             the whole suite: vet, unit, -race, cgocheck2, examples, fault injection,
#                         fs and net on masked older kernels, cross builds, contrib/pebble, stacks,
#                         the file-system matrix (as root), the README generator (quick), a 60 s soak
#   make check            gofmt, go vet, staticcheck (contrib/pebble and stacks included)
#   make contrib          contrib/pebble (its own module): vet, tests, -race, a darwin vet
#   make stacks           stacks (its own module): gRPC, HTTP/2, ReverseProxy on ring and std conns, -race too
#   make bench-pebble     contrib/pebble's BenchmarkWorkload: Pebble on vfs.Default against uringpebble.FS
#   make fsmatrix         the fs and contrib/pebble suites on ext4, xfs, btrfs, tmpfs, overlayfs, FUSE (root)
#   make bench-fs         the fs benchmarks on each of those file systems: one table of fs/os ratios
#   make soak             mixed fs/net load with cancels, deadlines and Closes for SOAK (10m); fails on leaks
#   make bench            the main job: uring bench, io_uring against the standard library (BENCHFLAGS)
#   make readme-results   run uring bench and the Go benchmarks, rewrite the README's result tables
#   make fuzz             a short run of every Fuzz target (FUZZTIME each)
#   make container-test   Dockerfile.test in a container with io_uring allowed
#
# URING_REQUIRE=1 (set by CI) makes a missing io_uring fail the tests instead
# of skipping them; it is passed through from the environment or the command line.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

GO          ?= go
PKGS        ?= ./...
# Each go test run is bounded, so a hung test fails with its goroutine dump
# instead of stalling CI.
TEST_TIMEOUT ?= 8m
TESTFLAGS   ?=
BENCH       ?= .
BENCHTIME   ?= 1s
FUZZTIME    ?= 10s
# The soak's duration. It reaches only the soak's own go test runs: with
# SOAK in the environment, go test ./... would run the soak in every pass.
SOAK        ?= 10m
unexport SOAK
STATICCHECK_VERSION ?= v0.8.2
GOBIN_DIR   := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN_DIR)/staticcheck
CONTAINER   := ../shared/tools/container
IMAGE       ?= uring-test
LIBURING_H  ?= /usr/include/liburing.h

ifdef URING_REQUIRE
export URING_REQUIRE
endif

.PHONY: all deps build test vet unit race cgocheck faults floor cross contrib stacks check fmt staticcheck bench gobench bench-deps fuzz \
	bench-pebble soak container-test container-test-default clean help fsmatrix bench-fs readme-results readme-check

all: check test

help:
	@sed -n '3,16p' Makefile

# liburing-dev gives liburing.h and the static liburing.a that the default
# build links. Root installs it; anyone else is told the command.
deps:
	@if [ "$$(uname -s)" != Linux ]; then \
		echo "deps: not Linux: io_uring is Linux only; the module builds here without it"; exit 0; \
	fi; \
	if [ -f $(LIBURING_H) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "deps: liburing-dev is missing; installing it"; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq liburing-dev; \
	else \
		echo "deps: liburing-dev is missing (no $(LIBURING_H)). Install it with:" >&2; \
		echo "    sudo apt-get install -y liburing-dev" >&2; \
		exit 1; \
	fi

build: deps
	$(GO) build $(PKGS)

# The order matters: cheap checks first, so a vet error stops the run early.
test: deps
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout=$(TEST_TIMEOUT) $(TESTFLAGS) $(PKGS)
	$(GO) test -race -count=1 -timeout=$(TEST_TIMEOUT) $(TESTFLAGS) $(PKGS)
	GOEXPERIMENT=cgocheck2 $(GO) test -count=1 -timeout=$(TEST_TIMEOUT) $(TESTFLAGS) $(PKGS)
	@$(MAKE) --no-print-directory faults floor cross contrib stacks fsmatrix readme-check
	@$(MAKE) --no-print-directory soak SOAK=60s

# The fault seam (-tags uring_faults): io_uring_enter and setup failing on
# purpose, short submissions, and kernels below the floor, in the root
# package and uring probe.
faults: deps
	$(GO) vet -tags uring_faults $(PKGS)
	$(GO) test -count=1 -timeout=$(TEST_TIMEOUT) -tags uring_faults $(TESTFLAGS) . ./cmd/uring

# fs, net and loop on kernels below the floor (Linux 6.1): the fault seam masks
# this kernel as each older release, New refuses, and both suites must pass
# on their os and net fallbacks (URING_REQUIRE is dropped: skipping the
# ring's own tests is the point). Masked as 6.1 itself, everything runs on
# the ring (under CI's URING_REQUIRE=1 nothing may skip): nothing needs a
# newer kernel. Below the floor every release gets the same refusal, so the
# masks are the distribution kernels (Debian 11's 5.10, Ubuntu 22.04's
# 5.15) and the release just below the floor; each costs CI about 17 s.
FLOOR_MASKS ?= 5.10 5.15 6.0
floor: deps
	@for k in $(FLOOR_MASKS); do \
		echo "URING_FAULT_KERNEL=$$k go test -tags uring_faults ./fs ./net ./loop"; \
		env -u URING_REQUIRE URING_FAULT_KERNEL=$$k $(GO) test -count=1 -timeout=$(TEST_TIMEOUT) \
			-tags uring_faults $(TESTFLAGS) -run '^TestKernelMaskFromEnv$$' . || exit 1; \
		env -u URING_REQUIRE URING_FAULT_KERNEL=$$k $(GO) test -count=1 -timeout=$(TEST_TIMEOUT) \
			-tags uring_faults $(TESTFLAGS) ./fs ./net ./loop || exit 1; \
	done
	@echo "URING_FAULT_KERNEL=6.1 go test -tags uring_faults ./fs ./net ./loop (the floor itself: all on the ring)"
	URING_FAULT_KERNEL=6.1 $(GO) test -count=1 -timeout=$(TEST_TIMEOUT) \
		-tags uring_faults $(TESTFLAGS) ./fs ./net ./loop

# The module builds on every GOOS and without cgo; the root package then
# reports ErrUnsupported.
cross:
	CGO_ENABLED=0 $(GO) build $(PKGS)
	env -u URING_REQUIRE CGO_ENABLED=0 $(GO) test -count=1 -run '^TestWithoutCgo$$' .
	GOOS=darwin $(GO) vet $(PKGS)
	GOOS=windows $(GO) vet $(PKGS)
	$(GO) build -tags uring_dynamic $(PKGS)

# contrib/pebble is a module of its own (so the library does not require
# Pebble) that replaces github.com/goaio/uring with this checkout: go test ./...
# above stops at its go.mod, so it runs here.
CONTRIB_DIR := contrib/pebble
contrib: deps
	cd $(CONTRIB_DIR) && $(GO) vet ./...
	cd $(CONTRIB_DIR) && GOOS=darwin $(GO) vet ./...
	cd $(CONTRIB_DIR) && $(GO) test -count=1 -timeout=$(TEST_TIMEOUT) $(TESTFLAGS) ./...
	cd $(CONTRIB_DIR) && $(GO) test -race -count=1 -timeout=$(TEST_TIMEOUT) $(TESTFLAGS) ./...

# stacks is a module of its own too (so the library does not require gRPC):
# real stacks on this checkout's net in four mixes of ring and std sockets.
# Its tests are Linux only, so no darwin vet. A run takes about 25 s, so a
# hang fails in minutes, not at the suite's timeout.
STACKS_DIR := stacks
STACKS_TEST_TIMEOUT ?= 3m
stacks: deps
	cd $(STACKS_DIR) && $(GO) vet ./...
	cd $(STACKS_DIR) && $(GO) test -count=1 -timeout=$(STACKS_TEST_TIMEOUT) $(TESTFLAGS) ./...
	cd $(STACKS_DIR) && $(GO) test -race -count=1 -timeout=$(STACKS_TEST_TIMEOUT) $(TESTFLAGS) ./...

# Pebble on vfs.Default against uringpebble.FS, interleaved: a per-phase table
# of medians and ratios. PEBBLE_BENCHFLAGS, e.g. -workload.runs=3
# -workload.keys=100000 -workload.dir=/mnt/disk -workload.calls.
PEBBLE_BENCHFLAGS ?=
bench-pebble: deps
	cd $(CONTRIB_DIR) && $(GO) test -run '^$$' -bench '^BenchmarkWorkload$$' -benchtime=1x -count=1 -timeout=60m $(PEBBLE_BENCHFLAGS) .

# The file-system matrix (hack/fsmatrix.sh): ext4, xfs and btrfs on loop
# devices, tmpfs, overlayfs (the root file system of every container) and
# FUSE (bindfs), mounted as root and unmounted after. On each, fs's suite
# runs on the ring and on the os fallback (a kernel masked below the floor),
# and contrib/pebble's on the ring: every test's files live there (TMPDIR).
# The test binaries are built once. Not root: it says so and skips, since a
# rule measured on one file system is a guess about the others.
FSMATRIX_BIN := $(CURDIR)/bin/fsmatrix
fsmatrix: deps
	@if [ "$$(uname -s)" != Linux ] || [ "$$(id -u)" != 0 ]; then \
		echo "fsmatrix: skipped: mounting loop devices, tmpfs and overlayfs needs root on Linux (run make fsmatrix as root)"; \
		exit 0; fi; \
	trap 'bash hack/fsmatrix.sh umount' EXIT; \
	bash hack/fsmatrix.sh mount >/dev/null; \
	rows=$$(bash hack/fsmatrix.sh list); \
	if [ -z "$$rows" ]; then \
		echo "fsmatrix: skipped: no file system could be mounted here (a container without CAP_SYS_ADMIN?)"; exit 0; fi; \
	echo "fsmatrix: mounted $$(echo "$$rows" | awk '{print $$1}' | tr '\n' ' ')"; \
	mkdir -p $(FSMATRIX_BIN); \
	$(GO) test -c -o $(FSMATRIX_BIN)/fs.test ./fs; \
	$(GO) test -c -tags uring_faults -o $(FSMATRIX_BIN)/fs-faults.test ./fs; \
	(cd $(CONTRIB_DIR) && $(GO) test -c -o $(FSMATRIX_BIN)/pebble.test .); \
	while read -r name dir; do \
		echo "fsmatrix: $$name: fs on the ring"; \
		(cd fs && TMPDIR=$$dir $(FSMATRIX_BIN)/fs.test -test.count=1 -test.timeout=$(TEST_TIMEOUT)) || exit 1; \
		echo "fsmatrix: $$name: fs on the os fallback (kernel masked as 5.10)"; \
		(cd fs && env -u URING_REQUIRE URING_FAULT_KERNEL=5.10 TMPDIR=$$dir \
			$(FSMATRIX_BIN)/fs-faults.test -test.count=1 -test.timeout=$(TEST_TIMEOUT)) || exit 1; \
		echo "fsmatrix: $$name: contrib/pebble"; \
		(cd $(CONTRIB_DIR) && TMPDIR=$$dir $(FSMATRIX_BIN)/pebble.test -test.count=1 -test.timeout=$(TEST_TIMEOUT)) || exit 1; \
	done <<<"$$rows"

# The fs benchmarks (BenchmarkFS*) and, with PEBBLE=1, contrib/pebble's
# workload on every file system of the matrix: one table of fs/os ratios.
bench-fs: deps
	@trap 'bash hack/fsmatrix.sh umount' EXIT; \
	bash hack/fsmatrix.sh mount >/dev/null; \
	bash hack/fsbench.sh

# The soak (internal/soak): file, echo and net/http traffic on one ring for
# SOAK, then descriptors, goroutines and in-flight requests must be back to
# their start and RSS within 10% of its value after a minute. Its timeout is
# SOAK plus 5 minutes ("10m5m": Go durations add up their parts).
soak: deps
	SOAK=$(SOAK) $(GO) test -count=1 -v -run '^TestSoak$$' -timeout $(SOAK)5m ./internal/soak

check: deps fmt
	$(GO) vet $(PKGS)
	cd $(CONTRIB_DIR) && $(GO) vet ./...
	cd $(STACKS_DIR) && $(GO) vet ./...
	@$(MAKE) --no-print-directory staticcheck

fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$out"; exit 1; fi

$(STATICCHECK):
	GOBIN=$(GOBIN_DIR) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) $(PKGS)
	cd $(CONTRIB_DIR) && $(STATICCHECK) ./...
	cd $(STACKS_DIR) && $(STATICCHECK) ./...

# Reserved for the `uring bench` command (a later issue); until then the Go
# benchmarks, which compare against os.File and a C liburing loop.
# wrk drives the net/http benchmark; installed like liburing-dev when missing.
bench-deps: deps
	@command -v wrk >/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "bench-deps: wrk is missing; installing it"; \
		apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	else \
		echo "bench-deps: wrk is missing: BenchmarkNetHTTP will skip (sudo apt-get install -y wrk)" >&2; \
	fi

# The main job: uring bench, io_uring against the standard library on a
# workload it creates (BENCHFLAGS, e.g. --dir /mnt/disk --duration 3s), a
# table on stdout and uring-bench.svg.
bench: deps
	$(GO) run ./cmd/uring bench --plot uring-bench.svg $(BENCHFLAGS)

# The README's result tables, measured now: uring bench (BENCHFLAGS) and the
# Go benchmarks, each table under the date, machine, kernel, file system and
# commit of the run (hack/readmegen). Run it on a clean checkout of the
# commit the README describes, with nothing else running.
readme-results: bench-deps
	$(GO) run ./hack/readmegen -benchflags "$(BENCHFLAGS)"

# make test checks that readme-results runs, on a copy of the README, with
# runs too short for their figures to mean anything.
readme-check: deps
	@tmp=$$(mktemp /tmp/uring-readme.XXXXXX); trap 'rm -f $$tmp' EXIT; cp README.md $$tmp; \
	$(GO) run ./hack/readmegen -quick -readme $$tmp >/dev/null; \
	grep -q 'Measured .* commit' $$tmp || { echo "readme-check: the tables were not written" >&2; exit 1; }; \
	echo "readme-check: readme-results rewrote both tables of a copy of the README"

# The Go benchmarks: finer cases, C liburing baselines, servers in a child process.
gobench: bench-deps
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime=$(BENCHTIME) -count=1 -timeout=30m $(PKGS)

fuzz: deps
	FUZZTIME=$(FUZZTIME) bash hack/fuzz.sh $(PKGS)

# Dockerfile.test in a real container. On this project's machines the podman
# helper builds the base image locally; elsewhere Docker does the same.
container-test:
	@if [ -f $(CONTAINER) ]; then bash $(CONTAINER) test; else \
		docker build -f Dockerfile.test -t $(IMAGE) . && \
		docker run --rm --security-opt seccomp=unconfined $(IMAGE); fi

# The same image under the default seccomp profile, which blocks io_uring:
# tests that need a ring skip, the fallback paths are tested.
container-test-default:
	@if [ -f $(CONTAINER) ]; then bash $(CONTAINER) build && bash $(CONTAINER) run-default; else \
		docker build -f Dockerfile.test -t $(IMAGE) . && docker run --rm $(IMAGE); fi

clean:
	$(GO) clean -testcache
	rm -rf bin
