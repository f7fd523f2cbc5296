"""``deidentify run``: the regional sidecar process.

Lifecycle (plain asyncio; :class:`Sidecar` ``run()`` is the whole process)::

    settings (flags > env > defaults) and schemas are validated     -> exit 2 if unusable
    health server on --port, heartbeat, schema reloader, SIGHUP     -> /livez answers at once
    loop: a session (BatchLoop) starts and runs until
          SIGTERM/SIGINT  -> stop fetching, publish what is due, commit, stop clients -> exit 0
          ProducerFenced / AuthenticationFailed / authorization     -> log, exit 1
          any other runtime failure (broker gone, txn timeout, ...) -> throw the session
                                        away, back off (0.5 s .. 10 s), start a fresh one

Shutdown is bounded by ``shutdown_timeout_ms`` (10 s): a final commit that cannot finish in
time is abandoned (exit 1; the next start replays from the last commit, nothing is lost).
A second SIGTERM/SIGINT exits at once.

Exit codes: 0 stopped on a signal with everything due committed; 1 runtime failure; 2 bad
settings or schemas.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from typing import Any

from deidentify.errors import (
    AuthenticationFailed,
    ConfigError,
    DeidentifyError,
    ProducerFenced,
    RuntimeFailure,
)
from deidentify.logsafe import describe_exception
from deidentify.metrics import SidecarMetrics, sidecar_metrics
from deidentify.runtime import heap
from deidentify.runtime.logs import configure_logging
from deidentify.schema import SchemaSet, check_compatible, load_schemas
from deidentify.sidecar.health import HealthServer, HealthState
from deidentify.sidecar.loop import BatchLoop, Failpoint, check_metadata_fits
from deidentify.sidecar.reload import SchemaReloader, describe
from deidentify.sidecar.settings import SidecarSettings, load_settings

log = logging.getLogger("deidentify.sidecar")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 10.0
PROBE_INTERVAL_S = 5.0
HEARTBEAT_S = 1.0


def _settle_heap(why: str) -> None:
    """Keep the session's start-up state out of later garbage collections (runtime/heap.py)."""
    started = time.perf_counter()
    frozen = heap.settle()
    log.info("heap settled (%s): objects_frozen=%d seconds=%.3f", why, frozen,
             time.perf_counter() - started)


class _FatalFailure(Exception):
    """A session failure the process must not retry (fenced, refused credentials)."""


