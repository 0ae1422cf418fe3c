// The operator page: is the pipeline well, and how are the queue jobs
// doing — summary, throughput, rate alerts, hosts that blocked us,
// failures and slow jobs. Everything comes from telemetry-svc's operator
// API with the operator token.
import { Session, signIn, loadAll, cards, table, chart, fmt, parseTime, setStatus, h } from "/assets/kit.js";

const session = new Session("analytics-operator-token");
const $ = (id) => document.getElementById(id);
let timer = null;

function query() {
  const params = new URLSearchParams({ window_minutes: $("window").value, limit: $("limit").value });
  if ($("site").value) params.set("site", $("site").value);
  if ($("job").value) params.set("job_name", $("job").value);
  return params;
}

/** Keeps a picker's choice while offering what the window holds. */
function offer(select, values, every) {
  const chosen = select.value;
  select.replaceChildren(h("option", { value: "" }, every), ...values.map((v) => h("option", { value: v }, v)));
  select.value = values.includes(chosen) ? chosen : "";
}

function renderPipeline(p) {
  const banner = $("pipeline-banner");
  banner.className = `banner ${p.healthy ? "good" : "bad"}`;
  banner.replaceChildren(
    p.healthy ? "Healthy: flushes run on time and nothing is stuck." : `${p.problems.length} problem${p.problems.length === 1 ? "" : "s"}:`,
    p.healthy ? "" : h("ul", {}, p.problems.map((text) => h("li", {}, text))),
  );
  const flush = p.last_flush;
  const parity = p.last_parity;
  const backlog = p.backlog ?? {};
  cards($("pipeline-cards"), [
    { id: "last-flush", label: "Last flush", value: flush ? `${fmt.duration(flush.age_seconds)} ago` : "never", hint: flush ? `${flush.status ?? ""} · ${fmt.int(flush.errors ?? 0)} errors` : "no run recorded", tone: flush && (flush.errors ?? 0) === 0 ? "" : "bad" },
    { id: "counts-waiting", label: "Events waiting", value: fmt.int(backlog.counts_waiting), hint: `${fmt.int(backlog.dirty_keys)} counter keys` },
    { id: "open-batches", label: "Open batches", value: fmt.int(backlog.open_batches) },
    { id: "log-waiting", label: "Log entries waiting", value: fmt.int(backlog.log_waiting) },
    { id: "replicas-waiting", label: "Replicas waiting", value: fmt.int(backlog.replicas_waiting), tone: backlog.replicas_waiting > 0 ? "bad" : "" },
    { id: "parity", label: "Last parity check", value: parity ? `${fmt.int(parity.mismatches ?? 0)} mismatches` : "never", hint: parity ? `${fmt.int(parity.checked)} movies, ${fmt.duration(parity.age_seconds)} ago` : "", tone: parity && parity.mismatches > 0 ? "bad" : "" },
  ]);
  table($("partitions"), {
    columns: [
      { key: "partition", label: "Partition", num: true },
      { key: "dirty_keys", label: "Counter keys", num: true, format: fmt.int },
      { key: "counts_waiting", label: "Events waiting", num: true, format: fmt.int },
      { key: "log_waiting", label: "Log entries", num: true, format: fmt.int },
      { key: "open_batch", label: "Open batch", format: (b, row) => (b ? `${b}${row.leased ? " (flushing)" : " (left by a stopped run)"}` : "–") },
    ],
    rows: backlog.partitions ?? [],
    empty: "The backlog could not be read.",
  });
}

