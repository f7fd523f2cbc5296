"""A Grafana dashboard generated from the allowlist schemas (``deidentify dashboards grafana``).

One row per schema, its panels chosen from the schema's measure kinds and its optional
``presentation`` hints (the same choice the built-in dashboard makes):

* events per minute by the ``chart_by`` dimension (every schema);
* per rate (a ``count_if`` over count): its share of events by ``chart_by``;
* per ``histogram``: p50/p90/p99 over all cells, and p99 by ``chart_by``;
* per ``sum``: its amount per minute by ``chart_by``;
  (the panels follow each measure kind's ``role``, see :mod:`deidentify.measures`)
* a table of the top cells (events in the last 15 minutes, every dimension a column).

followed by two fixed rows: the central collector's health and the regional sidecars'.
Queries use only the series :mod:`deidentify.central.export` derives from the same schemas
(``deidentify_<schema>_...``) and the fixed ``deid_central_*``/``deid_sidecar_*`` series.

The output is deterministic (sorted schemas, stable ids, no timestamps), so the shipped
``deploy/grafana/deidentify-dashboard.json`` is this function's output for ``schemas/``
and a test regenerates it to check it is up to date.
"""

from __future__ import annotations

import json
from typing import Any

from deidentify.central.export import label_name, metric_names
from deidentify.measures import ROLE_DISTRIBUTION, ROLE_TOTAL, kind_of
from deidentify.schema.model import Schema, presentation_of

__all__ = ["grafana_dashboard", "render"]

DATASOURCE = {"type": "prometheus", "uid": "deid-prometheus"}
REGION = '{region=~"$region"}'
GRAFANA_UNITS = {"ms": "ms", "s": "s", "bytes": "bytes", "minor_units": "short", "count": "short"}
QUANTILES = (("p50", "0.5"), ("p90", "0.9"), ("p99", "0.99"))


