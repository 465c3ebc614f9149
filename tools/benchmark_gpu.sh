#!/usr/bin/env bash
# fdpl on one GPU, in at most 8 minutes: training iterations per second of supervised-only
# and FDPL on full-resolution LA (float32 and AMP, peak GPU memory), inference time per
# case (classic / fast / whole), then as many FDPL training iterations as the rest of the
# budget allows and the extrapolated time of the full schedule.
# Writes summary.json and summary.md into the output folder.
#
# Usage (from the repository root):
#   bash tools/benchmark_gpu.sh [OUT_DIR] [--tiny] [--budget SECONDS] [--skip-train]
#                               [--data-root DIR]  (DIR holds LA/; default $FDPL_DATA_ROOT or data)
# OUT_DIR defaults to $OUT, then to work_dirs/benchmark_gpu. --tiny (or FDPL_BENCH_TINY=1)
# runs tiny networks on tiny inputs: a check of the script that takes 6-25 s on 2 idle CPU
# cores (up to 90 s when they are shared); its figures mean nothing.
#
# Data: data/ is not tracked by git, so a copy of the working tree does not bring LA along.
#   * whole dataset: copy data/LA (223 MB: train.list, test.list, 2018LA_Seg_Training Set/)
#     to data/LA on the GPU machine, or set FDPL_DATA_ROOT to the folder that holds LA/;
#   * subset that travels with the tree (about 56 MB): on a machine with the data run
#       python tools/benchmark_gpu.py --make-subset data/gpu_subset
#     copy data/gpu_subset along, and run with FDPL_DATA_ROOT=data/gpu_subset.
# Without data the speed parts use random batches and a random volume of the same shapes,
# and the training run is skipped (the summary says so).
set -euo pipefail
cd "$(dirname "$0")/.."

out_dir="${OUT:-work_dirs/benchmark_gpu}"
args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --tiny) export FDPL_BENCH_TINY=1; shift ;;
        --budget) args+=("$1" "$2"); shift 2 ;;
        --data-root) export FDPL_DATA_ROOT="$2"; shift 2 ;;
        --skip-train) args+=("$1"); shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) out_dir="$1"; shift ;;
    esac
done
mkdir -p "$out_dir"
data_root="${FDPL_DATA_ROOT:-data}"

echo "== fdpl GPU benchmark -> $out_dir"
if command -v nvidia-smi > /dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
else
    echo "nvidia-smi not found: no GPU visible, running on the CPU"
fi
if [[ -f "$data_root/LA/train.list" ]]; then
    echo "LA data: $data_root/LA"
else
    echo "LA data: none at $data_root/LA -- speed parts use random inputs, training run skipped."
    echo "  Copy data/LA here, or make a subset elsewhere with"
    echo "  'python tools/benchmark_gpu.py --make-subset data/gpu_subset' and set"
    echo "  FDPL_DATA_ROOT=data/gpu_subset (see the head of this script)."
fi

# a hard stop 20 s after the python budget (450 s by default): 8 minutes in all
budget=450
for ((i = 0; i < ${#args[@]}; i++)); do
    [[ "${args[$i]}" == --budget ]] && budget="${args[$((i + 1))]}"
done
status=0
timeout --kill-after=5 "$((${budget%.*} + 20))" \
    python tools/benchmark_gpu.py "$out_dir" --data-root "$data_root" "${args[@]}" || status=$?
if [[ -f "$out_dir/summary.md" ]]; then
    echo "== summary ($out_dir/summary.md, $out_dir/summary.json)"
    cat "$out_dir/summary.md"
fi
exit "$status"
