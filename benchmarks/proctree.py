"""CPU seconds and peak memory of a command's whole process tree (Beam's worker processes included).

``resource.getrusage(RUSAGE_CHILDREN)`` sees only the children a process waited for, and its peak
RSS is the largest single process, not the tree's sum. So the tree is sampled every
``interval`` seconds (psutil when it is installed, else Linux's ``/proc``): the peak is the largest
sum of the tree's resident memory in one sample, the CPU time the sum over every process seen of
its last user + system time (a process's last ``interval`` of CPU can be missed).
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class TreeUsage:
    wall_s: float
    cpu_s: float  # user + system of every process of the tree
    peak_rss_mb: float  # the largest sum of resident memory over the tree in one sample
    processes: int  # how many processes the tree ever had
    returncode: int
    stderr: str


def _tree_psutil(root: int) -> dict[tuple[int, float], tuple[float, int]]:
    import psutil

    try:
        top = psutil.Process(root)
        procs = [top, *top.children(recursive=True)]
    except psutil.Error:
        return {}
    out = {}
    for p in procs:
        try:
            with p.oneshot():
                cpu = p.cpu_times()
                out[(p.pid, p.create_time())] = (cpu.user + cpu.system, p.memory_info().rss)
        except psutil.Error:
            continue
    return out


def _tree_proc(root: int) -> dict[tuple[int, float], tuple[float, int]]:
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            stats[int(entry.name)] = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid not in stats:
            continue
        fields = stats[pid]  # fields[k] is stat field k + 3: utime 14, stime 15, starttime 22, rss 24
        out[(pid, float(fields[19]))] = ((int(fields[11]) + int(fields[12])) / _TICKS, int(fields[21]) * _PAGE)
        todo += children.get(pid, [])
    return out


def _sampler():
    try:
        import psutil  # noqa: F401

        return _tree_psutil
    except ImportError:
        return _tree_proc


def run_measured(cmd: list[str], cwd: str | Path | None = None, interval: float = 0.2) -> TreeUsage:
    """Run ``cmd`` to its end, sampling its process tree every ``interval`` seconds."""
    sample = _sampler()
    cpu: dict[tuple[int, float], float] = {}
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read() if proc.stderr else ""), daemon=True)
    reader.start()
    while proc.poll() is None:
        tree = sample(proc.pid)
        peak = max(peak, sum(rss for _, rss in tree.values()))
        cpu.update({key: used for key, (used, _) in tree.items()})
        time.sleep(interval)
    wall = time.perf_counter() - start
    reader.join()
    return TreeUsage(wall, sum(cpu.values()), peak / 1e6, len(cpu), proc.returncode, "".join(err))
