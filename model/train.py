"""Train a BLOOM-style model with DeepSpeed straight from a catalog version.

Runs as a single process, under ``torchrun`` or under the ``deepspeed`` launcher:

    python -m model.train --lake LAKE --dataset NAME@v1 --tokenizer tok.json --model tiny \\
        --deepspeed-config model/configs/ds_zero0_fp32.json --steps 200 --save-dir ckpt --save-every 50

Every checkpoint carries the data stream's position, the manifest and tokenizer hashes and the
model config, so ``--resume`` continues with exactly the batch the interrupted run would have
taken next, and refuses to continue on other data, another tokenizer or another model.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from model.allocator import current_allocator, exec_with_mimalloc

if __name__ == "__main__":
    exec_with_mimalloc()  # before torch loads (3.9 s), since the restart loads everything again

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from model.checkpoint import ResumeError, check_compatible, latest_tag, read_run_state, write_run_state  # noqa: E402
from model.data import PackedStream, StreamConfig  # noqa: E402
from model.gpt import GPT, flops_per_token, preset  # noqa: E402
from model.schedule import lr_factor  # noqa: E402
from model.shard_reader import open_version  # noqa: E402
from model.tokenizer import load_tokenizer  # noqa: E402

CONFIGS = Path(__file__).parent / "configs"
PEAK_BF16_TFLOPS = {"H100 PCIe": 756.0, "H100 NVL": 835.0, "H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m model.train",
                                description="Train a BLOOM-style model with DeepSpeed from a catalog version.")
    p.add_argument("--lake", required=True, help="lake root (directory, gs:// or s3:// URI)")
    p.add_argument("--dataset", required=True, help="NAME or NAME@vN (latest version when no @vN)")
    p.add_argument("--tokenizer", required=True, help="tokenizer.json from python -m model.tokenizer")
    p.add_argument("--model", default="tiny", help="size preset from model/configs/models.json (default tiny)")
    p.add_argument("--deepspeed-config", default=str(CONFIGS / "ds_zero0_fp32.json"),
                   help="DeepSpeed JSON config (ZeRO stage, precision); batch fields are set from the flags below")
    p.add_argument("--steps", type=int, required=True, help="optimizer steps to reach")
    p.add_argument("--save-dir", required=True, help="checkpoint directory (also holds metrics.jsonl)")
    p.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps (0: only at the end)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --save-dir")
    p.add_argument("--seq-len", type=int, help="tokens per sample (default: the preset's)")
    p.add_argument("--attention", choices=["sdpa", "flex"], default="sdpa",
                   help="sdpa with an ALiBi mask, or FlexAttention (compiled on GPU, no T×T mask)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the model (GPU: fuses norms, GeLU and the loss; checkpoints are unchanged)")
    p.add_argument("--micro-batch", type=int, default=4, help="samples per rank per micro-step (default 4)")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-steps per optimizer step (default 1)")
    p.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (default 3e-4)")
    p.add_argument("--warmup", type=int, default=100, help="linear warmup steps (default 100)")
    p.add_argument("--decay-steps", type=int, help="cosine decay length in steps (default: --steps)")
    p.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay of matrices (default 0.1)")
    p.add_argument("--seed", type=int, default=1234, help="model init and data order seed (default 1234)")
    p.add_argument("--alpha", type=float, default=0.3, help="language mixing exponent (1: natural mix)")
    p.add_argument("--code-share", type=float, default=None,
                   help="share of the mix for programming languages (lang code-*), e.g. 0.1 as in ROOTS")
    p.add_argument("--lang-weights", help="JSON file of explicit per-language weights (overrides --alpha)")
    p.add_argument("--holdout", type=float, default=0.01, help="fraction of documents held out for eval")
    p.add_argument("--eval-every", type=int, default=0, help="eval loss per language every N steps (0: at the end)")
    p.add_argument("--eval-samples", type=int, default=4, help="held-out samples per language for eval")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers per rank (default 2)")
    p.add_argument("--log-every", type=int, default=10, help="metrics line every N steps (default 10)")
    p.add_argument("--trace-docs", action="store_true",
                   help="record the document ids of every micro-batch under SAVE_DIR/trace/ (for audits)")
    p.add_argument("--peak-tflops", type=float, help="accelerator peak for MFU (default: known bf16 peaks)")
    p.add_argument("--local_rank", type=int, default=-1, help=argparse.SUPPRESS)  # set by the deepspeed launcher
    return p.parse_args(argv)


def setup_distributed() -> tuple[int, int, int]:
    """Rank, world size and local rank; a bare ``python -m model.train`` becomes a world of one."""
    if "RANK" not in os.environ:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import deepspeed
    from deepspeed.accelerator import get_accelerator
    from deepspeed.ops.op_builder.cpu import ShareMemCommBuilder

    backend = get_accelerator().communication_backend_name()
    if get_accelerator().device_name() == "cpu":
        # gloo does the CPU collectives; DeepSpeed's shared-memory kernel would first JIT-compile
        # for minutes on each fresh machine, for a speed-up that only CPU-only clusters need.
        backend = "gloo"
        deepspeed.ops.__compatible_ops__[ShareMemCommBuilder.NAME] = False
    deepspeed.init_distributed(dist_backend=backend, verbose=False)
    return (torch.distributed.get_rank(), torch.distributed.get_world_size(), int(os.environ["LOCAL_RANK"]))


def ds_config(path: str, micro_batch: int, grad_accum: int, world: int) -> dict[str, Any]:
    config = json.loads(Path(path).read_text())
    config.update(train_micro_batch_size_per_gpu=micro_batch, gradient_accumulation_steps=grad_accum,
                  train_batch_size=micro_batch * grad_accum * world)
    return config


def peak_flops(override: float | None) -> float | None:
    if override:
        return override * 1e12
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((tf * 1e12 for key, tf in PEAK_BF16_TFLOPS.items() if key in name), None)


@torch.no_grad()
def evaluate(engine, batches: dict[str, dict[str, torch.Tensor]], micro_batch: int, device) -> dict[str, float]:
    """Mean held-out loss per language (every rank runs it, as ZeRO-3 needs all ranks in a forward)."""
    engine.eval()
    out = {}
    for lang, batch in batches.items():
        losses, weights = [], []
        for i in range(0, len(batch["input_ids"]), micro_batch):
            labels = batch["labels"][i:i + micro_batch].to(device)
            _, loss = engine(batch["input_ids"][i:i + micro_batch].to(device), labels)
            losses.append(loss.item())
            weights.append(int((labels != -100).sum()))
        out[lang] = round(float(np.average(losses, weights=weights)), 4)
    engine.train()
    return out


class Recorder:
    """Rank 0's metrics as JSON lines, plus per-rank document traces when asked for."""

    def __init__(self, save_dir: Path, rank: int, trace: bool):
        self.rank = rank
        self.metrics = open(save_dir / "metrics.jsonl", "a", encoding="utf-8") if rank == 0 else None
        self.trace = None
        if trace:
            (save_dir / "trace").mkdir(exist_ok=True)
            self.trace = open(save_dir / "trace" / f"rank{rank}.jsonl", "a", encoding="utf-8")

    def log(self, record: dict[str, Any]) -> None:
        if self.metrics:
            self.metrics.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.metrics.flush()

    def docs(self, step: int, batch: dict[str, Any]) -> None:
        if self.trace:
            self.trace.write(json.dumps({"step": step, "position": batch["position"], "doc_ids": batch["doc_ids"]},
                                        ensure_ascii=False) + "\n")
            self.trace.flush()


