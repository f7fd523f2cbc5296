"""Tracebacks without values: what the runtimes log when something unexpected fails.

An exception's message is the one part of a traceback that may carry data: a transform
that fails on an event can say ``cannot template route '/users/alice.smith'``, a client
library can quote what it was sent. The frames (file, line, function, source line) are code.
So an unexpected error is logged as its frames and exception *class names*, for the whole
``__cause__`` / ``__context__`` chain, and the message is kept only for the project's own
errors (:class:`deidentify.errors.DeidentifyError`, whose messages name settings, files,
lines and reasons by construction, never an event value).

* :func:`describe_exception` gives that text for one exception;
* :class:`ValueFreeFormatter` is a :class:`logging.Formatter` whose tracebacks are made the
  same way, for every handler the runtimes install (so a third-party ``log.exception`` is
  covered too).

Cost: only on the error path; nothing here runs per event.
"""

from __future__ import annotations

import logging
import traceback

from deidentify.errors import DeidentifyError

__all__ = ["ValueFreeFormatter", "describe_exception"]

_MAX_CHAIN = 8


def _headline(exc: BaseException) -> str:
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if isinstance(exc, DeidentifyError):
        return f"{name}: {exc}"
    return f"{name} (message withheld: it may carry a value)"


def describe_exception(exc: BaseException) -> str:
    """The traceback of ``exc`` and its causes, oldest first, without their messages."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen and len(chain) < _MAX_CHAIN:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "direct cause"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "context"
        else:
            current = None
    parts: list[str] = []
    for i, (item, _link) in enumerate(reversed(chain)):
        if i:
            # the link of the exception *after* this one in time explains how they relate
            later_link = chain[len(chain) - i][1]
            parts.append("\nThe above exception was the direct cause of the following:\n\n"
                         if later_link == "direct cause" else
                         "\nDuring handling of the above exception, another occurred:\n\n")
        frames = traceback.extract_tb(item.__traceback__)
        if frames:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_list(frames))
        parts.append(_headline(item) + "\n")
    return "".join(parts).rstrip("\n")


class ValueFreeFormatter(logging.Formatter):
    """A formatter whose exception text is :func:`describe_exception`'s."""

    def formatException(self, ei) -> str:
        exc = ei[1]
        if exc is None:
            return ""
        return describe_exception(exc)
