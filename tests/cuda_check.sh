#!/usr/bin/env bash
# Every lesson and the nbval suite on the CUDA kernel, in one call, on a GPU machine that has
# PyTorch but no Jupyter stack and no network (README, "Running on a GPU").
#
#   tests/cuda_check.sh [--wheels DIR] [--out DIR] [--jobs N] [--dry-run] [LESSON ...]
#
#   --wheels DIR  install these wheels first, without network (papermill, nbval, ipykernel,
#                 jupytext and what they need for Python 3.12; `make cuda-wheels` downloads
#                 them here), into DIR/../site, and the project itself with --no-deps
#   --out DIR     where the reports go (default _build/cuda_check): report_<device>.json (the
#                 runner's build report), nbval_<device>.xml (JUnit), summary_<device>.txt
#   --jobs N      lessons (and nbval workers) in parallel (default 4)
#   --dry-run     the same steps on this machine's CPU with the dlbook-cpu kernel and the
#                 packages already installed (make test runs it on one lesson)
#   LESSON ...    only these lessons (default: every lesson of _toc.yml)
#
# Exit status: 0 when every lesson ran and nbval passed, 1 otherwise, 2 for bad arguments.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
device=cuda wheels="" out=_build/cuda_check jobs=4 lessons=()
while [ $# -gt 0 ]; do
  case "$1" in
    --wheels) wheels=${2:?--wheels needs a folder}; shift 2 ;;
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    --dry-run) device=cpu; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "cuda_check: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) lessons+=("$1"); shift ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
say() { echo "cuda_check: $*"; }

if [ -n "$wheels" ]; then
  [ -d "$wheels" ] || { echo "cuda_check: no wheel folder $wheels; run make cuda-wheels" >&2; exit 2; }
  site="$out/site"
  say "installing $(ls "$wheels"/*.whl | wc -l) wheels from $wheels into $site (no network)"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" "$wheels"/*.whl || exit 1
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile \
    --target "$site" . || exit 1
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi

dlbook=("$PY" -m dlbook_utils.bookbuild.cli)
kernel=dlbook-$device
if ! "${dlbook[@]}" kernels list 2>/dev/null | grep -q "^$kernel:"; then
  "${dlbook[@]}" kernels install || exit 1
fi
"$PY" - <<'PY' || exit 1
import platform, torch
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
print(f"cuda_check: python {platform.python_version()}, torch {torch.__version__}, {gpu}")
PY

# (a) every lesson through the project's own runner, on the kernel of the device
say "(a) executing lessons on $kernel"
subset=()
[ ${#lessons[@]} -gt 0 ] && subset=(--lessons "${lessons[@]}")
DLBOOK_PROGRESS=0 "${dlbook[@]}" build --no-html --no-data --device "$device" -j "$jobs" \
  --build-dir "$out/build" "${subset[@]}"
run_status=$?
[ -f "$out/build/report.json" ] && cp "$out/build/report.json" "$out/report_$device.json"

# (b) nbval over the golden notebooks on the same kernel
notebooks=()
if [ ${#lessons[@]} -gt 0 ]; then
  for l in "${lessons[@]}"; do notebooks+=($(ls lessons/*/"${l%.md}".ipynb 2>/dev/null || echo "$l")); done
else
  notebooks=(lessons)
fi
say "(b) nbval on $kernel"
DLBOOK_PROGRESS=0 "$PY" -m pytest -o addopts="" -p no:cacheprovider -q --nbval-lax \
  --nbval-kernel-name "$kernel" --nbval-sanitize-with tests/nbval_sanitize.cfg \
  -n "$jobs" --dist loadfile --junitxml "$out/nbval_$device.xml" "${notebooks[@]}"
nbval_status=$?

"$PY" - "$out" "$device" "$run_status" "$nbval_status" <<'PY'
import json, sys, pathlib
out, device, run_status, nbval_status = pathlib.Path(sys.argv[1]), sys.argv[2], *map(int, sys.argv[3:])
report = out / f"report_{device}.json"
rows = json.loads(report.read_text()) if report.is_file() else []
ok = sum(r["status"] == "ok" for r in rows)
lines = [f"device {device}: {ok}/{len(rows)} lessons ran (runner exit {run_status}), "
         f"nbval exit {nbval_status}"]
lines += [f"  {r['lesson']:34s} {r['status']:8s} {r['wall_s'] or 0:7.1f} s" for r in rows]
(out / f"summary_{device}.txt").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY
[ "$run_status" -eq 0 ] && [ "$nbval_status" -eq 0 ]
