"""The shared settings resolver: flag beats variable beats default, and bad values are named.

Every case goes through the real declarations (``deidentify run``'s and ``deidentify
central``'s) or a small declaration made here, and through the real CLI parser where the
flag matters, so a resolver that looked at the wrong source, or an error that lost the flag
or the variable, fails here.
"""

from __future__ import annotations

import argparse
import logging

import pytest

from deidentify import cli
from deidentify.central.settings import CENTRAL_SETTINGS
from deidentify.central.settings import load_settings as central_settings
from deidentify.errors import SettingsError
from deidentify.runtime import settings as shared
from deidentify.runtime.logs import LOG_FORMAT, configure_logging
from deidentify.runtime.settings import Setting, Sources, add_flags, duration, integer
from deidentify.sidecar.settings import IDLE, RUN_SETTINGS
from deidentify.sidecar.settings import load_settings as run_settings

WINDOW = Setting("--window", "DEIDENTIFY_TEST_WINDOW", "a test duration", default=60_000,
                 shown="1m", parse=duration(1_000, 3_600_000, "between 1s and 1h"))
LIMIT = Setting("--limit", "DEIDENTIFY_TEST_LIMIT", "a test number", default=7,
                parse=integer(1, 10))


def run_args(argv: list[str]) -> argparse.Namespace:
    return cli.build_parser().parse_args(["run", *argv])


# --------------------------------------------------------------------------- precedence


@pytest.mark.parametrize("flag, env, expected", [
    ("2s", {"DEIDENTIFY_TEST_WINDOW": "5s"}, 2_000),       # flag beats the variable
    (None, {"DEIDENTIFY_TEST_WINDOW": "5s"}, 5_000),       # variable beats the default
    (None, {}, 60_000),                                    # default, already typed
    ("", {"DEIDENTIFY_TEST_WINDOW": "5s"}, 5_000),         # an empty flag is not given
    (None, {"DEIDENTIFY_TEST_WINDOW": ""}, 60_000),        # an empty variable is not set
])
def test_flag_beats_variable_beats_default(flag, env, expected) -> None:
    src = Sources(argparse.Namespace(window=flag), env)
    assert src.get(WINDOW) == expected


def test_a_setting_without_a_flag_reads_only_its_variable() -> None:
    env_only = WINDOW.without_flag()
    src = Sources(argparse.Namespace(window="2s"), {"DEIDENTIFY_TEST_WINDOW": "9s"})
    assert src.get(env_only) == 9_000
    assert Sources(argparse.Namespace(window="2s"), {}).get(env_only) == 60_000


def test_run_resolves_through_the_real_parser() -> None:
    """The CLI's flags land where the resolver looks for them (the dest comes from the flag)."""
    env = {"DEIDENTIFY_IDLE": "45s", "DEIDENTIFY_K_FLOOR": "8", "DEIDENTIFY_PORT": "9100"}
    s = run_settings(run_args(["--region", "eu", "--idle", "2s", "--k-floor", "7"]), env)
    assert (s.idle_ms, s.k_floor, s.port) == (2_000, 7, 9100)
    s = run_settings(run_args(["--region", "eu"]), env)
    assert (s.idle_ms, s.k_floor, s.port) == (45_000, 8, 9100)
    s = run_settings(run_args(["--region", "eu"]), {})
    assert (s.idle_ms, s.k_floor, s.port) == (30_000, 5, 8080)
    assert s.exactly_once
    assert not run_settings(run_args(["--region", "eu", "--at-least-once"]), {}).exactly_once
    assert not run_settings(run_args(["--region", "eu"]),
                            {"DEIDENTIFY_AT_LEAST_ONCE": "yes"}).exactly_once


def test_central_defaults_differ_where_declared() -> None:
    central = central_settings(argparse.Namespace(regions="eu"), {})
    assert (central.port, central.log_level, central.retention_windows) == (8090, "WARNING", 60)
    run = run_settings(run_args(["--region", "eu"]), {})
    assert (run.port, run.log_level) == (8080, "INFO")
    both = {"DEIDENTIFY_LOG_LEVEL": "debug", "DEIDENTIFY_K_FLOOR": "9"}
    central = central_settings(argparse.Namespace(regions="eu"), both)
    assert (central.log_level, central.k_floor) == ("DEBUG", 9)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("args, env, needle", [
    ({"window": "soon"}, {}, "--window (env DEIDENTIFY_TEST_WINDOW): 'soon' is not a duration "
     "(write e.g. 500ms, 2s, 1m)"),
    ({}, {"DEIDENTIFY_TEST_WINDOW": "2h"}, "--window (env DEIDENTIFY_TEST_WINDOW): must be "
     "between 1s and 1h"),
    ({"limit": "11"}, {}, "--limit (env DEIDENTIFY_TEST_LIMIT): 11 is not between 1 and 10"),
    ({}, {"DEIDENTIFY_TEST_LIMIT": "x"}, "--limit (env DEIDENTIFY_TEST_LIMIT): 'x' is not a "
     "whole number"),
])
def test_a_bad_value_names_the_flag_the_variable_and_the_fix(args, env, needle) -> None:
    src = Sources(argparse.Namespace(**args), env)
    setting = WINDOW if "DEIDENTIFY_TEST_WINDOW" in needle else LIMIT
    with pytest.raises(SettingsError) as info:
        src.get(setting)
    assert str(info.value) == needle


