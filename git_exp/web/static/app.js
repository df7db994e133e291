// git exp ui: the page. Plain script, no framework, no network beyond this server.
// Every value from the repository is untrusted (experiments arrive from other
// people): it is only ever put into the page as text (textContent), never as HTML.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const PAGE_ROWS = 200;
const POLL_MS = 1000;

const state = {
  page: "experiments", data: null, key: null, readOnly: false,
  sort: null, sortDesc: false, filter: "", where: "", all: false, onlyChanged: false,
  hidden: new Set(), selected: new Set(), offset: 0, experiment: null, tail: null, tailOffset: 0,
};

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function api(path, params) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    for (const one of [].concat(v)) if (one !== undefined && one !== null && one !== "") url.searchParams.append(k, one);
  }
  const res = await fetch(url, {headers: {"X-Exp-Token": TOKEN}});
  const body = await res.json();
  if (!res.ok) throw Object.assign(new Error(body.error || res.statusText), {hint: body.hint});
  return body;
}

async function act(name, body, question) {
  if (question && !confirm(question)) return false;   // the user said no
  act.lastError = null;
  const res = await fetch(`/api/action/${name}`, {
    method: "POST", headers: {"X-Exp-Token": TOKEN, "Content-Type": "application/json"},
    body: JSON.stringify(body || {}),
  });
  const data = await res.json();
  if (!res.ok) {
    act.lastError = data.error || "";
    act.lastHint = data.hint || "";
    toast(`error: ${data.error}` + (data.hint ? `\nhint: ${data.hint}` : ""), true);
    return null;
  }
  toast(data.message + (data.backup ? `\nYour work tree is saved: git exp apply ${data.backup}` : ""));
  await refresh(true);
  return data;
}

function toast(text, bad) {
  const node = $("toast");
  node.textContent = text;
  node.className = bad ? "bad" : "";
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, bad ? 9000 : 5000);
}

// -- values ----------------------------------------------------------------------------

function fmt(v) {
  if (v === null || v === undefined) return "-";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(5)));
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function cell(row, col) {
  const file = (row[col.kind] || {})[col.file];
  return file && col.key in file ? file[col.key] : undefined;
}

