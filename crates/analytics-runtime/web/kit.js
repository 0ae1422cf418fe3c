// What the admin dashboard and the operator page share: the token session,
// API calls, cards, tables, charts (uPlot, vendored beside this file, with
// every chart readable as a table too), CSV downloads and the live feed.

/** Builds an element: `h("td", { class: "num" }, "12")`. */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const fmt = {
  int: (n) => (n === null || n === undefined ? "–" : Math.round(Number(n)).toLocaleString("en-US")),
  num: (n, digits = 2) =>
    n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US", { maximumFractionDigits: digits }),
  pct: (n) => (n === null || n === undefined ? "–" : `${fmt.num(n, 2)} %`),
  ratio: (r) => (r === null || r === undefined ? "–" : `${fmt.num(r * 100, 1)} %`),
  ms: (n) => (n === null || n === undefined ? "–" : `${fmt.int(n)} ms`),
  /** Seconds as "2 h 05 min", "3 min 20 s", "12 min" or "12 s". */
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.round(Number(seconds)));
    if (s >= 3600) return `${fmt.int(Math.floor(s / 3600))} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
    if (s >= 60) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
    return `${s} s`;
  },
};

/** Parses RFC 3339 or the legacy "Y-m-d H:i:s" (UTC). */
export function parseTime(text) {
  if (!text) return NaN;
  return Date.parse(/^\d{4}-\d{2}-\d{2} \d/.test(text) ? `${text.replace(" ", "T")}Z` : text);
}

export class AuthError extends Error {}
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * The bearer token of this tab (sessionStorage: it goes when the tab
 * closes) and the calls made with it.
 */
export class Session {
  constructor(storageKey) {
    this.key = storageKey;
  }
  get token() {
    try {
      return sessionStorage.getItem(this.key);
    } catch {
      return this.memory ?? null;
    }
  }
  set token(value) {
    this.memory = value;
    try {
      if (value) sessionStorage.setItem(this.key, value);
      else sessionStorage.removeItem(this.key);
    } catch {
      // Storage refused: the token lives as long as the page.
    }
  }
  async request(path, accept = "application/json", body = undefined) {
    const headers = { Authorization: `Bearer ${this.token}`, Accept: accept };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    if (response.status === 401 || response.status === 403) {
      throw new AuthError("The token was refused.");
    }
    // A report kept from before the last flush while its recomputation
    // runs: the page says so and asks again.
    if (response.headers.get("X-Report-Updating")) this.updating = true;
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      const wait = response.headers.get("Retry-After");
      const message = body.message ?? `HTTP ${response.status}`;
      throw new ApiError(response.status, wait ? `${message} (retrying in ${wait} s)` : message);
    }
    return response;
  }
  async get(path) {
    return (await this.request(path)).json();
  }
  /** POSTs `body` as JSON; the JSON answer. */
  async post(path, body) {
    return (await this.request(path, "application/json", body)).json();
  }
  /** Downloads `path` as CSV under `filename`. */
  async download(path, filename) {
    saveFile(filename, await (await this.request(path, "text/csv")).blob());
  }
}

/** Hands `blob` to the browser as a download named `filename`. */
export function saveFile(filename, blob) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/**
 * CSV of `rows` under a header of the column keys, for the tables the API
 * has no CSV of; like the API's, text a spreadsheet would run as a formula
 * gets a leading `'`.
 */
export function toCsv(columns, rows) {
  const cell = (value) => {
    let text = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@]/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = [columns.map((c) => cell(c.name ?? c.key)), ...rows.map((r) => columns.map((c) => cell(r[c.key])))];
  return `${lines.map((l) => l.join(",")).join("\r\n")}\r\n`;
}

/**
 * The sign-in form (in `#signin`, asking for `tokenLabel`): `start()` runs
 * with a token, and an AuthError from it shows the form again with the
 * reason.
 */
