"""The demo's settings: constants, the run's names (topics, groups, credentials), ``say``.

``DemoRun`` holds everything one run is: its id (every name is prefixed ``demo-<run>.``),
the broker, the dashboard port, the rate, the child processes, the produced counts for the
view, and the basic-auth credentials of its web config. Its ``repr`` leaves the password out.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deidentify.errors import SettingsError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "scripts" / "kafka.sh"
REGIONS = (("eu", 8081, 1), ("us", 8082, 2))     # region, sidecar port, generator seed
BACKFILL_MS = 120_000
WINDOW_MS = 60_000
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
BROKER_TIMEOUT_S = 900.0                          # the first start downloads the jars
VIEW_EVERY_TTY_S = 2.0
VIEW_EVERY_PLAIN_S = 15.0


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen | None = None
    port: int | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None


@dataclass
class DemoRun:
    bootstrap: str
    port: int
    rate: float
    duration_s: float | None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    children: list[Child] = field(default_factory=list)
    produced: dict[str, int] = field(default_factory=dict)
    logs: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="deidentify-demo-")))
    leased: bool = False
    topics: list[str] = field(default_factory=list)
    schemas_dir: str | None = None         # --schemas (default: the shipped schemas/)
    generic: tuple = ()                     # schemas with no dedicated generator
    user: str = "demo"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)

    @property
    def web_config(self) -> Path:
        return self.logs / "web-config.yml"

    @property
    def authorization(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @property
    def prefix(self) -> str:
        return f"demo-{self.run_id}."

    @property
    def central_topic(self) -> str:
        """The base name: each region's sidecar publishes to ``<it>.<region>``."""
        return f"{self.prefix}central.aggregates"

    def raw_topic(self, region: str, kind: str) -> str:
        from deidentify.generate import TOPICS
        return f"{self.prefix}{region}.{TOPICS[kind]}"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)



def parse_settings(args: Any) -> DemoRun:
    """The run described by ``deidentify demo``'s arguments (``SettingsError`` /
    ``SchemaError`` for bad ones; the schemas are loaded once to find the generic ones)."""
    from deidentify.runtime.settings import parse_duration_ms

    bootstrap = args.bootstrap or os.environ.get("KAFKA_BOOTSTRAP") or "127.0.0.1:9092"
    duration_s = None
    if args.duration not in (None, "", "0"):
        duration_s = parse_duration_ms(args.duration, what="--duration") / 1000
        if duration_s <= 0:
            raise SettingsError("--duration must be longer than 0s")
    rate = float(args.rate)
    if not rate > 0:
        raise SettingsError("--rate must be a number greater than 0 (events per second)")
    if not 0 < int(args.port) < 65536:
        raise SettingsError("--port must be 1..65535")
    run = DemoRun(bootstrap=bootstrap, port=int(args.port), rate=rate, duration_s=duration_s,
                  schemas_dir=getattr(args, "schemas", None) or None)
    from deidentify.generate import TOPICS
    from deidentify.schema import load_schemas
    schemas = load_schemas(run.schemas_dir)       # SchemaError: shown as a usage error
    run.generic = tuple(s for s in schemas.schemas if s.source_type not in TOPICS)
    return run

