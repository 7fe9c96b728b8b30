# pinrec: the names everyone relies on.
#   make demo    set up, build, index a Fashion-MNIST sample, query it, write grid PNGs
#   make test    set up, then every test (race detector, purego kernels, no-cgo build, Keras agreement)
#   make build   bin/pinrec (the CLI of examples/cli)
#
# TensorFlow: by default the C API inside the pinned tensorflow-cpu wheel that `make setup` installs
# into .venv (see tools/setup.sh). To use an official libtensorflow C library instead, point
# TF_PREFIX at its install prefix (the folder holding include/ and lib/): make test TF_PREFIX=/usr/local

SHELL := /bin/bash
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
TF_PREFIX ?= $(VENV)/tf
export CGO_CFLAGS := -I$(TF_PREFIX)/include
export CGO_LDFLAGS := -L$(TF_PREFIX)/lib -Wl,-rpath,$(TF_PREFIX)/lib
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PINREC_PYTHON := $(PY)
GO ?= go
# Every module of the workspace (go.work): `./...` in the root does not reach nested modules
# (examples/cli and the others go.work lists), so build, vet and test name each module's tree.
MODULES = $(shell $(GO) list -m -f '{{.Dir}}/...')

.PHONY: all help setup build test test-go test-purego test-nocgo vet check-generate demo dataset bench bench-embed bench-index bench-persist bench-cli fuzz clean

all: build ## the same as make build

# Every target with the text after its "## ": a target without one shows "(no description)".
help: ## every target and what it does
	@awk '/^[a-zA-Z0-9_-]+:/ { name = $$1; sub(/:.*/, "", name); desc = "(no description)"; 	  if ((i = index($$0, "## ")) > 0) desc = substr($$0, i + 3); printf "  %-18s %s\n", name, desc }' $(MAKEFILE_LIST)

setup: ## Python venv with TensorFlow, the exported model, libjpeg-turbo (tools/setup.sh; idempotent)
	@tools/setup.sh

build: setup ## bin/pinrec, the command of examples/cli
	$(GO) build -o bin/pinrec ./examples/cli

vet: check-generate ## gofmt, go vet of every workspace module, generated assembly up to date
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(MODULES)
	$(GO) vet -tags cluster ./weaviate/...
	@if $(MAKE) -s help | grep -q '(no description)'; then echo "Makefile: every target needs a ## description (make help):"; $(MAKE) -s help | grep '(no description)'; exit 1; fi

# The assembly of internal/kernel and internal/sq8 is what its avo generator writes, byte for byte.
check-generate: ## go generate of internal/kernel and internal/sq8 in a temporary copy matches the committed files
	@tools/check_generate.sh

# No test reads Fashion-MNIST (only make demo and the benchmarks do), so test does not install it.
test: setup chromium weaviate-server vet test-nocgo test-external test-purego test-go test-faults ## everything: vet, no-cgo, external module, portable kernels, then every test with -race

# Tests are chosen by package and build tag, never by name: a test added to a package runs in
# every set that builds its file. Files that need TensorFlow carry `cgo && !notensorflow`, files
# that need libjpeg-turbo `cgo && !nolibjpeg`, the Weaviate tests that need a running cluster
# `cluster` (go test ./weaviate/... alone runs its unit tests, without a cluster).

# The whole suite, with the race detector, TensorFlow running for real, the Weaviate cluster tests included.
test-go: ## every test of every workspace module with -race, TensorFlow and a 3-node Weaviate cluster
	$(GO) test -race -count=1 -tags cluster $(MODULES)

# The portable kernels (-tags purego) in the packages that have them and the packages that call
# them directly, found by their imports; without cgo, so the TensorFlow tests (which test-go
# runs) are left out by their build tags.
PUREGO_PKGS = $(shell $(GO) list -f '{{.ImportPath}} {{join .Imports " "}}' ./... | awk '{ for (i = 1; i <= NF; i++) if ($$i ~ /^pinrec\/internal\/(kernel|sq8)$$/) { print $$1; break } }')
test-purego: ## the packages with assembly kernels and their direct callers, with the portable Go kernels
	CGO_ENABLED=0 $(GO) test -count=1 -tags purego $(PUREGO_PKGS)