function renderSummary(s) {
  const o = s.overview;
  cards($("job-cards"), [
    { id: "started", label: "Started", value: fmt.int(o.total_started) },
    // "completed" jobs are every job that ended, failed ones included.
    { id: "completed", label: "Finished", value: fmt.int(o.total_completed), hint: `${fmt.int(o.total_completed - o.failed)} succeeded · ${fmt.num(o.throughput_per_sec, 3)} / s` },
    { id: "failed", label: "Failed", value: fmt.int(o.failed), tone: o.failed > 0 ? "bad" : "" },
    { id: "success-rate", label: "Success rate", value: fmt.pct(o.success_rate), tone: o.total_completed > 0 && o.success_rate < 95 ? "bad" : "good" },
    { id: "timeouts", label: "Timeouts", value: fmt.pct(o.timeout_rate), hint: `${fmt.int(o.timeout_count)} jobs` },
    { id: "p50", label: "p50", value: fmt.ms(o.p50_ms) },
    { id: "p95", label: "p95", value: fmt.ms(o.p95_ms) },
    { id: "p99", label: "p99", value: fmt.ms(o.p99_ms) },
  ]);
  offer($("site"), s.available_sites, "every site");
  offer($("job"), s.available_jobs, "every job");
  const t = s.throughput;
  chart($("throughput"), {
    labels: t.labels.map((l) => l.slice(11) || l),
    series: t.series.map((x) => ({ label: x.site, values: x.points })),
    caption: "Jobs started per site and interval",
  });
  table($("alerts"), {
    columns: [
      { key: "timestamp", label: "At (UTC)" },
      { key: "site", label: "Site" },
      { key: "status", label: "Level", format: (v) => h("span", { class: `pill ${v === "critical" ? "bad" : ""}` }, v) },
      { key: "jobs_per_second", label: "Jobs / s", num: true },
      { key: "warning_threshold", label: "Warn at", num: true },
      { key: "critical_threshold", label: "Critical at", num: true },
    ],
    rows: t.alerts,
    empty: "No site went over its rate.",
  });
  table($("held"), {
    columns: [
      { key: "timestamp", label: "At (UTC)" },
      { key: "site", label: "Site" },
      { key: "job_name", label: "Job" },
    ],
    rows: t.rate_limited ?? [],
    empty: "No producer held jobs back.",
  });
  table($("performance"), {
    columns: [
      { key: "job_name", label: "Job" },
      { key: "total", label: "Done", num: true, format: fmt.int },
      { key: "failed", label: "Failed", num: true, format: fmt.int },
      { key: "fail_rate", label: "Fail %", num: true, format: fmt.pct },
      { key: "p50_ms", label: "p50", num: true, format: fmt.ms },
      { key: "p95_ms", label: "p95", num: true, format: fmt.ms },
      { key: "p99_ms", label: "p99", num: true, format: fmt.ms },
      { key: "max_ms", label: "Max", num: true, format: fmt.ms },
    ],
    rows: s.job_performance,
    empty: "No job finished in the window.",
  });
  table($("failures"), {
    columns: [
      { key: "timestamp", label: "At (UTC)" },
      { key: "site", label: "Site" },
      { key: "job_name", label: "Job" },
      { key: (r) => r.error_class || r.error_message_short, label: "Error" },
      { key: "error_code", label: "Code", num: true },
      { key: "attempt", label: "Attempt", num: true },
    ],
    rows: s.failures,
    empty: "No job failed in the window.",
  });
  table($("slow"), {
    columns: [
      { key: "timestamp", label: "At (UTC)" },
      { key: "site", label: "Site" },
      { key: "job_name", label: "Job" },
      { key: "status", label: "Status" },
      { key: "duration_ms", label: "Took", num: true, format: fmt.ms },
    ],
    rows: s.slow_jobs,
    empty: "No timed job in the window.",
  });
}

function renderBlocks(b) {
  const now = Date.now();
  table($("blocks"), {
    columns: [
      { key: "target_host", label: "Host" },
      { key: (r) => `${r.last_signal_type} (${r.last_status})`, label: "Last signal" },
      { key: "signals", label: "Signals", num: true, format: fmt.int },
      { key: "last_at", label: "Last at (UTC)" },
      {
        key: "cooldown_until",
        label: "May be hit",
        format: (until, row) =>
          row.cooling_down
            ? h("span", { class: "pill bad", title: until }, `in ${fmt.duration((parseTime(until) - now) / 1000)}`)
            : h("span", { class: "pill good" }, "now"),
      },
    ],
    rows: b.hosts,
    empty: "No host blocked us in the window.",
  });
}

async function refresh() {
  clearTimeout(timer);
  const params = query();
  await loadAll([
    () => session.get("/api/v1/telemetry/pipeline").then(renderPipeline),
    () => session.get(`/api/v1/telemetry/jobs/summary?${params}`).then(renderSummary),
    () => session.get(`/api/v1/telemetry/block-signals?window_minutes=${params.get("window_minutes")}`).then(renderBlocks),
  ]);
  const every = Number($("refresh").value);
  if (every > 0) timer = setTimeout(() => refresh().catch(() => location.reload()), every * 1000);
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  refresh().catch((e) => setStatus(e.message, "bad"));
});
$("refresh").addEventListener("change", () => refresh().catch((e) => setStatus(e.message, "bad")));

signIn({ session, start: refresh, tokenLabel: "Operator token" });
