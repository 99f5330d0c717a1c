#!/usr/bin/env bash
# Build the C extension with AddressSanitizer + UndefinedBehaviorSanitizer and run the tests that
# drive it (kernels, index, loading, hashing; whichever exist) under the sanitizers.
#
#   tools/sanitize.sh [PYTEST_ARGS...]        default: -k "not numpy" -m "not photos and not slow"; e.g. tools/sanitize.sh -x -k pdq
#   PYTHON=/path/to/python tools/sanitize.sh  default: python of the active venv, else python3
#   SANITIZE_TESTS="tests/a.py tests/b.py"    override the test files
#   SANITIZE_FUZZ_SECONDS=60                  then fuzz the kernels and the loader under ASan too
#
# The sanitized build goes to build/sanitize/lib (a copy of src/photomatch plus the instrumented
# _ext), put first on PYTHONPATH; the normal in-place build and any installed copy are left
# alone. Python itself is not instrumented, so libasan is preloaded (it must be the first
# library loaded), leak detection is off (CPython keeps objects alive at exit by design), and
# PYTHONMALLOC=malloc sends Python's own allocations through ASan too, so an overflow from C
# into a Python object is caught. Every UBSan report is fatal (-fno-sanitize-recover=all).
# Exit status: pytest's, or 1 when any sanitizer report appears in the log even if pytest passed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python || command -v python3)}
CC=${CC:-gcc}
build=build/sanitize
log=$build/sanitize.log
start=$SECONDS

"$PY" -c "import setuptools" 2>/dev/null || "$PY" -m pip install -q setuptools  # venvs of Python >= 3.12 lack it
rm -rf "$build"
mkdir -p "$build/lib"
cp -r src/photomatch "$build/lib/"
find "$build/lib" \( -name '*.so' -o -name '__pycache__' \) -prune -exec rm -rf {} +
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
echo "sanitize.sh: building the extension with $san"
CC=$CC PHOTOMATCH_REQUIRE_EXTENSION=1 PHOTOMATCH_CFLAGS="$san -g -O1" PHOTOMATCH_LDFLAGS="$san" \
    "$PY" setup.py -q build_ext --build-lib "$build/lib" --build-temp "$build/tmp" >"$build/build.log" 2>&1 \
    || { cat "$build/build.log"; exit 1; }
if grep -q 'warning:' "$build/build.log"; then grep 'warning:' "$build/build.log"; fi
echo "sanitize.sh: built in $((SECONDS - start)) s"

libasan=$("$CC" -print-file-name=libasan.so)
[ -f "$libasan" ] || { echo "sanitize.sh: $CC has no libasan.so ($libasan)" >&2; exit 1; }
export PYTHONPATH="$PWD/$build/lib${PYTHONPATH:+:$PYTHONPATH}"
export LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONMALLOC=malloc
unset PHOTOMATCH_NO_EXTENSIONS

# Fail loudly if the tests would not exercise the sanitized build.
"$PY" - <<'PY'
import os, sys
from photomatch import _accel
ext = _accel.get("c")
want = os.path.join(os.environ["PYTHONPATH"].split(":")[0], "photomatch")
if not ext.__file__.startswith(want) or _accel.IMPLEMENTATION != "c":
    sys.exit(f"sanitize.sh: tests would use {ext.__file__} ({_accel.IMPLEMENTATION}), not the sanitized build in {want}")
print(f"sanitize.sh: testing {ext.__file__}")
PY

tests=${SANITIZE_TESTS:-}
if [ -z "$tests" ]; then
    for t in tests/test_kernels_hash.py tests/test_index.py tests/test_loading.py tests/test_hashing.py; do
        [ -f "$t" ] && tests="$tests $t"
    done
fi
t0=$SECONDS
set +e
# -p no:cacheprovider: the copy must not write into the source tree's cache; photos-dev stays
# available through the conftest's own lookup.
# shellcheck disable=SC2086
# Without arguments, the numpy-twin variants (ids containing "numpy") are left out, as they run
# no photomatch C, and so are the photos-dev sweeps (marker "photos": 369 full JPEG decodes,
# many minutes under ASan); pass your own -k/-m to include them.
[ $# -gt 0 ] || set -- -k "not numpy" -m "not photos and not slow"
"$PY" -m pytest -q -p no:cacheprovider $tests "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if grep -a -E -q 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$log"; then
    echo "sanitize.sh: SANITIZER REPORT (see $log)"
    status=1
fi
echo "sanitize.sh: tests took $((SECONDS - t0)) s"

# Optionally fuzz under the sanitizers too (SANITIZE_FUZZ_SECONDS per harness). atheris's wheel
# has no ASan-aware libFuzzer, so coverage feedback is lost with libasan preloaded: this is
# structured random testing (FuzzedDataProvider shapes for the kernels; seed mutations for the
# loader), which is what catches a read past a buffer that gives no wrong answer.
fuzz_seconds=${SANITIZE_FUZZ_SECONDS:-0}
if [ "$fuzz_seconds" -gt 0 ] && [ $status -eq 0 ]; then
    "$PY" -c "import atheris" 2>/dev/null || "$PY" -m pip install -q atheris
    [ -d fuzz/corpus/images ] || "$PY" fuzz/make_corpus.py --out fuzz/corpus
    for spec in kernels: load_hash:fuzz/corpus/images; do
        IFS=: read -r name seeds <<<"$spec"
        mkdir -p "$build/fuzz-$name"
        flog=$build/fuzz-$name.log
        if ! "$PY" "fuzz/fuzz_$name.py" -max_total_time="$fuzz_seconds" -timeout=60 -rss_limit_mb=0 \
                -print_final_stats=1 -artifact_prefix="$build/fuzz-$name-" "$build/fuzz-$name" $seeds >"$flog" 2>&1; then
            status=1
            grep -a -A40 -E 'Uncaught Python exception|ERROR: libFuzzer|==ERROR|runtime error:' "$flog" | head -80
        fi
        if grep -a -E -q 'ERROR: AddressSanitizer|runtime error:' "$flog"; then status=1; fi
        echo "sanitize.sh: fuzz_$name under ASan: $(grep -a 'stat::number_of_executed_units' "$flog" | awk '{print $2}') executions"
    done
fi
echo "sanitize.sh: total $((SECONDS - start)) s, exit $status"
exit $status
