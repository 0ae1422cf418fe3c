// Movie analytics browser SDK: a plain ES module with no dependencies.
//
//   import { createAnalytics } from "https://analytics.example.com/sdk/v1/analytics.js";
//   const analytics = createAnalytics({ userId: 42 });
//   analytics.track({ action: "view", entity_id: movieUuid });
//   analytics.trackVideo(document.querySelector("video"), { entityId: movieUuid });
//
// Every event gets its id once, when it is tracked, and keeps it through
// every retry and beacon: the server counts an id once, so sending an event
// twice is always safe and losing one is the only thing to avoid. Events
// wait in a bounded queue (kept in sessionStorage, so a reload does not lose
// them), go out in batches, are retried with backoff while the server or the
// network is away, and are handed to `navigator.sendBeacon` when the page is
// hidden. The page can switch tracking off at any time (`setDoNotTrack`).

export const VERSION = "1.0.0";

/** Every action of the event contract, and the entity type it defaults to. */
export const ACTIONS = Object.freeze({
  view: "movie",
  download: "movie",
  like: "movie",
  unlike: "movie",
  rate: "movie",
  watchlist_add: "movie",
  watchlist_remove: "movie",
  favorite: "movie",
  featured_created: "featured",
  featured_updated: "featured",
  featured_removed: "featured",
  search: "query",
  recommendation_impression: "movie",
  recommendation_click: "movie",
  start: "movie",
  progress: "movie",
  pause: "movie",
  resume: "movie",
  seek: "movie",
  buffer: "movie",
  quality_change: "movie",
  error: "movie",
  complete: "movie",
  finish: "movie",
});

const BATCH_PATH = "/api/v1/analytics/events/batch";
// The server refuses events older than 47 hours; older ones are not sent.
const MAX_EVENT_AGE_MS = 47 * 3600 * 1000;
// A beacon's body is limited (64 KiB in browsers); a batch stays well under.
const BEACON_MAX_EVENTS = 100;
// Actions tracked `once` remembered per tab.
const MAX_ONCE_MARKS = 1000;

const DEFAULTS = {
  domain: "jav",
  flushIntervalMs: 5000,
  maxBatch: 50,
  maxQueue: 500,
  backoffBaseMs: 1000,
  backoffMaxMs: 60000,
  storageKey: "movie-analytics:v1",
  doNotTrack: false,
};

