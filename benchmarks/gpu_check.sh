#!/usr/bin/env bash
# The GPU checks of the training side on one H100/H200, in about 8 minutes:
#   1. MFU of a ~350M model (560m preset, 50k vocabulary) and of BLOOM-560m itself (250,880
#      vocabulary) under ZeRO-1 bf16, with benchmarks/mfu_gpu.py;
#   2. a real `python -m model.train` run on CUDA: the streaming dataset from a lake, FlexAttention,
#      compiled model, a checkpoint at the end, tokens/s and MFU in its metrics.
# Usage: [STAGES=mfu,train] benchmarks/gpu_check.sh [--record] LAKE DATASET TOKENIZER [LOG_DIR]
# --record writes each figure to benchmarks/results/ (benchmarks/results.py) for docs/performance.md.
# DeepSpeed and its missing dependencies may come as wheels in .whl/ (installed to /tmp/site).
set -u
RECORD=
if [[ ${1:-} == --record ]]; then RECORD=--record; shift; fi
LAKE=$1 DATASET=$2 TOKENIZER=$3 LOGS=${4:-/tmp/gpu-check}
mkdir -p "$LOGS"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
if ! python3 -c "import deepspeed" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, deepspeed; print('torch', torch.__version__, '| deepspeed', deepspeed.__version__)" 2>&1 | tail -1

mfu() {  # NAME SECONDS ARGS...: one mfu_gpu.py configuration, its summary lines shown
    local name=$1 limit=$2; shift 2
    echo "== $name: $*"
    timeout "$limit" python3 -m benchmarks.mfu_gpu --seconds 30 --warmup-steps 2 $RECORD "$@" >"$LOGS/$name.log" 2>&1
    grep -E "x1 \||MFU|Error|error" "$LOGS/$name.log" | tail -3
    grep -q "MFU" "$LOGS/$name.log"
}
STAGES=${STAGES:-mfu,train}
[[ $STAGES == *mfu* ]] && { mfu m350-mb16-ga4 170 --vocab 50304 --micro-batch 16 --grad-accum 4
mfu bloom560m-mb8-ga4 170 --vocab 250880 --micro-batch 8 --grad-accum 4 \
    || mfu bloom560m-mb4-ga8 170 --vocab 250880 --micro-batch 4 --grad-accum 8; }
[[ $STAGES == *train* ]] || exit 0

echo "== model.train 560m flex compiled, ZeRO-1 bf16"
timeout 280 python3 -m model.train --lake "$LAKE" --dataset "$DATASET" --tokenizer "$TOKENIZER" \
    --model 560m --attention flex --compile --deepspeed-config model/configs/ds_zero1_bf16.json \
    --micro-batch 8 --grad-accum 4 --steps 24 --log-every 8 --eval-every 24 --warmup 4 \
    --save-dir /tmp/gpu-check-ckpt --workers 8 >"$LOGS/train.log" 2>&1
echo "exit $?"
tail -c 600 "$LOGS/train.log" | tr '\r' '\n' | tail -4
python3 - "$LOGS" "$RECORD" "$LAKE" "$DATASET" "$TOKENIZER" <<'EOF'
import json, sys
from pathlib import Path
logs, record_it, lake, dataset, tokenizer = sys.argv[1:6]
rows = [json.loads(line) for line in Path("/tmp/gpu-check-ckpt/metrics.jsonl").read_text().splitlines()]
steps = [r for r in rows if "mix" in r]
for r in steps:
    print(f"step {r['step']}: loss {r['loss']:.3f} | {r['tokens_per_s']:,} tokens/s | MFU {r.get('mfu', 0):.1%}")
Path(logs, "metrics.jsonl").write_text(Path("/tmp/gpu-check-ckpt/metrics.jsonl").read_text())
if record_it and steps:
    import torch
    from benchmarks.results import record
    last = steps[-1]
    record("gpu_check.train", section="Training", device=f"{torch.cuda.get_device_name()} x1",
           command=f"benchmarks/gpu_check.sh --record {lake} {dataset} {tokenizer}",
           figures={"steps": steps}, options={"stages": "train"},
           rows=[{"what": "the training loop on GPU (`python -m model.train --model 560m --attention flex --compile`, "
                          "ZeRO-1 bf16, micro-batch 8 x 4), streaming a lake version: the stream, DataLoader workers "
                          "and the checkpoint included",
                  "result": f"{last['tokens_per_s']:,} tokens/s, {last.get('mfu', 0):.1%} MFU, loss "
                            f"{steps[0]['loss']:.1f} -> {last['loss']:.1f} in {last['step']} steps",
                  "baseline": "the card's bf16 dense peak (the MFU denominator)"}])
EOF
ls /tmp/gpu-check-ckpt
