// The admin dashboard: what is watched, searched and recommended, live, and
// the catalogue's state. Everything comes from read-api with the admin
// token; each table downloads as CSV, each chart reads as a table too.
import {
  Session, signIn, loadAll, cards, table, chart, csvTools, rowsCsvTools, fmt, setStatus, liveFeed, h,
} from "/assets/kit.js";

const session = new Session("analytics-admin-token");
const $ = (id) => document.getElementById(id);
const A = "/api/v1/admin/analytics";
const LIVE_POINTS = 60;

const days = () => $("days").value;
const last = (list) => list[list.length - 1];
const short = (date) => date.slice(5);

// The page's range of days, as the server reported it (its zone's today).
const pageRange = { from: null, to: null };

function movieColumns(extra) {
  return [
    { key: "rank", label: "#", num: true },
    {
      key: (r) => r.title ?? r.movie_id ?? r.entity_id,
      label: "Movie",
      // Opens the film's own figures and series for the page's period.
      format: (v, r) => h("button", { type: "button", class: "link film-link", title: r.movie_id ?? r.entity_id, "data-film": r.movie_id ?? r.entity_id, onclick: () => openFilm(r.movie_id ?? r.entity_id, v).catch((e) => setStatus(e.message, "bad")) }, v),
    },
    { key: "code", label: "Code" },
    ...extra,
  ];
}

async function renderActivity() {
  const [viewing, downloads] = await Promise.all([
    session.get(`/api/v1/analytics/trends?days=${days()}`),
    session.get(`${A}/trends?days=${days()}&action=download`),
  ]);
  Object.assign(pageRange, { from: viewing.from, to: viewing.to });
  const today = last(viewing.days);
  cards($("today"), [
    { id: "today-page-views", label: "Page views", value: fmt.int(today.page_views) },
    { id: "today-plays", label: "Plays", value: fmt.int(today.views) },
    { id: "today-downloads", label: "Downloads", value: fmt.int(last(downloads.values)) },
    { id: "today-viewers", label: "Unique viewers", value: fmt.int(today.unique_viewers) },
    { id: "today-watch-time", label: "Watch time", value: fmt.duration(today.watch_time_seconds) },
    { id: "today-completions", label: "Completed", value: fmt.int(today.completions) },
  ]);
  const sum = (key) => viewing.days.reduce((s, d) => s + d[key], 0);
  $("period-title").textContent = `${viewing.from} – ${viewing.to}`;
  cards($("period"), [
    { id: "period-page-views", label: "Page views", value: fmt.int(sum("page_views")) },
    { id: "period-plays", label: "Plays", value: fmt.int(sum("views")) },
    { id: "period-downloads", label: "Downloads", value: fmt.int(downloads.total) },
    { id: "period-viewers", label: "Unique viewers", value: fmt.int(viewing.unique_viewers) },
    { id: "period-watch-time", label: "Watch time", value: fmt.duration(sum("watch_time_seconds")) },
    { id: "period-completions", label: "Completed", value: fmt.int(sum("completions")) },
  ]);
  const labels = viewing.days.map((d) => short(d.date));
  chart($("trends"), {
    labels,
    caption: "Page views, plays, downloads and unique viewers per day",
    series: [
      { label: "Page views", values: viewing.days.map((d) => d.page_views) },
      { label: "Plays", values: viewing.days.map((d) => d.views) },
      { label: "Downloads", values: downloads.values },
      { label: "Unique viewers", values: viewing.days.map((d) => d.unique_viewers) },
    ],
  });
  chart($("watch-time"), {
    labels,
    kind: "bars",
    caption: "Hours watched per day",
    series: [{ label: "Hours", values: viewing.days.map((d) => Math.round(d.watch_time_seconds / 36) / 100) }],
  });
}

