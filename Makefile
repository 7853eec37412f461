# A thin wrapper around Meson and the scripts: the two commands to know are
# `make run` and `make test`.
BUILD ?= build
KREISEL = $(BUILD)/kreisel

.PHONY: all build run test bench fuzz deps clean check

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Build, migrate, set up the demo county (once), serve on http://127.0.0.1:8080.
run: build
	$(KREISEL) migrate
	$(KREISEL) seed-demo
	exec $(KREISEL) serve

# Everything: unit tests, integration tests on SQLite and PostgreSQL,
# sanitizers, fuzzing smoke run, browser accessibility check, source rules.
test:
	@scripts/install-deps --test
	scripts/test-all

# Figures, not pass/fail: Kreisel against nginx serving the same bytes;
# e-invoice validation speed (bench/einvoice); bank statement import
# (bench/payments).
bench:
	@scripts/install-deps --bench
	bench/run
	bench/einvoice
	bench/appointments
	bench/payments
	bench/efile
	bench/forms

# Long fuzzing session (FUZZ_SECONDS per target, default 300).
fuzz:
	@scripts/install-deps --test
	scripts/fuzz $${FUZZ_SECONDS:-300}

check:
	scripts/checksrc

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-bench build-release
