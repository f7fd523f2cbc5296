/* deidentify central dashboard: fetches /api/summary every few seconds and draws it.
 * All values are inserted as text; nothing from the API is ever parsed as HTML. */
"use strict";

(() => {
  const REFRESH_MS = 3000;
  // ISO 4217 minor-unit exponents that are not 2 (display only; amounts stay integers).
  const EXPONENT = { BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0,
    RWF: 0, UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0, BHD: 3, IQD: 3, JOD: 3,
    KWD: 3, LYD: 3, OMR: 3, TND: 3, CLF: 4, UYW: 4 };
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
  function money(minor, currency) {
    if (currency === "__other__") return num(minor) + " (minor units, other currencies)";
    const e = EXPONENT[currency] != null ? EXPONENT[currency] : 2;
    return (minor / Math.pow(10, e)).toLocaleString("en-US", { minimumFractionDigits: e, maximumFractionDigits: e }) + " " + currency;
  }

  const OTHER = "__other__";
  const label = (method, route) => method === OTHER && route === OTHER ? "other (rolled up)" : `${method} ${route}`;

  function table(headers, rows, numeric) {
    const thead = h("thead", {}, h("tr", {}, ...headers.map((t, i) => h("th", { class: numeric[i] ? "num" : "" }, t))));
    const tbody = h("tbody", {}, ...rows.map(r => h("tr", {}, ...r.map((c, i) => {
      if (c instanceof Node) return h("td", { class: numeric[i] ? "num" : "" }, c);
      return h("td", { class: (numeric[i] ? "num" : "") + (i === 1 && headers[1] === "route" ? " route" : "") }, c);
    }))));
    return h("table", {}, thead, tbody);
  }

  function card(title, opts, ...children) {
    return h("div", Object.assign({ class: "card" + (opts && opts.wide ? " wide" : "") }, opts && opts.attrs || {}),
      h("h3", {}, title), ...children);
  }
  const empty = text => h("div", { class: "empty" }, text);

  function httpCards(region, http) {
    const cards = [];
    const windows = http.windows || [];
    const last = windows[windows.length - 1];
    const recent = windows.slice(-5);
    const req = recent.reduce((a, w) => a + w.requests, 0);
    const err = recent.reduce((a, w) => a + w.errors, 0);
    const kpis = h("div", { class: "kpis" },
      h("div", { class: "kpi" }, h("div", { class: "v", "data-kpi": "rps" }, last ? num(last.rps, 1) : "–"), h("div", { class: "l" }, "req/s, last window")),
      h("div", { class: "kpi" }, h("div", { class: "v" + (err / Math.max(req, 1) > 0.01 ? " bad" : "") }, pct(req ? err / req : 0, 2)), h("div", { class: "l" }, "5xx rate, last 5 windows")),
      h("div", { class: "kpi" }, h("div", { class: "v" }, last ? ms(last.p99) : "–"), h("div", { class: "l" }, "p99 latency, last window")),
      h("div", { class: "kpi" }, h("div", { class: "v" }, num(http.route_count)), h("div", { class: "l" }, "routes")));

    const series = Object.entries(http.series || {});
    const rateBox = h("div", {});
    Charts.line(rateBox, series.map(([name, pts]) => ({ name: name === OTHER + " " + OTHER ? "other (rolled up)" : name, points: pts.map(p => ({ x: p.start_ms, y: p.rps })) })),
      { label: `request rate by route, ${region}`, yFormat: v => num(v, v < 10 && v % 1 ? 2 : 0) });
    cards.push(card("Request rate by route (req/s)", { attrs: { "data-chart": "request-rate" } }, kpis, rateBox));

    const errBox = h("div", {});
    Charts.line(errBox, series.map(([name, pts]) => ({ name: name === OTHER + " " + OTHER ? "other (rolled up)" : name, points: pts.map(p => ({ x: p.start_ms, y: p.error_rate * 100 })) })),
      { label: `error rate by route, ${region}`, yFormat: v => num(v, v % 1 ? 1 : 0) + "%" });
    cards.push(card("Error rate by route (5xx %)", { attrs: { "data-chart": "error-rate" } }, errBox));

    const latBox = h("div", {});
    const routes = http.routes || [];
    Charts.groupedBars(latBox, routes.slice(0, 6).map(r => ({ label: label(r.method, r.route), values: [r.p50, r.p90, r.p99] })),
      ["p50", "p90", "p99"], { label: `latency percentiles by route, ${region}`, format: v => ms(v), log: true });
    cards.push(card(`Latency percentiles by route (log scale, from histogram buckets, last ${num(http.recent_minutes)} min)`, { attrs: { "data-chart": "latency" } }, latBox));

    const rows = routes.map(r => [r.method, r.route, num(r.rpm, 1), num(r.requests),
      h("span", { class: r.error_rate > 0.01 ? "bad" : "" }, pct(r.error_rate, 2)), ms(r.p50), ms(r.p99)]);
    cards.push(card(`Routes (last ${num(http.recent_minutes)} min)`, { attrs: { "data-table": "routes" } },
      rows.length ? table(["method", "route", "req/min", "requests", "5xx", "p50", "p99"], rows,
        [false, false, true, true, true, true, true]) : empty("no routes yet")));
    return cards;
  }

  function billingCards(region, billing) {
    const totals = billing.totals || [];
    const byCurrency = {};
    totals.forEach(t => { byCurrency[t.currency] = Math.max(byCurrency[t.currency] || 0, t.amount_minor); });
    const barsBox = h("div", {});
    const top = totals.slice().sort((a, b) => b.amount_minor / Math.pow(10, EXPONENT[b.currency] ?? 2) - a.amount_minor / Math.pow(10, EXPONENT[a.currency] ?? 2)).slice(0, 12);
    const currencies = [...new Set(top.map(t => t.currency))];
    Charts.hbars(barsBox, top.map(t => ({
      label: `${t.tenant} · ${t.currency}`, value: t.amount_minor / (byCurrency[t.currency] || 1),
      text: money(t.amount_minor, t.currency),
      color: Charts.PALETTE[currencies.indexOf(t.currency) % Charts.PALETTE.length] })),
      { max: 1, label: `billing totals by tenant and currency, ${region}` });
    const rows = totals.slice(0, 15).map(t => [t.tenant, t.currency, num(t.charges), money(t.amount_minor, t.currency)]);
    const more = billing.pairs > rows.length ? h("div", { class: "more" }, `${num(billing.pairs - rows.length)} more tenant/currency pairs (see /metrics)`) : null;
    return [
      card(`Billing totals by tenant and currency (last ${num(billing.minutes)} min; bars scaled per currency)`, { attrs: { "data-chart": "billing" } }, barsBox),
      card("Billing totals", { attrs: { "data-table": "billing" } },
        rows.length ? table(["tenant", "currency", "charges", "amount"], rows, [false, false, true, true]) : empty("no billing totals yet"), more),
    ];
  }

  function webhookCards(region, webhooks) {
    const hosts = webhooks.hosts || [];
    const box = h("div", {});
    Charts.hbars(box, hosts.slice(0, 10).map(r => ({
      label: r.host, value: r.success_rate == null ? 0 : r.success_rate, text: pct(r.success_rate, 1),
      color: r.success_rate == null ? "#94a3b8" : r.success_rate >= 0.95 ? "#15803d" : r.success_rate >= 0.8 ? "#b45309" : "#c2410c" })),
      { max: 1, label: `webhook success rate by host, ${region}` });
    const trend = h("div", {});
    Charts.line(trend, [{ name: "all hosts", points: (webhooks.windows || []).filter(w => w.success_rate != null).map(w => ({ x: w.start_ms, y: w.success_rate * 100 })) }],
      { label: `webhook success rate over time, ${region}`, yMax: 100, yFormat: v => num(v, 0) + "%" });
    const rows = hosts.map(r => [r.host, num(r.attempts), num(r.successes), num(r.failures),
      h("span", { class: r.success_rate != null && r.success_rate < 0.9 ? "bad" : "good" }, pct(r.success_rate, 1)), ms(r.p50), ms(r.p99)]);
    return [
      card(`Webhook success rate by host (last ${num(webhooks.recent_minutes)} min)`, { attrs: { "data-chart": "webhooks" } }, box, trend),
      card("Webhook deliveries", { attrs: { "data-table": "webhooks" } },
        rows.length ? table(["host", "attempts", "ok", "failed", "success", "p50", "p99"], rows, [false, true, true, true, true, true, true]) : empty("no webhook deliveries yet")),
    ];
  }

  function otherSchemasCard(region, entry) {
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
    if (entry.http) httpCards(name, entry.http).forEach(c => grid.appendChild(c));
    if (entry.billing) billingCards(name, entry.billing).forEach(c => grid.appendChild(c));
    if (entry.webhooks) webhookCards(name, entry.webhooks).forEach(c => grid.appendChild(c));
    grid.appendChild(otherSchemasCard(name, entry));
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
