# smsrouter — the two commands: `make run` and `make test`. Both install what is missing
# (Debian apt-get), configure with Meson and build with Ninja.
BUILD   := build
ASAN    := build-asan
RELEASE := build-release
PY      := /usr/bin/python3

.PHONY: all deps build asan release run test unit integration fuzz bench clean

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

test: unit integration
	@echo "make test: all suites passed"

clean:
	rm -rf $(BUILD) $(ASAN) $(RELEASE)
