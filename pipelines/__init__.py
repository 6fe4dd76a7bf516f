"""Runnable Beam pipelines (``python -m pipelines.<name>``): options and wiring only."""
