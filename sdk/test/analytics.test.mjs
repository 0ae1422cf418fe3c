// Unit tests of the SDK's own logic (queue, retries, ids, the video
// helper) with a scripted server and a fake clock. The browser tests in
// tests/tests/suite/sdk_in_browser.rs run it against the real ingest-svc.
import { test, mock, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createAnalytics, ACTIONS } from "../analytics.js";

const ENDPOINT = "http://ingest.test";
const BATCH = `${ENDPOINT}/api/v1/analytics/events/batch`;

let clock;
beforeEach(() => {
  clock = 1_764_000_000_000;
  mock.timers.enable({ apis: ["setTimeout"] });
});
afterEach(() => mock.timers.reset());

/** Advances the fake clock and the timers, letting promises settle. */
async function advance(ms) {
  clock += ms;
  mock.timers.tick(ms);
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
}

/** A server answering with `answers` in turn (then accepting everything). */
function server(...answers) {
  const requests = [];
  const fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    requests.push({ url, init, events: body.events });
    const answer = answers.shift() ?? accept;
    if (answer === "offline") throw new TypeError("Failed to fetch");
    if (typeof answer === "number") {
      return { ok: false, status: answer, headers: new Map([["Retry-After", "2"]]), json: async () => ({ message: "busy" }) };
    }
    const results = body.events.map((e, index) => answer(e, index));
    // As ingest answers when Redis refused some items and stored the others.
    if (results.some((r) => r.status === "unavailable")) {
      return { ok: true, status: 207, headers: new Map([["Retry-After", "2"]]), json: async () => ({ results }) };
    }
    return { ok: true, status: 200, headers: new Map(), json: async () => ({ results }) };
  };
  return { fetch, requests };
}
const accept = (e, index) => ({ index, event_id: e.event_id, status: "accepted" });

function memoryStorage() {
  const map = new Map();
  return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, v), removeItem: (k) => map.delete(k) };
}

function client(srv, extra = {}) {
  return createAnalytics({
    endpoint: ENDPOINT,
    fetch: srv.fetch,
    now: () => clock,
    storage: null,
    window: null,
    ...extra,
  });
}

test("an event is filled in and sent in a batch after the flush interval", async () => {
  const srv = server(accept);
  const a = client(srv, { userId: 7, sessionId: "s-1" });
  const id = a.track({ action: "view", entity_id: 42 });
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(srv.requests.length, 0);
  await advance(5000);
  assert.equal(srv.requests.length, 1);
  assert.equal(srv.requests[0].url, BATCH);
  assert.equal(srv.requests[0].init.headers["Content-Type"], "text/plain;charset=UTF-8");
  assert.deepEqual(srv.requests[0].events, [
    {
      event_id: id,
      domain: "jav",
      entity_type: "movie",
      occurred_at: new Date(clock - 5000).toISOString(),
      session_id: "s-1",
      user_id: 7,
      action: "view",
      entity_id: "42",
    },
  ]);
  assert.equal(a.pending, 0);
});

test("every action of the contract is accepted, with its default entity type", () => {
  const srv = server();
  const a = client(srv);
  for (const [action, type] of Object.entries(ACTIONS)) {
    a.track({ action, entity_id: "x" });
  }
  assert.equal(a.pending, 24);
  assert.throws(() => a.track({ action: "VIEW", entity_id: "x" }), /unknown action "VIEW"/);
  assert.throws(() => a.track({ action: "view" }), /view needs an entity_id/);
  assert.notEqual(a.track({ action: "search", query: "tokyo" }), null);
});

test("a failed send is retried with backoff and the same event ids", async () => {
  const srv = server(503, "offline", accept);
  const a = client(srv);
  const ids = [a.track({ action: "view", entity_id: "m-1" }), a.track({ action: "download", entity_id: "m-1" })];
  await advance(5000);
  assert.equal(srv.requests.length, 1);
  // Retry-After: 2 s, at least.
  await advance(1500);
  assert.equal(srv.requests.length, 1);
  await advance(600);
  assert.equal(srv.requests.length, 2);
  // Offline: the backoff doubles (1..2 s with jitter).
  await advance(2100);
  assert.equal(srv.requests.length, 3);
  for (const r of srv.requests) {
    assert.deepEqual(r.events.map((e) => e.event_id), ids);
  }
  assert.equal(a.pending, 0);
});

