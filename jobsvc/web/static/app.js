// The jobsvc dashboard: plain JavaScript over the public API (Connect protocol, JSON), no
// build step and nothing loaded from elsewhere. Pages are hash routes: #/ (overview),
// #/jobs?state=&handler= (jobs), #/jobs/<id> (one job), #/schedules, #/handlers,
// #/workflows, #/workflows/<id> (one workflow's graph), #/workers.
"use strict";

const STATES = ["QUEUED", "WAITING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
const PAGE_SIZE = 25;
const session = { token: sessionStorage.getItem("jobsvc-token") || "", canAct: null, refresh: null, stream: null };

// ---- the API ----------------------------------------------------------------------

class ApiError extends Error {
  constructor(code, message, details) { super(message); this.code = code; this.details = details || []; }
}

function headers(contentType) {
  const h = { "Content-Type": contentType, "Connect-Protocol-Version": "1" };
  if (session.token) h.Authorization = "Bearer " + session.token;
  return h;
}

async function api(service, method, body) {
  const response = await fetch(`/jobsvc.v1.${service}/${method}`, {
    method: "POST", headers: headers("application/json"), body: JSON.stringify(body || {}),
  });
  const text = await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch (e) { throw new ApiError("unknown", `HTTP ${response.status}: ${text}`); }
  if (!response.ok) {
    const error = new ApiError(data.code || "unknown", data.message || `HTTP ${response.status}`, data.details);
    if (error.code === "unauthenticated") { await askToken(error.message); return api(service, method, body); }
    throw error;
  }
  return data;
}

// Stream a job's events (Connect server streaming: 5-byte envelopes) until it ends or `signal` aborts.
async function streamEvents(jobId, afterSequence, onEvent, signal) {
  const request = new TextEncoder().encode(JSON.stringify({ jobId, afterSequence: String(afterSequence) }));
  const body = new Uint8Array(5 + request.length);
  new DataView(body.buffer).setUint32(1, request.length);
  body.set(request, 5);
  const response = await fetch("/jobsvc.v1.StreamService/Stream", {
    method: "POST", headers: headers("application/connect+json"), body, signal,
  });
  const reader = response.body.getReader();
  let buffer = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const joined = new Uint8Array(buffer.length + value.length);
    joined.set(buffer); joined.set(value, buffer.length); buffer = joined;
    while (buffer.length >= 5) {
      const view = new DataView(buffer.buffer, buffer.byteOffset);
      const flags = view.getUint8(0), length = view.getUint32(1);
      if (buffer.length < 5 + length) break;
      const message = JSON.parse(new TextDecoder().decode(buffer.subarray(5, 5 + length)));
      buffer = buffer.slice(5 + length);
      if (flags & 2) {
        if (message.error) throw new ApiError(message.error.code, message.error.message, message.error.details);
        return;
      }
      onEvent(message.event);
    }
  }
}

function askToken(reason) {
  const dialog = document.getElementById("token-dialog");
  document.getElementById("token-error").textContent = session.token ? reason : "";
  return new Promise((resolve) => {
    document.getElementById("token-form").onsubmit = () => {
      session.token = document.getElementById("token-input").value.trim();
      sessionStorage.setItem("jobsvc-token", session.token);
      session.canAct = null;
      resolve();
    };
    if (!dialog.open) dialog.showModal();
  });
}

// Whether this token may act (cancel, redrive, pause): CancelJob without an id is refused
// before anything happens, PERMISSION_DENIED without the admin scope, INVALID_ARGUMENT with it.
async function canAct() {
  if (session.canAct === null) {
    try { await api("JobService", "CancelJob", {}); session.canAct = true; } catch (e) {
      session.canAct = e.code !== "permission_denied";
    }
    document.getElementById("who").textContent = session.token
      ? (session.canAct ? "token: may act" : "token: read-only (buttons disabled)") : "";
  }
  return session.canAct;
}

// ---- small DOM helpers ------------------------------------------------------------

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A time in the browser's time zone; its UTC value shows on hover (showUtc).
function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  return h("time", { datetime: iso, "data-utc": utcText(date) }, date.toLocaleString());
}

const utcText = (date) => date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");

// The UTC value of the time under the pointer, in one tooltip (#tooltip) placed below it.
function showUtc(event) {
  const anchor = event.target.closest?.("time[data-utc]");
  if (!anchor) return;
  const tip = document.getElementById("tooltip");
  const box = anchor.getBoundingClientRect();
  tip.textContent = anchor.dataset.utc;
  tip.style.left = `${box.left + window.scrollX}px`;
  tip.style.top = `${box.bottom + window.scrollY + 4}px`;
  tip.hidden = false;
  anchor.setAttribute("aria-describedby", "tooltip");
}

function hideUtc(event) {
  if (event && !event.target.closest?.("time[data-utc]")) return;
  document.getElementById("tooltip").hidden = true;
}