# Index users need no TensorFlow: every workspace module builds without cgo, and every package of
# the core module passes its tests without cgo (the files that need cgo are left out by their tags).
test-nocgo: ## every module builds and the core module's tests pass without cgo; cgo without libjpeg-turbo
	CGO_ENABLED=0 $(GO) build $(MODULES)
	CGO_ENABLED=0 $(GO) test -count=1 ./...
	# cgo without libjpeg-turbo (-tags nolibjpeg) decodes JPEGs with image/jpeg.
	CGO_CFLAGS= CGO_LDFLAGS= $(GO) test -count=1 -tags 'nolibjpeg notensorflow' .

dataset: ## Debian's dataset-fashion-mnist into /usr/share/datasets/fashion-mnist (demo and benchmarks)
	@test -d /usr/share/datasets/fashion-mnist || { \
	  echo "installing Debian's dataset-fashion-mnist"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null; }

demo: build dataset ## index a Fashion-MNIST sample, query it, write grid PNGs into demo/
	@tools/demo.sh

bench: bench-index bench-persist bench-embed bench-cli ## the four core benchmarks (bench/README.md lists every bench-* target)

bench-embed: setup dataset ## Go embedding path against Python Keras on the same SavedModel (bench/embed)
	@bench/embed/run.sh

bench-index: setup ## exact Index against FAISS IndexFlatL2, N=100k d=2048 (bench/index)
	@bench/index/run.sh

bench-persist: setup ## Save, Load and mmap Load throughput of a 100k x 2048 index (bench/persist)
	@bench/persist/run.sh

bench-cli: build dataset ## pinrec index against a Python Keras loop on 1,000 images (bench/cli)
	@bench/cli/run.sh

# --- web page (pinrec serve) ---
# The web page's browser tests drive Debian's chromium: installed here when missing (idempotent).
.PHONY: chromium bench-serve
chromium: ## Debian's chromium for the browser tests, when missing
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }

# Load test of pinrec serve on 127.0.0.1: CLIENTS (8) clients for DURATION (20s) on a 10k-item index.
bench-serve: build dataset ## load test of pinrec serve on 127.0.0.1 (bench/serve)
	@bench/serve/run.sh
# --- end pinrec serve ---

# --- region items and crop queries ---
.PHONY: bench-regions
bench-regions: setup dataset ## region items and crop queries on a Fashion-MNIST SIMULATION (bench/regions)
	@bench/regions/run.sh
# --- end region items ---

# --- programs outside the module (examples/library) ---
# examples/library is its own module that reaches pinrec through a replace directive, as another
# program would (GOWORK=off: the workspace is not used), and searches without TensorFlow: it is
# vetted, tested and run without cgo, then with cgo but without TensorFlow's headers and library
# (-tags notensorflow).
.PHONY: test-external
test-external: ## examples/library, its own module, without the workspace, without cgo and without TensorFlow
	cd examples/library && GOWORK=off CGO_ENABLED=0 $(GO) vet . && GOWORK=off CGO_ENABLED=0 $(GO) test -count=1 . && GOWORK=off CGO_ENABLED=0 $(GO) run .
	cd examples/library && GOWORK=off CGO_CFLAGS= CGO_LDFLAGS= $(GO) test -count=1 -tags notensorflow .
# --- end programs outside the module ---

# --- approximate index (ann/, internal/sq8) ---
# test-purego runs ann and internal/sq8 with the portable kernels (test-go with AVX2).
.PHONY: bench-ann
# pinrec's HNSW index against FAISS HNSW32 and HNSW32,SQ8, hnswlib (M=16, 32) and usearch (f16)
# on Fashion-MNIST 60k x 784 and synthetic ResNet50-like vectors: BENCH_DATA (default "fashion
# synth"), BENCH_N (synthetic, default 1,000,000: 8.2 GB of vectors on disk, twice, deleted at the
# end), BENCH_NQ (queries whose recall is scored: 10,000 Fashion-MNIST, 5,000 synthetic),
# BENCH_NLAT and BENCH_REPS (latency: the first 1,000, best of 3 passes), BENCH_EF (efSearch
# sweep), BENCH_M, BENCH_EFC, BENCH_CODEC, BENCH_TARGET.
# See bench/ann/run.sh.
bench-ann: setup ## HNSW index (package ann) against FAISS, hnswlib and usearch (bench/ann)
	@bench/ann/run.sh
