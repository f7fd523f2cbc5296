"""Test-only fault injection for the sidecar session (``DEIDENTIFY_FAILPOINT``).

A :class:`Failpoint` is parsed once per process from ``DEIDENTIFY_FAILPOINT`` (a bad spec is
a :class:`~deidentify.errors.SettingsError` at start-up) and handed to every session. The
session calls :meth:`Failpoint.reached` at named points; an armed entry fires once, then is
disarmed. Unset in production: nothing is armed and every call is a dict lookup.

Logs carry the point name and its count only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from deidentify.errors import BrokerUnavailable, SettingsError

log = logging.getLogger("deidentify.sidecar")


class Failpoint:
    """Test-only fault injection, from ``DEIDENTIFY_FAILPOINT=POINT:N[:ACTION][,...]``.

    Each entry fires once per process, at the ``N``-th occurrence of ``POINT``:

    * ``session_start`` -- the ``N``-th session (process-wide) has started, before its
      first fetch;
    * ``before_fetch`` / ``after_fetch`` -- before the fetch that follows the ``N``-th
      non-empty batch of a session / after that batch was aggregated, before windows close;
    * ``after_send`` (aggregates sent, offsets not yet), ``before_commit`` (everything sent,
      commit not called), ``after_commit`` -- in the ``N``-th transaction of a session that
      publishes aggregates.

    Actions: ``kill`` (default: the process SIGKILLs itself), ``raise`` (the session fails
    with :class:`~deidentify.errors.BrokerUnavailable` and the sidecar recovers in
    process), ``hold`` (the session waits: it creates ``POINT-N.hit`` in the directory named
    by ``DEIDENTIFY_FAILPOINT_DIR`` and goes on once a test has deleted it -- the test does
    something to the broker meanwhile, at an exact point). Unset in production.
    """

    POINTS = ("session_start", "before_fetch", "after_fetch", "after_send", "before_commit",
              "after_commit")
    ACTIONS = ("kill", "raise", "hold")
    HOLD_POLL_S = 0.05

    def __init__(self, spec: str | None, hold_dir: str | None = None) -> None:
        self.armed: dict[tuple[str, int], str] = {}
        self.hold_dir = hold_dir
        self.sessions = 0
        for entry in (spec or "").split(","):
            if not entry.strip():
                continue
            point, _, rest = entry.strip().partition(":")
            n, _, action = rest.partition(":")
            action = action or "kill"
            if point not in self.POINTS or not n.isdigit() or action not in self.ACTIONS:
                raise SettingsError(f"DEIDENTIFY_FAILPOINT: '{entry}' is not "
                                    "POINT:N[:ACTION] with POINT one of "
                                    f"{', '.join(self.POINTS)} and ACTION one of "
                                    f"{', '.join(self.ACTIONS)}")
            if action == "hold" and not hold_dir:
                raise SettingsError("DEIDENTIFY_FAILPOINT: 'hold' needs "
                                    "DEIDENTIFY_FAILPOINT_DIR")
            self.armed[(point, int(n))] = action

    @property
    def point(self) -> str | None:
        """An armed point (``None`` when nothing is armed)."""
        return next(iter(self.armed), (None,))[0]

    def session_started(self) -> int:
        self.sessions += 1
        return self.sessions

    async def reached(self, point: str, n: int) -> None:
        """Like :meth:`hit`, and ``hold`` waits here (without blocking the event loop)."""
        action = self.armed.get((point, n))
        if action != "hold":
            self.hit(point, n)
            return
        del self.armed[(point, n)]
        marker = os.path.join(self.hold_dir, f"{point}-{n}.hit")
        log.warning("failpoint hit: point=%s n=%d action=hold", point, n)
        with open(marker, "w"):
            pass
        while os.path.exists(marker):
            await asyncio.sleep(self.HOLD_POLL_S)
        log.warning("failpoint released: point=%s n=%d", point, n)

    def hit(self, point: str, n: int) -> None:
        action = self.armed.get((point, n))
        if action is None or action == "hold":
            return
        del self.armed[(point, n)]
        log.warning("failpoint hit: point=%s n=%d action=%s", point, n, action)
        if action == "raise":
            raise BrokerUnavailable(f"failpoint {point} at {n}")
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["Failpoint"]