function age(seconds) {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

const stateName = (state) => (state || "").replace("JOB_STATE_", "");
const stateBadge = (state) => h("span", { class: `state state-${stateName(state)}`, "data-state": stateName(state) }, stateName(state));
const payload = (p) => (p === undefined ? "" : JSON.stringify(p.json !== undefined ? p.json : p, null, 2));
const seconds = (duration) => parseFloat((duration || "0s").replace("s", ""));

// ---- tables: refreshed in place, and driven by the keyboard ---------------------------
//
// Every table body is filled by fillRows. A row that links somewhere (its first link) is
// "openable": one row of each table is in the tab order (the last one used, else the
// first), the arrow keys, Home and End move between rows, Enter opens the focused row.
// Other controls in a row (buttons, checkboxes, further links) keep their own tab stops.

const rowKey = (row) => (row ? [...row.attributes].filter((a) => a.name.startsWith("data-")).map((a) => `${a.name}=${a.value}`).join("&") : "");

function fillRows(body, rows) {
  const old = [...body.children];
  const drawn = rows.map((r) => r.outerHTML);
  // Unchanged since the last refresh: leave the DOM alone (focus, hover, selection stay).
  if (old.length === rows.length && old.every((r, i) => r.drawn === drawn[i])) return;
  const had = body.contains(document.activeElement) ? rowKey(document.activeElement.closest("tr")) : null;
  const current = body.dataset.current || "";
  rows.forEach((r, i) => {
    r.drawn = drawn[i];
    const link = r.querySelector("a[href]");
    if (!link) return;
    r.tabIndex = -1;
    r.classList.add("openable");
    link.tabIndex = -1;  // the row itself is the tab stop; Enter follows this link
  });
  body.replaceChildren(...rows);
  const openable = rows.filter((r) => r.classList.contains("openable"));
  const again = openable.find((r) => rowKey(r) === (had ?? current)) || openable[0];
  if (again) {
    again.tabIndex = 0;
    if (had !== null) again.focus({ preventScroll: true });
  }
  const tip = document.getElementById("tooltip");
  if (!tip.hidden && !document.querySelector("time[aria-describedby]:hover")) tip.hidden = true;
}

function rowKeys(event) {
  const row = event.target;
  if (!(row instanceof HTMLTableRowElement) || !row.classList.contains("openable")) return;
  const rows = [...row.parentElement.querySelectorAll(":scope > tr.openable")];
  const at = rows.indexOf(row);
  const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: rows.length - 1 }[event.key];
  if (event.key === "Enter") {
    event.preventDefault();
    row.querySelector("a[href]").click();
  } else if (to !== undefined && rows[to]) {
    event.preventDefault();
    row.tabIndex = -1;
    rows[to].tabIndex = 0;
    rows[to].focus();
    row.parentElement.dataset.current = rowKey(rows[to]);
  }
}

function page(title, ...content) {
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", {}, title), ...content.filter((c) => c !== null && c !== undefined && c !== false));
  document.title = `${title} · jobsvc`;
}

function flash(text, isError) {
  const main = document.getElementById("main");
  main.querySelector(".flash")?.remove();
  main.insertBefore(h("p", { class: isError ? "flash error" : "flash", role: "status" }, text), main.children[1] || null);
}

// Run `fn` now (its failure shows as the page's error) and then every `ms` while the page is shown.
async function every(ms, fn) {
  await fn();
  session.refresh = setInterval(() => fn().catch((e) => flash(`${e.code || "error"}: ${e.message}`, true)), ms);
}

// ---- pages ------------------------------------------------------------------------

// An SVG bar chart of the jobs that finished in each bucket of the window: succeeded below,
// failed and cancelled stacked on top; an empty bucket is a gap.
function timelineChart(timeline, windowSeconds, takenAt) {
  const ns = "http://www.w3.org/2000/svg", width = 600, height = 120, buckets = 60;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");  // the whole width, whatever the window
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  const bucketMs = (windowSeconds * 1000) / buckets, start = takenAt - windowSeconds * 1000;
  const peak = Math.max(1, ...timeline.map((b) => Number(b.succeeded || 0) + Number(b.failed || 0) + Number(b.cancelled || 0)));
  const bar = (x, y, w, hgt, cls, title) => {
    const rect = document.createElementNS(ns, "rect");
    for (const [k, v] of Object.entries({ x, y, width: w, height: hgt, class: cls })) rect.setAttribute(k, v);
    const tip = document.createElementNS(ns, "title");
    tip.textContent = title;
    rect.append(tip);
    svg.append(rect);
  };
  for (const b of timeline) {
    const slot = Math.min(buckets - 1, Math.max(0, Math.floor((new Date(b.start).getTime() - start) / bucketMs)));
    const x = (slot * width) / buckets, w = width / buckets - 1;
    const ok = Number(b.succeeded || 0), bad = Number(b.failed || 0) + Number(b.cancelled || 0);
    const okH = (ok / peak) * (height - 4), badH = (bad / peak) * (height - 4);
    const when = new Date(b.start).toLocaleTimeString();
    bar(x, height - okH, w, okH, "bar-ok", `${when}: ${ok} succeeded`);
    if (bad) bar(x, height - okH - badH, w, badH, "bar-bad", `${when}: ${b.failed || 0} failed, ${b.cancelled || 0} cancelled`);
  }
  const total = timeline.reduce((n, b) => n + Number(b.succeeded || 0) + Number(b.failed || 0) + Number(b.cancelled || 0), 0);
  const failed = timeline.reduce((n, b) => n + Number(b.failed || 0), 0);
  svg.setAttribute("aria-label", `${total} jobs finished in the window, ${failed} failed`);
  return h("figure", { class: "card", id: "throughput" }, svg, h("figcaption", { class: "muted" },
    `Finished per ${Math.round(bucketMs / 1000)} s over the last ${age(windowSeconds)}: ${total} jobs `
    + `(${(total / (windowSeconds / 60)).toFixed(1)} a minute), failure rate ${total ? ((100 * failed) / total).toFixed(1) : "0.0"}%`));
}

