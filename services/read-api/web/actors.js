// The actor analytics page: the catalogue's actors at a glance, who plays a
// genre (distribution), what a profile plays (association), how the actors
// added change (trends), one actor in depth (insights) and the genres a
// profile would play in (suggest). Everything comes from read-api's actor
// routes with the admin token, which the dashboard's tab already holds.
import { Session, signIn, loadAll, cards, table, chart, rowsCsvTools, fmt, setStatus, h } from "/assets/kit.js";

const session = new Session("analytics-admin-token");
const $ = (id) => document.getElementById(id);
const A = "/api/v1/admin/analytics/actors";
const q = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null)).toString();

/** Runs a form's loader on submit, its failure in the status line. */
function onSubmit(id, load) {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    load().catch((e) => setStatus(e.message, "bad"));
  });
}

const countColumns = (key, label) => [
  { key, label },
  { key: "count", label: "Actors", num: true, format: fmt.int },
];

async function renderOverview() {
  const o = await session.get(`${A}/overview?size=8`);
  cards($("overview-cards"), [
    { id: "actors-total", label: "Actors", value: fmt.int(o.total_actors) },
    { id: "actors-genres", label: "Genres played", value: fmt.int(o.top_genres.length), hint: "top genres shown" },
    { id: "actors-index", label: "Genre index refreshed", value: o.index_refreshed_at ?? "never", hint: `computed ${o.generated_at}` },
  ]);
  chart($("timeline"), {
    labels: o.actors_timeline.map((p) => p.period),
    kind: "bars",
    caption: "Actors added per month",
    series: [{ label: "Actors", values: o.actors_timeline.map((p) => p.count) }],
  });
  const genreColumns = countColumns("genre", "Genre");
  rowsCsvTools($("genres-tools"), "Top genres", "actor-genres.csv", genreColumns, o.top_genres);
  table($("top-genres"), { columns: genreColumns, rows: o.top_genres });
  chart($("ages"), {
    labels: o.age_buckets.map((b) => b.bucket),
    kind: "bars",
    caption: "Actors per age bucket",
    series: [{ label: "Actors", values: o.age_buckets.map((b) => b.count) }],
  });
  table($("blood-types"), { columns: countColumns("type", "Blood type"), rows: o.blood_types });
  // The genre boxes offer the catalogue's genres, the first one chosen.
  $("genre-options").replaceChildren(...o.top_genres.map((g) => h("option", { value: g.genre })));
  if (!$("distribution-genre").value && o.top_genres[0]) $("distribution-genre").value = o.top_genres[0].genre;
}

async function renderDistribution() {
  const genre = $("distribution-genre").value.trim();
  if (!genre) return;
  const d = await session.get(`${A}/distribution?${q({ genre, dimension: $("distribution-dimension").value, size: 10 })}`);
  table($("distribution"), {
    caption: `${fmt.int(d.genre_total)} of ${fmt.int(d.overall_total)} actors play ${d.genre}`,
    columns: [
      { key: "segment", label: "Segment" },
      { key: "count", label: "Actors", num: true, format: fmt.int },
      { key: "confidence", label: "Of the genre's", num: true, format: fmt.ratio },
      { key: "lift", label: "Lift", num: true, format: (v) => fmt.num(v, 2) },
    ],
    rows: d.segments,
    empty: "No actor plays this genre.",
  });
}

async function renderAssociation() {
  const a = await session.get(`${A}/association?${q({ segment_type: $("association-type").value, segment_value: $("association-value").value.trim(), size: 10 })}`);
  table($("association"), {
    caption: `${fmt.int(a.segment_total)} of ${fmt.int(a.population_total)} actors are ${a.segment_value}`,
    columns: [
      { key: "genre", label: "Genre" },
      { key: "count", label: "Actors", num: true, format: fmt.int },
      { key: "confidence", label: "Of the profile's", num: true, format: fmt.ratio },
      { key: "lift", label: "Lift", num: true, format: (v) => fmt.num(v, 2) },
    ],
    rows: a.rules,
    empty: "No actor has this profile.",
  });
}

