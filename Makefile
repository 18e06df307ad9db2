# smsrouter — the two commands: `make run` and `make test`. Both install what is missing
# (Debian apt-get), configure with Meson and build with Ninja.
BUILD   := build
RELTEST := build-release-tests
ASAN    := build-asan
RELEASE := build-release
PY      := /usr/bin/python3

.PHONY: all deps build asan release release-tests run test unit integration browser postgres fuzz fuzz-short deploy-check docs-check bench clean

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

# Warnings are errors in every build type: the optimizer of a release build sees what a
# debug build does not (format-overflow after inlining, say), so make test compiles one,
# tests included.
release-tests: deps
	@[ -f $(RELTEST)/build.ninja ] || meson setup $(RELTEST) --buildtype=release >/dev/null
	@ninja -C $(RELTEST)

run: build
	$(BUILD)/smsrouter serve --dev

unit: build asan
	meson test -C $(BUILD) --print-errorlogs
	meson test -C $(ASAN) --print-errorlogs

integration: build asan
	$(PY) tests/integration/run.py --binary $(BUILD)/smsrouter
	$(PY) tests/integration/run.py --binary $(ASAN)/smsrouter --sanitized

# The operator console in headless Chromium (chromedriver, python3-selenium) against the
# real binary; a screenshot of each page goes to $(BUILD)/console-screenshots/.
browser: build
	$(PY) tests/browser/run.py --binary $(BUILD)/smsrouter --screenshots $(BUILD)/console-screenshots

# Every harness for FUZZ_SECONDS (20 s in make test, 300 s in make fuzz); a crash fails.
FUZZ_SECONDS ?= 20
fuzz-short: deps
	tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz: deps
	tests/fuzz/run.sh 300

# The PostgreSQL backend: a private cluster in a temporary directory on a loopback port
# (scripts/pg-cluster.sh), its store tests on both builds, then the whole integration
# suite against it; the cluster is stopped and removed whatever happens.
postgres: build asan
	@dir=$$(mktemp -d /tmp/smsrouter-pg.XXXXXX); chmod 0755 "$$dir"; \
	./scripts/pg-cluster.sh start "$$dir/cluster" >/dev/null || { rm -rf "$$dir"; exit 1; }; \
	export SMSROUTER_TEST_PG_URL="$$(./scripts/pg-cluster.sh url "$$dir/cluster")"; \
	export SMSROUTER_TEST_PG_DIR="$$dir/cluster"; \
	status=0; \
	meson test -C $(BUILD) postgres store-postgres router-postgres proactive_queue-postgres --print-errorlogs || status=1; \
	[ $$status -ne 0 ] || meson test -C $(ASAN) postgres store-postgres router-postgres proactive_queue-postgres --print-errorlogs || status=1; \
	[ $$status -ne 0 ] || $(PY) tests/integration/run.py --binary $(BUILD)/smsrouter || status=1; \
	./scripts/pg-cluster.sh stop "$$dir/cluster" >/dev/null; rm -rf "$$dir"; exit $$status

# The monitoring files of deploy/: promtool checks the alerting rules and runs their unit
# tests (each alert fires on a sick series, not on a healthy one); then the dashboard's and
# the rules' PromQL is checked against the metrics the real binary exposes.
deploy-check: build
	promtool check rules deploy/alerts.yml
	promtool test rules deploy/alerts.test.yml
	$(PY) tests/deploy/test_deploy.py --binary $(BUILD)/smsrouter

# Every shell command of README.md and docs/*.md, run against the build on loopback (the
# convention is in docs/development.md), and the pages' links followed.
docs-check: build
	$(PY) tests/docs/test_doc_commands.py --binary $(BUILD)/smsrouter

test: unit integration browser postgres fuzz-short release-tests deploy-check docs-check
	@echo "make test: all suites passed"

# Benchmark: release build, then bench/run.sh: SQLite against nginx, then the deployed
# configurations (PostgreSQL, Agent Core, rest mode) and the proactive path; QUICK=1 for a
# smoke run; `bench/run.sh --only pg` for one part (bench/README.md).
bench: release
	bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN) $(RELEASE) $(RELTEST) build-fuzz