// What a version's queued jobs wait for (GetQueueStats' wait reasons), e.g. "2 concurrency limit".
const WAIT_NAMES = { WAIT_REASON_SCHEDULED: "start time", WAIT_REASON_RETRY_BACKOFF: "retry backoff",
  WAIT_REASON_NO_WORKER: "no worker", WAIT_REASON_CONCURRENCY_LIMIT: "concurrency limit", WAIT_REASON_RATE_LIMIT: "rate limit",
  WAIT_REASON_CHILDREN: "child jobs", WAIT_REASON_SLEEPING: "sleeping" };
function waitingText(waiting) {
  if (!(waiting || []).length) return h("span", { class: "muted" }, "—");
  return waiting.map((w, i) => [i ? ", " : null, h("span", { class: `wait wait-${w.reason}`, "data-reason": w.reason },
    `${w.count} ${WAIT_NAMES[w.reason] || w.reason}`)]).flat();
}

async function overview() {
  const body = h("tbody");
  const totals = h("p", { class: "muted", "aria-live": "polite" });
  const chart = h("div", { id: "chart" });
  page("Overview", totals, chart, h("div", { class: "table-wrap" }, h("table", { id: "overview" },
    h("thead", {}, h("tr", {}, ["Handler", "Version", "Queued", "Scheduled", "Waiting for", "Running", "Succeeded (1 h)",
      "Failed (1 h)", "Cancelled (1 h)", "Oldest waiting"].map((t, i) => h("th", { class: i > 1 && i !== 4 ? "num" : null, scope: "col" }, t)))),
    body)));
  await every(2000, async () => {
    const stats = await api("StatsService", "GetQueueStats", {});
    const rows = stats.versions || [];
    chart.replaceChildren(timelineChart(stats.timeline || [], seconds(stats.window), new Date(stats.time).getTime()));
    const sum = (key) => rows.reduce((n, r) => n + Number(r[key] || 0), 0);
    totals.textContent = `${sum("queued")} queued, ${sum("running")} running, ${sum("failed")} failed in the last hour · updated ${new Date().toLocaleTimeString()}`;
    fillRows(body, (rows.length ? rows.map((r) => h("tr", { "data-handler": r.handler, "data-version": r.version },
      h("td", {}, h("a", { href: `#/jobs?handler=${encodeURIComponent(r.handler)}` }, r.handler)), h("td", {}, r.version),
      ...["queued", "scheduled"].map((k) => h("td", { class: "num" }, r[k] || "0")),
      h("td", { class: "waiting" }, waitingText(r.waiting)),
      ...["running", "succeeded"].map((k) => h("td", { class: "num" }, r[k] || "0")),
      h("td", { class: "num" }, h("a", { href: `#/jobs?state=FAILED&handler=${encodeURIComponent(r.handler)}` }, r.failed || "0")),
      h("td", { class: "num" }, r.cancelled || "0"),
      h("td", { class: "num" }, Number(r.queued || 0) ? age(seconds(r.oldestQueuedAge)) : "—")))
      : [h("tr", {}, h("td", { colspan: 10, class: "muted" }, "No job queued, running or finished in the last hour."))]));
  });
}