class _Layout:
    """Panel ids and grid positions, two half-width panels per line."""

    def __init__(self) -> None:
        self.next_id = 1
        self.y = 0
        self.x = 0
        self.panels: list[dict[str, Any]] = []

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append({"type": "row", "title": title, "id": self._id(), "collapsed": False,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def _newline(self) -> None:
        if self.x:
            self.x = 0
            self.y += 8

    def panel(self, kind: str, title: str, targets: list[tuple[str, str]], *, unit: str = "short",
              description: str = "", width: int = 12, table: bool = False) -> None:
        if self.x + width > 24:
            self._newline()
        panel: dict[str, Any] = {
            "type": kind, "title": title, "id": self._id(), "datasource": DATASOURCE,
            "description": description,
            "gridPos": {"h": 8, "w": width, "x": self.x, "y": self.y},
            "targets": [], "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        }
        for i, (expr, legend) in enumerate(targets):
            target = {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr,
                      "legendFormat": legend}
            if table:
                target.update(instant=True, format="table")
            panel["targets"].append(target)
        if kind == "timeseries":
            panel["fieldConfig"]["defaults"]["custom"] = {"lineWidth": 2, "fillOpacity": 5,
                                                          "spanNulls": True}
            panel["options"] = {"legend": {"displayMode": "table", "placement": "right",
                                           "calcs": ["lastNotNull"]},
                                "tooltip": {"mode": "multi", "sort": "desc"}}
        elif kind == "stat":
            panel["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "values": False},
                                "colorMode": "value", "graphMode": "area"}
        elif kind == "table":
            panel["options"] = {}
            panel["transformations"] = [{"id": "organize",
                                         "options": {"excludeByName": {"Time": True}}}]
        self.panels.append(panel)
        self.x += width
        if self.x >= 24:
            self._newline()


def _legend(labels: list[str]) -> str:
    return " ".join("{{" + label + "}}" for label in labels)


def _schema_panels(layout: _Layout, schema: Schema) -> None:
    hints = presentation_of(schema)
    names = metric_names(schema)
    events = f"{names['count']}_total{REGION}"
    by = ["region"] + ([label_name(hints.chart_by)] if hints.chart_by else [])
    by_text = f" by {hints.chart_by}" if hints.chart_by else ""
    group = ", ".join(by)
    dims = ", ".join(label_name(d) for d in schema.dimension_names)
    layout.row(f"{hints.title} ({schema.name}: by {dims or 'region only'}; central, "
               "de-identified)")
    layout.panel("timeseries", f"{hints.title}: events per minute{by_text}",
                 [(f"sum by ({group}) (rate({events}[5m])) * 60", _legend(by))],
                 description=schema.description)
    for rate in hints.rates:
        numerator = f"{names[rate]}_total{REGION}"
        layout.panel("timeseries", f"{hints.title}: {rate} rate{by_text}",
                     [(f"sum by ({group}) (rate({numerator}[5m])) / "
                       f"sum by ({group}) (rate({events}[5m]))", _legend(by))],
                     unit="percentunit", description=f"{rate} (count_if) over all events")
    for m in schema.measures:
        unit = GRAFANA_UNITS.get(hints.unit_of(m.name) or "count", "short")
        role = kind_of(m).role
        if role == ROLE_DISTRIBUTION:
            bucket = f"{names[m.name]}_bucket{REGION}"
            layout.panel("timeseries", f"{hints.title}: {m.name} percentiles",
                         [(f"histogram_quantile({q}, sum by (le, region) "
                           f"(rate({bucket}[5m])))", f"{label} {{{{region}}}}")
                          for label, q in QUANTILES],
                         unit=unit, description="Computed by Prometheus from the merged "
                         "histogram buckets.")
            if hints.chart_by:
                layout.panel("timeseries", f"{hints.title}: p99 {m.name}{by_text}",
                             [(f"histogram_quantile(0.99, sum by (le, {group}) "
                               f"(rate({bucket}[5m])))", _legend(by))], unit=unit)
        elif role == ROLE_TOTAL:
            total = f"{names[m.name]}_total{REGION}"
            layout.panel("timeseries", f"{hints.title}: {m.name} per minute{by_text}",
                         [(f"sum by ({group}) (rate({total}[5m])) * 60", _legend(by))],
                         unit=unit)
    cells = ", ".join(["region", *(label_name(d) for d in schema.dimension_names)])
    layout.panel("table", f"{hints.title}: top cells (events, last 15 min)",
                 [(f"topk(15, sum by ({cells}) (increase({events}[15m])))", "")],
                 width=24, table=True)


def _health_panels(layout: _Layout) -> None:
    layout.row("Central collector health")
    layout.panel("timeseries", "Aggregates accepted per minute",
                 [("sum by (region, schema) (rate(deid_central_aggregates_accepted_total"
                   f"{REGION}[5m])) * 60", "{{region}} {{schema}}")], width=8)
    layout.panel("timeseries", "Aggregates rejected (by reason) and ignored",
                 [("sum by (reason) (increase(deid_central_aggregates_rejected_total[5m]))",
                   "rejected {{reason}}"),
                  ("sum by (reason) (increase(deid_central_aggregates_ignored_total[5m]))",
                   "ignored {{reason}}")], width=8,
                 description="Any rejection means a region published something the schemas "
                             "do not allow: investigate the sidecar.")
    layout.panel("stat", "Consumer lag (messages)", [("sum(deid_central_consumer_lag)", "lag")],
                 width=4)
    layout.panel("stat", "Newest window age",
                 [("time() - max(deid_central_last_window_end_timestamp_seconds)", "age")],
                 unit="s", width=4)
    layout.row("Regional sidecars (pipeline health; region label from the scrape config)")
    layout.panel("timeseries", "Raw events consumed per second",
                 [("sum by (region) (rate(deid_sidecar_events_consumed_total[1m]))",
                   "{{region}}")], width=8)
    layout.panel("timeseries", "Raw events dropped by reason",
                 [("sum by (region, reason) (rate(deid_sidecar_events_dropped_total[5m]))",
                   "{{region}} {{reason}}")], width=8)
    layout.panel("timeseries", "Cells published / suppressed per minute",
                 [("sum by (region) (rate(deid_sidecar_cells_published_total[5m])) * 60",
                   "published {{region}}"),
                  ("sum by (region, reason) (rate(deid_sidecar_cells_suppressed_total[5m])) "
                   "* 60", "suppressed {{region}} {{reason}}")], width=8)
    layout.panel("timeseries", "Output guard hits by detector",
                 [("sum by (region, detector) (increase(deid_sidecar_guard_hits_total[15m]))",
                   "{{region}} {{detector}}"),
                  ("sum by (detector) (increase(deid_central_guard_hits_total[15m]))",
                   "central {{detector}}")], width=8)
    layout.panel("timeseries", "Sidecar consumer lag (messages)",
                 [("sum by (region) (deid_sidecar_consumer_lag)", "{{region}}")], width=8)
    layout.panel("timeseries", "Transactions by outcome",
                 [("sum by (region, outcome) (rate(deid_sidecar_transactions_total[5m]))",
                   "{{region}} {{outcome}}")], width=8)
    layout.panel("timeseries", "Oldest open window: seconds since its end",
                 [("max by (region) (deid_sidecar_oldest_open_window_age_seconds)",
                   "{{region}}")], width=8)


def grafana_dashboard(schemas: tuple[Schema, ...] | list[Schema], *,
                      dashboard_url: str = "http://localhost:8090/") -> dict[str, Any]:
    """The dashboard JSON model (Grafana schemaVersion 39) for ``schemas``."""
    layout = _Layout()
    for schema in sorted(schemas, key=lambda s: s.name):
        _schema_panels(layout, schema)
    _health_panels(layout)
    region_query = "label_values(deid_central_aggregates_accepted_total, region)"
    return {
        "uid": "deidentify-central",
        "title": "deidentify — central aggregates",
        "tags": ["deidentify"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "graphTooltip": 1,
        "description": "Generated by `deidentify dashboards grafana` from the allowlist "
                       "schemas: a row per schema, then collector and sidecar health. Every "
                       "label value here passed central re-validation.",
        "templating": {"list": [{
            "name": "region", "label": "region", "type": "query", "datasource": DATASOURCE,
            "query": {"query": region_query, "refId": "regions"},
            "definition": region_query, "includeAll": True, "multi": True, "allValue": ".*",
            "refresh": 2, "sort": 1,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}}]},
        "annotations": {"list": []},
        "links": [{"title": "Built-in dashboard", "type": "link", "url": dashboard_url,
                   "targetBlank": True}],
        "panels": layout.panels,
    }


def render(dashboard: dict[str, Any]) -> str:
    """The JSON text as shipped (2-space indent, trailing newline, non-ASCII kept)."""
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"