async function renderPeakHours() {
  const peak = await session.get(`/api/v1/analytics/peak-hours?days=${days()}`);
  const hours = [...peak.hours].sort((a, b) => a.hour - b.hour);
  $("peak-title").textContent = `Peak hours (${peak.timezone})`;
  chart($("peak-hours"), {
    labels: hours.map((x) => String(x.hour).padStart(2, "0")),
    kind: "bars",
    caption: `Events and distinct users per hour of the day, ${peak.timezone}`,
    series: [
      { label: "Events", values: hours.map((x) => x.events_count) },
      { label: "Users", values: hours.map((x) => x.unique_users), kind: "line" },
    ],
  });
}

async function renderPopular() {
  const sort = $("popular-sort").value;
  const path = `/api/v1/analytics/content/popular?days=${days()}&limit=10&sort=${sort}`;
  const body = await session.get(path);
  csvTools($("popular-tools"), "Popular content", session, path, `popular-${sort}-${days()}d.csv`);
  table($("popular"), {
    columns: movieColumns([
      { key: "total_views", label: "Plays", num: true, format: fmt.int },
      { key: "unique_viewers", label: "Viewers", num: true, format: fmt.int },
      { key: "watch_time_seconds", label: "Watch time", num: true, format: fmt.duration },
      // Both over plays: completions per start, and how far the plays
      // that reported an end (with a known length) got.
      { key: "completion_rate", label: "Completed (of plays)", num: true, format: fmt.pct },
      { key: "avg_watch_percentage", label: "Watched (ended plays)", num: true, format: fmt.pct },
      { key: "page_views", label: "Page views", num: true, format: fmt.int },
    ]),
    rows: body.items,
  });
}

const TOP_LISTS = {
  views: { action: "view", title: "Most viewed" },
  downloads: { action: "download", title: "Most downloaded" },
};

/** One top list, over its own selector's period ("range": the page's). */
async function renderTopList(kind) {
  const { action, title } = TOP_LISTS[kind];
  const period = $(`top-${kind}-period`).value;
  const over = period === "range" ? `period=range&days=${days()}` : `period=${period}`;
  const path = `${A}/top?entity_type=movie&action=${action}&${over}&limit=10`;
  const body = await session.get(path);
  csvTools($(`top-${kind}-tools`), title, session, path, `top-${action}-${period === "range" ? `${days()}d` : period}.csv`);
  table($(`top-${kind}`), {
    columns: movieColumns([
      { key: "view", label: "Views", num: true, format: fmt.int },
      { key: "download", label: "Downloads", num: true, format: fmt.int },
    ]),
    rows: body.items,
  });
}

const renderTop = () => Promise.all(Object.keys(TOP_LISTS).map(renderTopList));

/** A film's figures and daily series over the page's period. */
async function openFilm(id, title) {
  const range = `from=${pageRange.from}&to=${pageRange.to}`;
  const [series, watch] = await Promise.all([
    session.get(`${A}/entities/movie/${encodeURIComponent(id)}?${range}&granularity=day`),
    session.get(`/api/metrics/video/${encodeURIComponent(id)}?startDate=${pageRange.from}&endDate=${pageRange.to}`),
  ]);
  const panel = $("film");
  $("film-title").textContent = `${title} · ${pageRange.from} – ${pageRange.to}`;
  const sum = (key) => series.series.reduce((s, p) => s + p[key], 0);
  cards($("film-cards"), [
    { id: "film-views", label: "Views", value: fmt.int(sum("view")) },
    { id: "film-downloads", label: "Downloads", value: fmt.int(sum("download")) },
    { id: "film-plays", label: "Plays", value: fmt.int(watch.views) },
    { id: "film-viewers", label: "Unique viewers", value: fmt.int(watch.unique_viewers) },
    { id: "film-watch-time", label: "Watch time", value: fmt.duration(watch.watch_time_seconds) },
    { id: "film-completed", label: "Completed (of plays)", value: fmt.pct(watch.completion_rate * 100) },
  ]);
  chart($("film-series"), {
    labels: series.series.map((p) => short(p.bucket)),
    caption: `Views and downloads of ${title} per day`,
    series: [
      { label: "Views", values: series.series.map((p) => p.view) },
      { label: "Downloads", values: series.series.map((p) => p.download) },
    ],
  });
  panel.hidden = false;
  panel.dataset.film = id;
  panel.scrollIntoView({ block: "start" });
}

