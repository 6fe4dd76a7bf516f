"""Which Beam runner a run gets, and in which mode, when the user names none.

A local run with no ``--runner`` goes straight to Beam's ``FnApiRunner`` (Beam 2.77's
``DirectRunner`` first tries to fetch and start the Prism runner, which costs about a second and
needs the network, then falls back to the same ``FnApiRunner``). When the input is large enough to
pay back the start-up of worker processes (``MULTI_PROCESSING_MIN_BYTES``, measured: see
docs/pipeline.md, "Runners and parallelism") it runs in ``multi_processing`` mode with one worker
per core; below that, in-process. ``--runner``, ``--direct_running_mode`` and
``--direct_num_workers`` override the choice; what ran is recorded in the manifest's lineage.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

DEFAULT_RUNNER = "FnApiRunner"
# Input bytes from which worker processes pay back their start-up (3.6 CPU-s per worker: Beam,
# the stages and lid.176 loaded again in each): about six times the break-even measured with the
# shape experiment and the product on a 2-core machine (docs/pipeline.md).
MULTI_PROCESSING_MIN_BYTES = 64 << 20
_LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner")


@dataclass(frozen=True)
class RunnerChoice:
    """The runner a run uses; ``mode``/``workers`` only for the local runners, ``reason`` says why."""
    runner: str
    mode: str | None
    workers: int | None
    reason: str

    def flags(self) -> list[str]:
        """Beam options that make the choice, appended to the user's own (which they never contradict)."""
        if self.reason == "--runner":
            return []
        flags = [f"--runner={self.runner}"]
        if self.mode is not None:
            flags += [f"--direct_running_mode={self.mode}", f"--direct_num_workers={self.workers}"]
        return flags

    def lineage(self) -> dict[str, object]:
        """What the manifest's lineage records about how the run was executed."""
        return {"runner": self.runner, "running_mode": self.mode, "workers": self.workers,
                "runner_chosen_by": self.reason}

    def __str__(self) -> str:
        if self.mode is None:
            return self.runner
        return f"{self.runner}, {self.mode}" + (f" x{self.workers}" if self.mode != "in_memory" else "")


def available_cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _given(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--runner")
    parser.add_argument("--direct_running_mode")
    parser.add_argument("--direct_num_workers", type=int)
    return parser.parse_known_args(argv)[0]


def choose_runner(argv: list[str], input_bytes: int, cores: int | None = None) -> RunnerChoice:
    """The runner for a run of ``input_bytes`` on ``cores`` cores, given the user's Beam options in ``argv``.

    A named ``--runner`` is kept as it is (``DirectRunner`` included: the user asked for it). Without
    one: ``--direct_running_mode`` keeps its mode (with one worker per core unless
    ``--direct_num_workers`` says otherwise), ``--direct_num_workers=N`` alone means ``multi_processing``
    with N workers (0: one per core, as in Beam; 1: in-process), and with neither the input size decides.
    """
    given, cores = _given(argv), cores or available_cores()
    if given.runner:
        local = given.runner in _LOCAL_RUNNERS
        mode = (given.direct_running_mode or "in_memory") if local else None
        workers = (given.direct_num_workers or (cores if given.direct_num_workers == 0 else 1)) if local else None
        return RunnerChoice(given.runner, mode, workers, "--runner")
    if given.direct_running_mode:
        mode = given.direct_running_mode
        workers = 1 if mode == "in_memory" else (given.direct_num_workers or cores)
        return RunnerChoice(DEFAULT_RUNNER, mode, workers, "--direct_running_mode")
    if given.direct_num_workers is not None:
        workers = given.direct_num_workers or cores
        return RunnerChoice(DEFAULT_RUNNER, "multi_processing" if workers > 1 else "in_memory", workers,
                            "--direct_num_workers")
    if cores > 1 and input_bytes >= MULTI_PROCESSING_MIN_BYTES:
        return RunnerChoice(DEFAULT_RUNNER, "multi_processing", cores, "input size")
    return RunnerChoice(DEFAULT_RUNNER, "in_memory", 1, "input size")
