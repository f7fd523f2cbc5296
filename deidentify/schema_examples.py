"""``deidentify schema test``: run each schema's examples through the real pipeline.

A schema's ``examples`` list events and the cells they must publish. Each example runs in a
fresh one-schema :class:`~deidentify.pipeline.Pipeline` (the object the sidecar runs), so an
example proves what the sidecar would publish, caps, k and the output guard included.

This sits above the core (it imports :mod:`deidentify.pipeline`), which is why it is not in
``schema/``: the schema package is below the pipeline and never imports it. A failure's
detail names dimensions, measure names and counts; the only values it shows are cells the
pipeline published, which already passed the output guard.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from deidentify.pipeline import Pipeline
from deidentify.schema import SchemaSet
from deidentify.schema.model import Schema

__all__ = ["ExampleResult", "run_examples"]


@dataclass(frozen=True, slots=True)
class ExampleResult:
    schema: str
    example: str
    passed: bool
    detail: str        # what differed, as dims/measure names and counts, never event values


def _normalise(cells: list[dict], with_window: bool) -> list[bytes]:
    out = []
    for cell in cells:
        item = {"dims": cell.get("dims", {}), "measures": cell.get("measures", {})}
        if with_window and "window" in cell:
            item["window"] = cell["window"]
        out.append(orjson.dumps(item, option=orjson.OPT_SORT_KEYS))
    return sorted(out)


def run_examples(schema: Schema) -> list[ExampleResult]:
    """Run each example's events through a fresh one-schema pipeline and compare cells."""
    results = []
    for example in schema.examples:
        pipeline = Pipeline(SchemaSet.from_schemas([schema]), region="example")
        for i, event in enumerate(example.events):
            pipeline.process(orjson.dumps(event), offset=i)
        got = [a.value for a in pipeline.close_all()]
        with_window = all("window" in c for c in example.expect)
        want = _normalise(list(example.expect), with_window)
        have = _normalise(got, with_window)
        if want == have:
            results.append(ExampleResult(schema.name, example.name, True, ""))
            continue
        drops = pipeline.drop_report()
        detail = (f"expected {len(want)} cell(s), got {len(have)}; "
                  f"drops: {drops or 'none'}")
        missing = [orjson.loads(c) for c in want if c not in have]
        extra = [orjson.loads(c) for c in have if c not in want]
        if missing:
            detail += f"; expected but not published: {[m['dims'] for m in missing]}"
        if extra:
            # Published cells already passed the output guard, so showing them is safe.
            detail += f"; published but not expected: {extra}"
        results.append(ExampleResult(schema.name, example.name, False, detail))
    return results
