"""Schema hot reload: poll the schema directory's files, or reload at once on SIGHUP.

A change is any added, removed or rewritten ``*.yaml``/``*.yml`` file (name, size and
``mtime_ns``). The whole directory is loaded again with
:func:`~deidentify.schema.load_schemas`, under the same k floor as at start-up:

* valid -> the callback swaps it in (new events use it; open windows finish under the
  schema that opened them) and ``schema reload ok: name vN, ...`` is logged;
* invalid -> the :class:`~deidentify.errors.SchemaError` (``file:line: message (fix: ...)``)
  is logged and the running set stays. The same broken state is reported once, not every
  poll; the next change is tried again.

A file caught half-written fails validation and is retried on its next change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from deidentify.errors import DeidentifyError, SchemaError
from deidentify.schema import DEFAULT_K_FLOOR, SchemaSet, load_schemas

log = logging.getLogger("deidentify.sidecar.reload")

Snapshot = tuple[tuple[str, int, int], ...]


def snapshot(directory: Path) -> Snapshot:
    """(name, size, mtime_ns) of every schema file, sorted; unreadable entries are skipped."""
    entries = []
    try:
        paths = list(directory.iterdir())
    except OSError:
        return ()
    for path in paths:
        if path.suffix not in (".yaml", ".yml"):
            continue
        try:
            st = path.stat()
        except OSError:
            continue
        entries.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(sorted(entries))


def describe(schemas: SchemaSet) -> str:
    return ", ".join(f"{name} v{version}" for name, version in sorted(schemas.versions().items()))


class SchemaReloader:
    """Watches ``directory``; calls ``apply(new_set)`` with every valid change."""

    def __init__(self, directory: Path, apply: Callable[[SchemaSet], Awaitable[None]], *,
                 poll_s: float = 2.0, on_outcome: Callable[[str], None] | None = None,
                 k_floor: int = DEFAULT_K_FLOOR) -> None:
        self.directory = Path(directory)
        self.k_floor = k_floor
        self.apply = apply
        self.poll_s = poll_s
        self.on_outcome = on_outcome or (lambda outcome: None)
        self._seen = snapshot(self.directory)
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._forced = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="schema-reload")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def request(self) -> None:
        """Reload now even if nothing changed (SIGHUP)."""
        self._forced = True
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wakeup.wait(), self.poll_s)
            except TimeoutError:
                pass
            self._wakeup.clear()
            await self.check()

    async def check(self) -> str | None:
        """One poll: ``"ok"``, ``"refused"`` or ``None`` (nothing changed)."""
        current = snapshot(self.directory)
        forced, self._forced = self._forced, False
        if current == self._seen and not forced:
            return None
        self._seen = current
        try:
            schemas = load_schemas(self.directory, k_floor=self.k_floor)
        except SchemaError as exc:
            log.error("schema reload refused, keeping the running schemas: %s", exc)
            self.on_outcome("refused")
            return "refused"
        try:
            await self.apply(schemas)
        except DeidentifyError as exc:
            log.error("schema reload refused, keeping the running schemas: %s", exc)
            self.on_outcome("refused")
            return "refused"
        log.info("schema reload ok: %s", describe(schemas))
        self.on_outcome("ok")
        return "ok"
