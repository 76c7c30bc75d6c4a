/* GridStream dashboard: a snapshot from /api/snapshot, then deltas by server-sent events. */
"use strict";

const SNSP_LIMIT = 75; // % — EirGrid's operational SNSP limit
const TZ = "Europe/Dublin";
const $ = (sel) => document.querySelector(sel);
const view = { region: "ALL", hours: 24, snap: null, seq: 0, source: null, dirty: false, connected: false };
const charts = {};

// ---------- helpers ----------
function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function fmtTime(ms) {
  if (!ms) return "–";
  return new Date(ms).toLocaleString("en-IE", { timeZone: TZ, day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit" });
}
function fmtNum(v, digits = 0) {
  return v == null || Number.isNaN(v) ? "–" : Number(v).toLocaleString("en-IE", { maximumFractionDigits: digits });
}
function toast(text, ok) {
  const t = $("#toast");
  t.textContent = text;
  t.className = "show " + (ok ? "ok" : "err");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.className = ""), 5000);
}
function seriesId(field) {
  return (field === "SNSP_ALL" ? "ALL" : view.region) + "/" + field;
}
function sinceMs() {
  const latest = view.snap && view.snap.latest_ms;
  return latest ? latest - view.hours * 3600e3 : 0;
}

// ---------- data: snapshot and deltas ----------
async function loadSnapshot() {
  const res = await fetch(`/api/snapshot?region=${encodeURIComponent(view.region)}`);
  if (!res.ok) throw new Error(`snapshot: HTTP ${res.status}`);
  view.snap = await res.json();
  view.seq = view.snap.seq;
  markDirty();
}

function connect() {
  if (view.source) view.source.close();
  const src = new EventSource(`/api/stream?since=${view.seq}`);
  view.source = src;
  src.onopen = () => { view.connected = true; renderMode(); };
  src.onerror = () => { view.connected = false; $("#conn").textContent = "reconnecting…"; $("#conn").className = "conn down"; };
  src.addEventListener("reset", async () => { await loadSnapshot(); connect(); });
  src.addEventListener("delta", (ev) => {
    const msg = JSON.parse(ev.data);
    for (const d of msg.deltas) applyDelta(d);
    view.seq = msg.seq;
    markDirty();
  });
}

function inRegion(series) { return series.split("/")[0] === view.region || series.startsWith("ALL/SNSP"); }

function applyDelta(d) {
  const s = view.snap;
  if (!s) return;
  let latest = s.latest_ms || 0;
  for (const r of d.reading || []) {
    latest = Math.max(latest, r.t);
    if (!inRegion(r.series)) continue;
    s.series[r.series] = { region: r.region, field: r.field, unit: r.unit };
    const pts = (s.readings[r.series] ||= []);
    const last = pts[pts.length - 1];
    if (last && last[0] === r.t) last[1] = r.v;
    else if (last && last[0] > r.t) { pts.length = 0; pts.push([r.t, r.v]); }
    else pts.push([r.t, r.v]);
    if (pts.length > 6000) pts.splice(0, pts.length - 6000);
  }
  s.latest_ms = latest || null;
  for (const f of d.forecast || []) {
    if (!inRegion(f.series)) continue;
    s.forecasts[f.series] = f;
    if (f.steps.length) {
      const band = (s.bands[f.series] ||= []);
      while (band.length && band[band.length - 1][0] >= f.steps[0][0]) band.pop();
      band.push(f.steps[0]);
    }
  }
  for (const a of d.anomaly || []) {
    if (inRegion(a.series)) (s.anomalies[a.series] ||= []).push(a);
  }
  for (const a of d.alert || []) upsert(s.alerts, a);
  for (const a of d.action || []) upsert(s.actions, a);
  for (const sc of d.schedule || []) s.schedules[sc.region] = sc;
  for (const m of d.model || []) s.models[m.series] = m;
  for (const x of d.dead_letter || []) {
    s.dead_letters.by_service[x.service] = (s.dead_letters.by_service[x.service] || 0) + 1;
  }
  if (d.pipeline && d.pipeline.length) s.pipeline = d.pipeline[d.pipeline.length - 1];
  if (d.mode && d.mode.length) s.mode = d.mode[d.mode.length - 1];
}

