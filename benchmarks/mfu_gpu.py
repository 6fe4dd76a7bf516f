"""Tokens/s and MFU of the BLOOM-style model under DeepSpeed ZeRO-1 bf16 on one GPU, in under 5 minutes.

It trains the 560m preset (about 350M parameters with a 50k vocabulary, 560M with BLOOM's 250880)
on synthetic tokens for ``--seconds``, after a few warm-up steps, and prints throughput and model
FLOPs utilisation against the card's bf16 dense peak. Attention is FlexAttention with ALiBi as a
score_mod and the model is compiled; ``--vocab 250880 --micro-batch 8`` is BLOOM-560m itself. The
measured figures (card, date, commit) are in docs/performance.md. ``--smoke`` runs the same code
path on CPU with the tiny preset, so a broken script is caught without a GPU.
``benchmarks/gpu_check.sh`` runs it with a real ``python -m model.train`` in one go.

    python -m benchmarks.mfu_gpu --record        # one H100/H200, about 4 minutes with the compile
    DS_ACCELERATOR=cpu python -m benchmarks.mfu_gpu --smoke
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import add_record_argument, record  # noqa: E402
from model.gpt import GPT, flops_per_token, preset  # noqa: E402
from model.schedule import lr_factor  # noqa: E402
from model.train import ds_config, peak_flops, setup_distributed  # noqa: E402

CONFIGS = ROOT / "model" / "configs"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Measure tokens/s and MFU of a ~350M-560M model with ZeRO-1 bf16.")
    p.add_argument("--model", default="560m", help="size preset (default 560m)")
    p.add_argument("--vocab", type=int, default=50304, help="vocabulary size (BLOOM's is 250880)")
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--micro-batch", type=int, default=16)
    p.add_argument("--grad-accum", type=int, default=4,
                   help="micro-steps per optimizer step: the optimizer's cost is shared by more tokens")
    p.add_argument("--seconds", type=float, default=120.0, help="timed training time after warm-up")
    p.add_argument("--warmup-steps", type=int, default=5)
    p.add_argument("--deepspeed-config", default=str(CONFIGS / "ds_zero1_bf16.json"))
    p.add_argument("--attention", choices=["sdpa", "flex"], default="flex",
                   help="FlexAttention with ALiBi as a score_mod (default) or sdpa with an ALiBi mask")
    p.add_argument("--no-compile", dest="compile", action="store_false", help="skip torch.compile of the model")
    p.add_argument("--smoke", action="store_true", help="tiny preset, fp32, a few seconds: checks the code path on CPU")
    add_record_argument(p)
    args = p.parse_args(argv)
    if args.smoke:
        args.model, args.vocab, args.seq_len, args.micro_batch, args.seconds = "tiny", 512, 64, 2, 3.0
        args.attention, args.compile = "sdpa", False  # FlexAttention has no backward on CPU
        args.deepspeed_config = str(CONFIGS / "ds_zero0_fp32.json")

    rank, world, local_rank = setup_distributed()
    import deepspeed
    from deepspeed.accelerator import get_accelerator

    device = torch.device(get_accelerator().device_name(local_rank))
    if args.attention == "flex" and device.type != "cuda":
        raise SystemExit("--attention flex needs a GPU: FlexAttention has no backward on CPU")
    torch.manual_seed(0)
    cfg = preset(args.model, args.vocab, seq_len=args.seq_len, attention=args.attention)
    model = GPT(cfg)
    n_params = model.num_params()
    if args.compile:
        model.compile()  # in place: parameter names stay those of an uncompiled model
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), fused=device.type == "cuda")
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, 100, 10_000))
    engine, _, _, _ = deepspeed.initialize(
        model=model,
        optimizer=optimizer,
        lr_scheduler=scheduler,
        config=ds_config(args.deepspeed_config, args.micro_batch, args.grad_accum, world),
    )

    def step() -> torch.Tensor:
        batch = torch.randint(0, args.vocab, (args.micro_batch, args.seq_len + 1), device=device)
        _, loss = engine(batch[:, :-1], batch[:, 1:])
        engine.backward(loss)
        engine.step()
        return loss

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    warm = time.perf_counter()
    for _ in range(args.warmup_steps * args.grad_accum):
        step()
    sync()
    warm = time.perf_counter() - warm
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds or steps % args.grad_accum:
        loss = step()
        steps += 1
        if steps % 10 == 0:
            sync()
    sync()
    elapsed = time.perf_counter() - start
    tokens_per_s = steps * args.micro_batch * args.seq_len * world / elapsed
    achieved = tokens_per_s * flops_per_token(cfg, n_params)
    peak = peak_flops(None)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    memory = f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB peak memory" if device.type == "cuda" else ""
    if rank == 0:
        print(
            f"\n{name} x{world} | preset {args.model}: {n_params / 1e6:.0f}M params, seq {args.seq_len}, "
            f"micro-batch {args.micro_batch} x {args.grad_accum} accumulated, vocab {args.vocab:,}, "
            f"{args.attention}{' compiled' if args.compile else ''}, "
            f"{Path(args.deepspeed_config).name} | {memory}"
        )
        print(
            f"warm-up and compile {warm:.0f}s | {steps} micro-steps in {elapsed:.1f}s | {tokens_per_s:,.0f} tokens/s | "
            f"{achieved / 1e12:.1f} TFLOP/s achieved | "
            f"MFU {f'{achieved / (peak * world):.1%}' if peak else 'n/a (no known peak for this device)'} | "
            f"final loss {loss.item():.3f} (random tokens: ln(vocab) = {math.log(args.vocab):.3f})"
        )
        if args.record and peak:
            mfu = achieved / (peak * world)
            setting = (f"preset {args.model} ({n_params / 1e6:.0f}M params, vocab {args.vocab:,}), seq {args.seq_len}, "
                       f"micro-batch {args.micro_batch} x {args.grad_accum} accumulated, {args.attention}"
                       f"{' compiled' if args.compile else ''}, {Path(args.deepspeed_config).name}")
            record(f"mfu_gpu.{args.model}-v{args.vocab}-mb{args.micro_batch}x{args.grad_accum}-{args.attention}",
                   section="Training", device=f"{name} x{world}", options=vars(args),
                   figures={"tokens_per_s": tokens_per_s, "mfu": mfu, "params": n_params, "peak_flops": peak},
                   rows=[{"what": f"model MFU, {setting}", "result": f"{tokens_per_s:,.0f} tokens/s, {mfu:.1%} MFU",
                          "baseline": f"the card's bf16 dense peak, {peak / 1e12:,.0f} TFLOP/s"}])
    torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