class Sidecar:
    """The process: supervises sessions, serves health, reloads schemas, handles signals."""

    def __init__(self, settings: SidecarSettings, schemas: SchemaSet, *,
                 metrics: SidecarMetrics | None = None) -> None:
        self.settings = settings
        self.schemas = schemas
        self.metrics = metrics or sidecar_metrics()
        self.health = HealthState(heartbeat=time.monotonic())
        self.server = HealthServer(self.health, self.metrics, port=settings.port,
                                   listen=settings.web)
        self.reloader = SchemaReloader(settings.schemas_dir, self.apply_schemas,
                                       poll_s=settings.reload_poll_ms / 1000,
                                       on_outcome=self._reload_outcome,
                                       k_floor=settings.k_floor)
        self.failpoint = Failpoint(os.environ.get("DEIDENTIFY_FAILPOINT"),
                                   os.environ.get("DEIDENTIFY_FAILPOINT_DIR"))
        self.session: BatchLoop | None = None
        self._stopping = asyncio.Event()
        self._signals = 0
        self._tasks: list[asyncio.Task] = []

    # ----------------------------------------------------------------- process

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_background_error)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        port = await self.server.start()
        log.info("sidecar starting: %s health_port=%d %s schemas=[%s]",
                 self.settings.describe(), port, self.server.describe(),
                 describe(self.schemas))
        self._tasks = [asyncio.create_task(self._heartbeat(), name="heartbeat"),
                       asyncio.create_task(self._probe(), name="probe")]
        self.reloader.start()
        try:
            code = await self._supervise()
        finally:
            await self.reloader.stop()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.server.stop()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        log.info("sidecar stopped: exit_code=%d", code)
        return code

    def stop(self) -> None:
        """Ask the sidecar to stop (what SIGTERM does); safe to call more than once."""
        self.health.stopping = True
        self._stopping.set()

    def _on_stop_signal(self, sig: int) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second stop signal: exiting now without the final commit")
            logging.shutdown()
            os._exit(EXIT_FAILED)
        log.info("stop signal received: signal=%s; publishing what is due and committing",
                 signal.Signals(sig).name)
        self.stop()

    def _on_hup(self) -> None:
        log.info("SIGHUP received: reloading schemas and the web config")
        self.reloader.request()
        self.server.access.reload()

    # ----------------------------------------------------------------- sessions

    async def _supervise(self) -> int:
        backoff = BACKOFF_MIN_S
        while not self._stopping.is_set():
            session = make_session(self.settings, self.schemas, self.metrics, self.health,
                                   self.failpoint)
            self.session = session
            try:
                if not await self._start_unless_stopped(session):
                    await session.close()
                    return EXIT_OK
                if session.schemas is not self.schemas:     # reloaded during the start
                    await session.swap_schemas(self.schemas)
                _settle_heap("session started")
                backoff = BACKOFF_MIN_S
                if not await self._run_until_stopped(session):
                    await session.close()
                    return EXIT_FAILED
                return await self._shutdown(session)
            except (ProducerFenced, AuthenticationFailed, ConfigError) as exc:
                self.health.fenced = isinstance(exc, ProducerFenced)
                log.error("sidecar cannot go on: error=%s %s", type(exc).__name__, exc)
                await session.close()
                return EXIT_FAILED
            except RuntimeFailure as exc:
                self.health.last_failure = type(exc).__name__
                self.metrics.transactions.labels("session_restart").inc()
                log.warning("session failed, starting a new one in %.1fs: error=%s %s",
                            backoff, type(exc).__name__, exc)
                await session.close()
                if self._stopping.is_set():
                    return EXIT_FAILED
            except Exception as exc:
                # A bug, not a Kafka condition: frames and class names, never the message
                # (it may quote an event value).
                log.error("unexpected error: %s\n%s", type(exc).__name__,
                          describe_exception(exc))
                await session.close()
                return EXIT_FAILED
            finally:
                self.session = None
            try:
                await asyncio.wait_for(self._stopping.wait(), backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, BACKOFF_MAX_S)
        return EXIT_OK

    async def _start_unless_stopped(self, session: BatchLoop) -> bool:
        """Start the session; False (start abandoned) if a stop is requested meanwhile."""
        start = asyncio.create_task(session.start(), name="session-start")
        stop = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({start, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if start.done():
            start.result()          # raises the start-up failure, if any
            return True
        start.cancel()
        await asyncio.gather(start, return_exceptions=True)
        return False

    async def _run_until_stopped(self, session: BatchLoop) -> bool:
        """Run the batch loop until a stop; False if it did not wind down in time."""
        run = asyncio.create_task(session.run(self._stopping), name="batch-loop")
        stop = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not run.done():
            # The loop sees the stop at its next step; a transaction in flight may need
            # longer, but not longer than half the shutdown budget.
            grace = self.settings.shutdown_timeout_ms / 2000
            done, _ = await asyncio.wait({run}, timeout=grace)
            if not done:
                log.error("the batch loop did not stop within %.1fs; abandoning the final "
                          "commit (the next start replays from the last commit)", grace)
                run.cancel()
                await asyncio.gather(run, return_exceptions=True)
                return False
        run.result()                # raises a session failure, if any
        return True

    async def _shutdown(self, session: BatchLoop) -> int:
        code = EXIT_OK
        try:
            await session.finish(self.settings.shutdown_timeout_ms / 2000)
            log.info("final commit done")
        except (TimeoutError, DeidentifyError) as exc:
            code = EXIT_FAILED
            log.error("final commit failed: error=%s; the next start replays from the "
                      "last commit", type(exc).__name__)
        await session.close()
        return code

    async def apply_schemas(self, schemas: SchemaSet) -> None:
        """Hot reload target: keep the set for new sessions, swap it into the running one.

        Raises (reload refused) only for a set the sidecar cannot run; a Kafka failure
        while swapping it in fails the session instead, and the next one starts with it.
        """
        check_metadata_fits(schemas)
        check_compatible(self.schemas, schemas)
        self.schemas = schemas
        session = self.session
        if session is not None and session.health.session_up:
            try:
                await session.swap_schemas(schemas)
            except RuntimeFailure as exc:
                log.warning("applying the reloaded schemas failed: error=%s; a new session "
                            "starts with them", type(exc).__name__)
                session.fail(exc)
                return
            _settle_heap("schemas reloaded")

    def _reload_outcome(self, outcome: str) -> None:
        self.metrics.schema_reloads.labels(outcome).inc()

    # ----------------------------------------------------------------- background

    async def _heartbeat(self) -> None:
        while True:
            self.health.heartbeat = time.monotonic()
            await asyncio.sleep(HEARTBEAT_S)

    async def _probe(self) -> None:
        while True:
            await asyncio.sleep(PROBE_INTERVAL_S)
            session = self.session
            if session is not None and \
                    time.monotonic() - self.health.broker_ok > PROBE_INTERVAL_S:
                await session.probe()


def make_session(settings: SidecarSettings, schemas: SchemaSet, metrics: SidecarMetrics,
                 health: HealthState, failpoint: Failpoint) -> BatchLoop:
    """The session ``--stages`` asks for: the one-process loop, or both stages as tasks."""
    if settings.stages == "split":
        from deidentify.sidecar.split import SplitSession
        return SplitSession(settings, schemas, metrics, health,  # type: ignore[return-value]
                            failpoint=failpoint)
    return BatchLoop(settings, schemas, metrics, health, failpoint=failpoint)


def _background_error(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Unretrieved errors of client-internal futures (e.g. after a fenced transaction):
    one line with the error class, no traceback."""
    exc = context.get("exception")
    log.warning("background error: %s%s", context.get("message", "-"),
                f" error={type(exc).__name__}" if exc is not None else "")


def main(args: Any) -> int:
    """Entry point of ``deidentify run`` (``args`` from the CLI parser)."""
    from deidentify.errors import SchemaError, SettingsError
    try:
        settings = load_settings(args)
    except SettingsError as exc:
        print(f"deidentify run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.log_level)
    for warning in settings.security.warnings:
        log.warning("%s", warning)
    try:
        schemas = load_schemas(settings.schemas_dir, k_floor=settings.k_floor)
        check_metadata_fits(schemas)
    except SettingsError as exc:
        print(f"deidentify run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SchemaError as exc:
        print(f"deidentify run: invalid schema: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(Sidecar(settings, schemas).run())
    except SettingsError as exc:
        print(f"deidentify run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"deidentify run: cannot serve health on {settings.host} port {settings.port} "
              f"({exc.strerror or type(exc).__name__})", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
