"""One error tree for the whole project.

::

    DeidentifyError                 catch this to catch anything deidentify raises on purpose
    ├── ConfigError                 bad configuration: the process must not start with it
    │   ├── SchemaError             an allowlist schema is invalid (carries file, line, fix)
    │   └── SettingsError           a flag, environment variable or secret file is unusable
    │       └── WebConfigError      the --web-config file is unusable (carries file, line, fix)
    └── RuntimeFailure              the runtime cannot go on (translated Kafka/faust errors)
        ├── BrokerUnavailable       no broker answered (retriable = True)
        ├── AuthenticationFailed    the broker refused our credentials (retriable = False)
        ├── ProducerFenced          another instance took our transactional id (retriable = False)
        └── TaskFenced              --stages split: another process took a task over (retriable)

Filtering an event is never an error: stages return result values (see
``deidentify.pipeline``). No message of any error here ever contains an event value: messages
name files, lines, field paths, schema names and reasons only.

aiokafka exceptions are translated into this tree at one boundary,
:mod:`deidentify.runtime.kafka_errors` (``raise translate(exc, what) from exc``), used by the
sidecar, the collector and the generator.
"""

from __future__ import annotations


class DeidentifyError(Exception):
    """Base of every error deidentify raises on purpose."""

    retriable: bool = False


class ConfigError(DeidentifyError):
    """Configuration that must be fixed before the process can start."""


class _PointsIntoAFile(Exception):
    """``file:line: message (fix: ...)``: a configuration error that points at its spot.

    ``file`` and ``line`` point at the offending spot (``line`` is 1-based, ``None`` when the
    problem concerns the whole file), ``fix`` says what to write instead.
    """

    default_file = "<file>"

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 fix: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.file or self.default_file
        if self.line is not None:
            where = f"{where}:{self.line}"
        text = f"{where}: {self.message}"
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class SchemaError(_PointsIntoAFile, ConfigError):
    """An allowlist schema is invalid (file, line and fix as :class:`_PointsIntoAFile`)."""

    default_file = "<schema>"


class SettingsError(ConfigError):
    """A command-line flag, environment variable or secret file is unusable."""


class WebConfigError(_PointsIntoAFile, SettingsError):
    """The web configuration file (``--web-config``) is unusable; formatted like SchemaError."""

    default_file = "<web config>"


class RuntimeFailure(DeidentifyError):
    """The runtime cannot go on; translated from Kafka or faust errors at one boundary."""


class BrokerUnavailable(RuntimeFailure):
    retriable = True


class AuthenticationFailed(RuntimeFailure):
    retriable = False


class ProducerFenced(RuntimeFailure):
    retriable = False


class TaskFenced(RuntimeFailure):
    """``--stages split``: a task's partition moved to another process of the region while
    this one stalled; its producer was fenced. The session restarts (not fatal: the
    partitions are handed out again)."""

    retriable = True
