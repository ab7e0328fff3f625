#!/usr/bin/env bash
# GPU evidence for issue 9, in at most ~8 minutes on one GPU (an H200 was the target):
#   1. the gpu-marked tests (cohort and single paths agree in distribution),
#   2. benchmarks/gpu/slice.toml with cohorts (the default on CUDA),
#   3. the same slice one model at a time (--cohort-size 1) for as long as the cap allows,
#   4. models/s of both, the speed-up, and a projection of the paper suite's time.
# Needs a CUDA build of torch on the machine and MNIST under $ANOBENCH_DATA
# (default results/gpu-data, e.g. copied from ../shared/data/MNIST and carried
# to the device). Writes everything under $OUT (default results/gpu-slice):
# the two runs' records, their logs and summary.txt; move them to
# results/reference/ afterwards. Caps (seconds): TEST_CAP, COHORT_CAP, SINGLE_CAP;
# JOBS (default 4) units at once on the one GPU in both runs.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-results/gpu-slice}
export ANOBENCH_DATA=${ANOBENCH_DATA:-results/gpu-data}
TEST_CAP=${TEST_CAP:-90}
COHORT_CAP=${COHORT_CAP:-240}
SINGLE_CAP=${SINGLE_CAP:-120}
JOBS=${JOBS:-4}
mkdir -p "$OUT"
start=$SECONDS
if [ ! -x .venv-gpu/bin/python ]; then
    python3 -m venv --system-site-packages .venv-gpu && \
        .venv-gpu/bin/pip install -q --no-deps -e . || { echo "install failed"; exit 1; }
fi
. .venv-gpu/bin/activate
python - <<'PY' | tee "$OUT/device.txt" || exit 1
import torch
assert torch.cuda.is_available(), "no CUDA device"
print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, "
      f"{torch.cuda.device_count()} device(s), cudnn tf32 {torch.backends.cudnn.allow_tf32}, "
      f"matmul tf32 {torch.backends.cuda.matmul.allow_tf32}")
PY
anobench data status | tee -a "$OUT/device.txt"
echo "== 1. gpu tests (cap ${TEST_CAP}s)"
timeout "$TEST_CAP" python -m pytest -m gpu -q -p no:cacheprovider tests/test_cohort.py 2>&1 \
    | tail -5 | tee "$OUT/gpu_tests.txt"
echo "== 2. cohort path (cap ${COHORT_CAP}s, --jobs $JOBS)"
t0=$EPOCHREALTIME
timeout "$COHORT_CAP" anobench run benchmarks/gpu/slice.toml --device cuda --jobs "$JOBS" \
    --results "$OUT/cohort" --no-figures > "$OUT/cohort.out" 2> "$OUT/cohort.log"
echo "exit $? after $((SECONDS - start)) s"
cohort_wall=$(python -c "print($EPOCHREALTIME - $t0)")
echo "== 3. one model at a time (cap ${SINGLE_CAP}s, --jobs $JOBS)"
t0=$EPOCHREALTIME
timeout "$SINGLE_CAP" anobench run benchmarks/gpu/slice.toml --device cuda --jobs "$JOBS" \
    --cohort-size 1 --results "$OUT/single" --no-figures > "$OUT/single.out" 2> "$OUT/single.log"
echo "exit $? after $((SECONDS - start)) s"
single_wall=$(python -c "print($EPOCHREALTIME - $t0)")
echo "== 4. summary"
python benchmarks/gpu/summary.py --cohort "$OUT/cohort" "$cohort_wall" \
    --single "$OUT/single" "$single_wall" --paper suites/paper.toml | tee "$OUT/summary.txt"
echo "total $((SECONDS - start)) s"
