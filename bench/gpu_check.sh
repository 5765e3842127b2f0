#!/usr/bin/env bash
# Device check for training: bf16 on CUDA, entries per second for the base and small presets.
# Without a CUDA device it runs a few CPU steps of the tiny preset so that the code path is exercised.
#
#   bench/gpu_check.sh [CELLS.scool]     (default: ../shared/data/nagano2017_mesc_scool/test_matrix.scool)
set -euo pipefail
cd "$(dirname "$0")/.."
SCOOL=${1:-../shared/data/nagano2017_mesc_scool/test_matrix.scool}
if python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    python bench/train_throughput.py "$SCOOL" --device cuda --config base --steps 300
    python bench/train_throughput.py "$SCOOL" --device cuda --config small --steps 300 --batch-size 128
else
    echo "no CUDA device: exercising the training path on the CPU (tiny preset)"
    python bench/train_throughput.py "$SCOOL" --device cpu --config tiny --steps 10 --threads 2
fi
