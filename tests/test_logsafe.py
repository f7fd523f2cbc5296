"""Tracebacks that the runtimes log never carry an exception's message (it may quote an
event value), while the project's own errors keep theirs."""

from __future__ import annotations

import io
import logging

from deidentify.errors import SettingsError
from deidentify.logsafe import ValueFreeFormatter, describe_exception

SECRET = "alice.smith@example.com"


def _fail_inner() -> None:
    raise ValueError(f"cannot template {SECRET}")


def _fail_outer() -> None:
    try:
        _fail_inner()
    except ValueError as exc:
        raise RuntimeError(f"wrapped {SECRET}") from exc


def _caught(fn) -> BaseException:
    try:
        fn()
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


def test_frames_and_class_names_without_the_messages() -> None:
    text = describe_exception(_caught(_fail_outer))
    assert SECRET not in text and "alice" not in text
    assert "builtins.ValueError" in text and "builtins.RuntimeError" in text
    assert "_fail_inner" in text and "_fail_outer" in text          # the frames stay
    assert text.index("ValueError") < text.index("RuntimeError")    # oldest first
    assert "direct cause" in text


def test_context_chains_are_followed_too() -> None:
    def handler_fails() -> None:
        try:
            _fail_inner()
        except ValueError:
            raise KeyError(SECRET)  # noqa: B904 - implicit context on purpose

    text = describe_exception(_caught(handler_fails))
    assert SECRET not in text
    assert "ValueError" in text and "KeyError" in text and "another occurred" in text


def test_the_projects_own_errors_keep_their_message() -> None:
    text = describe_exception(SettingsError("--region is required (env DEIDENTIFY_REGION)"))
    assert "--region is required" in text


def test_a_handler_with_the_formatter_logs_no_value() -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(ValueFreeFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test_logsafe")
    logger.addHandler(handler)
    try:
        try:
            _fail_outer()
        except RuntimeError:
            logger.exception("unexpected error")
    finally:
        logger.removeHandler(handler)
    out = buffer.getvalue()
    assert "unexpected error" in out and "_fail_inner" in out
    assert SECRET not in out


def test_a_plain_formatter_would_have_leaked() -> None:
    # the case the formatter exists for: logging's default prints the message
    exc = _caught(_fail_outer)
    plain = logging.Formatter().formatException((type(exc), exc, exc.__traceback__))
    assert SECRET in plain