async function renderTrends() {
  const t = await session.get(`${A}/trends?${q({ dimension: $("trends-dimension").value, genre: $("trends-genre").value.trim(), interval: $("trends-interval").value, size: 5 })}`);
  chart($("trends-chart"), {
    labels: t.periods.map((p) => p.period),
    kind: "bars",
    caption: `Actors added per ${t.interval}${t.genre ? ` playing ${t.genre}` : ""}`,
    series: [{ label: "Actors added", values: t.periods.map((p) => p.total) }],
  });
  table($("trends"), {
    columns: [
      { key: "period", label: "Period" },
      { key: "total", label: "Added", num: true, format: fmt.int },
      { key: "top_segment", label: "Most of them" },
      { key: "top_share", label: "Share", num: true, format: fmt.ratio },
    ],
    rows: [...t.periods].reverse(),
    empty: "No actor added.",
  });
}

/** The actor a name or uuid names: the first suggestion. */
async function actorUuid(text) {
  if (/^[0-9a-f-]{36}$/i.test(text)) return text;
  const s = await session.get(`${A}/suggest?${q({ type: "actor", q: text, size: 8 })}`);
  $("actor-options").replaceChildren(...s.items.map((i) => h("option", { value: i.value }, i.label)));
  if (!s.items[0]) throw new Error(`No actor matches "${text}".`);
  return s.items[0].value;
}

async function renderInsights() {
  const uuid = await actorUuid($("insights-name").value.trim());
  const i = await session.get(`${A}/insights?${q({ actor_uuid: uuid, size: 5 })}`);
  const a = i.actor;
  cards($("insights-cards"), [
    { id: "insight-name", label: "Actor", value: a.name, hint: a.uuid },
    { id: "insight-age", label: "Age", value: a.age ?? "–" },
    { id: "insight-blood", label: "Blood type", value: a.blood_type ?? "–" },
    { id: "insight-birthplace", label: "Birthplace", value: a.birthplace ?? "–" },
    { id: "insight-movies", label: "Movies", value: fmt.int(i.movie_period_counts.year.total) },
    { id: "insight-peers", label: "Actors of the same profile", value: fmt.int(i.matched_actors) },
  ]);
  const months = i.movie_period_counts.month.points;
  chart($("insights-movies"), {
    labels: months.map((p) => p.period),
    kind: "bars",
    caption: `Movies of ${a.name} per month`,
    series: [{ label: "Movies", values: months.map((p) => p.count) }],
  });
  table($("insights-genres"), { caption: "Genres played", columns: [{ key: "genre", label: "Genre" }, { key: "count", label: "Movies", num: true, format: fmt.int }], rows: i.actor_genres, empty: "No genre recorded." });
  table($("insights-predicted"), {
    caption: "Genres actors of the same profile play",
    columns: [{ key: "genre", label: "Genre" }, { key: "count", label: "Actors", num: true, format: fmt.int }, { key: "probability", label: "Probability", num: true, format: fmt.ratio }],
    rows: i.predicted_genres,
    empty: "No actor of the same profile.",
  });
}

async function renderPredict() {
  const tags = $("predict-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
  const age = $("predict-age").value;
  const p = await session.post(`${A}/predict`, {
    age: age === "" ? null : Number(age),
    blood_type: $("predict-blood").value.trim() || null,
    birthplace: $("predict-birthplace").value.trim() || null,
    movie_tags: tags.length ? tags : null,
    size: 8,
  });
  cards($("predict-cards"), [{ id: "predict-matched", label: "Actors matching", value: fmt.int(p.matched_actors) }]);
  table($("predictions"), {
    caption: "Genres they play in",
    columns: [{ key: "genre", label: "Genre" }, { key: "count", label: "Actors", num: true, format: fmt.int }, { key: "probability", label: "Probability", num: true, format: fmt.ratio }],
    rows: p.predictions,
    empty: "No actor matches.",
  });
  table($("sample-actors"), {
    caption: "Actors matching best",
    columns: [{ key: "name", label: "Actor" }, { key: "age", label: "Age", num: true }, { key: "blood_type", label: "Blood type" }, { key: "birthplace", label: "Birthplace" }],
    rows: p.sample_actors,
    empty: "No actor matches.",
  });
}

async function start() {
  document.documentElement.dataset.state = "loading";
  await renderOverview();
  const complete = await loadAll([renderDistribution, renderAssociation, renderTrends, renderPredict]);
  document.documentElement.dataset.state = complete ? "ready" : "partial";
}

onSubmit("distribution-form", renderDistribution);
onSubmit("association-form", renderAssociation);
onSubmit("trends-form", renderTrends);
onSubmit("insights-form", renderInsights);
onSubmit("predict-form", renderPredict);

signIn({ session, start, tokenLabel: "Admin token" });
