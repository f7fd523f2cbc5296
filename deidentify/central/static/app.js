/* deidentify central dashboard: fetches /api/summary every few seconds and draws it.
 * All values are inserted as text; nothing from the API is ever parsed as HTML. */
"use strict";

(() => {
  const REFRESH_MS = 3000;
  let selected = decodeURIComponent((location.hash || "#all").slice(1)) || "all";
  let lastOk = 0;

  const $ = id => document.getElementById(id);
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) {
      if (c == null) continue;
      node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return node;
  }
  const num = (v, d = 0) => v == null ? "–" : Number(v).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
  const pct = (v, d = 1) => v == null ? "–" : (v * 100).toFixed(d) + "%";
  const ms = v => v == null ? "–" : (v >= 100 ? num(v, 0) : num(v, 1)) + " ms";

  const OTHER = "__other__";

  function table(headers, rows, numeric) {
    const thead = h("thead", {}, h("tr", {}, ...headers.map((t, i) => h("th", { class: numeric[i] ? "num" : "" }, t))));
    const tbody = h("tbody", {}, ...rows.map(r => h("tr", {}, ...r.map((c, i) =>
      h("td", { class: numeric[i] ? "num" : "" }, c)))));
    return h("table", {}, thead, tbody);
  }

  function card(title, opts, ...children) {
    return h("div", Object.assign({ class: "card" + (opts && opts.wide ? " wide" : "") }, opts && opts.attrs || {}),
      h("h3", {}, title), ...children);
  }
  const empty = text => h("div", { class: "empty" }, text);

  // Units come from the schema's presentation hints (a closed set); values stay numbers.
  function unitFormat(unit) {
    if (unit === "ms") return ms;
    if (unit === "s") return v => v == null ? "–" : num(v, 2) + " s";
    if (unit === "bytes") return v => v == null ? "–" : num(v) + " B";
    return v => num(v, v != null && v % 1 ? 2 : 0);
  }
  // Axis labels stay short: 12.5M, 840k.
  function compact(unit) {
    const full = unitFormat(unit);
    return v => Math.abs(v) >= 1e6 ? num(v / 1e6, 1) + "M" : Math.abs(v) >= 1e4 ? num(v / 1e3, 0) + "k" : full(v);
  }
  const withUnit = (name, unit) => unit && unit !== "count" ? `${name} (${unit.replace("_", " ")})` : name;
  const dimText = v => v === OTHER ? "other (rolled up)" : String(v);

  /* One schema's panels, chosen from its measure kinds (the summary's "view"): events per
   * minute over time by the chart-by dimension, one rate chart per count_if rate, one
   * quantile chart per histogram, one line per sum, and a table of the top cells. */
  function schemaCards(region, name, view) {
    const cards = [];
    const windows = view.windows || [];
    const last = windows[windows.length - 1];
    const recent = windows.slice(-5);
    const units = Object.fromEntries((view.measures || []).map(m => [m.name, m.unit]));
    const roles = Object.fromEntries((view.measures || []).map(m => [m.name, m.role]));
    const recentEvents = recent.reduce((a, w) => a + w.events, 0);
    const kpis = [h("div", { class: "kpi" }, h("div", { class: "v", "data-kpi": `${name}-per-minute` }, last ? num(last.per_minute, 1) : "–"), h("div", { class: "l" }, "events/min, last window"))];
    (view.rates || []).forEach(r => {
      const hits = recent.reduce((a, w) => a + (w.sums[r] || 0), 0);
      kpis.push(h("div", { class: "kpi" }, h("div", { class: "v", "data-kpi": `${name}-rate-${r}` }, pct(recentEvents ? hits / recentEvents : null, 2)), h("div", { class: "l" }, `${r} / events, last 5 windows`)));
    });
    (view.histograms || []).forEach(hname => {
      const q = last && last.quantiles[hname];
      kpis.push(h("div", { class: "kpi" }, h("div", { class: "v" }, q ? unitFormat(units[hname])(q.p99) : "–"), h("div", { class: "l" }, `p99 ${hname}, last window`)));
    });
    kpis.push(h("div", { class: "kpi" }, h("div", { class: "v", "data-kpi": `${name}-cells` }, num(view.cell_count)), h("div", { class: "l" }, "cells, last 5 windows")));

    const by = view.chart_by;
    const eventsBox = h("div", {});
    Charts.line(eventsBox, (view.series || []).map(s => ({ name: dimText(s.name), points: s.points.map(p => ({ x: p.start_ms, y: p.per_minute })) })),
      { label: `${view.title}: events per minute${by ? " by " + by : ""}, ${region}`, yFormat: compact(null) });
    cards.push(card(`${view.title}: events per minute${by ? " by " + by : ""}`, { attrs: { "data-chart": `${name}-events`, "data-schema": name } },
      h("div", { class: "kpis" }, ...kpis), eventsBox));

    (view.rates || []).forEach(r => {
      const box = h("div", {});
      Charts.line(box, [{ name: `${r} / events`, points: windows.filter(w => w.rates[r] != null).map(w => ({ x: w.start_ms, y: w.rates[r] * 100 })) }],
        { label: `${view.title}: ${r} rate, ${region}`, yFormat: v => num(v, v % 1 ? 1 : 0) + "%" });
      cards.push(card(`${view.title}: ${r} rate (% of events)`, { attrs: { "data-chart": `${name}-rate-${r}`, "data-schema": name } }, box));
    });
    (view.histograms || []).forEach(hname => {
      const box = h("div", {});
      Charts.line(box, ["p50", "p90", "p99"].map(q => ({ name: `${hname} ${q}`, points: windows.filter(w => w.quantiles[hname][q] != null).map(w => ({ x: w.start_ms, y: w.quantiles[hname][q] })) })),
        { label: `${view.title}: ${hname} quantiles, ${region}`, yFormat: compact(units[hname]) });
      cards.push(card(`${view.title}: ${hname} p50 / p90 / p99 (from histogram buckets)`, { attrs: { "data-chart": `${name}-quantiles-${hname}`, "data-schema": name } }, box));
    });
    Object.keys(roles).filter(m => roles[m] === "total").forEach(m => {
      const box = h("div", {});
      Charts.line(box, [{ name: m, points: windows.map(w => ({ x: w.start_ms, y: w.sums[m] / (view.window_minutes || 1) })) }],
        { label: `${view.title}: ${m} per minute, ${region}`, yFormat: compact(units[m]) });
      cards.push(card(`${view.title}: ${withUnit(m, units[m])} per minute`, { attrs: { "data-chart": `${name}-sum-${m}`, "data-schema": name } }, box));
    });

    const dims = view.dimensions || [];
    const counters = Object.keys(roles).filter(m => roles[m] === "total" || roles[m] === "rate");
    const headers = [...dims, "events", "per min", ...counters.map(m => withUnit(m, units[m])), ...(view.rates || []).map(r => r + " %"),
      ...(view.histograms || []).flatMap(x => [x + " p50", x + " p99"])];
    const numeric = headers.map((_, i) => i >= dims.length);
    const rows = (view.top || []).map(r => [
      ...dims.map(d => dimText(r.dims[d])), num(r.events), num(r.per_minute, 1),
      ...counters.map(m => unitFormat(units[m])(r.sums[m])),
      ...(view.rates || []).map(x => pct(r.rates[x], 2)),
      ...(view.histograms || []).flatMap(x => [unitFormat(units[x])(r.quantiles[x].p50), unitFormat(units[x])(r.quantiles[x].p99)])]);
    const more = view.cell_count > rows.length ? h("div", { class: "more" }, `${num(view.cell_count - rows.length)} more cells (see /metrics)`) : null;
    cards.push(card(`${view.title}: top cells (last ${num(view.recent_minutes)} min)`, { wide: true, attrs: { "data-table": `${name}-cells`, "data-schema": name } },
      rows.length ? table(headers, rows, numeric) : empty("no cells yet"), more));
    return cards;
  }

  function schemasCard(region, entry) {
    const rows = Object.entries(entry.schemas || {}).map(([name, s]) => [name, num(s.windows), num(s.cells), num(s.events), s.last_window_end || "–"]);
    return card("Schemas", { attrs: { "data-table": "schemas" } },
      table(["schema", "windows", "cells", "events", "newest window end"], rows, [false, true, true, true, false]));
  }

  function renderRegion(name, entry) {
    const section = h("section", { class: "region", "data-region": name });
    const schemas = entry.schemas || {};
    const events = Object.values(schemas).reduce((a, s) => a + s.events, 0);
    const newest = Object.values(schemas).map(s => s.last_window_end).filter(Boolean).sort().pop();
    section.appendChild(h("h2", {}, `Region ${name}`, h("span", { class: "sub" },
      `${num(events)} events in ${Object.keys(schemas).length} schemas · newest window ends ${newest || "–"}`)));
    const grid = h("div", { class: "grid" });
    Object.keys(schemas).sort().forEach(schema => {
      if (schemas[schema].view) schemaCards(name, schema, schemas[schema].view).forEach(c => grid.appendChild(c));
    });
    grid.appendChild(schemasCard(name, entry));
    section.appendChild(grid);
    return section;
  }

  function renderTabs(regions) {
    const nav = $("regions");
    nav.textContent = "";
    ["all", ...regions].forEach(r => {
      const b = h("button", { type: "button" }, r === "all" ? "All regions" : r);
      b.setAttribute("aria-pressed", String(r === selected));
      b.addEventListener("click", () => { selected = r; location.hash = r; refresh(); });
      nav.appendChild(b);
    });
  }

  function renderHealth(c) {
    $("health-counts").replaceChildren(h("div", { class: "kpis" },
      h("div", { class: "kpi" }, h("div", { class: "v", "data-kpi": "accepted" }, num(c.accepted)), h("div", { class: "l" }, "accepted")),
      h("div", { class: "kpi" }, h("div", { class: "v" + (c.rejected_total ? " bad" : ""), "data-kpi": "rejected" }, num(c.rejected_total)), h("div", { class: "l" }, "rejected")),
      h("div", { class: "kpi" }, h("div", { class: "v" }, num(c.lag)), h("div", { class: "l" }, "consumer lag")),
      h("div", { class: "kpi" }, h("div", { class: "v" }, num(c.cells_retained)), h("div", { class: "l" }, "cells retained"))));
    const rej = Object.entries(c.rejected || {}).sort((a, b) => b[1] - a[1]);
    const guard = Object.entries(c.guard_hits || {});
    $("health-rejects").replaceChildren(rej.length
      ? table(["reason", "count"], rej.map(([k, v]) => [k + (k === "guard_hit" && guard.length ? ` (${guard.map(([d, n]) => d + " " + n).join(", ")})` : ""), num(v)]), [false, true])
      : empty("nothing rejected"));
    const ign = Object.entries(c.ignored || {});
    $("health-ignored").replaceChildren(ign.length ? table(["reason", "count"], ign.map(([k, v]) => [k, num(v)]), [false, true]) : empty("none"));
  }

  function render(data) {
    const regions = Object.keys(data.regions || {}).sort();
    if (selected !== "all" && !regions.includes(selected)) selected = "all";
    renderTabs(regions);
    const content = $("regions-content");
    const shown = regions.filter(r => selected === "all" || r === selected);
    content.replaceChildren(...(shown.length ? shown.map(r => renderRegion(r, data.regions[r]))
      : [empty("No aggregates yet. Regions publish a window once it closes (about a minute after it starts).")]));
    renderHealth(data.collector || {});
    const c = data.collector || {};
    const dot = h("span", { class: "dot " + (c.ready ? "ok" : "wait") });
    $("status").replaceChildren(dot, `${c.ready ? "consuming" : "waiting: " + (c.waiting_for || []).join(", ")} · ${regions.length} region(s) · updated ${data.generated_at.slice(11, 19)} UTC`);
    document.body.dataset.loaded = "1";
    document.body.dataset.regions = regions.join(",");
  }

  async function refresh() {
    try {
      // location.origin, not a relative URL: a page opened with user:password@ in its URL would
      // make fetch() refuse a URL that inherits the credentials (the browser's auth cache
      // still sends them)
      const res = await fetch(new URL("/api/summary", location.origin),
                              { cache: "no-store", credentials: "same-origin" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      render(await res.json());
      lastOk = Date.now();
    } catch (e) {
      const stale = lastOk ? ` (last update ${Math.round((Date.now() - lastOk) / 1000)} s ago)` : "";
      $("status").replaceChildren(h("span", { class: "dot down" }), "collector unreachable" + stale);
    }
  }

  $("refresh-s").textContent = String(REFRESH_MS / 1000);
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
