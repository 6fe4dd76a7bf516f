"""mimalloc under the processes that tokenize.

HF ``tokenizers`` allocates per word and per token, and with glibc's malloc about a third of an
encode goes to malloc/free: the training stream is tokenizer-bound, so the allocator sets its
speed. mimalloc (the ``cmeel-mimalloc`` wheel of the ``train`` extra ships it as a shared library)
made ``encode_batch_fast`` 2.1-2.4x cheaper per CPU-second here. An allocator cannot be swapped
inside a running process, so ``exec_with_mimalloc`` restarts the process once with it preloaded:
same PID, arguments and environment, so launchers (torchrun, deepspeed, SLURM) see no difference.
``LAKE_ALLOCATOR=system`` keeps glibc's malloc.
"""
from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

SWITCH = "LAKE_ALLOCATOR"


def mimalloc_library() -> str | None:
    """Path of the shared library installed by ``cmeel-mimalloc``, or None when it is not installed."""
    try:
        files = metadata.files("cmeel-mimalloc") or []
    except metadata.PackageNotFoundError:
        return None
    libraries = sorted(str(f.locate()) for f in files if f.name.startswith("libmimalloc.so."))
    return next((path for path in libraries if Path(path).is_file()), None)


def current_allocator() -> str:
    """The malloc this process runs on: a preloaded one if its library is mapped, else the C library's."""
    maps = Path("/proc/self/maps").read_text() if Path("/proc/self/maps").is_file() else ""
    return next((name for name in ("mimalloc", "jemalloc", "tcmalloc") if name in maps), "system malloc")


def exec_with_mimalloc() -> None:
    """Restart this command line with mimalloc preloaded, once; return where that is not possible."""
    library = mimalloc_library()
    if (os.environ.get(SWITCH) == "system" or library is None or not sys.platform.startswith("linux")
            or current_allocator() != "system malloc"):
        return
    preload = " ".join(filter(None, [library, os.environ.get("LD_PRELOAD")]))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], dict(os.environ, LD_PRELOAD=preload))
