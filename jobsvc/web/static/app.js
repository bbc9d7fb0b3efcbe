// The jobsvc dashboard: plain JavaScript over the public API (Connect protocol, JSON), no
// build step and nothing loaded from elsewhere. Pages are hash routes: #/ (overview),
// #/jobs?state=&handler= (jobs), #/jobs/<id> (one job), #/schedules.
"use strict";

const STATES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];
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

function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  return h("time", { datetime: iso, title: date.toISOString() + " (UTC)" }, date.toLocaleString());
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

function page(title, ...content) {
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", {}, title), ...content);
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

async function overview() {
  const body = h("tbody");
  const totals = h("p", { class: "muted", "aria-live": "polite" });
  const chart = h("div", { id: "chart" });
  page("Overview", totals, chart, h("div", { class: "table-wrap" }, h("table", { id: "overview" },
    h("thead", {}, h("tr", {}, ["Handler", "Version", "Queued", "Scheduled", "Running", "Succeeded (1 h)",
      "Failed (1 h)", "Cancelled (1 h)", "Oldest waiting"].map((t, i) => h("th", { class: i > 1 ? "num" : null, scope: "col" }, t)))),
    body)));
  await every(2000, async () => {
    const stats = await api("StatsService", "GetQueueStats", {});
    const rows = stats.versions || [];
    chart.replaceChildren(timelineChart(stats.timeline || [], seconds(stats.window), new Date(stats.time).getTime()));
    const sum = (key) => rows.reduce((n, r) => n + Number(r[key] || 0), 0);
    totals.textContent = `${sum("queued")} queued, ${sum("running")} running, ${sum("failed")} failed in the last hour · updated ${new Date().toLocaleTimeString()}`;
    body.replaceChildren(...(rows.length ? rows.map((r) => h("tr", { "data-handler": r.handler },
      h("td", {}, h("a", { href: `#/jobs?handler=${encodeURIComponent(r.handler)}` }, r.handler)), h("td", {}, r.version),
      ...["queued", "scheduled", "running", "succeeded"].map((k) => h("td", { class: "num" }, r[k] || "0")),
      h("td", { class: "num" }, h("a", { href: `#/jobs?state=FAILED&handler=${encodeURIComponent(r.handler)}` }, r.failed || "0")),
      h("td", { class: "num" }, r.cancelled || "0"),
      h("td", { class: "num" }, Number(r.queued || 0) ? age(seconds(r.oldestQueuedAge)) : "—")))
      : [h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No job queued, running or finished in the last hour."))]));
  });
}

async function jobs(params) {
  const state = params.get("state") || "", handler = params.get("handler") || "";
  const tokens = [""];
  let index = 0;
  const body = h("tbody");
  const prev = h("button", { class: "secondary", type: "button", onclick: () => { index -= 1; load(); } }, "← Newer");
  const next = h("button", { class: "secondary", type: "button", onclick: () => { index += 1; load(); } }, "Older →");
  const stateSelect = h("select", { name: "state", id: "filter-state" }, h("option", { value: "" }, "any"),
    STATES.map((s) => h("option", { value: s, selected: s === state }, s.toLowerCase())));
  const handlerInput = h("input", { name: "handler", id: "filter-handler", value: handler, placeholder: "any", list: "handlers" });
  const handlers = h("datalist", { id: "handlers" });
  const filters = h("form", { class: "filters", role: "search", onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (stateSelect.value) q.set("state", stateSelect.value);
    if (handlerInput.value.trim()) q.set("handler", handlerInput.value.trim());
    location.hash = `#/jobs?${q}`;
  } }, h("label", {}, "State", stateSelect), h("label", {}, "Handler", handlerInput, handlers),
  h("button", { type: "submit" }, "Filter"),
  state === "FAILED" && handler ? h("button", { type: "button", class: "danger", id: "redrive-all", disabled: (await canAct()) ? null : true,
    title: "re-run every failed job of this handler as new jobs (RedriveJobs)", onclick: async () => {
      try {
        const r = await api("JobService", "RedriveJobs", { handler });
        flash(`${(r.jobIds || []).length} failed job(s) of ${handler} redriven.`);
        await load();
      } catch (e) { flash(`${e.code}: ${e.message}`, true); }
    } }, `Redrive all failed ${handler}`) : null);
  page("Jobs", filters, h("div", { class: "table-wrap" }, h("table", { id: "jobs" },
    h("thead", {}, h("tr", {}, ["Job", "Handler", "Version", "State", "Attempt", "Created", "Finished"].map((t) => h("th", { scope: "col" }, t)))),
    body)), h("div", { class: "pager" }, prev, next));
  api("JobService", "ListHandlers", {}).then((r) => handlers.replaceChildren(
    ...[...new Set((r.handlers || []).map((x) => x.name))].map((n) => h("option", { value: n }))));

  async function load() {
    const request = { pageSize: PAGE_SIZE, pageToken: tokens[index], view: "JOB_VIEW_BASIC" };
    if (state) request.states = [`JOB_STATE_${state}`];
    if (handler) request.handler = handler;
    const result = await api("JobService", "ListJobs", request);
    tokens[index + 1] = result.nextPageToken || "";
    prev.disabled = index === 0;
    next.disabled = !result.nextPageToken;
    body.replaceChildren(...((result.jobs || []).length ? result.jobs.map((j) => h("tr", { "data-job": j.id },
      h("td", {}, h("a", { href: `#/jobs/${j.id}` }, j.id.slice(0, 8))), h("td", {}, j.handler), h("td", {}, j.version),
      h("td", {}, stateBadge(j.state)), h("td", { class: "num" }, `${j.attempt || 0}/${j.maxAttempts || 0}`),
      h("td", {}, time(j.createTime)), h("td", {}, time(j.finishTime))))
      : [h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No jobs match."))]));
  }
  await every(5000, async () => (index === 0 ? load() : null));
}

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
    body.replaceChildren(...((found || []).length ? found.map((s) => h("tr", { "data-schedule": s.name },
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

async function handlers() {
  const { handlers: found } = await api("JobService", "ListHandlers", {});
  const schema = (label, value) => (value ? h("details", {}, h("summary", {}, label), h("pre", {}, JSON.stringify(value, null, 2))) : null);
  page("Handlers", h("div", { class: "table-wrap" }, h("table", { id: "handlers" },
    h("thead", {}, h("tr", {}, ["Handler", "Version", "Served now", "Retries", "Description and schemas"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, ...(found || []).map((x) => h("tr", { "data-handler": x.name },
      h("td", {}, h("a", { href: `#/jobs?handler=${encodeURIComponent(x.name)}` }, x.name)), h("td", {}, x.version),
      h("td", {}, x.online ? "yes" : h("span", { class: "muted", title: "no executor or remote worker serves it now" }, "no")),
      h("td", { class: "num" }, x.retryPolicy?.maximumAttempts ?? ""),
      h("td", { class: "wrap" }, x.description || "", schema("input schema", x.inputSchema || x.inputType),
        schema("output schema", x.outputSchema || x.outputType))))))));
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
    else await overview();
  } catch (e) {
    page("Error", h("p", { class: "error", role: "alert" }, `${e.code || "error"}: ${e.message}`));
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);