def pin_run(args: argparse.Namespace, save_dir: Path) -> tuple[Any, Any, dict[str, Any], dict[str, Any] | None]:
    """(version, model config, what this run is pinned to, the checkpoint's record when resuming).

    Runs before the costly start-up, so a ``--resume`` with other data, another tokenizer or
    another model fails in seconds.
    """
    version = open_version(args.lake, args.dataset)
    tok, tok_sha = load_tokenizer(args.tokenizer)
    vocab = -(-tok.get_vocab_size() // 128) * 128  # padded so matrix shapes suit tensor cores
    cfg = preset(args.model, vocab, seq_len=args.seq_len, attention=args.attention)
    run = {"dataset": version.spec, "manifest_sha256": version.manifest_sha256, "tokenizer_sha256": tok_sha,
           "model": cfg.to_dict(), "seq_len": cfg.seq_len, "stream_seed": args.seed}
    run["global_batch"] = args.micro_batch * int(os.environ.get("WORLD_SIZE", 1))
    saved = read_run_state(save_dir) if args.resume else None
    if args.resume and saved is None:
        raise ResumeError(f"--resume: no checkpoint in {save_dir}")
    if saved:
        check_compatible(saved, run)
    return version, cfg, run, saved


def build_engine(args: argparse.Namespace, cfg: Any, world: int, device: torch.device) -> tuple[GPT, Any, Any]:
    """(model, DeepSpeed engine, LR scheduler): AdamW that decays matrices only (not embeddings,
    norms or biases), warmup then cosine decay, batch sizes set from the flags."""
    import deepspeed

    torch.manual_seed(args.seed)
    model = GPT(cfg)
    if args.compile:
        model.compile()  # in place, so parameter names and checkpoints match an uncompiled run
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "wte" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or "wte" in n]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=device.type == "cuda")
    decay_steps = args.decay_steps or args.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, args.warmup, decay_steps))
    engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, lr_scheduler=scheduler,
                                           config=ds_config(args.deepspeed_config, args.micro_batch,
                                                            args.grad_accum, world))
    return model, engine, scheduler


