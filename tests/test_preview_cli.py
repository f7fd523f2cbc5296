"""`deidentify preview` and `deidentify schema ...` as a user runs them (subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from tests.helpers import T0

ROOT = Path(__file__).resolve().parent.parent


def deid(*args, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deidentify.cli", *args], input=stdin,
                          capture_output=True, cwd=ROOT, timeout=120)


def http(i: int, **extra) -> bytes:
    event = {"type": "http_request", "ts": T0 + i, "tenant_id": "acme", "method": "GET",
             "url": f"https://api.example.com/v1/orders/{1000 + i}?email=x{i}@example.com",
             "status": 200, "latency_ms": 12.5, "user": {"id": f"user-{i}"},
             "client_ip": "203.0.113.7"}
    event.update(extra)
    return orjson.dumps(event)


def test_preview_mixed_file_with_garbage(tmp_path):
    lines = [http(i) for i in range(6)]
    lines.insert(2, b"{not json")
    lines.insert(4, b"\xff\xfe\xfd")
    lines.insert(5, b"[" * 100_000)
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = deid("preview", "--region", "eu", str(path))
    assert result.returncode == 0, result.stderr.decode()
    out = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 1
    assert out[0]["dims"] == {"method": "GET", "route": "/v1/orders/{id}", "status": 200}
    assert out[0]["measures"]["count"] == 6
    err = result.stderr.decode()
    assert "- invalid_json 3" in err
    assert "example.com" not in err and "203.0.113.7" not in err and "user-" not in err


def test_preview_reads_stdin():
    result = deid("preview", "-", stdin=b"\n".join(http(i) for i in range(5)))
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) == 1


def test_preview_unreadable_file_exits_2(tmp_path):
    result = deid("preview", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 2
    assert b"cannot read" in result.stderr


def test_preview_invalid_schema_exits_2_with_file_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: x\nversion: one\n")
    result = deid("preview", "--schemas", str(tmp_path), "-", stdin=b"")
    assert result.returncode == 2
    assert f"{tmp_path / 'bad.yaml'}:".encode() in result.stderr


def test_schema_check_and_test_pass_on_shipped_schemas():
    check = deid("schema", "check")
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert check.stdout.count(b": ok: ") == 3
    assert b"worst case" in check.stdout
    test = deid("schema", "test")
    assert test.returncode == 0, test.stdout.decode()
    assert b" 0 failed" in test.stdout and b"FAIL" not in test.stdout


def test_schema_test_fails_on_wrong_expectation(tmp_path):
    text = (ROOT / "schemas" / "billing_totals.yaml").read_text()
    (tmp_path / "billing.yaml").write_text(text.replace("amount_minor: 4200", "amount_minor: 4201"))
    result = deid("schema", "test", "--schemas", str(tmp_path))
    assert result.returncode == 1
    assert b"FAIL billing_totals" in result.stdout


def test_preview_does_not_import_kafka_or_faust():
    code = ("import sys, deidentify.cli as c, deidentify.preview, deidentify.pipeline;"
            "print(any(m.split('.')[0] in ('faust', 'aiokafka', 'mode') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT,
                            timeout=60)
    assert result.stdout.strip() == b"False"


def test_preview_settles_its_heap_and_a_library_call_does_not(tmp_path):
    """``deidentify preview`` is its own process: its start-up state is frozen out of the
    cyclic collector's scans (runtime/heap.py); ``run_preview`` called as a library leaves
    the caller's collector alone."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(http(1) + b"\n")
    code = ("import gc, io, sys; from deidentify import cli, preview; "
            "from deidentify.schema import load_schemas; "
            "preview.run_preview(load_schemas(), sys.argv[1], region='eu', out=io.BytesIO(), "
            "err=io.StringIO()); "
            "print(gc.get_freeze_count(), gc.get_threshold()[0]); "
            "sys.stdout.flush(); sys.stdout = io.TextIOWrapper(io.BytesIO()); "
            "cli.main(['preview', sys.argv[1]]); "
            "print(gc.get_freeze_count() > 0, gc.get_threshold()[0], file=sys.__stdout__)")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    library, cli = result.stdout.decode().splitlines()
    assert library == "0 700"
    from deidentify.runtime.heap import YOUNG_THRESHOLD
    assert cli == f"True {YOUNG_THRESHOLD}"


def test_lines_across_and_beyond_the_read_buffer_read_as_with_a_small_buffer(tmp_path,
                                                                             monkeypatch):
    """``preview`` reads a file through a READ_BUFFER_BYTES buffer: lines that straddle it,
    one longer than it (a large field no schema reads), one over the 1 MiB cap, blank and
    CRLF lines give the same output and report as an 8 KiB buffer."""
    import io

    from deidentify import preview
    from deidentify.schema import load_schemas

    size = preview.READ_BUFFER_BYTES
    lines = [http(i, note="x" * (i * 997 % 5000)) for i in range(400)]
    lines[50] = http(50, note="y" * (size + 123))           # longer than the buffer
    lines[51] = http(51, note="z" * (1 << 20))              # over the 1 MiB cap
    lines[52] = b"   "
    lines[53] = http(53) + b"\r"
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert path.stat().st_size > 3 * size
    schemas = load_schemas()

    def run() -> tuple[bytes, str]:
        out, err = io.BytesIO(), io.StringIO()
        assert preview.run_preview(schemas, str(path), region="eu", out=out, err=err) == 0
        return out.getvalue(), err.getvalue()

    big = run()
    monkeypatch.setattr(preview, "READ_BUFFER_BYTES", 8192)
    assert big == run()
    assert "events read: 399;" in big[1] and "too_large 1" in big[1]
    assert orjson.loads(big[0].splitlines()[0])["measures"]["count"] == 398
