"""The one file hash of the lake: sha256 of a file's bytes, read in large blocks.

Manifests, artifact records, tokenizer pins and the model's record of its language-id model all
name files by this digest, so every reader computes it the same way, here: large blocks into one
reused buffer (hashlib releases the GIL while hashing, so callers can hash several files at once
on threads), optionally copying the bytes on the way so a copy is checked in the same read.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO, Any

BLOCK = 8 << 20


def sha256_stream(source: Any, block: int = BLOCK, copy_to: IO[bytes] | None = None) -> tuple[str, int]:
    """(hex digest, size) of everything left in a binary stream; ``copy_to`` also receives the bytes."""
    digest = hashlib.sha256()
    size = 0
    if hasattr(source, "readinto"):
        buf = bytearray(block)
        view = memoryview(buf)
        while n := source.readinto(buf):
            digest.update(view[:n])
            if copy_to is not None:
                copy_to.write(view[:n])
            size += n
    else:
        while data := source.read(block):
            digest.update(data)
            if copy_to is not None:
                copy_to.write(data)
            size += len(data)
    return digest.hexdigest(), size


def sha256_file(path: str | Path, block: int = BLOCK) -> tuple[str, int]:
    """Return (hex digest, size) of a local file."""
    with open(path, "rb", buffering=0) as f:
        return sha256_stream(f, block)
