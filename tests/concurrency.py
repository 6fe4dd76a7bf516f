"""Start several publishers at the same instant, as racing writers would."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def at_once(fn: Callable[[], T], n: int) -> list[T]:
    """Results of ``n`` calls of ``fn`` released together by a barrier, in completion order."""
    results: list[T] = []
    barrier = threading.Barrier(n)

    def call() -> None:
        barrier.wait()
        results.append(fn())

    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
