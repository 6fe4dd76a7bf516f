"""Benchmarks; ``SHARED_DATA`` is where they find ``../shared/data`` (``CURATION_SHARED``, as the tests do)."""
import os
from pathlib import Path

SHARED_DATA = Path(os.environ.get("CURATION_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"