// ---------- what is shown: live, a replay (which day, how fast) or a simulation ----------
function renderMode() {
  const mode = (view.snap && view.snap.mode) || { source: null, label: "waiting for data" };
  const kind = mode.source === "live" ? "live" : mode.source === "simulate" ? "simulation" : mode.source ? "replay" : "";
  $("#mode").textContent = mode.label;
  $("#mode").className = "mode " + kind;
  document.title = `GridStream — Ireland's grid, ${mode.label}`;
  if (view.connected) {
    $("#conn").textContent = kind || "connected";
    $("#conn").className = "conn up " + kind;
  }
}

function upsert(list, item) {
  const i = list.findIndex((x) => x.id === item.id);
  if (i >= 0) list.splice(i, 1);
  list.unshift(item);
}

// ---------- charts ----------
function axisOpts(unit) {
  const stroke = "#8ea0b2", grid = { stroke: "#263443", width: 1 }, ticks = { stroke: "#263443" };
  return [
    { stroke, grid, ticks },
    { stroke, grid, ticks, label: unit, labelSize: 18, size: 56 },
  ];
}

function chartSize(el) {
  const w = Math.max(260, el.clientWidth);
  return { width: w, height: Math.max(180, Math.min(320, Math.round(w * 0.42))) };
}

function makeChart(key, el, series, unit, bands) {
  const opts = {
    ...chartSize(el),
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), TZ),
    scales: { x: { time: true } },
    axes: axisOpts(unit),
    series: [{}, ...series],
    bands: bands || [],
    legend: { live: true },
    cursor: { points: { size: 6 } },
  };
  const empty = [[], ...series.map(() => [])];
  el.innerHTML = "";
  charts[key] = new uPlot(opts, empty, el);
  new ResizeObserver(() => charts[key].setSize(chartSize(el))).observe(el);
}

function lineSeries(field) {
  const colour = { SYSTEM_DEMAND: "#4cc3ff", WIND_ACTUAL: "#7ee0b8", CO2_INTENSITY: "#c59bff", SNSP_ALL: "#f5b942" }[field] || "#4cc3ff";
  const markers = { label: "anomaly", stroke: "#ff5d5d", fill: "#ff5d5d", width: 0, paths: () => null, points: { show: true, size: 9, stroke: "#ff5d5d", fill: "#ff5d5d" } };
  const base = [
    { label: "actual", stroke: colour, width: 2, spanGaps: false, points: { show: false } },
    { label: "P10", stroke: "rgba(76,195,255,.35)", width: 1, spanGaps: true, points: { show: false } },
    { label: "P50", stroke: "#e6edf3", width: 1, dash: [6, 4], spanGaps: true, points: { show: false } },
    { label: "P90", stroke: "rgba(76,195,255,.35)", width: 1, spanGaps: true, points: { show: false } },
    markers,
  ];
  if (field === "SNSP_ALL") base.push({ label: "limit", stroke: "#ff5d5d", width: 1, dash: [3, 3], points: { show: false } });
  return base;
}

