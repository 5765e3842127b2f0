#!/usr/bin/env bash
# Device check: training (bf16 on CUDA, entries per second, base and small presets) and mean-mode imputation
# (cells per second, GPU memory) on CUDA. Without a CUDA device it runs a few CPU steps of the tiny preset and
# a few cells of imputation, so that the same code paths are exercised.
#
#   bench/gpu_check.sh [CELLS.scool]     (default: ../shared/data/nagano2017_mesc_scool/test_matrix.scool)
set -euo pipefail
cd "$(dirname "$0")/.."
SCOOL=${1:-../shared/data/nagano2017_mesc_scool/test_matrix.scool}
if python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    python bench/train_throughput.py "$SCOOL" --device cuda --config base --steps 300
    python bench/train_throughput.py "$SCOOL" --device cuda --config small --steps 300 --batch-size 128
    python bench/impute_speed.py "$SCOOL" --device cuda --preset small --cells 20 --batch-size 512
else
    echo "no CUDA device: exercising the training and imputation paths on the CPU (tiny preset)"
    python bench/train_throughput.py "$SCOOL" --device cpu --config tiny --steps 10 --threads 2
    python bench/impute_speed.py "$SCOOL" --device cpu --preset tiny --cells 3 --threads 2
fi