# --- end approximate index ---

# --- Weaviate backend (weaviate/) ---
# weaviate-server is built once into .cache/weaviate (2-5 minutes on a fresh machine). The tests
# of the weaviate module tagged cluster, which test-go runs with every workspace module, start a
# 3-node cluster on 127.0.0.1 through tools/weaviate.sh and always stop it.
.PHONY: weaviate-server test-weaviate bench-cluster
weaviate-server: ## weaviate-server built once into .cache/weaviate (tools/weaviate.sh build)
	@tools/weaviate.sh build

# The backend's tests alone: its unit tests, then the cluster tests.
test-weaviate: setup weaviate-server ## the weaviate module's unit tests and cluster tests
	$(GO) test -race -count=1 -tags cluster ./weaviate/...

# 100k synthetic 2048-d vectors in pinrec's exact Index and in a 3-node cluster (BENCH_CLUSTER_N).
bench-cluster: setup weaviate-server ## a 3-node Weaviate cluster against the exact Index (bench/cluster)
	@bench/cluster/run.sh
# --- end Weaviate backend ---

# --- likes, saves and hybrid ranking ---
# A SIMULATION on the 10,000 Fashion-MNIST test images (raw-pixel embedding): simulated users,
# held-out saves, visual-only vs hybrid recall@10, and the engagement store's write rate.
bench-hybrid: build dataset ## visual against hybrid ranking on a Fashion-MNIST SIMULATION (bench/hybrid)
	@bench/hybrid/run.sh
# --- end likes, saves and hybrid ranking ---

# --- near-duplicates (package dupes) ---
.PHONY: bench-dupes
# Edited copies (resize, JPEG, crop, brightness, caption, flip) of Fashion-MNIST pictures and the
# test photos: pairwise precision and recall per edit for the model (random weights), raw pixels
# and dHash; then grouping synthetic vectors through the approximate index against one search
# per item.
bench-dupes: setup dataset ## near-duplicate groups on edited copies, per edit; speed of the self-join (bench/dupes)
	@bench/dupes/run.sh
# --- end near-duplicates ---

# --- "For you" (package foryou) ---
.PHONY: bench-personal
bench-personal: setup dataset ## "For you" (Ward + medoids) against last item, averages, k-means, popularity on a Fashion-MNIST SIMULATION, and feed latency over 100k (bench/personal)
	@bench/personal/run.sh
# --- end "For you" ---

# One -fuzz target per run: the index file decoder, then the image decoder.
fuzz: setup ## each fuzz target for FUZZTIME (2m)
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime $${FUZZTIME:-2m} .
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $${FUZZTIME:-2m} .
	$(GO) test -run '^$$' -fuzz FuzzUnmarshal -fuzztime $${FUZZTIME:-2m} ./ann
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $${FUZZTIME:-2m} ./internal/jpegturbo # libjpeg-turbo glue

# --- fault suite (faults/, weaviate/internal/chaos; docs/reliability.md) ---
# Real processes on real file systems: full disks (a tmpfs the test mounts, or a file-size
# limit where it cannot), kill -9 at random points, hostile files, syncs that would wipe an
# index. Prints a table and faults_* totals. Build tag faults: test-go does not run them twice.
.PHONY: test-faults bench-faults
FAULTS_LEDGER := $(CURDIR)/.cache/faults-ledger.jsonl
test-faults: build ## the fast fault cases (a few trials each; a few minutes on 2 cores)
	$(GO) vet -tags faults ./faults ./weaviate/internal/chaos
	cd faults && PINREC_BIN=$(CURDIR)/bin/pinrec $(GO) test -tags faults -count=1 -timeout 30m

bench-faults: build weaviate-server ## every fault case with 20+ trials, and the 3-node cluster's hard cases
	mkdir -p .cache && rm -f $(FAULTS_LEDGER)
	cd weaviate/internal/chaos && FAULTS_LEDGER=$(FAULTS_LEDGER) $(GO) test -tags faults -count=1 -timeout 60m
	cd faults && FAULTS_LEDGER=$(FAULTS_LEDGER) PINREC_BIN=$(CURDIR)/bin/pinrec $(GO) test -tags faults -count=1 -timeout 120m -args -long
# --- end fault suite ---

clean: ## remove bin/ and demo/
	rm -rf bin demo
