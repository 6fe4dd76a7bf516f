"""The training processes restart once on mimalloc, and LAKE_ALLOCATOR=system keeps glibc's malloc."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.allocator import mimalloc_library

ROOT = Path(__file__).resolve().parents[1]
PROBE = ("import os; from model.allocator import current_allocator, exec_with_mimalloc; exec_with_mimalloc(); "
         "print(current_allocator(), os.environ['MARK'], sep='|')")


def allocator_of_a_fresh_process(**env: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), MARK="kept", **env)).stdout
    name, mark = out.strip().split("|")
    assert mark == "kept"  # the environment survives the restart
    return name


@pytest.mark.skipif(mimalloc_library() is None, reason="cmeel-mimalloc (the train extra) is not installed")
def test_restarts_on_mimalloc_once_and_can_be_switched_off():
    assert allocator_of_a_fresh_process() == "mimalloc"
    assert allocator_of_a_fresh_process(LAKE_ALLOCATOR="system") == "system malloc"
