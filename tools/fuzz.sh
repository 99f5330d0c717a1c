#!/usr/bin/env bash
# CI-sized fuzzing of photomatch with atheris (libFuzzer for Python).
#
#   tools/fuzz.sh [SECONDS_PER_HARNESS]     default 60; harnesses run one after the other
#   PYTHON=/path/to/python tools/fuzz.sh    default: python of the active venv, else python3
#   FUZZ_SEED=1 tools/fuzz.sh               libFuzzer's -seed: CI fixes it so a run replays exactly
#                                           (unset: a random seed each run, to explore)
#
# Harnesses (fuzz/README.md): fuzz_load_hash (bytes -> open_image -> PDQ/pHash kernels),
# fuzz_hashlist (bytes -> read_hash_list -> write/read round trip) and fuzz_kernels (any array
# -> C kernels, checked against the numpy twins; no seeds needed) and fuzz_video (bytes ->
# VideoReader -> sampled frames -> vPDQ, seeded with tiny generated clips). Seeds come from
# fuzz/make_corpus.py; inputs that find new coverage accumulate in fuzz/work/<harness>/ (kept
# between runs on one machine, ignored by git), and a crashing input is written to
# fuzz/artifacts/<harness>/crash-* with its traceback in fuzz/artifacts/<harness>.log.
# Exit status: 0 when no harness found anything, 1 otherwise (the failing log's tail is shown).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
PY=${PYTHON:-$(command -v python || command -v python3)}

if ! "$PY" -c "import atheris" 2>/dev/null; then
    echo "fuzz.sh: installing atheris into $("$PY" -c 'import sys; print(sys.prefix)')"
    "$PY" -m pip install -q atheris
fi
[ -d fuzz/corpus/images ] && [ -d fuzz/corpus/hashlists ] && [ -d fuzz/corpus/videos ] || "$PY" fuzz/make_corpus.py --out fuzz/corpus

status=0
# harness:seed folder:max input length (images need room for a whole small file; lists for long lines)
for spec in load_hash:images:65536 hashlist:hashlists:16384 kernels::4096 video:videos:65536 names_scans::4096; do
    IFS=: read -r name seeds max_len <<<"$spec"
    work=fuzz/work/$name art=fuzz/artifacts/$name log=fuzz/artifacts/$name.log
    mkdir -p "$work" "$art"
    start=$SECONDS
    # -timeout: one input taking 20 s is a hang; -rss_limit_mb: a bomb that slips past max_pixels.
    # Decoder warnings (libjpeg, libtiff) go to the log, which stays out of the CI output.
    if "$PY" "fuzz/fuzz_$name.py" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 \
            -max_len="$max_len" -print_final_stats=1 ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -artifact_prefix="$art/" "$work" ${seeds:+"fuzz/corpus/$seeds"} \
            >"$log" 2>&1; then
        result=ok
    else
        result=FINDING
        status=1
    fi
    execs=$(grep -a 'stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)
    rate=$(grep -a 'stat::average_exec_per_sec' "$log" | awk '{print $2}' | tail -1)
    corpus=$(find "$work" -type f | wc -l)
    echo "fuzz $name: $result, ${execs:-?} executions (${rate:-?}/s) in $((SECONDS - start)) s, corpus $corpus inputs"
    if [ "$result" != ok ]; then
        grep -a -A40 -E 'Uncaught Python exception|ERROR: libFuzzer|==ERROR' "$log" | head -80 || tail -40 "$log"
        ls "$art"
    fi
done
exit $status
