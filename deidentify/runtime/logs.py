"""One logging setup for both services: ``key=value`` lines on stderr, tracebacks value-free.

::

    ts=2026-11-30 14:00:00,123 level=WARNING logger=deidentify.central msg=...

* every record goes through :class:`~deidentify.logsafe.ValueFreeFormatter`, so an
  exception (ours or a library's) is logged as frames and class names, never its message;
* the Kafka clients, faust's transport, aiohttp and asyncio never log below INFO, whatever
  ``DEIDENTIFY_LOG_LEVEL`` says (aiokafka logs message payloads at DEBUG), and aiohttp's
  access logger never below WARNING (it would write query strings);
* :class:`RepeatFilter` lets one of each repeated aiokafka message through per 10 s (a
  broker that is down makes it repeat a connection error hundreds of times a second).

:func:`configure_logging` is idempotent: a second call changes the level, not the handlers.
The central collector keeps faust's worker from replacing this setup
(``override_logging=False``), so both services log in this one format.
"""

from __future__ import annotations

import logging
import sys
import time

from deidentify.logsafe import ValueFreeFormatter

__all__ = ["LOG_FORMAT", "RepeatFilter", "configure_logging"]

LOG_FORMAT = "ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s"

# logger -> the lowest level it may log at (their debug output may carry payloads)
THIRD_PARTY_FLOORS = {
    "aiokafka": logging.INFO,
    "kafka": logging.INFO,
    "faust.transport": logging.INFO,
    "aiohttp": logging.INFO,
    "aiohttp.access": logging.WARNING,
    "asyncio": logging.INFO,
}


class RepeatFilter(logging.Filter):
    """Lets one of each repeated third-party message through per ``window_s``.

    While a broker is down aiokafka logs the same connection error hundreds of times a
    second; the next one after the window says how many were held back.
    """

    def __init__(self, window_s: float = 10.0, prefixes: tuple[str, ...] = ("aiokafka",)):
        super().__init__()
        self.window_s = window_s
        self.prefixes = prefixes
        self._seen: dict[tuple, list] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window_s:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.msg} [{seen[1]} more like this in the last " \
                         f"{self.window_s:.0f}s]"
        if len(self._seen) > 1000:
            self._seen.clear()
        self._seen[key] = [now, 0]
        return True


def configure_logging(level: str) -> None:
    """Root handler on stderr (installed once) at ``level``; third-party floors applied."""
    root = logging.getLogger()
    if not any(getattr(h, "_deidentify", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(ValueFreeFormatter(LOG_FORMAT))
        handler.addFilter(RepeatFilter())
        handler._deidentify = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    numeric = logging.getLevelName(level)
    root.setLevel(numeric)
    for name, floor in THIRD_PARTY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, numeric))
