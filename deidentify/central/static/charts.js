/* Small hand-written SVG charts for the deidentify dashboard (no library, no network).
 * Every label is inserted with textContent, never as HTML. */
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#0f766e", "#2563eb", "#c2410c", "#7c3aed", "#b45309", "#be185d",
                   "#15803d", "#475569"];

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, value, attrs) {
    const t = el("text", Object.assign({ x, y }, attrs || {}), parent);
    t.textContent = value;
    return t;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  /* 4 or 5 intervals so that every tick is a round number */
  function tickCount(max) {
    const m = max / Math.pow(10, Math.floor(Math.log10(max)));
    return (Math.abs(m - 1) < 1e-9 || Math.abs(m - 2) < 1e-9) ? 4 : 5;
  }

  function timeLabel(ms) {
    const d = new Date(ms);
    return String(d.getUTCHours()).padStart(2, "0") + ":" + String(d.getUTCMinutes()).padStart(2, "0");
  }

  function svgRoot(container, width, height, label) {
    container.textContent = "";
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
                            "aria-label": label });
    container.appendChild(svg);
    return svg;
  }

  function legend(container, names) {
    const box = document.createElement("div");
    box.className = "legend";
    names.forEach((name, i) => {
      const s = document.createElement("span");
      const sw = document.createElement("i");
      sw.style.background = PALETTE[i % PALETTE.length];
      const c = document.createElement("code");
      c.textContent = name;
      s.append(sw, c);
      box.appendChild(s);
    });
    container.appendChild(box);
  }

  /* series: [{name, points: [{x: ms, y: number}]}] */
  function line(container, series, opts) {
    opts = opts || {};
    const W = 560, H = 220, L = 48, R = 22, T = 10, B = 26;
    const svg = svgRoot(container, W, H, opts.label || "line chart");
    const xs = [], ys = [];
    series.forEach(s => s.points.forEach(p => { xs.push(p.x); ys.push(p.y); }));
    if (!xs.length) { text(svg, W / 2, H / 2, "no data yet", { "text-anchor": "middle" }); return; }
    let x0 = Math.min(...xs), x1 = Math.max(...xs);
    if (x0 === x1) { x0 -= 60000; x1 += 60000; }
    const yMax = opts.yMax != null ? opts.yMax : niceMax(Math.max(...ys) * 1.1);
    const sx = x => L + (x - x0) / (x1 - x0) * (W - L - R);
    const sy = y => T + (1 - y / yMax) * (H - T - B);
    const grid = el("g", { class: "grid" }, svg);
    const fmt = opts.yFormat || (v => String(v));
    const n = tickCount(yMax);
    for (let i = 0; i <= n; i++) {
      const v = yMax * i / n, y = sy(v);
      el("line", { x1: L, x2: W - R, y1: y, y2: y }, grid);
      text(svg, L - 6, y + 4, fmt(v), { "text-anchor": "end" });
    }
    const ticks = Math.min(6, new Set(xs).size);
    for (let i = 0; i < ticks; i++) {
      const x = x0 + (x1 - x0) * (ticks === 1 ? 0.5 : i / (ticks - 1));
      text(svg, sx(x), H - 8, timeLabel(x), { "text-anchor": "middle" });
    }
    const axis = el("g", { class: "axis" }, svg);
    el("line", { x1: L, x2: W - R, y1: sy(0), y2: sy(0) }, axis);
    series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length];
      const pts = s.points.slice().sort((a, b) => a.x - b.x);
      if (pts.length > 1) {
        el("polyline", { points: pts.map(p => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" "),
                         fill: "none", stroke: color, "stroke-width": 2,
                         "stroke-linejoin": "round" }, svg);
      }
      pts.forEach(p => {
        const c = el("circle", { cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 2.6, fill: color }, svg);
        const title = el("title", {}, c);
        title.textContent = `${s.name} @ ${timeLabel(p.x)}: ${fmt(p.y)}`;
      });
    });
    legend(container, series.map(s => s.name));
  }

  /* rows: [{label, value, text, color}] horizontal bars, value in [0, max] */
  function hbars(container, rows, opts) {
    opts = opts || {};
    const W = 560, rowH = 24, L = opts.labelWidth || 190, R = 130, T = 4;
    const H = T * 2 + Math.max(1, rows.length) * rowH;
    const svg = svgRoot(container, W, H, opts.label || "bar chart");
    if (!rows.length) { text(svg, W / 2, H / 2 + 4, "no data yet", { "text-anchor": "middle" }); return; }
    const max = opts.max != null ? opts.max : Math.max(...rows.map(r => r.value), 1e-9);
    rows.forEach((r, i) => {
      const y = T + i * rowH;
      const w = Math.max(1, (W - L - R) * (r.value / max));
      text(svg, L - 6, y + 16, clip(r.label, 30), { "text-anchor": "end", class: "bar-label" });
      const bar = el("rect", { x: L, y: y + 4, width: w.toFixed(1), height: rowH - 8, rx: 3,
                               fill: r.color || PALETTE[0] }, svg);
      el("title", {}, bar).textContent = `${r.label}: ${r.text}`;
      text(svg, L + w + 6, y + 16, r.text, {});
    });
  }

  /* rows: [{label, values: [..]}], names: series names, grouped horizontal bars */
  function groupedBars(container, rows, names, opts) {
    opts = opts || {};
    const W = 560, groupH = 13 * names.length + 14, L = opts.labelWidth || 220, R = 70, T = 4;
    const H = T * 2 + Math.max(1, rows.length) * groupH;
    const svg = svgRoot(container, W, H, opts.label || "grouped bar chart");
    if (!rows.length) { text(svg, W / 2, H / 2 + 4, "no data yet", { "text-anchor": "middle" }); return; }
    const all = rows.flatMap(r => r.values.filter(v => v != null));
    const fmt = opts.format || (v => String(v));
    // log scale (latencies span 1 ms .. 10 s): bar length ~ log10(1 + v)
    const scale = opts.log ? (v => Math.log10(1 + v)) : (v => v);
    const max = opts.log ? scale(Math.max(...all, 1)) : niceMax(Math.max(...all, 1e-9));
    rows.forEach((r, i) => {
      const y = T + i * groupH;
      text(svg, L - 6, y + groupH / 2 + 3, clip(r.label, 36), { "text-anchor": "end", class: "bar-label" });
      r.values.forEach((v, j) => {
        if (v == null) return;
        const w = Math.max(1, (W - L - R) * scale(v) / max);
        const bar = el("rect", { x: L, y: y + 6 + j * 13, width: w.toFixed(1), height: 10, rx: 2,
                                 fill: PALETTE[(j + 1) % PALETTE.length] }, svg);
        el("title", {}, bar).textContent = `${r.label} ${names[j]}: ${fmt(v)}`;
        text(svg, L + w + 4, y + 15 + j * 13, fmt(v), { "font-size": 10 });
      });
    });
    const box = document.createElement("div");
    box.className = "legend";
    names.forEach((n, j) => {
      const s = document.createElement("span");
      const sw = document.createElement("i");
      sw.style.background = PALETTE[(j + 1) % PALETTE.length];
      s.append(sw, document.createTextNode(n));
      box.appendChild(s);
    });
    container.appendChild(box);
  }

  function clip(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + "…" : s; }

  return { line, hbars, groupedBars, PALETTE };
})();
