"""Optional dashboard hints (``presentation:``): parsed strictly, defaults without them."""

from __future__ import annotations

from pathlib import Path

import pytest

from deidentify.errors import SchemaError
from deidentify.schema import load_schema_file, load_schemas
from deidentify.schema.model import Presentation, presentation_of

BASE = """\
name: demo
version: 1
description: a test schema
source: {type: http_request, topic: raw.http}
window: {size: 60s}
dimensions:
  method: {type: enum, field: method, values: http_methods}
  host: {type: host, field: url}
measures:
  latency_ms: {type: histogram, field: latency_ms, buckets: [10, 100], min: 0, max: 1000}
  bytes_out: {type: sum, field: size, min: 0, max: 1000000}
  errors: {type: count_if, field: status, gte: 500}
  slow: {type: count_if, field: latency_ms, gte: 1000}
privacy:
  subjects: [user.id]
  k: 5
"""

HINTS = """\
presentation:
  title: Demo requests
  chart_by: method
  rates: [errors]
  units: {latency_ms: ms, bytes_out: bytes}
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "demo.yaml"
    path.write_text(text)
    return load_schema_file(path)


def test_defaults_make_a_useful_page(tmp_path: Path) -> None:
    hints = presentation_of(load(tmp_path, BASE))
    assert hints == Presentation(title="demo", chart_by="host", rates=("errors", "slow"),
                                 units=(("latency_ms", "ms"),))


def test_hints_are_parsed(tmp_path: Path) -> None:
    schema = load(tmp_path, BASE + HINTS)
    assert presentation_of(schema) == Presentation(
        title="Demo requests", chart_by="method", rates=("errors",),
        units=(("latency_ms", "ms"), ("bytes_out", "bytes")))


def test_partial_hints_keep_the_other_defaults(tmp_path: Path) -> None:
    schema = load(tmp_path, BASE + "presentation:\n  rates: []\n")
    hints = presentation_of(schema)
    assert hints.rates == () and hints.chart_by == "host" and hints.title == "demo"


BROKEN = [
    ("unknown-key", "  title: Demo requests\n", "  titel: x\n", 18, "unknown key 'titel'",
     "did you mean 'title'"),
    ("chart-by-unknown", "chart_by: method", "chart_by: route", 19, "unknown dimension 'route'",
     "method, host"),
    ("rate-not-count-if", "rates: [errors]", "rates: [bytes_out]", 20,
     "'bytes_out' is not a count_if", "errors, slow"),
    ("rates-not-a-list", "rates: [errors]", "rates: errors", 20, "must be a list", "rates:"),
    ("unit-unknown", "latency_ms: ms,", "latency_ms: furlongs,", 21, "unknown unit 'furlongs'",
     "ms, s, bytes"),
    ("unit-on-count-if", "bytes_out: bytes", "errors: bytes", 21, "not a sum or histogram",
     "units apply"),
]


@pytest.mark.parametrize("case_id,old,new,line,message,fix", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_hints_name_file_line_and_fix(tmp_path, case_id, old, new, line, message, fix):
    text = BASE + HINTS
    assert old in text, case_id
    with pytest.raises(SchemaError) as info:
        load(tmp_path, text.replace(old, new, 1))
    err = info.value
    assert err.line == line, str(err)
    assert message in err.message, str(err)
    assert err.fix and fix in err.fix, str(err)


def test_hints_do_not_change_what_a_cell_means(tmp_path: Path) -> None:
    from deidentify.schema import check_compatible
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "demo.yaml").write_text(BASE)
    (tmp_path / "b" / "demo.yaml").write_text(BASE + HINTS)
    check_compatible(load_schemas(tmp_path / "a"), load_schemas(tmp_path / "b"))  # no bump