async function renderSearch() {
  const columns = [
    { key: "rank", label: "#", num: true },
    { key: "query", label: "Query" },
    { key: "searches", label: "Searches", num: true, format: fmt.int },
    { key: "zero_results", label: "No results", num: true, format: fmt.int },
  ];
  for (const [sort, id, title] of [["searches", "queries", "Top searches"], ["zero_results", "zero-queries", "Searches that found nothing"]]) {
    const path = `${A}/search/queries?days=${days()}&sort=${sort}&limit=10`;
    const body = await session.get(path);
    csvTools($(`${id === "queries" ? "queries" : "zero"}-tools`), title, session, path, `search-${sort}-${days()}d.csv`);
    table($(id), { columns, rows: sort === "zero_results" ? body.items.filter((q) => q.zero_results > 0) : body.items });
  }
  const daily = await session.get(`${A}/search/daily?days=${days()}`);
  chart($("searches"), {
    labels: daily.days.map((d) => short(d.date)),
    caption: "Searches and searches without results per day",
    series: [
      { label: "Searches", values: daily.days.map((d) => d.searches) },
      { label: "No results", values: daily.days.map((d) => d.zero_results) },
    ],
  });
}

async function renderRecommendations() {
  const path = `${A}/recommendations?days=${days()}&by=both`;
  const body = await session.get(path);
  csvTools($("recs-tools"), "Recommendations", session, path, `recommendations-${days()}d.csv`);
  table($("recommendations"), {
    columns: [
      { key: "placement", label: "Placement" },
      { key: "reason", label: "Reason" },
      { key: "impressions", label: "Shown", num: true, format: fmt.int },
      { key: "clicks", label: "Clicked", num: true, format: fmt.int },
      { key: "ctr", label: "CTR", num: true, format: fmt.ratio },
    ],
    rows: body.items,
  });
  const moviesPath = `${A}/recommendations/movies?days=${days()}&limit=10`;
  const movies = await session.get(moviesPath);
  csvTools($("clicked-tools"), "Recommended films clicked most", session, moviesPath, `recommended-clicks-${days()}d.csv`);
  table($("clicked"), {
    columns: movieColumns([
      { key: "clicks", label: "Clicked", num: true, format: fmt.int },
      { key: "impressions", label: "Shown", num: true, format: fmt.int },
      { key: "ctr", label: "CTR", num: true, format: fmt.ratio },
    ]),
    rows: movies.items,
  });
}

