#!/usr/bin/env bash
# The GPU checks of issue #6 in one go on a lent device (torch only there; see README "Speed").
# Usage: scripts/bench_device.sh DATA_DIR OUT_DIR   (DATA_DIR: `python scripts/device_data.py pack ...`)
# On a bare GPU image, `source scripts/device_env.sh` first (kornia).
set -uo pipefail
data=$1 out=$2
mkdir -p "$out"
export PYTHONUNBUFFERED=1 REFSR_DATA=$data
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
python3 bench/speed.py --device cuda --repeats 5 --naive-patches 64 --scaling > "$out/speed_auto.txt" 2>&1
python3 bench/speed.py --device cuda --repeats 5 --naive-patches 64 --precision fp32 > "$out/speed_fp32.txt" 2>&1
for p in fp32 bf16; do  # quality must not move by more than 0.05 dB
    python3 bench/quality.py --device cuda --data "$data" --methods refsr-average refsr-mask --precision $p \
        > "$out/quality_$p.md" 2> "$out/quality_$p.log"
done
python3 bench/matching.py --device cuda --data "$data" --methods ccnet > "$out/matching_ccnet.md" 2>&1
tail -n 4 "$out"/*.txt "$out"/*.md
