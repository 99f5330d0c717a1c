#!/usr/bin/env bash
# Valgrind memcheck over the C-kernel tests, with zero errors required (--error-exitcode=1).
#
#   tools/valgrind.sh [PYTEST_ARGS...]          default: -k "not numpy" -m "not photos and not slow"
#   PYTHON=/path/to/python tools/valgrind.sh   default: python of the active venv, else python3
#   VALGRIND_TESTS="tests/a.py"                 override the test files
#
# The extension is rebuilt with -g (same -O3 as shipped, so we check the code we ship) into
# build/valgrind/lib, put first on PYTHONPATH; the normal build is left alone. PYTHONMALLOC=malloc
# replaces CPython's small-object allocator (whose reads of its own arenas memcheck would flag)
# with plain malloc, so no CPython suppressions are needed. tools/valgrind.supp holds the few
# suppressions for third-party code outside photomatch (each says why); a report that involves
# photomatch is never suppressed. Leak checking is off: CPython frees little at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python || command -v python3)}
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
build=build/valgrind
log=$build/valgrind.log
start=$SECONDS

"$PY" -c "import setuptools" 2>/dev/null || "$PY" -m pip install -q setuptools  # venvs of Python >= 3.12 lack it
rm -rf "$build"
mkdir -p "$build/lib"
cp -r src/photomatch "$build/lib/"
find "$build/lib" \( -name '*.so' -o -name '__pycache__' \) -prune -exec rm -rf {} +
PHOTOMATCH_REQUIRE_EXTENSION=1 PHOTOMATCH_CFLAGS="-g" "$PY" setup.py -q build_ext --build-lib "$build/lib" --build-temp "$build/tmp" \
    >"$build/build.log" 2>&1 || { cat "$build/build.log"; exit 1; }
export PYTHONPATH="$PWD/$build/lib${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONMALLOC=malloc
unset PHOTOMATCH_NO_EXTENSIONS
# numpy's AVX2/AVX-512 sort kernels (np.partition, np.median) are so large once unrolled that
# valgrind's translator runs out of storage and aborts ("VEX temporary storage exhausted"):
# run numpy on its baseline (SSE4.2) code paths; our extension is unaffected.
NPY_DISABLE_CPU_FEATURES=$("$PY" -c "
try:
    from numpy._core._multiarray_umath import __cpu_dispatch__ as d
except ImportError:
    from numpy.core._multiarray_umath import __cpu_dispatch__ as d
print(' '.join(d))")
export NPY_DISABLE_CPU_FEATURES
"$PY" -c "
import os, sys
from photomatch import _accel
ext = _accel.get('c')
if not ext.__file__.startswith(os.path.abspath('$build/lib')):
    sys.exit(f'valgrind.sh: tests would use {ext.__file__}, not {os.path.abspath(\"$build/lib\")}')
"

tests=${VALGRIND_TESTS:-}
if [ -z "$tests" ]; then
    for t in tests/test_kernels_hash.py tests/test_index.py; do
        [ -f "$t" ] && tests="$tests $t"
    done
fi
t0=$SECONDS
set +e
# shellcheck disable=SC2086
# Without arguments, as in sanitize.sh: no numpy-twin variants (no C of ours) and no photos-dev sweeps.
[ $# -gt 0 ] || set -- -k "not numpy" -m "not photos and not slow"
valgrind --tool=memcheck --error-exitcode=1 --leak-check=no --track-origins=yes --num-callers=30 \
    --suppressions=tools/valgrind.supp --log-file="$log" \
    "$PY" -m pytest -q -p no:cacheprovider $tests "$@"
status=$?
set -e
errors=$(grep -a 'ERROR SUMMARY' "$log" | tail -1)
echo "valgrind.sh: $errors"
if [ $status -ne 0 ] && ! grep -a -q 'ERROR SUMMARY: 0 errors' "$log"; then
    grep -a -B2 -A30 -m3 -E 'Invalid (read|write)|uninitialised|Conditional jump|Mismatched|Invalid free' "$log" | head -120
fi
echo "valgrind.sh: tests took $((SECONDS - t0)) s, total $((SECONDS - start)) s, exit $status (log: $log)"
exit $status