async function renderCatalogue() {
  const [snap, actors] = await Promise.all([
    session.get(`${A}/snapshot?days=${days()}`),
    session.get(`${A}/actors/quality`),
  ]);
  const q = snap.quality;
  cards($("catalogue-cards"), [
    { id: "movies", label: "Movies", value: fmt.int(snap.totals.jav), hint: `${fmt.int(snap.todayCreated.jav)} added today` },
    { id: "actors", label: "Actors", value: fmt.int(snap.totals.actors), hint: `${fmt.int(snap.todayCreated.actors)} added today` },
    { id: "tags", label: "Tags", value: fmt.int(snap.totals.tags), hint: `${fmt.int(snap.todayCreated.tags)} added today` },
    { id: "pending-jobs", label: "Sync jobs waiting", value: fmt.int(snap.syncHealth.pending_jobs) },
    { id: "failed-jobs", label: "Sync jobs failed (24 h)", value: fmt.int(snap.syncHealth.failed_jobs_24h), tone: snap.syncHealth.failed_jobs_24h > 0 ? "bad" : "" },
  ]);
  const created = snap.dailyCreated;
  chart($("created"), {
    labels: created.jav.labels.map(short),
    caption: "Movies, actors and tags added per day",
    series: [
      { label: "Movies", values: created.jav.values },
      { label: "Actors", values: created.actors.values },
      { label: "Tags", values: created.tags.values },
    ],
  });
  const e = snap.dailyEngagement;
  chart($("engagement"), {
    labels: e.favorites.labels.map(short),
    caption: "Favorites, watchlist entries, ratings and history per day",
    series: [
      { label: "Favorites", values: e.favorites.values },
      { label: "Watchlists", values: e.watchlists.values },
      { label: "Ratings", values: e.ratings.values },
      { label: "History", values: e.history.values },
    ],
  });
  const providerColumns = [
    { key: "source", label: "Source" },
    { key: "total_count", label: "Movies", num: true, format: fmt.int },
    { key: "today_count", label: "Today", num: true, format: fmt.int },
    { key: "window_count", label: "In the period", num: true, format: fmt.int },
  ];
  rowsCsvTools($("providers-tools"), "Movies per source", `sources-${days()}d.csv`, providerColumns, snap.providerStats);
  table($("providers"), { columns: providerColumns, rows: snap.providerStats });
  const ratedColumns = [
    { key: "title", label: "Movie" },
    { key: "code", label: "Code" },
    { key: "ratings_avg_rating", label: "Rating", num: true, format: (v) => fmt.num(v, 2) },
    { key: "ratings_count", label: "Ratings", num: true, format: fmt.int },
  ];
  rowsCsvTools($("rated-tools"), "Top rated", "top-rated.csv", ratedColumns, snap.topRated);
  table($("top-rated"), { columns: ratedColumns, rows: snap.topRated, empty: "Nothing rated yet." });
  const qualityRows = [
    { measure: "Movies without actors", value: q.missing_actors },
    { measure: "Movies without tags", value: q.missing_tags },
    { measure: "Movies without an image", value: q.missing_image },
    { measure: "Movies without a date", value: q.missing_date },
    { measure: "Actors in no movie", value: q.orphan_actors },
    { measure: "Tags on no movie", value: q.orphan_tags },
    { measure: "Actors per movie", value: q.avg_actors_per_jav },
    { measure: "Tags per movie", value: q.avg_tags_per_jav },
  ];
  const qualityColumns = [
    { key: "measure", label: "Catalogue quality" },
    { key: "value", label: "", num: true, format: (v) => fmt.num(v) },
  ];
  rowsCsvTools($("quality-tools"), "Catalogue quality", "catalogue-quality.csv", qualityColumns, qualityRows);
  // The quality figures come from the catalogue index (refreshed by its
  // CronJob), not from this request: say when.
  const computed = snap.stats_refreshed_at ?? snap.generated_at;
  table($("quality"), { columns: qualityColumns, rows: qualityRows, caption: `Computed ${computed} (${snap.timezone})` });
  const actorRows = Object.entries(actors.coverage).map(([field, c]) => ({ field, ...c }));
  const actorColumns = [
    { key: "field", label: "Actor field" },
    { key: "count", label: "Known", num: true, format: fmt.int },
    { key: "missing", label: "Missing", num: true, format: fmt.int },
    { key: "rate", label: "Coverage", num: true, format: fmt.ratio },
  ];
  rowsCsvTools($("actor-quality-tools"), `Actor data (${fmt.int(actors.total_actors)} actors)`, "actor-quality.csv", actorColumns, actorRows);
  table($("actor-quality"), { columns: actorColumns, rows: actorRows });
}

// The live section: cards and a minute of history from the WebSocket feed.
const live = { times: [], events: [], viewers: [], recent: [], close: null };

