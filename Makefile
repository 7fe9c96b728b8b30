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

.PHONY: all setup build test test-go test-purego test-nocgo vet demo dataset bench bench-embed bench-index bench-persist bench-cli fuzz clean

all: build

setup:
	@tools/setup.sh

build: setup
	$(GO) build -o bin/pinrec ./examples/cli

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(MODULES)

# No test reads Fashion-MNIST (only make demo and the benchmarks do), so test does not install it.
test: setup chromium weaviate-server vet test-nocgo test-external test-purego test-ann-purego test-go

# The whole suite, with the race detector, TensorFlow running for real.
test-go:
	$(GO) test -race -count=1 $(MODULES)

# The portable kernels alone.
test-purego:
	$(GO) test -count=1 -tags purego -run 'Kernel|Index|Search|Load|Save|Persist|Open|Extended|Zero' . ./internal/kernel

# Index users need no TensorFlow: the package builds and its non-TensorFlow tests pass without cgo.
test-nocgo:
	CGO_ENABLED=0 $(GO) build $(MODULES)
	CGO_ENABLED=0 $(GO) test -count=1 -run 'Kernel|Index|Search|Load|Save|Persist|Open|Extended|Decode|Preprocess|NoTensorFlow|Zero' .
	CGO_ENABLED=0 $(GO) test -count=1 ./internal/kernel ./internal/crc32c ./internal/fsio ./internal/ycc
	# issue 14: cgo without libjpeg-turbo (-tags nolibjpeg) decodes JPEGs with image/jpeg.
	$(GO) test -count=1 -tags nolibjpeg -run 'DecodeJPEG|DecodeFormats|DecodeBad' .

dataset:
	@test -d /usr/share/datasets/fashion-mnist || { \
	  echo "installing Debian's dataset-fashion-mnist"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null; }

demo: build dataset
	@tools/demo.sh

bench: bench-index bench-persist bench-embed bench-cli

bench-embed: setup dataset
	@bench/embed/run.sh

bench-index: setup
	@bench/index/run.sh

bench-persist: setup
	@bench/persist/run.sh

bench-cli: build dataset
	@bench/cli/run.sh

# --- pinrec serve (engineer "web") ---
# The web page's browser tests drive Debian's chromium: installed here when missing (idempotent).
.PHONY: chromium bench-serve
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }

# Load test of pinrec serve on 127.0.0.1: CLIENTS (8) clients for DURATION (20s) on a 10k-item index.
bench-serve: build dataset
	@bench/serve/run.sh
# --- end pinrec serve ---

# --- region items and crop queries (engineer "regions", issue 12) ---
.PHONY: bench-regions
bench-regions: setup dataset
	@bench/regions/run.sh
# --- end region items ---

# --- programs outside the module (examples/library, engineer "cli") ---
# examples/library is its own module that reaches pinrec through a replace directive, as another
# program would (GOWORK=off: the workspace is not used), and searches without TensorFlow: it is
# vetted, tested and run without cgo, then with cgo but without TensorFlow's headers and library
# (-tags notensorflow).
.PHONY: test-external
test-external:
	cd examples/library && GOWORK=off CGO_ENABLED=0 $(GO) vet . && GOWORK=off CGO_ENABLED=0 $(GO) test -count=1 . && GOWORK=off CGO_ENABLED=0 $(GO) run .
	cd examples/library && GOWORK=off CGO_CFLAGS= CGO_LDFLAGS= $(GO) test -count=1 -tags notensorflow .
# --- end programs outside the module ---

# --- approximate index (ann/, internal/sq8, engineer "ann") ---
# ann's code-distance kernels and index with the portable kernels (test-go runs them with AVX2).
.PHONY: test-ann-purego bench-ann
test-ann-purego:
	$(GO) test -count=1 -tags purego ./internal/sq8 ./ann

# pinrec's HNSW index against FAISS HNSW32 and HNSW32,SQ8 on synthetic ResNet50-like vectors:
# BENCH_N (default 1,000,000: 8.2 GB of vectors on disk, twice, deleted at the end), BENCH_NQ,
# BENCH_EF (efSearch sweep), BENCH_M, BENCH_EFC, BENCH_CODEC. See bench/ann/run.sh.
bench-ann: setup
	@bench/ann/run.sh
# --- end approximate index ---

# --- Weaviate backend (weaviate/, engineer "weaviate") ---
# weaviate-server is built once into .cache/weaviate (2-5 minutes on a fresh machine). The tests
# of the weaviate module, which test-go runs with every workspace module, start a 3-node cluster
# on 127.0.0.1 through tools/weaviate.sh and always stop it.
.PHONY: weaviate-server test-weaviate bench-cluster
weaviate-server:
	@tools/weaviate.sh build

# The backend's tests alone.
test-weaviate: setup weaviate-server
	$(GO) test -race -count=1 ./weaviate/...

# 100k synthetic 2048-d vectors in pinrec's exact Index and in a 3-node cluster (BENCH_CLUSTER_N).
bench-cluster: setup weaviate-server
	@bench/cluster/run.sh
# --- end Weaviate backend ---

# --- likes, saves and hybrid ranking (engineer "engage", issue 11) ---
# A SIMULATION on the 10,000 Fashion-MNIST test images (raw-pixel embedding): simulated users,
# held-out saves, visual-only vs hybrid recall@10, and the engagement store's write rate.
bench-hybrid: build dataset
	@bench/hybrid/run.sh
# --- end likes, saves and hybrid ranking ---

# One -fuzz target per run: the index file decoder, then the image decoder.
fuzz: setup
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime $${FUZZTIME:-2m} .
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $${FUZZTIME:-2m} .
	$(GO) test -run '^$$' -fuzz FuzzUnmarshal -fuzztime $${FUZZTIME:-2m} ./ann
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $${FUZZTIME:-2m} ./internal/jpegturbo # issue 14: libjpeg-turbo glue

clean:
	rm -rf bin demo