export function signIn({ session, start, tokenLabel }) {
  const form = document.getElementById("signin");
  form.replaceChildren(
    h("h2", {}, "Sign in"),
    h("form", {},
      h("label", { for: "token" }, tokenLabel),
      h("input", { id: "token", type: "password", autocomplete: "off", required: true }),
      h("button", { class: "primary", type: "submit" }, "Sign in"),
      h("p", { class: "error", id: "signin-error", role: "alert" })),
    h("p", { class: "muted" }, "The token is kept for this tab only."),
  );
  const app = document.getElementById("app");
  const error = document.getElementById("signin-error");
  const signOut = document.getElementById("signout");
  async function enter() {
    form.hidden = true;
    app.hidden = false;
    signOut.hidden = false;
    try {
      await start();
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
      session.token = null;
      leave(e.message);
    }
  }
  function leave(message = "") {
    // Nothing is loading once the sign-in form is back.
    setStatus("");
    app.hidden = true;
    signOut.hidden = true;
    form.hidden = false;
    error.textContent = message;
    document.getElementById("token").focus();
  }
  form.querySelector("form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("token");
    session.token = input.value.trim();
    input.value = "";
    enter();
  });
  signOut.addEventListener("click", () => {
    session.token = null;
    location.reload();
  });
  if (session.token) enter();
  else leave();
}

/** Summary cards: `[{ label, value, hint, tone: "good" | "bad" }]`. */
export function cards(container, items) {
  container.replaceChildren(
    ...items.map((c) =>
      h("div", { class: `card ${c.tone ?? ""}`, "data-card": c.id ?? c.label },
        h("div", { class: "label" }, c.label),
        h("div", { class: "value" }, c.value),
        c.hint ? h("div", { class: "hint" }, c.hint) : null),
    ),
  );
}

// Tables with more columns than this become one card per row on a phone
// (kit.css): a row of six figures does not fit 375 px, and a table that
// scrolls sideways hides the figures it exists for.
const STACK_OVER_COLUMNS = 3;

/**
 * A table: `columns` are `{ key, label, num, format(value, row) }`.
 */
export function table(container, { columns, rows, caption, empty = "Nothing in this period." }) {
  const head = h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null, scope: "col" }, c.label)));
  const body = rows.length
    ? rows.map((row) =>
        h("tr", {}, columns.map((c) => {
          const value = typeof c.key === "function" ? c.key(row) : row[c.key];
          // data-label: the column's name beside the figure when stacked.
          return h("td", { class: c.num ? "num" : null, "data-label": c.label || null }, c.format ? c.format(value, row) : value ?? "–");
        })))
    : [h("tr", {}, h("td", { class: "empty", colspan: columns.length }, empty))];
  const stack = columns.length > STACK_OVER_COLUMNS ? "stack" : null;
  const node = h("table", { class: stack }, caption ? h("caption", {}, caption) : null, h("thead", {}, head), h("tbody", {}, body));
  container.replaceChildren(h("div", { class: "table-wrap" }, node));
  return node;
}

/** A section's title and a "CSV" button that runs `download` (`key`
 * names the button for tests and styles). */
function titleWithCsv(container, title, key, download) {
  container.replaceChildren(
    h("h2", {}, title),
    h("button", {
      type: "button",
      class: "link",
      "data-csv": key,
      onclick: () => Promise.resolve().then(download).catch((e) => setStatus(e.message, "bad")),
    }, "CSV ↓"),
  );
}

/** A section's title with a download of the API's CSV of `path`. */
export function csvTools(container, title, session, path, filename) {
  titleWithCsv(container, title, path, () => session.download(path, filename));
}

/** A section's title with a CSV download of rows the page already has. */
export function rowsCsvTools(container, title, filename, columns, rows) {
  titleWithCsv(container, title, filename, () =>
    saveFile(filename, new Blob([toCsv(columns, rows)], { type: "text/csv" })));
}