function seriesData(field) {
  const s = view.snap, id = seriesId(field), since = sinceMs();
  const actual = (s.readings[id] || []).filter((p) => p[0] >= since);
  const band = (s.bands[id] || []).filter((p) => p[0] >= since);
  const fc = s.forecasts[id];
  const future = fc ? fc.steps.filter((st) => !actual.length || st[0] > actual[actual.length - 1][0]) : [];
  const anomalies = (s.anomalies[id] || []).filter((a) => a.t >= since);
  // undefined: nothing at this x (the line goes on); null: a real gap in the readings. A series
  // read every 30 min (SNSP) thus draws a line across the 15-minute forecast grid.
  const rows = new Map();
  const row = (t) => { if (!rows.has(t)) rows.set(t, [undefined, undefined, undefined, undefined, undefined]); return rows.get(t); };
  const step = readingStep(actual);
  actual.forEach(([t, v], i) => {
    row(t)[0] = v;
    const next = actual[i + 1];
    if (next && next[0] - t > 1.5 * step && row(t + step)[0] === undefined) row(t + step)[0] = null;
  });
  const [lo, hi] = field === "SNSP_ALL" ? [0, 100] : [-Infinity, Infinity];
  const clamp = (v) => (v == null ? v : Math.min(hi, Math.max(lo, v)));
  for (const [t, p10, p50, p90] of [...band, ...future]) { const r = row(t); r[1] = clamp(p10); r[2] = clamp(p50); r[3] = clamp(p90); }
  for (const a of anomalies) row(a.t)[4] = a.v;
  const xs = [...rows.keys()].sort((a, b) => a - b);
  const cols = [xs.map((t) => t / 1e3)];
  for (let i = 0; i < 5; i++) cols.push(xs.map((t) => rows.get(t)[i]));
  if (field === "SNSP_ALL") cols.push(xs.map(() => SNSP_LIMIT));
  return { cols, last: actual.length ? actual[actual.length - 1] : null, hourAgo: valueBefore(actual, 3600e3), unit: s.series[id]?.unit };
}

// the most common spacing of a series' readings (15 min for most, 30 min for SNSP)
function readingStep(points) {
  const counts = new Map();
  for (let i = 1; i < points.length; i++) {
    const d = points[i][0] - points[i - 1][0];
    if (d > 0) counts.set(d, (counts.get(d) || 0) + 1);
  }
  let best = 900e3, n = 0;
  for (const [d, c] of counts) if (c > n) { best = d; n = c; }
  return best;
}

// the reading `ago` ms before the latest one (null when the history is shorter)
function valueBefore(points, ago) {
  if (!points.length) return null;
  const target = points[points.length - 1][0] - ago;
  for (let i = points.length - 1; i >= 0; i--) if (points[i][0] <= target) return points[i][0] >= target - ago / 2 ? points[i][1] : null;
  return null;
}

function renderTile(field, last, hourAgo) {
  const tile = document.querySelector(`.tile[data-field="${field}"]`);
  if (!tile) return;
  const digits = field === "SNSP_ALL" ? 1 : 0;
  tile.querySelector(".v").textContent = fmtNum(last && last[1], digits);
  const delta = tile.querySelector(".d");
  if (!last || hourAgo == null) { delta.textContent = ""; delta.className = "d"; return; }
  const change = last[1] - hourAgo;
  const arrow = change > 0 ? "▲" : change < 0 ? "▼" : "■";
  delta.textContent = `${arrow} ${fmtNum(Math.abs(change), digits)} in 1 h`;
  delta.className = "d " + (change > 0 ? "up" : change < 0 ? "down" : "flat");
}

function renderSeriesCharts() {
  document.querySelectorAll(".chart[data-chart]").forEach((el) => {
    const field = el.dataset.chart;
    if (!charts[field]) makeChart(field, el, lineSeries(field), "", [{ series: [4, 2], fill: "rgba(76,195,255,0.18)" }]);
    const { cols, last, hourAgo } = seriesData(field);
    charts[field].setData(cols);
    el.dataset.points = String(cols[0].length);
    el.dataset.actual = String(cols[1].filter((v) => v != null).length);
    el.dataset.band = String(cols[2].filter((v) => v != null).length);
    el.dataset.dataTime = last ? String(last[0]) : "";
    renderTile(field, last, hourAgo);
  });
  const m = view.snap.models[seriesId("SYSTEM_DEMAND")];
  const fc = view.snap.forecasts[seriesId("SYSTEM_DEMAND")];
  $("#model-note").textContent = fc
    ? `Forecast ${fmtTime(fc.issued)} by ${fc.kind} ${fc.model}` + (m && m.metrics.mae != null ? ` · backtest MAE ${fmtNum(m.metrics.mae)} MW` : "")
    : "Waiting for the first forecast (the trainer bootstraps a model from history).";
}

