"""Offset bookkeeping of one sidecar session: what may be committed, and what was.

Invariants:

* The offset committed for a partition is its *safe offset*: the earliest offset still
  feeding an open window (``Pipeline.safe_offsets``), and only for partitions this session
  holds. A replay from it rebuilds every open window.
* Every commit carries the same metadata on each partition: ``{"v": 1, "closed_through":
  {schema: end of the last published window}}`` (:func:`commit_metadata`). Read back after a
  restart or a rebalance (:meth:`OffsetBook.read_back`), the marks of all partitions merge by
  maximum, and windows at or before them are skipped: nothing is published twice.
* Commit metadata that is not ours (another tool committed for the group) is counted, never
  trusted.
* A session's positions (next offset to process) survive a rebalance that hands a partition
  back: the session resumes there, its events are still in the open windows.

Memory: two ints per assigned partition. Nothing here sees an event, only offsets and schema
names.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import NamedTuple

import orjson
from aiokafka.structs import OffsetAndMetadata

from deidentify.errors import SettingsError
from deidentify.schema import SchemaSet

METADATA_VERSION = 1
MAX_COMMIT_METADATA_BYTES = 3_800      # Kafka's offset.metadata.max.bytes defaults to 4096
KEEPALIVE_TRANSACTION_S = 10.0   # with nothing new, still one transaction this often: a
                                 # producer fenced by another instance finds out


def commit_metadata(closed_through: dict[str, int]) -> str:
    return orjson.dumps({"v": METADATA_VERSION, "closed_through": closed_through},
                        option=orjson.OPT_SORT_KEYS).decode()


def parse_commit_metadata(metadata: str | None) -> dict[str, int] | None:
    """``closed_through`` from one partition's commit metadata; ``None`` if not ours."""
    if not metadata:
        return None
    try:
        obj = orjson.loads(metadata)
    except orjson.JSONDecodeError:
        return None
    marks = obj.get("closed_through") if isinstance(obj, dict) else None
    if not isinstance(marks, dict):
        return None
    return {k: v for k, v in marks.items() if isinstance(k, str) and type(v) is int}


def check_metadata_fits(schemas: SchemaSet) -> None:
    """Refuse a schema set whose watermark could not fit in Kafka's commit metadata."""
    worst = commit_metadata({s.name: 9_999_999_999_999 for s in schemas.schemas})
    if len(worst.encode()) > MAX_COMMIT_METADATA_BYTES:
        raise SettingsError(f"{len(schemas.schemas)} schemas make the commit metadata larger "
                            f"than {MAX_COMMIT_METADATA_BYTES} bytes; use fewer schemas or "
                            "shorter names per sidecar")


class ReadBack(NamedTuple):
    """What the group's committed offsets said about some partitions."""

    marks: dict[str, int]     # closed_through per schema, the maximum over the partitions
    foreign: int              # partitions committed without our metadata


class OffsetBook:
    """Positions, safe offsets and commits of one session's partitions."""

    def __init__(self) -> None:
        self.positions: dict[Hashable, int] = {}   # next offset to process, this session
        self.committed: dict[Hashable, int] = {}   # last offsets committed (or read back)

    def consumed(self, tp: Hashable, next_offset: int) -> None:
        self.positions[tp] = next_offset

    def new_to_session(self, partitions: Iterable[Hashable]) -> set:
        """Partitions this session has never processed (their marks must be read back)."""
        return {tp for tp in partitions if tp not in self.positions}

    def safe(self, safe_offsets: Mapping[Hashable, int], assigned: set) -> dict:
        """The offsets to commit: the pipeline's safe offsets of the partitions held."""
        return {tp: off for tp, off in safe_offsets.items() if tp in assigned}

    def transaction_needed(self, offsets: dict, has_aggregates: bool,
                           since_last_txn_s: float) -> bool:
        """A transaction is due when it publishes, moves an offset, or keeps the producer's
        fencing check alive (one every :data:`KEEPALIVE_TRANSACTION_S` while holding
        partitions)."""
        if has_aggregates or offsets != self.committed:
            return True
        return bool(offsets) and since_last_txn_s >= KEEPALIVE_TRANSACTION_S

    @staticmethod
    def commit_request(offsets: dict, closed_through: dict[str, int]) -> dict:
        metadata = commit_metadata(closed_through)
        return {tp: OffsetAndMetadata(off, metadata) for tp, off in offsets.items()}

    def mark_committed(self, offsets: dict) -> None:
        self.committed = offsets

    def read_back(self, committed: Mapping[Hashable, OffsetAndMetadata | None]) -> ReadBack:
        """Merge the committed offsets of some partitions (from the group coordinator)."""
        marks: dict[str, int] = {}
        foreign = 0
        for tp, om in committed.items():
            if om is None or om.offset is None or om.offset < 0:
                continue
            parsed = parse_commit_metadata(om.metadata)
            if parsed is None:
                foreign += 1
                continue
            self.committed.setdefault(tp, om.offset)
            for name, end in parsed.items():
                if end > marks.get(name, -1):
                    marks[name] = end
        return ReadBack(marks, foreign)


__all__ = ["KEEPALIVE_TRANSACTION_S", "MAX_COMMIT_METADATA_BYTES", "METADATA_VERSION",
           "OffsetBook", "ReadBack", "check_metadata_fits", "commit_metadata",
           "parse_commit_metadata"]