test("coming back online sends at once instead of waiting out the backoff", async () => {
  const handlers = {};
  const win = { addEventListener: (type, handler) => { handlers[type] = handler; } };
  const srv = server("offline", "offline", accept);
  const a = client(srv, { window: win });
  const id = a.track({ action: "view", entity_id: "m-1" });
  await advance(5000);
  await advance(2100);
  assert.equal(srv.requests.length, 2);
  // The next retry is 2..4 s away; the browser says the network is back.
  await advance(100);
  assert.equal(srv.requests.length, 2);
  handlers.online();
  await advance(0);
  assert.equal(srv.requests.length, 3);
  assert.deepEqual(srv.requests[2].events.map((e) => e.event_id), [id]);
  assert.equal(a.pending, 0);
});

test("an event the server refuses for good is dropped and reported, the others confirmed", async () => {
  const dropped = [];
  const srv = server((e, index) =>
    e.entity_id === "bad" ? { index, status: "invalid", message: "The entity id field is required." } : accept(e, index),
  );
  const a = client(srv, { onDrop: (e, why) => dropped.push([e.entity_id, why]) });
  a.track({ action: "view", entity_id: "good" });
  a.track({ action: "view", entity_id: "bad" });
  await a.flush();
  assert.deepEqual(dropped, [["bad", "The entity id field is required."]]);
  assert.equal(a.pending, 0);
});

test("a 207: only the items answered unavailable are sent again, after Retry-After", async () => {
  const dropped = [];
  const srv = server((e, index) =>
    e.entity_id === "later" ? { index, event_id: e.event_id, status: "unavailable", message: "send it again" } : accept(e, index),
  );
  const a = client(srv, { onDrop: (e, why) => dropped.push([e.entity_id, why]) });
  a.track({ action: "view", entity_id: "stored" });
  const later = a.track({ action: "view", entity_id: "later" });
  await advance(5000);
  assert.equal(srv.requests.length, 1);
  assert.equal(a.pending, 1);
  await advance(1500);
  assert.equal(srv.requests.length, 1, "not before Retry-After");
  await advance(600);
  assert.equal(srv.requests.length, 2);
  assert.deepEqual(srv.requests[1].events.map((e) => e.event_id), [later]);
  assert.equal(a.pending, 0);
  assert.deepEqual(dropped, []);
});

test("a full batch goes at once; the queue is bounded, oldest out first", async () => {
  const srv = server("offline");
  const dropped = [];
  const a = client(srv, { maxBatch: 3, maxQueue: 4, onDrop: (e, why) => dropped.push([e.entity_id, why]) });
  for (const id of ["1", "2", "3"]) a.track({ action: "view", entity_id: id });
  await advance(0);
  assert.equal(srv.requests.length, 1);
  for (const id of ["4", "5"]) a.track({ action: "view", entity_id: id });
  assert.equal(a.pending, 4);
  assert.deepEqual(dropped, [["1", "queue full"]]);
});

test("the queue survives a reload: the next page sends the same ids", async () => {
  const storage = memoryStorage();
  const first = client(server("offline"), { storage });
  const id = first.track({ action: "like", entity_id: "m-9" });
  const srv = server(accept);
  const second = client(srv, { storage });
  assert.equal(second.sessionId, first.sessionId);
  await advance(0);
  assert.deepEqual(srv.requests[0].events.map((e) => e.event_id), [id]);
});

test("do not track: nothing is queued or sent, and what waited is forgotten", async () => {
  const srv = server(accept);
  const a = client(srv);
  a.track({ action: "view", entity_id: "m-1" });
  a.setDoNotTrack(true);
  assert.equal(a.track({ action: "view", entity_id: "m-2" }), null);
  await advance(10000);
  assert.equal(srv.requests.length, 0);
  assert.equal(a.pending, 0);
  a.setDoNotTrack(false);
  assert.notEqual(a.track({ action: "view", entity_id: "m-3" }), null);
});

