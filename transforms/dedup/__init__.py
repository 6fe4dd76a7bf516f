"""Exact and near-duplicate removal on key records: ``keys`` (what a document leaves for dedup),
``exact`` (one group per text), ``near`` (MinHash LSH, verification, star clustering in
``clustering``), ``minhash`` and its compiled kernels, ``tables`` (the bands and clusters a version
keeps). Text never crosses a dedup shuffle."""