function renderLive(m) {
  cards($("live-cards"), [
    { id: "live-viewers", label: "Watching now", value: fmt.int(m.concurrent_viewers), hint: `played in the last ${m.viewer_window_seconds} s (by when it happened)` },
    { id: "live-rate", label: "Events / s", value: fmt.num(m.events_per_second, 1) },
    { id: "live-minute", label: "Events in the last minute", value: fmt.int(m.accepted_last_minute) },
    { id: "live-errors", label: "Refused", value: fmt.ratio(m.error_rate), tone: m.error_rate > 0.05 ? "bad" : "" },
    { id: "live-playback-errors", label: "Playback errors", value: fmt.ratio(m.playback_error_rate), tone: m.playback_error_rate > 0.05 ? "bad" : "" },
  ]);
  live.times.push(new Date(m.as_of * 1000).toISOString().slice(11, 19));
  live.events.push(m.events_per_second);
  live.viewers.push(m.concurrent_viewers);
  for (const list of [live.times, live.events, live.viewers]) if (list.length > LIVE_POINTS) list.shift();
  live.ticks = (live.ticks ?? 0) + 1;
  // Redrawn in place each second; chart and table rebuilt every tenth.
  if (live.plot && live.ticks % 10 !== 0) {
    live.plot.setData([live.times.map((_, i) => i), live.events, live.viewers]);
  } else {
    live.plot = chart($("live-chart"), {
      labels: live.times,
      height: 160,
      caption: "Events per second and viewers watching, the last minute",
      series: [
        { label: "Events / s", values: live.events },
        { label: "Watching", values: live.viewers },
      ],
    });
  }
}

// The latest events by when they happened, newest first (an old batch
// replayed now does not push out what is happening).
const happened = (e) => Date.parse(e.occurred_at) || 0;

function renderLiveEvent(e) {
  live.recent.push(e);
  live.recent.sort((a, b) => happened(b) - happened(a));
  live.recent.length = Math.min(live.recent.length, 8);
  table($("live-events"), {
    columns: [
      { key: "occurred_at", label: "At", format: (v) => (v ? String(v).slice(11, 19) : "–") },
      { key: "action", label: "Action" },
      { key: "entity_type", label: "Type" },
      { key: "entity_id", label: "Id" },
    ],
    rows: live.recent,
    empty: "Waiting for events…",
  });
}

function startLive() {
  live.close?.();
  table($("live-events"), { columns: [{ key: "x", label: "" }], rows: [], empty: "Waiting for events…" });
  // The figures at once; the feed brings them every second from now on.
  session.get("/api/metrics/realtime").then(renderLive, (e) => setStatus(e.message, "bad"));
  live.close = liveFeed("/api/v1/admin/analytics/live", session.token, {
    onMessage(type, payload) {
      if (type === "realtime_metrics") renderLive(payload);
      else if (type === "analytics_event") renderLiveEvent(payload);
    },
    onState(state) {
      const pill = $("live-state");
      pill.textContent = state === "open" ? "live" : "reconnecting…";
      pill.className = `pill ${state === "open" ? "good" : "bad"}`;
    },
  });
}

// How soon a dashboard with figures from before the last flush asks again.
const UPDATING_RETRY_MS = 2000;
let updatingRetry = null;

async function load() {
  document.documentElement.dataset.state = "loading";
  const sections = [renderActivity, renderPeakHours, renderPopular, renderTop, renderSearch, renderRecommendations, renderCatalogue];
  session.updating = false;
  const complete = await loadAll(sections);
  clearTimeout(updatingRetry);
  if (session.updating) {
    setStatus("Updating: some figures are from before the last flush; refreshing…");
    updatingRetry = setTimeout(reload, UPDATING_RETRY_MS);
  }
  document.documentElement.dataset.state = complete ? (session.updating ? "updating" : "ready") : "partial";
  // When the first full dashboard was on screen (the figure docs/benchmarks.md gives).
  if (performance.getEntriesByName("dashboard-ready").length === 0) performance.mark("dashboard-ready");
}

async function start() {
  await load();
  if (!live.close) startLive();
}

const reload = () => load().catch((e) => setStatus(e.message, "bad"));
$("controls").addEventListener("submit", (event) => {
  event.preventDefault();
  reload();
});
$("days").addEventListener("change", reload);
$("popular-sort").addEventListener("change", () => renderPopular().catch((e) => setStatus(e.message, "bad")));
for (const kind of Object.keys(TOP_LISTS)) {
  $(`top-${kind}-period`).addEventListener("change", () => renderTopList(kind).catch((e) => setStatus(e.message, "bad")));
}
$("film-close").addEventListener("click", () => {
  $("film").hidden = true;
});

signIn({ session, start, tokenLabel: "Admin token" });