test("once: an action on an entity is tracked once per tab session", () => {
  const a = client(server());
  assert.notEqual(a.track({ action: "view", entity_id: "m-1" }, { once: true }), null);
  assert.equal(a.track({ action: "view", entity_id: "m-1" }, { once: true }), null);
  assert.notEqual(a.track({ action: "view", entity_id: "m-2" }, { once: true }), null);
  assert.equal(a.pending, 2);
  // At most 1,000 marks are kept: the oldest goes first.
  for (let i = 3; i <= 1000; i++) a.track({ action: "view", entity_id: `m-${i}` }, { once: true });
  assert.equal(a.track({ action: "view", entity_id: "m-2" }, { once: true }), null);
  a.track({ action: "view", entity_id: "m-1001" }, { once: true });
  assert.notEqual(a.track({ action: "view", entity_id: "m-1" }, { once: true }), null);
});

/** A media element that plays in steps of the fake clock. */
class FakeVideo extends EventTarget {
  constructor(duration) {
    super();
    Object.assign(this, { duration, currentTime: 0, paused: true, ended: false, seeking: false, playbackRate: 1, error: null });
  }
  fire(name) {
    this.dispatchEvent(new Event(name));
  }
  play() {
    this.paused = false;
    this.fire("play");
  }
  pause() {
    this.paused = true;
    this.fire("pause");
  }
  /** Plays `seconds` in 250 ms time updates (browsers send 4–66 a second). */
  async run(seconds) {
    for (let t = 0; t < seconds * 4; t++) {
      this.currentTime = Math.min(this.duration, this.currentTime + 0.25);
      this.fire("timeupdate");
      if (this.currentTime >= this.duration) {
        this.paused = true;
        this.ended = true;
        this.fire("pause");
        this.fire("ended");
        return;
      }
      if (t % 4 === 3) await advance(1000);
    }
  }
  seek(to) {
    this.seeking = true;
    this.fire("seeking");
    this.currentTime = to;
    this.seeking = false;
    this.fire("seeked");
  }
}

test("a 10-minute film watched to the end: start, progress each minute, complete; watch time exact", async () => {
  const srv = server();
  const a = client(srv);
  const video = new FakeVideo(600);
  a.trackVideo(video, { entityId: "m-film" });
  video.play();
  await video.run(600);
  await advance(5000);
  const events = srv.requests.flatMap((r) => r.events);
  assert.deepEqual(
    events.map((e) => e.action),
    ["start", ...Array(9).fill("progress"), "complete"],
  );
  assert.equal(events.reduce((s, e) => s + (e.watched_seconds ?? 0), 0), 600);
  assert.deepEqual(
    { ...events.at(-1), event_id: 0, occurred_at: 0, session_id: 0 },
    { event_id: 0, occurred_at: 0, session_id: 0, domain: "jav", entity_type: "movie", action: "complete", entity_id: "m-film", duration_seconds: 600, position_seconds: 600, watched_seconds: 60 },
  );
  // Each event waits at most the flush interval, so a film costs one
  // request per event at this cadence.
  console.log(`# a 10-minute film watched to the end: ${events.length} events in ${srv.requests.length} requests`);
  assert.equal(srv.requests.length, 11);
});

test("pause, resume and a seek: seeking is not watch time", async () => {
  const srv = server();
  const a = client(srv);
  const video = new FakeVideo(3600);
  a.trackVideo(video, { entityId: "m-2", progressEverySeconds: 1000 });
  video.play();
  await video.run(10);
  video.pause();
  video.seek(1800);
  video.play();
  await video.run(5);
  video.pause();
  await a.flush();
  const events = srv.requests.flatMap((r) => r.events);
  assert.deepEqual(
    events.map((e) => [e.action, e.position_seconds, e.watched_seconds]),
    [
      ["start", 0, undefined],
      ["pause", 10, 10],
      ["seek", 1800, undefined],
      ["resume", 1800, undefined],
      ["pause", 1805, 5],
    ],
  );
});