def build_stream(args: argparse.Namespace, cfg: Any, spec: str, rank: int, world: int,
                 saved: dict[str, Any] | None) -> PackedStream:
    """This rank's packed stream; rank 0 builds the token index once, the others then load it."""
    weights = json.loads(Path(args.lang_weights).read_text()) if args.lang_weights else None
    stream_config = StreamConfig(seq_len=cfg.seq_len, micro_batch=args.micro_batch, seed=args.seed, alpha=args.alpha,
                                 weights=weights, code_share=args.code_share, holdout=args.holdout,
                                 return_ids=args.trace_docs)
    if rank:
        torch.distributed.barrier()
    stream = PackedStream(args.lake, spec, args.tokenizer, stream_config, rank=rank, world_size=world,
                          expect_tokenizer_sha256=saved["tokenizer_sha256"] if saved else None,
                          expect_manifest_sha256=saved["manifest_sha256"] if saved else None, progress=rank == 0)
    if not rank:
        torch.distributed.barrier()
    return stream


def train_step(engine: Any, batches: Iterator[dict[str, Any]], stream: PackedStream, recorder: Recorder,
               device: torch.device, grad_accum: int, step: int, realised: np.ndarray) -> tuple[torch.Tensor, dict]:
    """One optimizer step (``grad_accum`` micro-steps): this rank's mean loss and the last micro-batch.

    Each micro-batch is marked consumed once stepped, so a checkpoint's stream position is exact.
    """
    losses = []
    for _ in range(grad_accum):
        batch = next(batches)
        recorder.docs(step, batch)
        _, loss = engine(batch["input_ids"].to(device, non_blocking=True),
                         batch["labels"].to(device, non_blocking=True))
        engine.backward(loss)
        engine.step()
        stream.mark_consumed(batch)
        realised += batch["lang_tokens"].numpy()
        losses.append(loss.detach().float())
    return torch.stack(losses).mean(), batch


class Meter:
    """Loss, throughput and MFU of the steps since the last mix report, as one metrics record per step."""

    def __init__(self, tokens_per_step: int, flops_per_token: float, peak: float | None, world: int):
        self.tokens_per_step, self.fpt, self.peak, self.world = tokens_per_step, flops_per_token, peak, world
        self.first_loss: float | None = None
        self.last_loss: float | None = None
        self.window_start, self.window_steps = time.perf_counter(), 0

    def record(self, step: int, mean_loss: torch.Tensor, lr: float, position: int, epoch: int, bar: tqdm) -> dict:
        """The world's mean loss (an all-reduce: every rank calls this) and this window's speed."""
        self.window_steps += 1
        torch.distributed.all_reduce(mean_loss)
        self.last_loss = mean_loss.item() / self.world
        self.first_loss = self.last_loss if self.first_loss is None else self.first_loss
        elapsed = time.perf_counter() - self.window_start
        tps = self.window_steps * self.tokens_per_step / max(elapsed, 1e-9)
        mfu = tps * self.fpt / (self.peak * self.world) if self.peak else None
        bar.update(1)
        bar.set_postfix(loss=f"{self.last_loss:.3f}", tok_s=f"{tps:,.0f}", **({"mfu": f"{mfu:.1%}"} if mfu else {}))
        record = {"step": step, "loss": round(self.last_loss, 6), "lr": lr, "tokens": step * self.tokens_per_step,
                  "tokens_per_s": round(tps), "position": position, "epoch": epoch}
        if mfu:
            record["mfu"] = round(mfu, 4)
        return record

    def add_mix(self, record: dict, stream: PackedStream, realised: np.ndarray, device: torch.device) -> None:
        """The realised language mix over the world (an all-reduce), and a new throughput window."""
        total = torch.from_numpy(realised).to(device)  # NCCL reduces device tensors only
        torch.distributed.all_reduce(total)
        record["mix"] = stream.describe_mix(total.cpu().numpy())
        self.window_start, self.window_steps = time.perf_counter(), 0


