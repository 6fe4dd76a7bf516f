"""Reusable pipeline stages: plain functions for the logic, thin Beam wrappers around them.

A document travelling through the pipeline is a plain ``dict``::

    {"id": str, "uid": str, "text": str, "source": str, "lang": str, "lang_score": float,
     "meta": dict}

``uid`` is an internal key (unique per input record, derived from source, file and position)
used for joins; record ids supplied by users are kept in ``id`` but need not be unique.
A document that is not kept becomes a *removed row* (see ``transforms.removed``).
"""