function renderStorage() {
  const el = $("#chart-storage");
  if (!charts.storage) {
    makeChart("storage", el, [
      { label: "SoC MWh", stroke: "#7ee0b8", width: 2, fill: "rgba(126,224,184,.12)" },
      { label: "charge MW", stroke: "#4cc3ff", width: 1, paths: uPlot.paths.stepped({ align: 1 }) },
      { label: "discharge MW", stroke: "#f5b942", width: 1, paths: uPlot.paths.stepped({ align: 1 }) },
    ], "MWh / MW");
  }
  const sc = view.snap.schedules[view.region] || Object.values(view.snap.schedules)[0];
  if (!sc) { $("#sched-meta").textContent = "no schedule yet"; charts.storage.setData([[], [], [], []]); return; }
  $("#sched-meta").textContent = `${sc.region} · ${sc.objective} · ${sc.fallback ? "fallback: " + sc.reason : sc.status} · ${fmtNum(sc.solve_ms, 1)} ms`;
  const st = sc.steps;
  el.dataset.dataTime = String(sc.issued);
  el.dataset.charge = String(st.filter((x) => x[1] > 0.05).length);
  el.dataset.discharge = String(st.filter((x) => x[2] > 0.05).length);
  charts.storage.setData([st.map((x) => x[0] / 1e3), st.map((x) => x[3]), st.map((x) => x[1]), st.map((x) => x[2])]);
  el.dataset.points = String(st.length);
}

// ---------- tables: grouped, collapsed and paged for people ----------
const PAGE = 10;
const SEV_RANK = { critical: 0, warning: 1, info: 2 };
view.pages = {};
view.open = {};
view.showHeld = false;

function page(key, rows) {
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const at = Math.min(view.pages[key] || 0, pages - 1);
  view.pages[key] = at;
  return { rows: rows.slice(at * PAGE, (at + 1) * PAGE), at, pages };
}
function pager(key, p, total, cols) {
  if (p.pages <= 1) return "";
  const from = p.at * PAGE + 1, to = Math.min(total, (p.at + 1) * PAGE);
  return `<tr class="pager" data-pager="${esc(key)}"><td colspan="${cols}">
    <button class="page-prev" data-page="${esc(key)}" ${p.at ? "" : "disabled"}>‹</button>
    ${from}–${to} of ${total}
    <button class="page-next" data-page="${esc(key)}" ${p.at + 1 < p.pages ? "" : "disabled"}>›</button></td></tr>`;
}
function alertState(a) { return a.state === "firing" && a.silenced ? "silenced" : a.state; }

function alertRow(a, cls = "") {
  const where = [a.labels.region, a.labels.field || a.labels.service].filter(Boolean).join(" / ");
  const flags = [a.state, a.silenced ? "silenced" : "", a.acknowledged ? `ack by ${a.acknowledged_by}` : ""].filter(Boolean).join(" · ");
  return `<tr class="${cls}" data-alert-id="${esc(a.id)}">
      <td><span class="sev ${esc(a.severity)}">${esc(a.severity)}</span></td>
      <td><b>${esc(a.name)}</b><br><span class="muted">${esc(a.summary)}</span></td>
      <td>${esc(where)}</td><td>${fmtTime(a.starts)}</td><td class="state">${esc(flags)}</td>
      <td class="actions"><button class="ack" data-id="${esc(a.id)}" ${a.acknowledged ? "disabled" : ""}>Ack</button><button class="silence" data-id="${esc(a.id)}" ${a.silenced ? "disabled" : ""}>Silence 1 h</button></td>
    </tr>`;
}

