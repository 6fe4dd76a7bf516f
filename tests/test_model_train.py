"""End-to-end training on CPU with DeepSpeed: loss goes down, a killed 2-process run resumes exactly."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from catalog.hashing import sha256_file
from model.sample_lake import synthetic_records, write_version
from model.tokenizer import train_tokenizer

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {"ell": "αβγδεζηθικλμνξοπρστυφχψω", "eng": "etaoinshrdlucmfwyp", "rus": "оеаинтсрвлкмдпу"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    records = synthetic_records(600, SCRIPTS, seed=3, words=(10, 40))
    write_version(root / "lake", "sample", records, rows_per_shard=100)
    tok = train_tokenizer(iter([r["text"] for r in records]), 320, sum(len(r["text"]) for r in records))
    tok.save(str(root / "tok.json"))
    env = dict(os.environ, DS_ACCELERATOR="cpu", LAKE_CACHE=str(root / "cache"), OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false")
    return root, env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(root: Path, save: Path, *extra: str, procs: int = 1) -> list[str]:
    launch = [sys.executable, "-m", "model.train"] if procs == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(procs),
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "-m", "model.train"]
    return launch + ["--lake", str(root / "lake"), "--dataset", "sample", "--tokenizer", str(root / "tok.json"),
                     "--model", "tiny", "--seq-len", "32", "--micro-batch", "4", "--workers", "1",
                     "--save-dir", str(save), "--lr", "3e-3", "--warmup", "5", "--log-every", "5",
                     "--holdout", "0.05", *extra]


def run(cmd: list[str], env: dict, expect_rc: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == expect_rc, done.stderr[-3000:]
    return done


def by_step(path: Path) -> dict[int, dict]:
    """Last record per step: a resumed run rewrites the steps after its checkpoint."""
    out = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        out[record["step"]] = record
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants: torchrun starts each worker in a session of its own."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def kill_tree(pid: int) -> None:
    for p in process_tree(pid):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def traces(save: Path) -> dict[int, list]:
    return {r: {s: v["doc_ids"] for s, v in by_step(save / "trace" / f"rank{r}.jsonl").items()} for r in range(2)}


def test_tiny_model_loss_decreases(setup):
    root, env = setup
    save = root / "loss"
    done = run(command(root, save, "--steps", "100", "--micro-batch", "8", "--eval-every", "50"), env)
    losses = [r["loss"] for r in by_step(save / "metrics.jsonl").values()]
    start, end = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    print(f"loss {start:.3f} -> {end:.3f}")
    assert end < start - 1.0
    last = by_step(save / "metrics.jsonl")[100]
    assert set(last["eval"]) == set(SCRIPTS) and last["mix"]["eng"]["target"] > 0
    assert "done: step 100/100" in done.stderr


@pytest.fixture(scope="module")
def uninterrupted(setup):
    root, env = setup
    save = root / "full"
    run(command(root, save, "--steps", "24", "--save-every", "12", "--trace-docs", procs=2), env)
    return save


def test_killed_two_process_run_resumes_exactly(setup, uninterrupted):
    root, env = setup
    save = root / "killed"
    proc = subprocess.Popen(command(root, save, "--steps", "100000", "--decay-steps", "24", "--save-every", "12",
                                    "--trace-docs", procs=2),
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            metrics = save / "metrics.jsonl"
            # Past the step-12 checkpoint, well before step 24's: a tiny model on CPU takes a few ms a
            # step, so a coarse poll could see the run only after it saved step 24.
            if (save / "latest").is_file() and metrics.is_file() and max(by_step(metrics), default=0) >= 14:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be killed"
    finally:
        kill_tree(proc.pid)
        proc.wait()
    assert (save / "latest").read_text().strip() == "step12"
    done = run(command(root, save, "--steps", "24", "--save-every", "12", "--trace-docs", "--resume", procs=2), env)
    assert "resuming at step 12" in done.stderr
    full, resumed = by_step(uninterrupted / "metrics.jsonl"), by_step(save / "metrics.jsonl")
    for step in range(13, 25):
        assert resumed[step]["loss"] == pytest.approx(full[step]["loss"], abs=1e-5), step
        assert resumed[step]["position"] == full[step]["position"]
    want, got = traces(uninterrupted), traces(save)
    for rank in range(2):
        assert [got[rank][s] for s in range(13, 25)] == [want[rank][s] for s in range(13, 25)]
    assert sum(len(ids) for s in range(1, 25) for rank in range(2) for ids in want[rank][s]) > 0


def test_checkpoint_carries_stream_state_hashes_and_config(setup, uninterrupted):
    root, _ = setup
    client = torch.load(uninterrupted / "step12" / "mp_rank_00_model_states.pt", map_location="cpu", weights_only=False)
    assert client["step"] == 12
    assert client["stream"]["position"] == 12 * 2 * 4
    assert client["tokenizer_sha256"] == sha256_file(root / "tok.json")[0]
    assert client["manifest_sha256"] == client["stream"]["manifest_sha256"]
    assert client["dataset"] == "sample@v1" and client["model"]["n_layer"] == 2 and client["global_batch"] == 8
    side = json.loads((uninterrupted / "step12" / "run_state.json").read_text())
    assert side["stream"] == client["stream"]


def test_resume_refuses_another_tokenizer_or_data_version(setup, uninterrupted):
    root, env = setup
    other = train_tokenizer(iter(["another tokenizer entirely"] * 50), 300, 1000)
    other.save(str(root / "other.json"))
    cmd = command(root, uninterrupted, "--steps", "30", "--resume", procs=1)
    cmd[cmd.index("--tokenizer") + 1] = str(root / "other.json")
    env2 = dict(env, WORLD_SIZE="2")  # the checkpoint's world, so only the tokenizer differs
    done = run(cmd, env2, expect_rc=2)
    assert "cannot resume: the tokenizer differs" in done.stderr
    write_version(root / "lake", "sample", synthetic_records(60, SCRIPTS, seed=9))
    cmd = command(root, uninterrupted, "--steps", "30", "--resume", procs=1)
    cmd[cmd.index("--dataset") + 1] = "sample@v2"
    done = run(cmd, env2, expect_rc=2)
    assert "cannot resume: the data version (checkpoint: sample@v1) differs" in done.stderr
