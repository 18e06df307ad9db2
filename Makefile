# smsrouter — the two commands: `make run` and `make test`. Both install what is missing
# (Debian apt-get), configure with Meson and build with Ninja.
BUILD   := build
ASAN    := build-asan
RELEASE := build-release
PY      := /usr/bin/python3

.PHONY: all deps build asan release run test unit integration fuzz fuzz-short bench clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=debugoptimized >/dev/null
	@ninja -C $(BUILD)

# The same tree with AddressSanitizer and UndefinedBehaviorSanitizer; any report fails.
asan: deps
	@[ -f $(ASAN)/build.ninja ] || meson setup $(ASAN) --buildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all >/dev/null
	@ninja -C $(ASAN)

release: deps
	@[ -f $(RELEASE)/build.ninja ] || meson setup $(RELEASE) --buildtype=release \
		-Dtests=false >/dev/null
	@ninja -C $(RELEASE)

run: build
	$(BUILD)/smsrouter serve --dev

unit: build asan
	meson test -C $(BUILD) --print-errorlogs
	meson test -C $(ASAN) --print-errorlogs

integration: build asan
	$(PY) tests/integration/run.py --binary $(BUILD)/smsrouter
	$(PY) tests/integration/run.py --binary $(ASAN)/smsrouter --sanitized

# Every harness for FUZZ_SECONDS (20 s in make test, 300 s in make fuzz); a crash fails.
FUZZ_SECONDS ?= 20
fuzz-short: deps
	tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz: deps
	tests/fuzz/run.sh 300

test: unit integration fuzz-short
	@echo "make test: all suites passed"

clean:
	rm -rf $(BUILD) $(ASAN) $(RELEASE) build-fuzz