function renderAlerts() {
  const all = view.snap.alerts;
  const counts = {};
  for (const a of all) counts[alertState(a)] = (counts[alertState(a)] || 0) + 1;
  $("#alert-count").textContent = ["firing", "pending", "silenced", "resolved"]
    .filter((k) => counts[k]).map((k) => `${fmtNum(counts[k])} ${k}`).join(" · ");
  const active = all.filter((a) => a.state !== "resolved");
  $("#alerts-empty").style.display = active.length ? "none" : "";
  const groups = new Map();
  for (const a of active) {
    if (!groups.has(a.name)) groups.set(a.name, []);
    groups.get(a.name).push(a);
  }
  const ordered = [...groups.entries()].sort(([, x], [, y]) =>
    (SEV_RANK[x[0].severity] ?? 3) - (SEV_RANK[y[0].severity] ?? 3) || y.length - x.length);
  const html = [];
  for (const [name, alerts] of ordered) {
    if (alerts.length === 1) { html.push(alertRow(alerts[0])); continue; }
    const states = {};
    for (const a of alerts) states[alertState(a)] = (states[alertState(a)] || 0) + 1;
    const where = new Set(alerts.map((a) => a.labels.series || [a.labels.region, a.labels.field].filter(Boolean).join("/")));
    const open = Boolean(view.open[name]);
    html.push(`<tr class="group" data-group="${esc(name)}">
      <td><span class="sev ${esc(alerts[0].severity)}">${esc(alerts[0].severity)}</span></td>
      <td><b>${esc(name)}</b> <span class="count">×${alerts.length}</span><br><span class="muted">${esc(alerts[0].summary)}</span></td>
      <td>${where.size === 1 ? esc([...where][0]) : `${where.size} series`}</td>
      <td>${fmtTime(Math.min(...alerts.map((a) => a.starts)))}</td>
      <td class="state">${Object.entries(states).map(([k, n]) => `${n} ${esc(k)}`).join(" · ")}</td>
      <td class="actions"><button class="expand" data-group="${esc(name)}">${open ? "Hide" : "Show"} ${alerts.length}</button></td></tr>`);
    if (open) {
      const p = page(`alerts:${name}`, alerts);
      html.push(...p.rows.map((a) => alertRow(a, "member")), pager(`alerts:${name}`, p, alerts.length, 6));
    }
  }
  $("#alerts tbody").innerHTML = html.join("");
}

const KIND = { storage_charge: "Charge batteries", storage_discharge: "Discharge batteries", interconnector_import: "Import", interconnector_export: "Export", wind_curtail: "Curtail wind", demand_response: "Demand response", hold: "Hold" };
const isHeld = (a) => a.kind === "hold" || a.approval === "expired";

function actionRow(a, cls = "") {
  return `<tr class="${cls}" data-action-id="${esc(a.id)}">
      <td><b>${esc(KIND[a.kind] || a.kind)}</b><br><span class="muted">${esc(a.mode)}</span></td>
      <td>${fmtNum(a.mw)}</td><td>${esc(a.region)}</td><td>${fmtTime(a.from)}–${fmtTime(a.until).split(", ").pop()}</td>
      <td>${esc(a.reason)}</td><td class="state">${esc(a.approval)}${a.decided_by ? `<br><span class="muted">${esc(a.decided_by)}</span>` : ""}</td>
      <td class="actions">${a.approval === "proposed" ? `<button class="approve primary" data-id="${esc(a.id)}">Approve</button><button class="reject danger" data-id="${esc(a.id)}">Reject</button>` : ""}</td>
    </tr>`;
}

function renderActions() {
  const acts = view.snap.actions;
  $("#actions-empty").style.display = acts.length ? "none" : "";
  const main = acts.filter((a) => !isHeld(a)), held = acts.filter(isHeld);
  const p = page("actions", main);
  const html = [...p.rows.map((a) => actionRow(a)), pager("actions", p, main.length, 7)];
  if (held.length) {
    html.push(`<tr class="collapsed" id="held-row"><td colspan="7"><span class="count">${fmtNum(held.length)}</span> held or expired
      <button class="toggle-held">${view.showHeld ? "Hide" : "Show"}</button></td></tr>`);
    if (view.showHeld) {
      const q = page("held", held);
      html.push(...q.rows.map((a) => actionRow(a, "member")), pager("held", q, held.length, 7));
    }
  }
  $("#actions tbody").innerHTML = html.join("");
}

