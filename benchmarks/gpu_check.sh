#!/usr/bin/env bash
# The GPU checks, as one script for a lent GPU machine (device tool): at most ~10 min, nothing downloaded.
#   bash benchmarks/gpu_check.sh            # writes its tables and logs to $OUT (default /tmp/gpu_check)
# On the device machine (Python 3.12, torch, torchvision, timm, pandas, scipy, seaborn preinstalled) it makes a venv with
# the system's packages (/tmp/gpu_check_venv: the console scripts land beside its python, where 13_train's cells look),
# installs the wheels carried in .gpu-wheels/ (`make gpu-wheels` fills it here: nbdev, pytest, dvclive + dvc, which the
# machine lacks; nothing is downloaded there) and this checkout (`pip install --no-deps --no-build-isolation -e .`), then:
#   1. benchmarks/bench_epoch.py: seconds per 50k-image epoch of ResNet-18 at 32 px, bf16, ours against the
#      DataLoader + PIL + plain Eq. 13 reference, in one run (the goal: ≤ 5 s and ≥ 3×);
#   2. a paper-profile smoke on CIFAR-100-format files it writes (benchmarks/_gpu_smoke.py: ResNet-18, 300 steps,
#      bf16, the training set on the GPU, checkpoints every 25 steps in a partial folder), killed with SIGKILL after its
#      checkpoint at step 150 and run again: it must resume (sessions start at 0 and 150). One GPU cannot run NCCL with
#      two processes (NCCL refuses two ranks on one device), so multi-GPU torchrun is not part of this script;
#   3. the notebooks holding `#| gpu` test cells, those cells included (`RLPJEPA_TEST_FLAGS=gpu`, pytest through nbdev);
#   4. bench_epoch.py again with `--compile`, if the time spent so far leaves room (GPU_CHECK_BUDGET s, default 420).
# Every step has its own time limit and writes to $OUT as it goes, so a run stopped early still returns what it did.
# On a CPU (GPU_CHECK_CPU=1) it runs the same steps on tiny sizes, to test the script itself.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}; mkdir -p "$OUT"
PY=${PYTHON:-python3}
CPU=${GPU_CHECK_CPU:-}
T0=$SECONDS
log() { echo "=== [gpu_check $((SECONDS - T0)) s] $*" | tee -a "$OUT/summary.md"; }
BUDGET=${GPU_CHECK_BUDGET:-420}
export PYTHONUNBUFFERED=1
if [ -z "$CPU" ]; then
  V=/tmp/gpu_check_venv
  [ -x $V/bin/python ] || $PY -m venv --system-site-packages $V > "$OUT/install.log" 2>&1
  PY=$V/bin/python
  [ -d .gpu-wheels ] && $PY -m pip install -q --no-index --find-links .gpu-wheels nbdev==2.4.14 'fastcore<2' 'execnb<0.2' 'ghapi<2' pytest tqdm ruamel.yaml dvclive >> "$OUT/install.log" 2>&1
  $PY -m pip install -q --no-deps --no-build-isolation -e . >> "$OUT/install.log" 2>&1 || { echo "install of this checkout failed:"; tail -5 "$OUT/install.log"; } | tee -a "$OUT/summary.md"
fi
$PY -c "import torch; print('torch', torch.__version__, '| cuda', torch.cuda.is_available(), '|', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')" | tee -a "$OUT/summary.md"
[ -z "$CPU" ] && ! $PY -c "import torch, sys; sys.exit(not torch.cuda.is_available())" && { log "no CUDA device: set GPU_CHECK_CPU=1 to test the script on a CPU"; exit 1; }

log "1. seconds per epoch, ours against the reference loop"
if [ -n "$CPU" ]; then BENCH="--device cpu --images 256 --width 4 --batch-size 64 --proj-dim 32 --num-projections 32"; else BENCH="--device cuda"; fi
timeout 200 $PY benchmarks/bench_epoch.py $BENCH > "$OUT/bench_epoch.md" 2>"$OUT/bench_epoch.err"; echo "rc $?" >> "$OUT/bench_epoch.md"
cat "$OUT/bench_epoch.md" | tee -a "$OUT/summary.md"

log "2. paper-profile smoke: 300 steps, SIGKILL after the checkpoint of step 150, resume"
D=$(mktemp -d); SMALL=$([ -n "$CPU" ] && echo "--cpu-small --images 2048" || echo "")
timeout 100 $PY benchmarks/_gpu_smoke.py --root "$D/data" --out "$D/run" --steps 300 --kill-at 150 $SMALL > "$OUT/smoke1.log" 2>&1
echo "first session: rc $? (137 = killed as planned)" | tee -a "$OUT/summary.md"
timeout 100 $PY benchmarks/_gpu_smoke.py --root "$D/data" --out "$D/run" --steps 300 $SMALL > "$OUT/smoke2.log" 2>&1
echo "second session: rc $?" | tee -a "$OUT/summary.md"; cat "$OUT/smoke2.log" | tail -8 | tee -a "$OUT/summary.md"
$PY - "$D/run/metrics.json" <<'PY' | tee -a "$OUT/summary.md"
import json, sys
m = json.load(open(sys.argv[1]))
ok = m['step'] == 300 and m['session_starts'] == [0, 150]
print(f"resumed: {'yes' if ok else 'NO'} (sessions start at {m['session_starts']}, {m['step']} steps, data on device {m['data_on_device']}, {m['precision']}, {m['device']})")
PY
rm -rf "$D"
log "3. the notebooks with #| gpu test cells, those cells included"
if $PY -c "import nbdev, pytest, dvclive" 2>/dev/null; then    # on a CPU: the same notebooks, without the gpu cells
  RLPJEPA_TEST_FLAGS=$([ -z "$CPU" ] && echo gpu) timeout 200 $PY -m pytest tests/test_notebooks.py -q -p no:cacheprovider -k "$(grep -l '#| gpu' nbs/*.ipynb | xargs -n1 basename -s .ipynb | paste -sd'|' | sed 's/|/ or /g')" --durations=5 > "$OUT/gpu_tests.log" 2>&1
  grep -E "passed|failed|FAILED|Error|s call" "$OUT/gpu_tests.log" | tail -12 | tee -a "$OUT/summary.md"
else log "skipped: nbdev, pytest or dvclive missing (make gpu-wheels here and carry .gpu-wheels)"; fi

log "4. seconds per epoch with --compile (ours only compiles)"
if [ $((SECONDS - T0)) -lt "$BUDGET" ] && [ -z "$CPU" ]; then
  timeout 150 $PY benchmarks/bench_epoch.py --device cuda --compile > "$OUT/bench_epoch_compile.md" 2>"$OUT/bench_epoch_compile.err"; echo "rc $?" >> "$OUT/bench_epoch_compile.md"
  cat "$OUT/bench_epoch_compile.md" | tee -a "$OUT/summary.md"
else log "skipped: $([ -n "$CPU" ] && echo 'CPU run' || echo "over the budget of $BUDGET s")"; fi
log "done in $((SECONDS - T0)) s; tables and logs in $OUT"