@pytest.mark.parametrize("env, needle", [
    ({"DEIDENTIFY_PORT": "http"}, "--port (env DEIDENTIFY_PORT): 'http' is not a port number"),
    ({"DEIDENTIFY_CENTRAL_RETENTION": "0"}, "DEIDENTIFY_CENTRAL_RETENTION: 0 is not at least 1"),
    ({"DEIDENTIFY_LOG_LEVEL": "loud"}, "DEIDENTIFY_LOG_LEVEL: 'LOUD' is not one of DEBUG, "
     "INFO, WARNING, ERROR"),
    ({"KAFKA_BOOTSTRAP": "broker"}, "--bootstrap (env KAFKA_BOOTSTRAP): 'broker' is not "
     "HOST:PORT (write HOST:PORT[,HOST:PORT...])"),
    ({"DEIDENTIFY_CENTRAL_GROUP": "a b"}, "DEIDENTIFY_CENTRAL_GROUP: 'a b' may use only "
     "letters, digits"),
])
def test_central_errors_name_their_variable(env, needle) -> None:
    with pytest.raises(SettingsError) as info:
        central_settings(argparse.Namespace(regions="eu"), env)
    assert needle in str(info.value)


def test_the_cli_reports_a_bad_variable_with_its_name(capsys, monkeypatch) -> None:
    monkeypatch.setenv("DEIDENTIFY_IDLE", "forever")
    assert cli.main(["run", "--region", "eu"]) == 2
    err = capsys.readouterr().err
    assert "--idle (env DEIDENTIFY_IDLE): 'forever' is not a duration (write e.g." in err


# --------------------------------------------------------------------------- declarations


def test_help_comes_from_the_declarations() -> None:
    parser = argparse.ArgumentParser()
    add_flags(parser, [WINDOW, LIMIT, WINDOW.without_flag().with_default(1, "1ms")])
    text = parser.format_help()
    assert "--window WINDOW" in text and "(env DEIDENTIFY_TEST_WINDOW; default 1m)" in text
    assert "(env DEIDENTIFY_TEST_LIMIT)" in text
    run = cli.build_parser()._subparsers._group_actions[0].choices["run"]     # type: ignore
    helps = {a.option_strings[0]: a.help for a in run._actions if a.option_strings}
    assert helps["--idle"] == IDLE.help_text()
    assert "env DEIDENTIFY_IDLE; default 30s" in helps["--idle"]


@pytest.mark.parametrize("settings", [RUN_SETTINGS, CENTRAL_SETTINGS], ids=["run", "central"])
def test_every_declaration_is_unique_and_named(settings) -> None:
    flags = [s.flag for s in settings if s.flag]
    variables = [s.env for s in settings if s.env]
    assert len(flags) == len(set(flags)) and len(variables) == len(set(variables))
    for s in settings:
        assert s.env is None or s.env.startswith(("DEIDENTIFY_", "KAFKA_")), s
        assert s.help and s.where in (f"{s.flag} (env {s.env})", s.flag, s.env)


def test_one_log_format_for_both_services(capsys) -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        configure_logging("INFO")
        configure_logging("WARNING")        # idempotent: one handler, the new level
        ours = [h for h in root.handlers if getattr(h, "_deidentify", False)]
        assert len(ours) == 1 and ours[0].formatter._fmt == LOG_FORMAT     # type: ignore
        assert root.level == logging.WARNING
        assert logging.getLogger("aiokafka").level == logging.WARNING
        configure_logging("DEBUG")
        assert logging.getLogger("aiokafka").level == logging.INFO           # the floor
        assert logging.getLogger("aiohttp.access").level == logging.WARNING
    finally:
        for handler in root.handlers[:]:
            if handler not in before[0]:
                root.removeHandler(handler)
        root.setLevel(before[1])


def test_shared_declarations_are_the_ones_both_services_list() -> None:
    for setting in (shared.BOOTSTRAP, shared.SCHEMAS, shared.K_FLOOR, *shared.WEB_SETTINGS):
        assert setting in RUN_SETTINGS and setting in CENTRAL_SETTINGS