async function jobs(params) {
  const state = params.get("state") || "", handler = params.get("handler") || "", version = params.get("version") || "";
  const after = params.get("after") || "", before = params.get("before") || "";  // ISO, UTC
  const labelsText = params.get("labels") || "", labels = parseLabels(labelsText) || {};  // "team=payments,region=eu"
  const tokens = [""];
  let index = 0;
  const body = h("tbody");
  const prev = h("button", { class: "secondary", type: "button", onclick: () => { index -= 1; load(); } }, "← Newer");
  const next = h("button", { class: "secondary", type: "button", onclick: () => { index += 1; load(); } }, "Older →");
  const stateSelect = h("select", { name: "state", id: "filter-state" }, h("option", { value: "" }, "any"),
    STATES.map((s) => h("option", { value: s, selected: s === state }, s.toLowerCase())));
  const handlerInput = h("input", { name: "handler", id: "filter-handler", value: handler, placeholder: "any", list: "handlers" });
  const handlers = h("datalist", { id: "handlers" });
  const versionInput = h("input", { name: "version", id: "filter-version", value: version, placeholder: "any", size: 8 });
  // datetime-local holds the browser's local time; the address and the API hold UTC.
  const localValue = (iso) => (iso ? new Date(new Date(iso).getTime() - new Date(iso).getTimezoneOffset() * 60000).toISOString().slice(0, 16) : "");
  const afterInput = h("input", { type: "datetime-local", id: "filter-after", value: localValue(after), title: "created at or after (your time zone)" });
  const beforeInput = h("input", { type: "datetime-local", id: "filter-before", value: localValue(before), title: "created before (your time zone)" });
  const labelsInput = h("input", { name: "labels", id: "filter-labels", value: labelsText, placeholder: "team=payments, region=eu",
    title: "only jobs carrying every one of these labels (name=value, separated by commas)" });
  const filters = h("form", { class: "filters", role: "search", onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (stateSelect.value) q.set("state", stateSelect.value);
    if (handlerInput.value.trim()) q.set("handler", handlerInput.value.trim());
    if (versionInput.value.trim()) q.set("version", versionInput.value.trim());
    if (afterInput.value) q.set("after", new Date(afterInput.value).toISOString());
    if (beforeInput.value) q.set("before", new Date(beforeInput.value).toISOString());
    const wanted = parseLabels(labelsInput.value);
    if (wanted === null) {
      labelsInput.setAttribute("aria-invalid", "true");
      flash("Labels: write name=value pairs separated by commas, e.g. team=payments, region=eu.", true);
      labelsInput.focus();
      return;
    }
    if (Object.keys(wanted).length) q.set("labels", labelsParam(wanted));
    location.hash = `#/jobs?${q}`;
  } }, h("label", {}, "State", stateSelect), h("label", {}, "Handler", handlerInput, handlers),
  h("label", {}, "Version", versionInput), h("label", {}, "Labels", labelsInput),
  h("label", {}, "Created from", afterInput), h("label", {}, "to", beforeInput),
  h("button", { type: "submit" }, "Filter"),
  h("label", { class: "goto" }, "Go to job", h("input", { id: "goto-job", placeholder: "job id", size: 36, autocomplete: "off",
    title: "a job's whole id: Enter opens its page", onkeydown: (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();  // not the filter form's submit
      const id = e.target.value.trim();
      if (id) location.hash = `#/jobs/${encodeURIComponent(id)}`;
    } })),
  state === "FAILED" && handler ? h("button", { type: "button", class: "danger", id: "redrive-all", disabled: (await canAct()) ? null : true,
    title: "re-run every failed job of this handler as new jobs (RedriveJobs)", onclick: async () => {
      try {
        const r = await api("JobService", "RedriveJobs", { handler });
        flash(`${(r.jobIds || []).length} failed job(s) of ${handler} redriven.`);
        await load();
      } catch (e) { flash(`${e.code}: ${e.message}`, true); }
    } }, `Redrive all failed ${handler}`) : null);
  // Dead letters (the FAILED filter): a checkbox per job, and "Redrive selected" (one RedriveJob each).
  const selecting = state === "FAILED";
  const selected = new Set();
  const redriveSelected = h("button", { type: "button", id: "redrive-selected", disabled: true,
    title: "re-run each selected job as a new job (RedriveJob)", onclick: async () => {
      const ids = [...selected];
      const outcomes = await Promise.allSettled(ids.map((id) => api("JobService", "RedriveJob", { id })));
      const refused = outcomes.filter((o) => o.status === "rejected").map((o) => `${o.reason.code}: ${o.reason.message}`);
      selected.clear();
      flash(`${ids.length - refused.length} of ${ids.length} selected job(s) redriven.${refused.length ? " " + refused.join("; ") : ""}`, refused.length > 0);
      await load();
    } }, "Redrive selected");
  const act = selecting && (await canAct());
  const selectAll = h("input", { type: "checkbox", id: "select-all", "aria-label": "select every job on this page", disabled: act ? null : true,
    onchange: () => {
      for (const box of body.querySelectorAll("input[data-select]")) { box.checked = selectAll.checked; box.onchange(); }
    } });
  const syncSelection = () => { redriveSelected.disabled = !act || selected.size === 0; redriveSelected.textContent = `Redrive selected (${selected.size})`; };
  const selectCell = (j) => {
    const box = h("input", { type: "checkbox", "data-select": j.id, "aria-label": `select job ${j.id}`, disabled: act ? null : true, checked: selected.has(j.id) });
    box.onchange = () => { if (box.checked) selected.add(j.id); else selected.delete(j.id); syncSelection(); };
    return h("td", {}, box);
  };
  syncSelection();
  page("Jobs", filters, selecting ? h("div", { class: "actions" }, redriveSelected) : null, h("div", { class: "table-wrap" }, h("table", { id: "jobs" },
    h("thead", {}, h("tr", {}, selecting ? h("th", { scope: "col" }, selectAll) : null,
      ["Job", "Handler", "Version", "State", "Attempt", "Labels", "Created", "Finished"].map((t) => h("th", { scope: "col" }, t)))),
    body)), h("div", { class: "pager" }, prev, next));
  api("JobService", "ListHandlers", {}).then((r) => handlers.replaceChildren(
    ...[...new Set((r.handlers || []).map((x) => x.name))].map((n) => h("option", { value: n }))));

  async function load() {
    const request = { pageSize: PAGE_SIZE, pageToken: tokens[index], view: "JOB_VIEW_BASIC" };
    if (state) request.states = [`JOB_STATE_${state}`];
    if (handler) request.handler = handler;
    if (version) request.version = version;
    if (after) request.createdAfter = after;
    if (before) request.createdBefore = before;
    if (Object.keys(labels).length) request.labels = labels;
    const result = await api("JobService", "ListJobs", request);
    tokens[index + 1] = result.nextPageToken || "";
    prev.disabled = index === 0;
    next.disabled = !result.nextPageToken;
    fillRows(body, ((result.jobs || []).length ? result.jobs.map((j) => h("tr", { "data-job": j.id },
      selecting ? selectCell(j) : null, h("td", {}, h("a", { href: `#/jobs/${j.id}` }, j.id.slice(0, 8))), h("td", {}, j.handler), h("td", {}, j.version),
      h("td", {}, stateBadge(j.state)), h("td", { class: "num" }, `${j.attempt || 0}/${j.maxAttempts || 0}`),
      h("td", { class: "labels" }, Object.entries(j.labels || {}).map(([k, v]) => h("a", { class: "label", "data-label": `${k}=${v}`,
        href: `#/jobs?labels=${encodeURIComponent(labelsParam({ [k]: v }))}`, title: "only jobs with this label" }, `${k}=${v}`))),
      h("td", {}, time(j.createTime)), h("td", {}, time(j.finishTime))))
      : [h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No jobs match."))]));
  }
  // While jobs are selected the table stays as it is (a refresh would move rows under the pointer).
  await every(5000, async () => (index === 0 && selected.size === 0 ? load() : null));
}

// The jobs page's label filter, "team=payments, region=eu", as ListJobs' labels map; null
// when a part is not name=value. Values cannot hold commas here (the API takes any).
function parseLabels(text) {
  const labels = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf("=");
    if (at <= 0) return null;
    labels[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return labels;
}

const labelsParam = (labels) => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");

function eventText(event) {
  if (event.queued) return `queued (${event.queued.handler}@${event.queued.version})`;
  if (event.started) return `started attempt ${event.started.attempt} on ${event.started.executor}`;
  if (event.progress) return `progress ${Math.round(event.progress.percent)}%${event.progress.message ? ": " + event.progress.message : ""}`;
  if (event.partialOutput) return `partial output ${payload(event.partialOutput.output)}`;
  if (event.requeued) return `requeued: ${event.requeued.reason || ""}`;
  if (event.succeeded) return "succeeded";
  if (event.failed) return `failed: ${event.failed.error?.type || ""} ${event.failed.error?.message || ""}`;
  if (event.cancelled) return `cancelled: ${event.cancelled.reason || ""}`;
  return JSON.stringify(event);
}

async function job(id) {
  const act = await canAct();
  const details = h("div", { class: "card", id: "job-details" });
  const progress = h("progress", { id: "progress", max: 100, value: 0, "aria-label": "progress" });
  const progressText = h("span", { id: "progress-text", class: "muted", "aria-live": "polite" });
  const result = h("div", { id: "result" });
  const timeline = h("ol", { class: "timeline", id: "timeline", "aria-live": "polite" });
  const partial = h("pre", { id: "partial-output", hidden: true });
  const actions = h("div", { class: "actions" });
  page(`Job ${id.slice(0, 8)}`, actions, h("div", { class: "grid" },
    h("section", {}, h("h2", {}, "Job"), details, h("h2", {}, "Progress"), progress, progressText, partial,
      h("h2", {}, "Result"), result),
    h("section", {}, h("h2", {}, "Events"), h("div", { class: "card" }, timeline))));

  async function refresh() {
    const { job: j } = await api("JobService", "GetJob", { id });
    const state = stateName(j.state);
    details.replaceChildren(h("dl", { class: "fields" }, ...[
      ["ID", j.id], ["Handler", `${j.handler}@${j.version} (asked ${j.versionSelector || "newest"})`],
      ["State", h("span", { id: "job-state" }, stateBadge(j.state))], ["Attempt", `${j.attempt || 0} of ${j.maxAttempts}`],
      ["Created", time(j.createTime)], ["Runs at", time(j.runAt)], ["Started", time(j.startTime)], ["Finished", time(j.finishTime)],
      ["Labels", JSON.stringify(j.labels || {})],
      ["Priority", String(j.priority || 0)],
      ...[["Idempotency key", j.idempotencyKey], ["Concurrency key", j.concurrencyKey], ["Rate limit key", j.rateLimitKey],
        ["Fairness key", j.fairnessKey], ["Answered from the cache of", j.cachedFrom && h("a", { href: `#/jobs/${j.cachedFrom}` }, j.cachedFrom)],
        ["Cancel requested", j.cancelRequested && "yes"]].filter(([, v]) => v),
      j.redriveOf ? ["Redrive of", h("a", { href: `#/jobs/${j.redriveOf}` }, j.redriveOf)] : null,
      j.waitingReason ? ["Waiting", j.waitingReason] : null,
    ].filter(Boolean).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h2", {}, "Input"), h("pre", { id: "input" }, payload(j.input)));
    const errors = j.attemptErrors || (j.error ? [j.error] : []);
    result.replaceChildren(
      j.result !== undefined ? h("pre", { id: "result-value" }, payload(j.result)) : h("p", { class: "muted" }, TERMINAL.has(state) ? "No result." : "Not finished yet."),
      ...errors.map((e) => h("details", { class: "card", open: true }, h("summary", { class: "error" }, `attempt ${e.attempt || "?"}: ${e.type}: ${e.message}`),
        e.traceback ? h("pre", {}, e.traceback) : null)));
    if (j.progress) { progress.value = j.progress.percent || 0; progressText.textContent = `${Math.round(j.progress.percent || 0)}% ${j.progress.message || ""}`; }
    const disabled = act ? null : true;
    const why = act ? null : "needs a token with the admin scope";
    actions.replaceChildren(...[
      TERMINAL.has(state) ? null : h("button", { class: "danger", type: "button", disabled, title: why, onclick: () => perform("CancelJob", { id, reason: "cancelled from the dashboard" }) }, "Cancel"),
      state === "FAILED" ? h("button", { type: "button", disabled, title: why, onclick: () => perform("RedriveJob", { id }, true) }, "Redrive") : null,
      h("button", { class: "secondary", type: "button", disabled: act ? null : true, title: why, onclick: async () => {
        const r = await api("SubmitService", "Submit", { job: { handler: j.handler, version: j.version, input: j.input, labels: j.labels } });
        location.hash = `#/jobs/${r.job.id}`;
      } }, "Run again with this input")].filter(Boolean));
    return state;
  }

  async function perform(method, request, follow) {
    try {
      const r = await api("JobService", method, request);
      if (follow) { location.hash = `#/jobs/${r.job.id}`; return; }
      flash(`${method === "CancelJob" ? "Cancel" : method} sent.`);
      await refresh();
    } catch (e) { flash(`${e.code}: ${e.message}`, true); }
  }

  await refresh();
  const controller = new AbortController();
  session.stream = controller;
  streamEvents(id, 0, (event) => {
    timeline.append(h("li", { "data-seq": event.sequence }, time(event.time), " ", eventText(event)));
    if (event.progress) { progress.value = event.progress.percent; progressText.textContent = `${Math.round(event.progress.percent)}% ${event.progress.message || ""}`; }
    if (event.partialOutput) { partial.hidden = false; partial.textContent += JSON.stringify(event.partialOutput.output.json ?? event.partialOutput.output) + "\n"; }
    if (event.succeeded) { progress.value = 100; }
    if (event.succeeded || event.failed || event.cancelled || event.started || event.requeued) refresh();
  }, controller.signal).catch((e) => { if (e.name !== "AbortError") flash(`stream: ${e.message}`, true); });
}

async function schedules() {
  const act = await canAct();
  const body = h("tbody");
  page("Schedules", h("div", { class: "table-wrap" }, h("table", { id: "schedules" },
    h("thead", {}, h("tr", {}, ["Name", "Handler", "When", "Next tick", "Last tick", "Last job", "State", ""].map((t) => h("th", { scope: "col" }, t)))),
    body)));
  async function load() {
    const { schedules: found } = await api("ScheduleService", "ListSchedules", {});
    fillRows(body, ((found || []).length ? found.map((s) => h("tr", { "data-schedule": s.name },
      h("td", {}, s.name), h("td", {}, s.job?.handler || ""), h("td", {}, s.cron ? `cron ${s.cron}` : `every ${s.interval}`),
      h("td", {}, s.paused ? "—" : time(s.nextTickTime)), h("td", {}, time(s.lastTickTime)),
      h("td", {}, s.lastJobId ? h("a", { href: `#/jobs/${s.lastJobId}` }, s.lastJobId.slice(0, 8)) : "—"),
      h("td", { class: "schedule-state" }, s.paused ? "paused" : "active"),
      h("td", {}, h("button", { type: "button", class: "secondary", disabled: act ? null : true, title: act ? null : "needs a token with the admin scope",
        onclick: async () => {
          try { await api("ScheduleService", s.paused ? "ResumeSchedule" : "PauseSchedule", { name: s.name }); await load(); }
          catch (e) { flash(`${e.code}: ${e.message}`, true); }
        } }, s.paused ? "Resume" : "Pause"))))
      : [h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No schedules."))]));
  }
  await every(5000, load);
}

// Who serves a handler version now: the remote workers connected to any replica that
// list it (WorkerDirectoryService), and otherwise an in-process executor when the
// version was seen recently (HandlerInfo.online) without any remote worker listing it.
function servedBy(x, sessions) {
  const remote = [...new Set(sessions.filter((w) => (w.handlers || []).some((v) => v.name === x.name && v.version === x.version))
    .map((w) => w.workerId))];
  if (remote.length) return ["remote: ", ...remote.flatMap((id, i) => [i ? ", " : null, h("a", { href: "#/workers", "data-worker": id }, id)])];
  return x.online ? "an executor (in-process)" : h("span", { class: "muted", title: "no executor or remote worker serves it now" }, "no");
}

async function handlers() {
  const [{ handlers: found }, { workers: sessions }] = await Promise.all([
    api("JobService", "ListHandlers", {}), api("WorkerDirectoryService", "ListWorkers", {})]);
  const schema = (label, value) => (value ? h("details", {}, h("summary", {}, label), h("pre", {}, JSON.stringify(value, null, 2))) : null);
  const body = h("tbody");
  page("Handlers", h("div", { class: "table-wrap" }, h("table", { id: "handlers" },
    h("thead", {}, h("tr", {}, ["Handler", "Version", "Served now by", "Retries", "Description and schemas"].map((t) => h("th", { scope: "col" }, t)))),
    body)));
  fillRows(body, (found || []).map((x) => h("tr", { "data-handler": x.name, "data-version": x.version },
    h("td", {}, h("a", { href: `#/jobs?handler=${encodeURIComponent(x.name)}` }, x.name)), h("td", {}, x.version),
    h("td", { class: "wrap served" }, servedBy(x, sessions || [])),
    h("td", { class: "num" }, x.retryPolicy?.maximumAttempts ?? ""),
    h("td", { class: "wrap" }, x.description || "", schema("input schema", x.inputSchema || x.inputType),
      schema("output schema", x.outputSchema || x.outputType)))));
}

// A paginated table over a List method that answers next_page_token: `row` draws one item.
function pagedTable(id, columns, fetchPage, row, empty) {
  const tokens = [""];
  let index = 0;
  const body = h("tbody");
  const prev = h("button", { class: "secondary", type: "button", onclick: () => { index -= 1; load(); } }, "← Newer");
  const next = h("button", { class: "secondary", type: "button", onclick: () => { index += 1; load(); } }, "Older →");
  async function load() {
    const { items, nextPageToken } = await fetchPage(PAGE_SIZE, tokens[index]);
    tokens[index + 1] = nextPageToken || "";
    prev.disabled = index === 0;
    next.disabled = !nextPageToken;
    fillRows(body, (items.length ? items.map(row)
      : [h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, empty))]));
  }
  const table = h("div", {}, h("div", { class: "table-wrap" }, h("table", { id },
    h("thead", {}, h("tr", {}, columns.map((t) => h("th", { scope: "col" }, t)))), body)), h("div", { class: "pager" }, prev, next));
  return { table, refresh: async () => (index === 0 ? load() : null) };
}

const workflowState = (state) => (state || "").replace("WORKFLOW_STATE_", "");

async function workflows() {
  const { table, refresh } = pagedTable("workflows", ["Workflow", "Name", "State", "Steps finished", "Created", "Finished"],
    async (pageSize, pageToken) => {
      const r = await api("WorkflowService", "ListWorkflows", { pageSize, pageToken });
      return { items: r.workflows || [], nextPageToken: r.nextPageToken };
    },
    (w) => h("tr", { "data-workflow": w.id },
      h("td", {}, h("a", { href: `#/workflows/${w.id}` }, w.id.slice(0, 8))), h("td", {}, w.name || ""),
      h("td", {}, stateBadge(workflowState(w.state))), h("td", { class: "num" }, `${w.stepsFinished || 0}/${w.stepsTotal || 0}`),
      h("td", {}, time(w.createTime)), h("td", {}, time(w.finishTime))),
    "No workflows.");
  page("Workflows", table);
  await every(3000, refresh);
}

// A layered drawing of a workflow's steps: each step's layer is the longest chain of
// parents above it (roots in layer 0), layers are columns left to right, and within a
// column steps are ordered by the mean row of their parents (fewer crossings). A mapped
// step's elements are folded into its box as a count.
function layoutDag(steps) {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const layer = new Map();
  const depth = (name, seen) => {
    if (layer.has(name)) return layer.get(name);
    if (seen.has(name)) return 0;  // a cycle cannot be stored; guard anyway
    seen.add(name);
    const parents = (byName.get(name)?.dependsOn || []).filter((p) => byName.has(p));
    const d = parents.length ? 1 + Math.max(...parents.map((p) => depth(p, seen))) : 0;
    layer.set(name, d);
    return d;
  };
  steps.forEach((s) => depth(s.name, new Set()));
  const columns = [];
  for (const s of steps) (columns[layer.get(s.name)] ||= []).push(s);
  const row = new Map();
  columns.forEach((column) => {
    const mean = (s) => {
      const rows = (s.dependsOn || []).filter((p) => row.has(p)).map((p) => row.get(p));
      return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : 0;
    };
    column.map((s, i) => [s, mean(s), i]).sort((a, b) => a[1] - b[1] || a[2] - b[2]).forEach(([s], i) => row.set(s.name, i));
  });
  return { layer, row, columns: columns.length, rows: Math.max(1, ...columns.map((c) => c.length)) };
}

function dagSvg(steps, items) {
  const ns = "http://www.w3.org/2000/svg", boxW = 170, boxH = 46, gapX = 60, gapY = 18, pad = 10;
  const el = (tag, attrs, ...children) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
    node.append(...children);
    return node;
  };
  const { layer, row, columns, rows } = layoutDag(steps);
  const x = (name) => pad + layer.get(name) * (boxW + gapX), y = (name) => pad + row.get(name) * (boxH + gapY);
  const width = pad * 2 + columns * boxW + (columns - 1) * gapX, height = pad * 2 + rows * boxH + (rows - 1) * gapY;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "dag", role: "img",
    "aria-label": `workflow graph of ${steps.length} steps` });
  svg.append(el("defs", {}, el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
    el("path", { d: "M0,0 L10,5 L0,10 z", class: "dag-arrow" }))));
  for (const s of steps) {
    for (const parent of s.dependsOn || []) {
      if (!layer.has(parent)) continue;
      const x1 = x(parent) + boxW, y1 = y(parent) + boxH / 2, x2 = x(s.name), y2 = y(s.name) + boxH / 2, mid = (x1 + x2) / 2;
      svg.append(el("path", { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, class: "dag-edge",
        "marker-end": "url(#arrow)", "data-edge": `${parent}->${s.name}` }));
    }
  }
  for (const s of steps) {
    const state = stateName(s.job?.state);
    const mapped = items.get(s.name) || [];
    const done = mapped.filter((i) => TERMINAL.has(stateName(i.job?.state))).length;
    const label = s.name.length > 22 ? s.name.slice(0, 21) + "…" : s.name;
    const sub = mapped.length ? `${state.toLowerCase()} · ${done}/${mapped.length} items` : `${state.toLowerCase()}${s.optional ? " · optional" : ""}`;
    const box = el("a", { href: `#/jobs/${s.job?.id}`, class: `dag-node node-${state}`, "data-step": s.name, "data-state": state },
      el("title", {}, `${s.name}: ${state} (${s.job?.handler}@${s.job?.version})`),
      el("rect", { x: x(s.name), y: y(s.name), width: boxW, height: boxH, rx: 6 }),
      el("text", { x: x(s.name) + 10, y: y(s.name) + 19, class: "dag-name" }, label),
      el("text", { x: x(s.name) + 10, y: y(s.name) + 36, class: "dag-sub" }, sub));
    svg.append(box);
  }
  return svg;
}

async function workflow(id) {
  const act = await canAct();
  const details = h("div", { class: "card", id: "workflow-details" });
  const graph = h("div", { class: "card dag-wrap", id: "dag" });
  const actions = h("div", { class: "actions" });
  const steps = h("tbody");
  page(`Workflow ${id.slice(0, 8)}`, actions, details, h("h2", {}, "Graph"), graph, h("h2", {}, "Steps"),
    h("div", { class: "table-wrap" }, h("table", { id: "steps" }, h("thead", {}, h("tr", {},
      ["Step", "Depends on", "Job", "Handler", "State", "Attempt", "Finished"].map((t) => h("th", { scope: "col" }, t)))), steps)));
  let drawn = "";
  async function refresh() {
    const { workflow: w } = await api("WorkflowService", "GetWorkflow", { id });
    const state = workflowState(w.state);
    details.replaceChildren(h("dl", { class: "fields" }, ...[
      ["ID", w.id], ["Name", w.name || "—"], ["State", h("span", { id: "workflow-state" }, stateBadge(state))],
      ["Steps finished", `${w.stepsFinished || 0} of ${w.stepsTotal || 0}`], ["Created", time(w.createTime)], ["Finished", time(w.finishTime)],
      ["Labels", JSON.stringify(w.labels || {})], w.cancelReason ? ["Cancelled", w.cancelReason] : null,
    ].filter(Boolean).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
    const all = w.steps || [];
    const items = new Map();
    for (const s of all) if (s.mapOf) (items.get(s.mapOf) || items.set(s.mapOf, []).get(s.mapOf)).push(s);
    const main = all.filter((s) => !s.mapOf);
    // Redrawn only when a state changed (keeps focus and hover on the graph steady).
    const key = all.map((s) => `${s.name}:${s.job?.state}`).join(",");
    if (key !== drawn) { graph.replaceChildren(dagSvg(main, items)); drawn = key; }
    fillRows(steps, all.map((s) => h("tr", { "data-step": s.name },
      h("td", {}, s.name), h("td", {}, (s.dependsOn || []).join(", ") || "—"),
      h("td", {}, s.job?.id ? h("a", { href: `#/jobs/${s.job.id}` }, s.job.id.slice(0, 8)) : "—"),
      h("td", {}, `${s.job?.handler || ""}@${s.job?.version || ""}`), h("td", {}, stateBadge(s.job?.state)),
      h("td", { class: "num" }, `${s.job?.attempt || 0}/${s.job?.maxAttempts || 0}`), h("td", {}, time(s.job?.finishTime)))));
    actions.replaceChildren(state === "RUNNING" ? h("button", { class: "danger", type: "button", id: "cancel-workflow",
      disabled: act ? null : true, title: act ? "cancel every step that has not finished" : "needs a token with the admin scope",
      onclick: async () => {
        try {
          await api("WorkflowService", "CancelWorkflow", { id, reason: "cancelled from the dashboard" });
          flash("Cancel sent.");
          await refresh();
        } catch (e) { flash(`${e.code}: ${e.message}`, true); }
      } }, "Cancel workflow") : "");
    if (state !== "RUNNING") clearInterval(session.refresh);  // finished: nothing changes any more
  }
  await every(1500, refresh);
}

async function workers() {
  const body = h("tbody");
  const summary = h("p", { class: "muted", "aria-live": "polite" });
  page("Workers", summary, h("div", { class: "table-wrap" }, h("table", { id: "workers" },
    h("thead", {}, h("tr", {}, ["Worker", "Serves", "Capacity", "In flight", "Connected since", "Replica"].map((t, i) =>
      h("th", { scope: "col", class: i === 2 || i === 3 ? "num" : null }, t)))), body)));
  await every(3000, async () => {
    const { workers: found } = await api("WorkerDirectoryService", "ListWorkers", {});
    const list = found || [];
    const sum = (key) => list.reduce((n, w) => n + Number(w[key] || 0), 0);
    summary.textContent = `${list.length} remote worker session(s) on every replica: ${sum("inFlight")} of ${sum("capacity")} slots busy · updated ${new Date().toLocaleTimeString()}`;
    fillRows(body, (list.length ? list.map((w) => h("tr", { "data-worker": w.workerId, "data-session": w.sessionId },
      h("td", {}, w.workerId), h("td", { class: "wrap" }, (w.handlers || []).flatMap((x, i) => [i ? ", " : null,
        h("a", { href: `#/jobs?handler=${encodeURIComponent(x.name)}` }, x.name), `@${x.version}`])),
      h("td", { class: "num" }, w.capacity || 0), h("td", { class: "num", "data-in-flight": w.inFlight || 0 }, w.inFlight || 0),
      h("td", {}, time(w.connectTime)), h("td", { class: "muted" }, w.replica)))
      : [h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No remote worker is connected (in-process executors are not listed)."))]));
  });
}

// ---- routing ----------------------------------------------------------------------

async function route() {
  clearInterval(session.refresh);
  session.stream?.abort();
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const parts = (path || "/").split("/").filter(Boolean);
  const name = parts[0] || "overview";
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", link.dataset.page === name);
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
  }
  try {
    await canAct();
    if (name === "jobs" && parts[1]) await job(parts[1]);
    else if (name === "jobs") await jobs(params);
    else if (name === "schedules") await schedules();
    else if (name === "handlers") await handlers();
    else if (name === "workflows" && parts[1]) await workflow(parts[1]);
    else if (name === "workflows") await workflows();
    else if (name === "workers") await workers();
    else await overview();
  } catch (e) {
    page("Error", h("p", { class: "error", role: "alert" }, `${e.code || "error"}: ${e.message}`));
  }
}

// After a page change, the focus goes to the new page's content (the element that had it,
// a row's link for instance, is gone), so Tab continues from there.
async function navigate() {
  await route();
  if (!document.activeElement || document.activeElement === document.body) document.getElementById("main").focus({ preventScroll: true });
}

document.addEventListener("keydown", rowKeys);
document.addEventListener("mouseover", showUtc);
document.addEventListener("mouseout", hideUtc);
document.addEventListener("focusin", showUtc);
document.addEventListener("focusout", hideUtc);
window.addEventListener("DOMContentLoaded", () => document.getElementById("skip").addEventListener("click", (e) => {
  e.preventDefault();
  document.getElementById("main").focus();
}));
window.addEventListener("hashchange", navigate);
window.addEventListener("DOMContentLoaded", route);
