"""Reusable pipeline stages: plain functions for the logic, thin Beam wrappers around them.

``read/`` (files and crawls to documents), ``normalize``, ``boilerplate``, ``langid/``, ``filters/``,
``pii``, ``dedup/`` and ``shards`` (the writer). Every stage is a PTransform with named outputs
(``kept``, ``removed``, its statistics) and a ``describe()`` for the manifest; the document they
pass on and the contract they share are in ``transforms.document``.
"""