def save_checkpoint(engine: Any, save_dir: Path, step: int, run: dict[str, Any], stream: PackedStream,
                    args: argparse.Namespace, rank: int) -> None:
    """DeepSpeed's checkpoint with the run's pins and the stream position; rank 0 then records it as the latest."""
    tag = f"step{step}"
    client = dict(run, step=step, stream=stream.state_dict(), args=vars(args))
    engine.save_checkpoint(str(save_dir), tag=tag, client_state=client)
    if rank == 0:
        write_run_state(save_dir, tag, client)
    torch.distributed.barrier()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    save_dir = Path(args.save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    version, cfg, run, saved = pin_run(args, save_dir)

    rank, world, local_rank = setup_distributed()
    from deepspeed.accelerator import get_accelerator

    device = torch.device(get_accelerator().device_name(local_rank))
    if args.attention == "flex" and device.type != "cuda":
        raise SystemExit("--attention flex needs a GPU: FlexAttention has no backward on CPU")
    model, engine, scheduler = build_engine(args, cfg, world, device)
    stream = build_stream(args, cfg, version.spec, rank, world, saved)

    step = 0
    if saved:
        _, client = engine.load_checkpoint(str(save_dir))
        check_compatible(client, run)
        stream.load_state_dict(client["stream"])
        step = client["step"]
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=args.workers,
                                         prefetch_factor=4 if args.workers else None,
                                         pin_memory=device.type == "cuda")
    eval_batches = stream.eval_batches(args.eval_samples)
    recorder = Recorder(save_dir, rank, args.trace_docs)
    tokens_per_step = args.micro_batch * args.grad_accum * world * cfg.seq_len
    realised = np.zeros(len(stream.langs), dtype=np.int64)
    if rank == 0:
        print(f"{version.spec}: {sum(s['rows'] for s in version.shards):,} docs, {len(stream.langs)} languages | "
              f"model {args.model} {model.num_params() / 1e6:.1f}M params | world {world} | "
              f"{tokens_per_step:,} tokens/step | {current_allocator()} | "
              f"{'resuming at step ' + str(step) if saved else 'fresh start'}",
              file=sys.stderr)
    bar = tqdm(total=args.steps, initial=step, desc="train", disable=rank != 0, file=sys.stderr)
    batches = iter(loader)
    evals: dict[str, float] = {}
    t0 = time.perf_counter()
    meter = Meter(tokens_per_step, flops_per_token(cfg, model.num_params()), peak_flops(args.peak_tflops), world)
    while step < args.steps:
        mean_loss, batch = train_step(engine, batches, stream, recorder, device, args.grad_accum, step + 1, realised)
        step += 1
        record = meter.record(step, mean_loss, scheduler.get_last_lr()[0], stream.position, batch["epoch"], bar)
        if step % args.log_every == 0 or step == args.steps:
            meter.add_mix(record, stream, realised, device)
        if (args.eval_every and step % args.eval_every == 0) or step == args.steps:
            evals = evaluate(engine, eval_batches, args.micro_batch, device)
            record["eval"] = evals
        recorder.log(record)
        if (args.save_every and step % args.save_every == 0) or step == args.steps:
            save_checkpoint(engine, save_dir, step, run, stream, args, rank)
    bar.close()
    if rank == 0:
        took = time.perf_counter() - t0
        worst = sorted(evals.items(), key=lambda kv: -kv[1])[:3]
        first, last = meter.first_loss, meter.last_loss
        print(f"\ndone: step {step}/{args.steps} | loss {first if first is not None else float('nan'):.4f}"
              f" -> {last if last is not None else float('nan'):.4f} | {took:.1f}s this run\n"
              f"eval loss (worst languages): {', '.join(f'{k} {v:.3f}' for k, v in worst) or 'none held out'}\n"
              f"checkpoint {save_dir / (latest_tag(save_dir) or '-')} | metrics {save_dir / 'metrics.jsonl'}",
              file=sys.stderr)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ResumeError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