const PALETTE = ["#2f6fdb", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c", "#0b7285", "#e67700", "#495057"];
const plots = new WeakMap();

/**
 * A chart of `series` (`[{ label, values, kind }]`) over categorical
 * `labels`, drawn with uPlot, followed by the same figures as a table (for
 * screen readers, and to read exact values). `kind` ("line" or "bars") is
 * the chart's, or a series' own.
 */
export function chart(container, { labels, series, kind = "line", height = 220, caption }) {
  plots.get(container)?.destroy();
  const box = h("div", { class: "chart", role: "img", "aria-label": caption ?? "chart" });
  const data = h("div");
  container.replaceChildren(box, h("details", { class: "as-table" }, h("summary", {}, "Show as a table"), data));
  table(data, {
    caption,
    columns: [{ key: "label", label: "" }, ...series.map((s, i) => ({ key: `s${i}`, label: s.label, num: true, format: (v) => fmt.num(v) }))],
    rows: labels.map((label, i) => Object.fromEntries([["label", label], ...series.map((s, j) => [`s${j}`, s.values[i]])])),
    empty: "No data.",
  });
  const uPlot = globalThis.uPlot;
  if (!uPlot || labels.length === 0) return null;
  const barPaths = uPlot.paths.bars({ size: [0.7, 48] });
  const isBars = (s) => (s.kind ?? kind) === "bars";
  const plot = new uPlot(
    {
      width: Math.max(box.clientWidth, 280),
      height,
      // Names and colours only: the figures are in the table below (a live
      // legend shows "--" until the pointer is on the chart).
      legend: { show: series.length > 1, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: (u, min, max) => (series.some(isBars) ? [min - 0.5, max + 0.5] : [min, max]) } },
      axes: [
        { incrs: [1, 2, 3, 4, 6, 12, 24, 50, 100], values: (u, splits) => splits.map((i) => labels[i] ?? "") },
        { size: 60, values: (u, splits) => splits.map((v) => fmt.num(v, 1)) },
      ],
      series: [
        { label: "" },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          fill: isBars(s) ? `${PALETTE[i % PALETTE.length]}aa` : undefined,
          width: isBars(s) ? 1 : 2,
          paths: isBars(s) ? barPaths : undefined,
          points: { show: !isBars(s) && labels.length < 40 },
        })),
      ],
    },
    [labels.map((_, i) => i), ...series.map((s) => s.values.map((v) => (v === null ? null : Number(v))))],
    box,
  );
  plots.set(container, plot);
  const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(box.clientWidth, 280), height }));
  resize.observe(box);
  const destroy = plot.destroy.bind(plot);
  plot.destroy = () => {
    resize.disconnect();
    destroy();
  };
  return plot;
}

/**
 * Runs every loader at once. A refused token signs out (the AuthError is
 * thrown); other failures are named in the status line, the rest of the
 * page still shows. Returns whether everything loaded.
 */
export async function loadAll(loaders) {
  setStatus("Loading…");
  const results = await Promise.allSettled(loaders.map((load) => load()));
  const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason);
  const refused = failed.find((e) => e instanceof AuthError);
  if (refused) throw refused;
  setStatus(
    failed.length ? `Could not load everything: ${failed.map((e) => e.message).join("; ")}` : `Updated ${new Date().toLocaleTimeString()}`,
    failed.length ? "bad" : "",
  );
  return failed.length === 0;
}

/** The header's status line: "" clears it. */
export function setStatus(text, tone = "") {
  const node = document.getElementById("status");
  if (!node) return;
  node.textContent = text;
  node.className = `status ${tone}`;
}

/**
 * The live feed over a WebSocket on `path` (the token travels as a
 * subprotocol, the only way a browser can send one), reconnecting with
 * backoff; `onMessage(type, payload)`, `onState("open" | "closed")` (open:
 * messages are arriving).
 * Returns a function that closes it for good.
 */
export function liveFeed(path, token, { onMessage, onState }) {
  let socket = null;
  let stopped = false;
  let delay = 1000;
  function connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
    socket = new WebSocket(url, ["analytics.v1", `bearer.${token}`]);
    let flowing = false;
    // "open" once the first message arrived: connected is not yet live.
    socket.onmessage = (event) => {
      if (!flowing) {
        flowing = true;
        delay = 1000;
        onState?.("open");
      }
      try {
        const message = JSON.parse(event.data);
        onMessage(message.type, message.payload);
      } catch {
        // Not ours to render.
      }
    };
    socket.onclose = () => {
      onState?.("closed");
      if (stopped) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
  return () => {
    stopped = true;
    socket?.close();
  };
}