function compare(a, b) {
  if (a === undefined) return b === undefined ? 0 : 1;   // missing values last
  if (b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return fmt(a).localeCompare(fmt(b));
}

// -- the table -------------------------------------------------------------------------

function groups(rows) {
  // Keep the tree: the workspace, then each baseline with its experiments.
  const out = [];
  for (const row of rows) {
    if (row.kind === "experiment" && out.length) out[out.length - 1].children.push(row);
    else out.push({head: row, children: []});
  }
  return out;
}

function visibleColumns() {
  const cols = state.data ? state.data.columns : [];
  return cols.filter((c) => !state.hidden.has(`${c.kind}:${c.file}:${c.key}`) && (!state.onlyChanged || changes(c)));
}

function changes(col) {
  const seen = new Set(state.data.rows.map((r) => JSON.stringify(cell(r, col))));
  return seen.size > 1;
}

function arranged() {
  const text = state.filter.toLowerCase();
  const sortCol = state.sort && state.data.columns.find((c) => `${c.kind}:${c.file}:${c.key}` === state.sort);
  const rows = [];
  for (const g of groups(state.data.rows)) {
    let kids = g.children;
    if (text) kids = kids.filter((r) => rowText(r).includes(text));
    if (sortCol) {
      kids = kids.slice().sort((a, b) => compare(cell(a, sortCol), cell(b, sortCol)) * (state.sortDesc ? -1 : 1));
    } else if (state.sort === "created") {
      kids = kids.slice().sort((a, b) => compare(a.created || undefined, b.created || undefined) * (state.sortDesc ? -1 : 1));
    }
    if (text && !kids.length && !rowText(g.head).includes(text)) continue;
    rows.push(g.head, ...kids);
  }
  return rows;
}

function rowText(row) {
  return [row.name, row.rev, row.state, JSON.stringify(row.params), JSON.stringify(row.metrics)].join(" ").toLowerCase();
}

function renderTable() {
  if (!state.data) return;
  const cols = visibleColumns();
  const head = $("table").tHead;
  head.replaceChildren();
  const tr = el("tr");
  tr.append(el("th", ""), el("th", "Experiment"), sortable(el("th", "Created"), "created"), el("th", "State"));
  for (const c of cols) {
    const th = el("th", c.label);
    th.title = `${c.kind}: ${c.file}:${c.key}`;
    th.dataset.kind = c.kind;
    tr.append(sortable(th, `${c.kind}:${c.file}:${c.key}`));
  }
  head.append(tr);
  const rows = arranged();
  state.offset = Math.min(state.offset, Math.max(0, rows.length - 1) - (Math.max(0, rows.length - 1) % PAGE_ROWS));
  const page = rows.slice(state.offset, state.offset + PAGE_ROWS);
  const body = $("table").tBodies[0];
  const fragment = document.createDocumentFragment();
  for (const row of page) fragment.append(tableRow(row, cols));
  body.replaceChildren(fragment);
  $("page-info").textContent = rows.length
    ? ` rows ${state.offset + 1}–${state.offset + page.length} of ${rows.length} ` : " no rows ";
  $("prev").disabled = state.offset === 0;
  $("next").disabled = state.offset + PAGE_ROWS >= rows.length;
  renderSelection();
}

function sortable(th, key) {
  if (state.sort === key) th.classList.add(state.sortDesc ? "sorted-desc" : "sorted-asc");
  th.addEventListener("click", () => {
    if (state.sort === key) state.sortDesc = !state.sortDesc;
    else { state.sort = key; state.sortDesc = false; }
    renderTable();
  });
  return th;
}

function rowId(row) { return row.kind === "workspace" ? "workspace" : row.kind === "experiment" ? row.name : row.rev; }

function tableRow(row, cols) {
  const tr = el("tr", undefined, row.kind);
  const id = rowId(row);
  tr.dataset.id = id;
  const box = el("input");
  box.type = "checkbox";
  box.checked = state.selected.has(id);
  box.setAttribute("aria-label", `select ${row.name}`);
  box.addEventListener("change", () => {
    if (box.checked) state.selected.add(id); else state.selected.delete(id);
    renderSelection();
  });
  const pick = el("td");
  pick.append(box);
  const name = el("td", undefined, "name");
  const link = el("a", row.kind === "experiment" ? `${(row.rev || "").slice(0, 7)} [${row.name}]` : row.name);
  link.addEventListener("click", () => openExperiment(id));
  if (row.kind === "experiment") name.append(el("span", "  ", "tree"));
  name.append(link);
  tr.append(pick, name, el("td", row.created ? row.created.slice(0, 16).replace("T", " ") : "-"),
    el("td", row.state || "", `state-${row.state}`));
  for (const c of cols) {
    const v = cell(row, c);
    tr.append(el("td", fmt(v), typeof v === "number" ? "num" : ""));
  }
  if (state.selected.has(id)) tr.classList.add("sel");
  return tr;
}

function renderSelection() {
  for (const tr of $("table").tBodies[0].rows) tr.classList.toggle("sel", state.selected.has(tr.dataset.id));
  const n = state.selected.size;
  $("selected").textContent = `${n} selected`;
  const exps = selectedExperiments();
  $("apply-selected").disabled = $("branch-selected").disabled = $("rename-selected").disabled = exps.length !== 1;
  $("remove-selected").disabled = exps.length === 0;
  $("compare-selected").disabled = n < 2;
  $("plot-selected").disabled = n === 0;
}

function selectedExperiments() {
  const names = new Set(state.data ? state.data.rows.filter((r) => r.kind === "experiment").map((r) => r.name) : []);
  return [...state.selected].filter((id) => names.has(id));
}

function renderColumns() {
  const box = $("columns");
  box.replaceChildren();
  for (const c of state.data.columns) {
    const key = `${c.kind}:${c.file}:${c.key}`;
    const label = el("label");
    const input = el("input");
    input.type = "checkbox";
    input.checked = !state.hidden.has(key);
    input.addEventListener("change", () => {
      if (input.checked) state.hidden.delete(key); else state.hidden.add(key);
      renderTable();
    });
    label.append(input, ` ${c.label} (${c.kind})`);
    box.append(label);
  }
}

function renderWarnings() {
  const list = $("warnings");
  list.replaceChildren(...(state.data.warnings || []).map((w) => el("li", w)));
}

async function loadExperiments() {
  try {
    state.data = await api("/api/experiments", {all: state.all ? "1" : "", where: state.where});
    $("where-error").hidden = true;
  } catch (err) {
    const box = $("where-error");
    box.textContent = `error: ${err.message}` + (err.hint ? `\nhint: ${err.hint}` : "");
    box.hidden = false;
    return;
  }
  renderColumns();
  renderTable();
  renderWarnings();
}

// -- other pages -------------------------------------------------------------------------

function showPage(name) {
  state.page = name;
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("on", b.dataset.page === name);
  for (const s of document.querySelectorAll(".page")) s.classList.toggle("on", s.id === `page-${name}`);
  if (name === "plots") loadPlots();
  if (name === "compare") loadCompare();
  if (name === "queue") loadQueue();
}

function plotsUrl(revs) {
  const url = new URL("/plots", location.origin);
  url.searchParams.set("token", TOKEN);
  for (const r of revs) url.searchParams.append("rev", r);
  return url.toString();
}

function loadPlots() {
  const revs = [...state.selected];
  $("plots-note").textContent = revs.length ? `Plots of ${revs.join(", ")}` : "Plots of the workspace and HEAD (select rows to choose).";
  $("plots-frame").src = plotsUrl(revs.length ? revs : ["workspace", "HEAD"]);
}

async function loadCompare() {
  const revs = [...state.selected];
  const table = $("compare-table");
  if (revs.length < 2) {
    $("compare-note").hidden = false;
    table.tHead.replaceChildren();
    table.tBodies[0].replaceChildren();
    return;
  }
  $("compare-note").hidden = true;
  let data;
  try { data = await api("/api/compare", {rev: revs}); } catch (err) { toast(`error: ${err.message}`, true); return; }
  const tr = el("tr");
  tr.append(el("th", "kind"), el("th", "file"), el("th", "key"), ...data.rows.map((r) => el("th", r.name)));
  table.tHead.replaceChildren(tr);
  const rows = data.values.map((v) => {
    const line = el("tr");
    line.append(el("td", v.kind), el("td", v.file), el("td", v.key));
    v.values.forEach((value, i) => {
      const td = el("td", v.missing[i] ? "-" : fmt(value), typeof value === "number" ? "num" : "");
      const d = v.deltas[i];
      if (i > 0 && d) td.append(el("span", ` (${d > 0 ? "+" : ""}${fmt(d)})`, d > 0 ? "delta-up" : "delta-down"));
      line.append(td);
    });
    if (v.changed) line.classList.add("sel");
    return line;
  });
  table.tBodies[0].replaceChildren(...rows);
  $("compare-files").replaceChildren(...data.files.map((f) => el("li", `${f.status}  ${f.path}`)));
  const diffs = $("compare-diffs");
  diffs.replaceChildren();
  for (const [path, text] of Object.entries(data.diffs)) {
    diffs.append(el("h4", path), el("pre", text === null ? "(large file: no text diff)" : text, "diff"));
  }
}

async function openExperiment(id) {
  state.experiment = id;
  showPage("experiment");
  await loadExperiment();
}

async function loadExperiment() {
  let data;
  try { data = await api("/api/experiment", {rev: state.experiment}); } catch (err) { toast(`error: ${err.message}`, true); return; }
  const row = data.row;
  $("exp-title").textContent = row.kind === "experiment" ? `${row.name} (${(row.rev || "").slice(0, 7)})` : row.name;
  const meta = $("exp-meta");
  meta.replaceChildren();
  for (const [k, v] of [["kind", row.kind], ["commit", row.rev], ["baseline", row.baseline], ["created", row.created], ["state", row.state]]) {
    meta.append(el("dt", k), el("dd", v || "-"));
  }
  $("exp-message").textContent = data.message;
  for (const kind of ["params", "metrics"]) {
    const body = $(`exp-${kind}`).tBodies[0];
    body.replaceChildren();
    for (const [file, values] of Object.entries(row[kind] || {})) {
      for (const [key, value] of Object.entries(values)) {
        const tr = el("tr");
        tr.append(el("td", file), el("td", key), el("td", fmt(value), typeof value === "number" ? "num" : ""));
        body.append(tr);
      }
    }
  }
  $("exp-files").replaceChildren(...data.files.map((f) => el("li", `${f.status}  ${f.path}`)));
  const frame = $("exp-plots");
  const src = plotsUrl([state.experiment]);
  if (frame.dataset.src !== src) { frame.src = src; frame.dataset.src = src; }
  $("exp-log").textContent = data.log !== null ? (data.log_cut ? "[earlier output cut]\n" : "") + data.log
    : (data.log_missing || "no log");
}

async function loadQueue() {
  let data;
  try { data = await api("/api/queue"); } catch (err) { toast(`error: ${err.message}`, true); return; }
  $("queue-workers").textContent = `${data.workers} worker(s) running; ${data.entries.length} entr${data.entries.length === 1 ? "y" : "ies"}`;
  const rows = data.entries.map((e) => {
    const tr = el("tr");
    tr.dataset.id = e.id;
    const name = el("td", undefined, "name");
    const link = el("a", e.name);
    link.addEventListener("click", () => startTail(e.id, e.name));
    name.append(link);
    const kill = el("td", undefined, "act");
    if (e.state === "running" || e.state === "queued") {
      const b = el("button", e.state === "running" ? "Kill" : "Remove", "danger");
      b.addEventListener("click", () => act("kill", {ids: [e.id]}, `Kill ${e.name}?`).then(loadQueue));
      kill.append(b);
    }
    tr.append(el("td", e.id), name, el("td", e.state, `state-${e.state}`), el("td", e.attempt),
      el("td", (e.created || "").slice(0, 19).replace("T", " ")), el("td", e.duration === null ? "-" : `${e.duration.toFixed(1)} s`),
      el("td", e.params.join(" ")), kill);
    return tr;
  });
  $("queue-table").tBodies[0].replaceChildren(...rows);
  if (state.tail) await pollTail();
}

function startTail(id, name) {
  state.tail = id;
  state.tailOffset = 0;
  $("tail-title").textContent = `Log of ${name} (${id})`;
  $("tail").textContent = "";
  pollTail();
}

async function pollTail() {
  if (!state.tail) return;
  try {
    const data = await api("/api/queue-log", {id: state.tail, offset: state.tailOffset});
    if (data.offset < state.tailOffset) { $("tail").textContent = ""; }
    if (data.text) $("tail").append(document.createTextNode(data.text));
    state.tailOffset = data.offset;
  } catch (err) { /* not started yet: nothing to show */ }
}

// -- live ------------------------------------------------------------------------------

async function refresh(force) {
  let now;
  try { now = await api("/api/state"); } catch (err) { $("live").classList.add("stale"); return; }
  $("live").classList.remove("stale");
  state.readOnly = now.read_only;
  document.body.classList.toggle("read-only", now.read_only);
  if (!force && now.key === state.key) {
    if (state.page === "queue" && state.tail) await pollTail();
    return;
  }
  state.key = now.key;
  await loadExperiments();
  if (state.page === "experiment" && state.experiment) await loadExperiment();
  if (state.page === "queue") await loadQueue();
  if (state.page === "compare") await loadCompare();
  $("status").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

function wire() {
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => showPage(b.dataset.page));
  $("filter").addEventListener("input", (e) => { state.filter = e.target.value; state.offset = 0; renderTable(); });
  $("where").addEventListener("change", (e) => { state.where = e.target.value.trim(); state.offset = 0; loadExperiments(); });
  $("all").addEventListener("change", (e) => { state.all = e.target.checked; loadExperiments(); });
  $("changed").addEventListener("change", (e) => { state.onlyChanged = e.target.checked; renderTable(); });
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE_ROWS); renderTable(); });
  $("next").addEventListener("click", () => { state.offset += PAGE_ROWS; renderTable(); });
  $("plot-selected").addEventListener("click", () => showPage("plots"));
  $("compare-selected").addEventListener("click", () => showPage("compare"));
  $("apply-selected").addEventListener("click", async () => {
    const [name] = selectedExperiments();
    const done = await act("apply", {rev: name}, `Apply ${name} to your work tree? (your work tree is backed up first)`);
    if (done === null && /--force|in the way|would overwrite/.test(act.lastError + (act.lastHint || ""))
        && confirm(`${act.lastError}\n\nApply ${name} anyway, keeping those files in the backup?`)) {
      await act("apply", {rev: name, force: true});
    }
  });
  $("branch-selected").addEventListener("click", () => {
    const [name] = selectedExperiments();
    const branch = prompt(`Branch name for ${name}:`, name);
    if (branch) act("branch", {rev: name, branch});
  });
  $("rename-selected").addEventListener("click", () => {
    const [name] = selectedExperiments();
    const to = prompt(`New name for ${name}:`, name);
    if (to && to !== name) act("rename", {rev: name, name: to}).then(() => state.selected.clear());
  });
  $("remove-selected").addEventListener("click", () => {
    const names = selectedExperiments();
    act("remove", {revs: names}, `Remove ${names.join(", ")}? This deletes the experiment refs.`)
      .then((done) => { if (done) names.forEach((n) => state.selected.delete(n)); });
  });
  $("queue-run").addEventListener("click", () => {
    const set = $("queue-set").value.trim().split(/\s+/).filter(Boolean);
    const jobs = parseInt($("queue-jobs").value, 10) || 0;
    act("queue", {set, jobs: jobs || undefined});
  });
  $("queue-start").addEventListener("click", () => act("start", {jobs: parseInt($("start-jobs").value, 10) || 1}).then(loadQueue));
  $("queue-stop").addEventListener("click", () => act("stop", {}, "Stop the queue workers after their current entry?").then(loadQueue));
}

wire();
refresh(true);
setInterval(() => refresh(false), POLL_MS);
