"""JSON lines: generated events to a file or stdout (``deidentify generate --out``)."""

from __future__ import annotations

import io
import os
import sys
import time
from typing import IO, Any

from deidentify.errors import SettingsError
from deidentify.generate.generator import TelemetryGenerator


def write_jsonl(path_or_file: str | os.PathLike[str] | IO[Any], n: int, *, seed: int = 0,
                region: str = "eu", start_ms: int | None = None) -> None:
    """Write ``n`` events as JSON lines to a path (``"-"`` = stdout) or an open file.

    Binary and text files both work. Used by ``deidentify generate --out`` and for
    ``deidentify preview`` demos and benchmarks. Without ``start_ms`` the events end about
    now (a file holds the recent past): event times more than a few minutes ahead of the
    wall clock are rejected as ``future_timestamp`` by the pipeline.
    """
    if not isinstance(n, int) or n < 0:
        raise SettingsError("the number of events must be an int of at least 0")
    if start_ms is None:
        start_ms = int(time.time() * 1000) - n            # 1000 events/s of event time
    gen = TelemetryGenerator(seed=seed, region=region, start_ms=start_ms)
    if isinstance(path_or_file, str | os.PathLike):
        if os.fspath(path_or_file) == "-":
            _write_lines(sys.stdout.buffer, gen, n)
            sys.stdout.buffer.flush()
            return
        with open(path_or_file, "wb") as fh:
            _write_lines(fh, gen, n)
        return
    if isinstance(path_or_file, io.TextIOBase):
        _write_lines(path_or_file, gen, n, text=True)
    else:
        _write_lines(path_or_file, gen, n)


def _write_lines(fh: IO[Any], gen: TelemetryGenerator, n: int, *, text: bool = False) -> None:
    chunk: list[bytes] = []
    for _, line in gen.encoded(n):
        chunk.append(line)
        if len(chunk) >= 2000:
            _flush_chunk(fh, chunk, text)
            chunk = []
    if chunk:
        _flush_chunk(fh, chunk, text)


def _flush_chunk(fh: IO[Any], chunk: list[bytes], text: bool) -> None:
    data = b"\n".join(chunk) + b"\n"
    fh.write(data.decode() if text else data)
