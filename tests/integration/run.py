#!/usr/bin/python3
"""Runs smsrouter's integration tests against a built binary.

    /usr/bin/python3 tests/integration/run.py --binary build/smsrouter
    /usr/bin/python3 tests/integration/run.py --binary build-asan/smsrouter --sanitized

Discovers tests/integration/test_*.py, runs them verbosely, prints a summary and
exits non-zero on any failure. With --sanitized the servers run with
ASAN_OPTIONS/UBSAN_OPTIONS that abort on the first report, and any
"ERROR: AddressSanitizer" or "runtime error:" in a server's stderr fails its test.
Extra arguments select tests by name pattern (unittest -k).
"""

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
import unittest


class TimedResult(unittest.TextTestResult):
    """Also records how long each test took (for the slowest-tests list)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.timings = []
        self._t0 = {}

    def startTest(self, test):
        self._t0[test.id()] = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        t0 = self._t0.pop(test.id(), None)
        if t0 is not None:
            self.timings.append((time.monotonic() - t0, test.id()))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True, help="path of the smsrouter binary")
    ap.add_argument("--sanitized", action="store_true",
                    help="the binary is built with ASan/UBSan: fail on any report")
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="only run tests matching this substring (repeatable)")
    ap.add_argument("--failfast", action="store_true")
    ap.add_argument("--durations", type=int, default=5, metavar="N",
                    help="list the N slowest tests (default 5)")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print("run.py: %s is not an executable file (build it first)" % binary,
              file=sys.stderr)
        return 2

    # Run a private copy: other people rebuild build/ while the suite runs, and a binary
    # replaced (or half-linked) mid-run would make results meaningless.
    copy_dir = tempfile.mkdtemp(prefix="smsrouter-it-bin-")
    atexit.register(shutil.rmtree, copy_dir, True)
    run_binary = os.path.join(copy_dir, "smsrouter")
    shutil.copy2(binary, run_binary)
    # And the fault shim built beside it (test_hostile.py preloads it), if there is one.
    shim = os.path.join(os.path.dirname(binary), "libfaultfs.so")
    if os.path.isfile(shim):
        shutil.copy2(shim, os.path.join(copy_dir, "libfaultfs.so"))

    # The harness reads these at import time.
    os.environ["SMSROUTER_TEST_BINARY"] = run_binary
    os.environ["SMSROUTER_TEST_SANITIZED"] = "1" if args.sanitized else "0"

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = ["*%s*" % p for p in args.patterns]
    suite = loader.discover(start_dir=here, pattern="test_*.py", top_level_dir=here)

    print("smsrouter integration tests: %s%s" % (binary, " (sanitized)" if args.sanitized else ""))
    t0 = time.monotonic()
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout, failfast=args.failfast,
                                     resultclass=TimedResult)
    result = runner.run(suite)
    took = time.monotonic() - t0

    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print()
    print("=" * 70)
    print("summary: %d run, %d failures, %d errors, %d skipped in %.1fs (%s%s)"
          % (result.testsRun, len(result.failures), len(result.errors), len(result.skipped),
             took, os.path.relpath(binary), ", sanitized" if args.sanitized else ""))
    print("slowest tests:")
    for took_one, name in sorted(result.timings, reverse=True)[:args.durations]:
        print("  %6.2fs  %s" % (took_one, name))
    for test, _ in result.failures + result.errors:
        print("FAILED: %s" % test.id())
    if result.testsRun == 0:
        print("run.py: no tests were found", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
