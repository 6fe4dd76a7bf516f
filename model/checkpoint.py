"""What a checkpoint must pin so a resumed run is the same run: data, tokenizer, model and stream.

DeepSpeed stores the weights and optimizer; the run state below travels with them as DeepSpeed
``client_state`` and, for checking before any heavy start-up, as ``run_state.json`` beside them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from catalog.lake import write_json_atomic

RUN_STATE = "run_state.json"
PINNED = ("manifest_sha256", "tokenizer_sha256", "model", "seq_len", "stream_seed", "global_batch")


class ResumeError(Exception):
    """The run being resumed differs from the checkpoint in something that changes its meaning."""


def latest_tag(save_dir: str | Path) -> str | None:
    path = Path(save_dir) / "latest"
    return path.read_text().strip() if path.is_file() else None


def write_run_state(save_dir: str | Path, tag: str, state: dict[str, Any]) -> None:
    write_json_atomic(Path(save_dir) / tag / RUN_STATE, state, replace=True)


def read_run_state(save_dir: str | Path) -> dict[str, Any] | None:
    """The run state of the latest checkpoint, or None when the directory has no checkpoint."""
    tag = latest_tag(save_dir)
    if tag is None:
        return None
    with open(Path(save_dir) / tag / RUN_STATE, encoding="utf-8") as f:
        return json.load(f)


def check_compatible(saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to resume when the data version, tokenizer, model or batch shape differ."""
    what = {"manifest_sha256": f"data version (checkpoint: {saved.get('dataset')})",
            "tokenizer_sha256": "tokenizer", "model": "model configuration", "seq_len": "sequence length",
            "stream_seed": "data seed", "global_batch": "global batch size (micro-batch x ranks)"}
    for key in PINNED:
        if saved.get(key) != current.get(key):
            mine, theirs = str(current.get(key))[:24], str(saved.get(key))[:24]
            raise ResumeError(f"cannot resume: the {what[key]} differs from the checkpoint's "
                              f"({key}: checkpoint {theirs!r}, this run {mine!r})")
