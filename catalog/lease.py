"""Leases: how ``gc`` tells the staging of a live run from what a dead one left.

A run writes ``NAME/_staging/<run-id>.lease`` *before* it creates its staging location
``NAME/_staging/<run-id>/``, renews it every minute from a background thread while it works, and
deletes it only after its commit (or its clean-up) is done. ``gc`` reads a run's lease right before
it would delete that run's staging: whoever sees the staging therefore also sees its lease.

A lease is alive while its run is: on the host that wrote it, while its process exists (so a run
killed a second ago is collectable at once, and one stopped with Ctrl-Z for a day is not); from any
other host, while it was renewed within :data:`LEASE_TTL`. The same file works on a local lake (its
modification time) and on an object store (the object's last-modified time), so no grace period,
zero included, lets gc race a live run on either.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from catalog.lake import READ_ONLY_ERRNOS, STAGING, Lake, check_name, read_only
from catalog.lakefs import Location

log = logging.getLogger(__name__)
LEASE_SUFFIX = ".lease"
LEASE_TTL = 15 * 60.0  # seconds without renewal after which another host takes a lease for dead
RENEW_EVERY = 60.0


def lease_rel(name: str, run_id: str) -> str:
    return f"{check_name(name)}/{STAGING}/{run_id}{LEASE_SUFFIX}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def lease_alive(root: Location, name: str, run_id: str, now: float | None = None) -> bool:
    """Whether run ``run_id`` of dataset ``name`` still holds its lease (see the module docstring)."""
    rel = lease_rel(name, run_id)
    renewed = root.newest_mtime(rel)
    if renewed is None:
        return False
    try:
        holder: Any = json.loads(root.read_bytes(rel).decode("utf-8"))
    except (OSError, ValueError):  # being rewritten, or vanished: judge by its time alone
        holder = {}
    pid = holder.get("pid") if isinstance(holder, dict) else None
    if isinstance(holder, dict) and holder.get("host") == socket.gethostname() and isinstance(pid, int):
        return _pid_alive(pid)
    return (time.time() if now is None else now) - renewed < LEASE_TTL


class StagingLease:
    """One run's lease and staging location; ``release`` after the commit or the clean-up."""

    def __init__(self, lake: Lake, name: str):
        self.lake, self.name, self.run_id = lake, check_name(name), uuid.uuid4().hex
        self.rel = lease_rel(name, self.run_id)
        self._stop = threading.Event()
        try:
            self.renew()  # first the lease, then the staging: gc never sees one without the other
        except OSError as e:
            if e.errno not in READ_ONLY_ERRNOS:
                raise
            raise read_only(lake.display, e) from None
        self.staging = lake.new_staging(name, self.run_id)
        self._thread = threading.Thread(target=self._keep, name=f"lease-{self.run_id[:8]}", daemon=True)
        self._thread.start()

    def renew(self) -> None:
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "renewed": time.time(), "run": self.run_id}
        if self.lake.root.local is not None:
            (self.lake.root.local / self.name / STAGING).mkdir(parents=True, exist_ok=True)
        self.lake.root.write_bytes(self.rel, json.dumps(holder).encode("utf-8"))

    def _keep(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            try:
                self.renew()
            except Exception as e:  # a store hiccup: the next renewal tries again, well inside the TTL
                log.warning("could not renew the lease %s: %s", self.rel, e)

    def release(self) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self.lake.root.remove(self.rel)
        except Exception as e:  # gc removes a dead lease whose staging is gone
            log.warning("could not remove the lease %s: %s", self.rel, e)