/** A random RFC 4122 version 4 id (crypto.randomUUID where it exists). */
function uuid(random) {
  if (!random && globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (random) for (let i = 0; i < 16; i++) bytes[i] = Math.floor(random() * 256);
  else globalThis.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** sessionStorage when the browser lets us use it, else nothing. */
function defaultStorage() {
  try {
    const s = globalThis.sessionStorage;
    s.setItem("movie-analytics:probe", "1");
    s.removeItem("movie-analytics:probe");
    return s;
  } catch {
    return null;
  }
}

/** The origin this module was loaded from: ingest-svc serves it. */
function scriptOrigin() {
  try {
    return new URL(import.meta.url).origin;
  } catch {
    return "";
  }
}

/**
 * Creates a client. Options (all optional): `endpoint` (ingest-svc's base
 * URL; default the origin this file came from), `domain`, `userId`,
 * `sessionId`, `flushIntervalMs`, `maxBatch`, `maxQueue`, `backoffBaseMs`,
 * `backoffMaxMs`, `storage` (null: memory only), `doNotTrack`, `onDrop`
 * (called with `(event, reason)` for an event the server refused for good
 * or the full queue pushed out), and for tests `fetch`, `now`, `random`,
 * `window`.
 */
export function createAnalytics(options = {}) {
  const o = { ...DEFAULTS, ...options };
  const endpoint = (o.endpoint ?? scriptOrigin()).replace(/\/+$/, "");
  const storage = "storage" in options ? options.storage : defaultStorage();
  const fetchImpl = o.fetch ?? globalThis.fetch?.bind(globalThis);
  const now = o.now ?? (() => Date.now());
  const win = o.window ?? (typeof window === "undefined" ? null : window);
  const onDrop = o.onDrop ?? (() => {});

  const saved = load();
  let queue = saved.queue.filter((e) => now() - Date.parse(e.occurred_at) < MAX_EVENT_AGE_MS);
  const once = new Set(saved.once);
  const sessionId = o.sessionId ?? saved.sessionId ?? uuid(o.random);
  let userId = o.userId ?? null;
  let doNotTrack = Boolean(o.doNotTrack);
  let inFlight = null;
  let failures = 0;
  let retryAt = 0;
  let timer = null;
  // Events already handed to a beacon during this hidden spell: the next
  // beacon sends only newer ones, the next regular flush sends them again
  // (a duplicate to the server, which confirms them).
  const beaconed = new Set();
  const beforeHide = [];
  const sent = { requests: 0, beacons: 0 };

  function load() {
    try {
      const raw = storage?.getItem(o.storageKey);
      const parsed = raw ? JSON.parse(raw) : {};
      return {
        queue: Array.isArray(parsed.queue) ? parsed.queue : [],
        once: Array.isArray(parsed.once) ? parsed.once : [],
        sessionId: typeof parsed.sessionId === "string" ? parsed.sessionId : null,
      };
    } catch {
      return { queue: [], once: [], sessionId: null };
    }
  }

  function save() {
    try {
      storage?.setItem(o.storageKey, JSON.stringify({ queue, once: [...once], sessionId }));
    } catch {
      // A full or forbidden storage only costs the reload safety.
    }
  }

  function schedule(delayMs) {
    if (timer !== null || queue.length === 0 || doNotTrack) return;
    timer = setTimeout(() => {
      timer = null;
      flush();
    }, Math.max(0, delayMs));
  }

  /**
   * Queues one event and returns its id (null when tracking is off or the
   * event was tracked `once` before). `event` holds the contract's fields:
   * `action` (required), `entity_id` (required but for searches),
   * `entity_type` (defaults by action), `value`, `user_id`, `session_id`,
   * `position_seconds`, `duration_seconds`, `watched_seconds`, `properties`,
   * `query`, `filters`, `result_count`, `placement`, `reason`. With
   * `{ once: true }` an action on an entity is tracked once per tab session.
   */
  function track(event, { once: onlyOnce = false } = {}) {
    if (doNotTrack) return null;
    if (!event || !(event.action in ACTIONS)) {
      throw new TypeError(`analytics: unknown action ${JSON.stringify(event?.action)}`);
    }
    const entityType = event.entity_type ?? ACTIONS[event.action];
    if (event.entity_id == null && event.action !== "search") {
      throw new TypeError(`analytics: ${event.action} needs an entity_id`);
    }
    const onceKey = `${event.action}:${entityType}:${event.entity_id}`;
    if (onlyOnce && once.has(onceKey)) return null;
    const full = {
      event_id: uuid(o.random),
      domain: o.domain,
      entity_type: entityType,
      occurred_at: new Date(now()).toISOString(),
      session_id: sessionId,
      ...(userId != null ? { user_id: userId } : {}),
      ...event,
    };
    for (const key of Object.keys(full)) if (full[key] === undefined) delete full[key];
    if (full.entity_id != null) full.entity_id = String(full.entity_id);
    if (onlyOnce) {
      once.add(onceKey);
      // Bounded like the queue: the oldest marks go first.
      if (once.size > MAX_ONCE_MARKS) once.delete(once.values().next().value);
    }
    queue.push(full);
    while (queue.length > o.maxQueue) onDrop(queue.shift(), "queue full");
    save();
    if (queue.length >= o.maxBatch) flush();
    else schedule(o.flushIntervalMs);
    return full.event_id;
  }

  /**
   * Forgets a sent batch: confirmed, or refused for good (reported). Items
   * answered `unavailable` (the server stored the others) stay queued, to
   * be sent again; returns how many did.
   */
  function settle(batch, results) {
    const done = new Set();
    for (const [i, event] of batch.entries()) {
      const status = results?.[i]?.status ?? "accepted";
      if (status === "unavailable") continue;
      done.add(event.event_id);
      if (status !== "accepted" && status !== "duplicate") {
        onDrop(event, results[i].message ?? status);
      }
    }
    queue = queue.filter((e) => !done.has(e.event_id));
    for (const id of done) beaconed.delete(id);
    save();
    return batch.length - done.size;
  }

  function backOff(retryAfterSeconds) {
    failures += 1;
    const exp = Math.min(o.backoffMaxMs, o.backoffBaseMs * 2 ** (failures - 1));
    const jittered = exp / 2 + ((o.random ?? Math.random)() * exp) / 2;
    const wait = retryAfterSeconds > 0 ? Math.max(retryAfterSeconds * 1000, jittered) : jittered;
    retryAt = now() + wait;
  }

  /**
   * Sends what is queued, one batch at a time; resolves when the queue is
   * empty or a send failed (it is retried later, with backoff).
   */
  async function flush() {
    if (inFlight) return inFlight;
    inFlight = (async () => {
      while (queue.length > 0 && !doNotTrack && now() >= retryAt && fetchImpl) {
        const batch = queue.slice(0, o.maxBatch);
        let response;
        try {
          sent.requests += 1;
          response = await fetchImpl(endpoint + BATCH_PATH, {
            method: "POST",
            // text/plain keeps it a simple CORS request: no preflight.
            headers: { "Content-Type": "text/plain;charset=UTF-8" },
            body: JSON.stringify({ events: batch }),
            keepalive: true,
            credentials: "omit",
          });
        } catch {
          backOff(0);
          return;
        }
        // Worth another try later: the body was late (408), too many
        // requests (429), the server or a proxy failed (5xx).
        if (response.status === 408 || response.status === 429 || response.status >= 500) {
          backOff(Number(response.headers.get("Retry-After")) || 0);
          return;
        }
        failures = 0;
        retryAt = 0;
        if (response.ok) {
          const body = await response.json().catch(() => null);
          // 207: some items are to be sent again, after Retry-After.
          if (settle(batch, body?.results) > 0) {
            backOff(Number(response.headers.get("Retry-After")) || 0);
            return;
          }
        } else {
          // The whole batch was refused as malformed: sending it again
          // cannot succeed.
          const body = await response.json().catch(() => null);
          const refused = { status: "refused", message: body?.message ?? `HTTP ${response.status}` };
          settle(batch, batch.map(() => refused));
        }
      }
    })().finally(() => {
      inFlight = null;
      // Whatever is left (a failed send, events tracked meanwhile) goes
      // out at the next turn.
      schedule(Math.max(retryAt - now(), 0) || o.flushIntervalMs);
    });
    return inFlight;
  }

  /** Hands what is queued to sendBeacon: the page may never come back. */
  function beacon() {
    for (const hook of beforeHide) hook();
    if (doNotTrack || typeof navigator === "undefined" || !navigator.sendBeacon) return;
    const fresh = queue.filter((e) => !beaconed.has(e.event_id)).slice(0, BEACON_MAX_EVENTS);
    if (fresh.length === 0) return;
    const body = new Blob([JSON.stringify({ events: fresh })], { type: "text/plain;charset=UTF-8" });
    if (navigator.sendBeacon(endpoint + BATCH_PATH, body)) {
      sent.beacons += 1;
      for (const e of fresh) beaconed.add(e.event_id);
    }
  }

  if (win) {
    win.addEventListener("pagehide", beacon);
    win.document?.addEventListener("visibilitychange", () => {
      if (win.document.visibilityState === "hidden") beacon();
      else schedule(0);
    });
    win.addEventListener("online", () => {
      retryAt = 0;
      flush();
    });
  }
  if (queue.length > 0) schedule(0);

  const client = {
    track,
    flush,
    /** Switches tracking off (queued events are forgotten) or on again. */
    setDoNotTrack(on) {
      doNotTrack = Boolean(on);
      if (doNotTrack) {
        queue = [];
        clearTimeout(timer);
        timer = null;
        save();
      }
    },
    /** The signed-in user from now on (null: a guest, counted by session). */
    setUser(id) {
      userId = id ?? null;
    },
    get sessionId() {
      return sessionId;
    },
    /** Events waiting to be confirmed by the server. */
    get pending() {
      return queue.length;
    },
    /** Batch requests and beacons sent so far. */
    get sent() {
      return { ...sent };
    },
    trackVideo(video, videoOptions) {
      return trackVideo(client, video, videoOptions, beforeHide);
    },
  };
  return client;
}

/**
 * Turns a `<video>` (or `<audio>`) element's events into playback events:
 * `start` on the first play, `resume` after a pause, `progress` every
 * `progressEverySeconds` of watching (default 60), `pause`, `seek`,
 * `complete` at the end, `error`, and `finish` when the page goes away
 * mid-film. Each carries the position, the duration and `watched_seconds`:
 * the seconds actually played since the previous event (seeking does not
 * count), so the sum of them is the watch time. Returns a function that
 * stops listening.
 */
function trackVideo(client, video, options = {}, beforeHide = []) {
  const entityId = options.entityId;
  const everySeconds = options.progressEverySeconds ?? 60;
  const extra = options.properties ? { properties: options.properties } : {};
  let started = false;
  let lastTime = video.currentTime;
  let unreported = 0; // seconds played since the previous event
  let sinceProgress = 0;

  const whole = (n) => (Number.isFinite(n) ? Math.max(0, Math.round(n)) : undefined);
  function emit(action, fields = {}) {
    // Whole seconds; the fraction waits for the next event, and the last
    // event of a viewing rounds it, so the sum is the time played.
    const ending = action === "complete" || action === "finish";
    const played = ending ? Math.round(unreported) : Math.floor(unreported);
    unreported -= played;
    sinceProgress = action === "progress" ? 0 : sinceProgress;
    const duration = whole(video.duration);
    const position = whole(video.currentTime);
    client.track({
      action,
      entity_id: entityId,
      ...(duration > 0 ? { duration_seconds: duration } : {}),
      ...(position !== undefined ? { position_seconds: Math.min(position, duration || position) } : {}),
      ...(played > 0 ? { watched_seconds: played } : {}),
      ...extra,
      ...fields,
    });
  }

  // Time moved by playing (not by seeking): add it to the watched seconds.
  function account() {
    const t = video.currentTime;
    const step = t - lastTime;
    // A jump bigger than a few frames' worth is a seek, not watching.
    if (step > 0 && step <= 2 * (video.playbackRate || 1) + 1) {
      unreported += step;
      sinceProgress += step;
    }
    lastTime = t;
  }

  const on = {
    play() {
      lastTime = video.currentTime;
      if (!started) {
        started = true;
        unreported = 0;
        sinceProgress = 0;
        emit("start");
      } else {
        emit("resume");
      }
    },
    timeupdate() {
      if (video.paused || video.seeking) return;
      account();
      // At the very end `complete` reports the last stretch.
      if (sinceProgress >= everySeconds && !(video.currentTime >= video.duration)) emit("progress");
    },
    pause() {
      if (video.ended || !started) return;
      account();
      emit("pause");
    },
    seeking() {
      account();
    },
    seeked() {
      lastTime = video.currentTime;
      if (started) emit("seek");
    },
    ended() {
      account();
      if (!started) return;
      emit("complete", { position_seconds: whole(video.duration) });
      started = false;
    },
    error() {
      const code = video.error?.code;
      emit("error", code ? { properties: { ...(extra.properties ?? {}), error_code: String(code) } } : {});
    },
  };
  for (const [name, handler] of Object.entries(on)) video.addEventListener(name, handler);

  // The page is going away: report what was watched since the last event.
  function hide() {
    if (!started) return;
    account();
    if (!video.paused && unreported >= 1) emit("progress");
  }
  function leave() {
    if (!started) return;
    account();
    emit("finish");
    started = false;
  }
  beforeHide.push(hide);
  const win = typeof window === "undefined" ? null : window;
  win?.addEventListener("pagehide", leave, { capture: true });

  return function stop() {
    for (const [name, handler] of Object.entries(on)) video.removeEventListener(name, handler);
    beforeHide.splice(beforeHide.indexOf(hide), 1);
    win?.removeEventListener("pagehide", leave, { capture: true });
  };
}
