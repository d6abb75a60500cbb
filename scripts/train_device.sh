#!/usr/bin/env bash
# Train the shipped networks on one GPU lease, in one go (see README "Training").
# Usage: scripts/train_device.sh DATA_DIR OUT_DIR MINUTES_PHASE_A MINUTES_PHASE_B
# Phase A trains CC-Net and both SRResNets side by side; phase B trains SS-Net on their frozen weights.
# INIT=refsr/weights: continue from those weights instead (CC-Net in phase A, SS-Net in phase B, each with
# --init); the SRResNets are then kept as they are and not retrained. CONFIG=cpu|paper (default paper).
set -uo pipefail
data=$1 out=$2 a=$3 b=$4
mkdir -p "$out/w"
export PYTHONUNBUFFERED=1
train() { python3 -c "import sys; from refsr.train import main; sys.exit(main(sys.argv[1], sys.argv[2:]))" "$@"; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
init_from() { [ -n "${INIT:-}" ] && echo "--init $INIT/$1.pt"; }
train ccnet --config "${CONFIG:-paper}" --minutes "$a" --data "$data" --out "$out/w" $(init_from ccnet) > "$out/ccnet.log" 2>&1 &
cc=$!
if [ -n "${INIT:-}" ]; then
    cp "$INIT"/srresnet*.pt "$INIT"/srresnet*.json "$out/w/"
    tar_a="ccnet.pt ccnet.json"
else
    train srresnet --config "${CONFIG:-paper}" --minutes "$a" --data "$data" --out "$out/w" > "$out/srresnet.log" 2>&1 &
    sr=$!
    wait $sr; echo "srresnet exit $?"
    tar_a="ccnet.pt ccnet.json srresnet.pt srresnet.json srresnet_nn.pt srresnet_nn.json"
fi
wait $cc; echo "ccnet exit $?"
tar -C "$out/w" -cf "$out/weights_a.tar" $tar_a
train ssnet --config "${CONFIG:-paper}" --minutes "$b" --data "$data" --out "$out/w" $(init_from ssnet) > "$out/ssnet.log" 2>&1
echo "ssnet exit $?"
tar -C "$out/w" -cf "$out/weights_b.tar" ssnet.pt ssnet.json
tail -n 3 "$out"/*.log