document.addEventListener("click", (ev) => {
  const t = ev.target.closest("button.expand, button.toggle-held, button.page-prev, button.page-next");
  if (!t) return;
  if (t.classList.contains("expand")) view.open[t.dataset.group] = !view.open[t.dataset.group];
  else if (t.classList.contains("toggle-held")) view.showHeld = !view.showHeld;
  else view.pages[t.dataset.page] = (view.pages[t.dataset.page] || 0) + (t.classList.contains("page-next") ? 1 : -1);
  render();
});

function renderPipeline() {
  const dl = view.snap.dead_letters.by_service;
  const total = Object.values(dl).reduce((a, b) => a + b, 0);
  $("#dlq-total").textContent = `${fmtNum(total)} dead letters on the topic window`;
  $("#pipeline tbody").innerHTML = (view.snap.pipeline || []).map((p) => `<tr data-service="${esc(p.name)}">
      <td>${esc(p.name)}</td><td><span class="dot ${p.ready ? "ok" : ""}" title="${p.ready ? "ready" : "not ready"}"></span></td>
      <td>${p.lag == null ? "–" : fmtNum(p.lag)}</td><td>${p.records_per_s == null ? "–" : fmtNum(p.records_per_s, 1)}</td>
      <td>${fmtNum(Math.max(p.dead_letters || 0, dl[p.name] || 0))}</td><td class="muted">${esc(p.detail)}</td></tr>`).join("");
}

function render() {
  view.dirty = false;
  if (!view.snap) return;
  $("#datatime").textContent = fmtTime(view.snap.latest_ms);
  renderMode();
  renderSeriesCharts();
  renderStorage();
  renderAlerts();
  renderActions();
  renderPipeline();
  document.body.dataset.seq = String(view.seq);
}

function markDirty() {
  if (view.dirty) return;
  view.dirty = true;
  setTimeout(() => requestAnimationFrame(render), 300);
}

// ---------- controls (proxied by the dashboard, token forwarded) ----------
async function control(path, body) {
  const token = $("#token").value.trim();
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    const res = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    if (res.ok) { toast("Done: " + (data.detail || path.split("/").pop()), true); return true; }
    const why = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || data);
    toast(`Refused (${res.status}): ${why}`, false);
  } catch (e) {
    toast("Request failed: " + e, false);
  }
  return false;
}

document.addEventListener("click", async (ev) => {
  const b = ev.target.closest("button[data-id]");
  if (!b) return;
  const id = b.dataset.id, by = $("#operator").value.trim() || "operator";
  const enc = encodeURIComponent(id);
  if (b.classList.contains("approve")) await control(`/api/actions/${enc}/approve`, { by });
  else if (b.classList.contains("reject")) await control(`/api/actions/${enc}/reject`, { by });
  else if (b.classList.contains("ack")) await control(`/api/alerts/${enc}/ack`, { by });
  else if (b.classList.contains("silence")) {
    const alert = view.snap.alerts.find((a) => a.id === id);
    // duration, not wall-clock times: the alert engine runs on data time (replays are in the past)
    const ok = await control("/api/silences", {
      matchers: alert ? alert.labels : {}, duration: "1h", created_by: by,
      comment: `silenced from the dashboard (alert ${id})`,
    });
    if (ok && alert) { alert.silenced = true; markDirty(); }
  }
});

$("#region").addEventListener("change", async (e) => { view.region = e.target.value; await loadSnapshot(); connect(); });
$("#range").addEventListener("change", (e) => { view.hours = Number(e.target.value); markDirty(); });
$("#snsp-limit").textContent = SNSP_LIMIT;

(async function start() {
  try { await loadSnapshot(); } catch (e) { toast(String(e), false); }
  connect();
})();
