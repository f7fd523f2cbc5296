"""When a session's windows may close: evidence that partitions are caught up.

The windows (``deidentify/window.py``) close by the watermark: the minimum stream time
over the partitions that hold it back. A partition stops holding it back only once it has
been *caught up* for ``--idle``. :class:`WindowCloseGate` supplies that evidence after every
fetch, and keeps the set of tracked partitions in step with the assignment:

* caught up = the last fetch response for the partition is fresh (at most
  :func:`stale_after_ms` old) and the consumer's position reached the end offset it reported
  (:func:`is_caught_up`);
* anything else -- records unread or buffered, a paused partition, no response yet, or
  responses that stopped because the broker is unreachable -- is "not caught up", so a
  broker outage can never let a window close before its partitions delivered their data;
* an assigned partition is tracked (holds every window) until it has delivered records or is
  known to be caught up; a revoked one is forgotten (stops holding the watermark back).

Memory: nothing beyond the windows' own per-partition state. No event value is seen here.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING

from deidentify.sidecar import kafka

if TYPE_CHECKING:
    from deidentify.contract import Aggregate
    from deidentify.pipeline import Pipeline

STALE_FETCH_FACTOR = 5           # a fetch response older than 5 x fetch_max_wait ...
STALE_FETCH_MIN_MS = 2_000       # ... and than 2 s proves nothing about "caught up"


def stale_after_ms(fetch_max_wait_ms: int) -> int:
    """Age after which a fetch response no longer proves a partition caught up: a
    caught-up partition gets an (empty) response every ``fetch_max_wait`` at most."""
    return max(STALE_FETCH_FACTOR * fetch_max_wait_ms, STALE_FETCH_MIN_MS)


def is_caught_up(progress: kafka.FetchProgress | None, wall_ms: int, stale_ms: int) -> bool:
    return (progress is not None and wall_ms - progress.fetched_at_ms <= stale_ms
            and progress.position >= progress.end)


class WindowCloseGate:
    """Feeds a pipeline's windows the caught-up evidence of the assigned partitions."""

    def __init__(self, pipeline: Pipeline, fetch_max_wait_ms: int) -> None:
        self.pipeline = pipeline
        self.stale_ms = stale_after_ms(fetch_max_wait_ms)

    def track(self, partitions: Iterable[Hashable]) -> None:
        for tp in partitions:
            self.pipeline.windows.track_partition(tp)

    def forget(self, partition: Hashable) -> None:
        self.pipeline.forget_partition(partition)

    def observe(self, consumer, assigned: Iterable[Hashable], wall_ms: int) -> None:
        """Report every assigned partition as caught up or not (after each fetch)."""
        windows = self.pipeline.windows
        stale_ms = self.stale_ms
        for tp in assigned:
            if is_caught_up(kafka.fetch_progress(consumer, tp), wall_ms, stale_ms):
                windows.mark_caught_up(tp, wall_ms)
            else:
                windows.mark_not_caught_up(tp)

    def close_due(self, wall_ms: int) -> list[Aggregate]:
        """The aggregates of the windows the watermark lets close now."""
        return self.pipeline.close_due(wall_ms)


__all__ = ["STALE_FETCH_FACTOR", "STALE_FETCH_MIN_MS", "WindowCloseGate", "is_caught_up",
           "stale_after_ms"]
