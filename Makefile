# certgate: the two commands are `make run` and `make test` (README.md).
# Both install missing Debian packages first (scripts/deps), so a fresh Debian 12 needs nothing else.

MAKEFLAGS += --no-print-directory
SHELL := /bin/bash
JOBS        ?= $(shell nproc)
BUILD       ?= build
BUILD_ASAN  ?= build-asan
BUILD_FUZZ  ?= build-fuzz
FUZZ_SECONDS ?= 30
CTEST_FLAGS ?= --output-on-failure

.PHONY: all build deps test test-plain test-asan run fuzz fuzz-build bench clean

all: build

deps:
	@scripts/deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Asan >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)

# Every test: the plain build, then the same suite under ASan+UBSan.
test: test-plain test-asan

test-plain: build
	@echo "== tests (plain build)"
	@cd $(BUILD) && ctest -j $(JOBS) $(CTEST_FLAGS)

test-asan: build-asan
	@echo "== tests (ASan+UBSan build)"
	@cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest -j $(JOBS) $(CTEST_FLAGS)

# The gateway demo: a store with a generated demo PKI (scripts/demo).
run: build
	@scripts/demo $(BUILD)/certgate

# libFuzzer: each target for FUZZ_SECONDS, starting from its checked-in corpus. New inputs and
# crash artifacts go to $(BUILD_FUZZ)/fuzz-out/TARGET, never into the tree.
fuzz-build:
	@scripts/deps
	@CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Asan -DCG_FUZZ=ON >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS) --target fuzz_all

fuzz: fuzz-build
	@set -e; for t in $(BUILD_FUZZ)/tests/fuzz_*; do \
	  name=$${t##*/fuzz_}; out=$(BUILD_FUZZ)/fuzz-out/$$name; mkdir -p $$out/corpus; \
	  echo "== fuzz $$name for $(FUZZ_SECONDS)s"; \
	  if $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
	      -artifact_prefix=$$out/ $$out/corpus tests/fuzz/corpus/$$name >$$out/log 2>&1; then \
	    grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' $$out/log; \
	  else \
	    tail -n 80 $$out/log; echo "fuzz $$name FAILED: the input is in $$out/ (add it to tests/fuzz/corpus/$$name once fixed)"; \
	    exit 1; \
	  fi; \
	done

# Benchmarks: the micro-benchmarks, then the ingress, the egress and idle memory side by side with
# nginx and HAProxy in one interleaved run (../shared/bench/compare.sh; it writes beside itself,
# so it runs from a copy), then webhook delivery (bench/webhooks). PARTS="ingress egress memory
# webhooks" by default; QUICK=1 for a smoke run; results in $(BUILD)/bench/results/compare.md and
# webhooks.md.
SHARED_BENCH ?= ../shared/bench
PARTS ?= ingress egress memory webhooks
COMPARE_PARTS := $(filter ingress egress memory,$(PARTS))
bench: build
	@$(BUILD)/bench_pin_resolve 10000
	@[ ! -x $(BUILD)/bench_http_parse ] || $(BUILD)/bench_http_parse
ifneq ($(COMPARE_PARTS),)
	@[ -d $(SHARED_BENCH) ] || { echo "no $(SHARED_BENCH): the comparison needs the shared bench"; exit 1; }
	@$(SHARED_BENCH)/install.sh >/dev/null
	@rm -rf $(BUILD)/bench && cp -r $(SHARED_BENCH) $(BUILD)/bench && chmod -R u+w $(BUILD)/bench
	@cd $(BUILD)/bench && PARTS="$(COMPARE_PARTS)" CAND_NAME=certgate \
	  CERTGATE_BIN=$(CURDIR)/$(BUILD)/certgate \
	  CAND_INGRESS_CMD='$(CURDIR)/bench/ingress-candidate' \
	  CAND_EGRESS_CMD='$(CURDIR)/bench/egress-candidate' ./compare.sh
	@cat $(BUILD)/bench/results/compare.md
endif
ifneq ($(filter webhooks,$(PARTS)),)
	@mkdir -p $(BUILD)/bench/results
	@OUT=$(BUILD)/bench/results/webhooks.md bench/webhooks $(BUILD)/certgate
endif

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
