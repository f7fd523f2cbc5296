"""A one-line progress display for ``deidentify generate`` (stderr)."""

from __future__ import annotations

import sys
import time
from typing import IO


class ProgressBar:
    """A one-line progress display on stderr, redrawn at most ten times a second."""

    width = 30

    def __init__(self, total: int | None, stream: IO[str] | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.done = 0

    def update(self, done: int, *, force: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if not force and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        elapsed = max(now - self.started, 1e-9)
        speed = _human(done / elapsed)
        if self.total:
            filled = int(self.width * done / self.total)
            bar = "#" * filled + "-" * (self.width - filled)
            line = (f"\r[{bar}] {100 * done / self.total:5.1f}%  {done:,}/{self.total:,} events"
                    f"  {speed} ev/s  {elapsed:.1f}s")
        else:
            line = f"\rproduced {done:,} events  {speed} ev/s  {elapsed:.1f}s"
        self.stream.write(line)
        self.stream.flush()

    def close(self, done: int | None = None) -> None:
        """Draw the last state (``done``, default the last update) and end the line."""
        self.update(self.done if done is None else done, force=True)
        self.stream.write("\n")
        self.stream.flush()


def _human(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"
