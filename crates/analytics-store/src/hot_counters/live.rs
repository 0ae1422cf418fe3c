//! Realtime tallies: each ingest process reports what it saw every second
//! (counts, playback viewers, a sample of events for the live feed); read
//! side sums the last minute. Best effort, outside the exactly-once path.

use analytics_domain::realtime::{
    LiveCounts, Tick, ERROR_WINDOW_SECONDS, MAX_VIEWER_WINDOW_SECONDS,
};
use deadpool_redis::redis;

use super::HotCounters;
use crate::error::StoreError;

/// How long a second's tallies are kept (the error window and a margin).
const SECOND_TTL_SECONDS: i64 = 2 * ERROR_WINDOW_SECONDS;
/// The live feed keeps about this many sampled events.
const FEED_LENGTH: usize = 1_000;

/// The tallies of the last minute and the viewers of a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveWindow {
    pub seconds: Vec<(i64, LiveCounts)>,
    pub concurrent_viewers: u64,
}

impl HotCounters {
    /// Adds one process's tick to second `now`: its viewers and samples in
    /// one pipelined round trip, then its counts in another. Counts last,
    /// and read first by [`HotCounters::live_window`]: a reader that sees a
    /// tick's counts finds its viewers too. The keys live on different
    /// masters of a cluster, where one pipeline's parts land in any order.
    pub async fn report_tick(&self, now: i64, tick: &Tick) -> Result<(), StoreError> {
        if tick.is_empty() {
            return Ok(());
        }
        let watchers = self.viewers_and_samples(now, tick);
        if !watchers.is_empty() {
            self.run(async |c| watchers.query_async::<()>(c).await)
                .await?;
        }
        if tick.counts.is_empty() {
            return Ok(());
        }
        let mut counts = redis::pipe();
        let second = self.keys.live_second(now);
        for (field, n) in LiveCounts::FIELDS.iter().zip(tick.counts.values()) {
            if n != 0 {
                counts
                    .cmd("HINCRBY")
                    .arg(&second)
                    .arg(*field)
                    .arg(n)
                    .ignore();
            }
        }
        counts
            .cmd("EXPIRE")
            .arg(&second)
            .arg(SECOND_TTL_SECONDS)
            .ignore();
        self.run(async |c| counts.query_async::<()>(c).await).await
    }

    /// The writes of a tick's viewers and feed samples.
    fn viewers_and_samples(&self, now: i64, tick: &Tick) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        // Scored by when each viewer last watched (never later than now: a
        // clock ahead must not keep a viewer watching); ones already past
        // the longest window are not written at all. GT: an older event
        // never moves a viewer back.
        let oldest = now - MAX_VIEWER_WINDOW_SECONDS;
        let watching: Vec<(i64, &String)> = tick
            .viewers
            .iter()
            .map(|(v, at)| ((*at).min(now), v))
            .filter(|(at, _)| *at > oldest)
            .collect();
        if !watching.is_empty() {
            let viewers = self.keys.live_viewers();
            let mut zadd = redis::cmd("ZADD");
            zadd.arg(&viewers).arg("GT");
            for (at, v) in watching {
                zadd.arg(at).arg(v);
            }
            pipe.add_command(zadd).ignore();
            pipe.cmd("ZREMRANGEBYSCORE")
                .arg(&viewers)
                .arg("-inf")
                .arg(oldest)
                .ignore();
            pipe.cmd("EXPIRE")
                .arg(&viewers)
                .arg(MAX_VIEWER_WINDOW_SECONDS)
                .ignore();
        }
        let feed = self.keys.live_feed();
        for sample in &tick.samples {
            pipe.cmd("XADD")
                .arg(&feed)
                .arg("MAXLEN")
                .arg("~")
                .arg(FEED_LENGTH)
                .arg("*")
                .arg("e")
                .arg(sample)
                .ignore();
        }
        pipe
    }

    /// The last minute's tallies (ending at `now`), then the viewers seen
    /// in the last `viewer_window` seconds: in that order, so the viewers
    /// of every tick counted are in (see [`HotCounters::report_tick`]).
    pub async fn live_window(
        &self,
        now: i64,
        viewer_window: i64,
    ) -> Result<LiveWindow, StoreError> {
        let mut pipe = redis::pipe();
        let seconds: Vec<i64> = (now - ERROR_WINDOW_SECONDS + 1..=now).collect();
        for s in &seconds {
            pipe.cmd("HGETALL").arg(self.keys.live_second(*s));
        }
        let replies: Vec<redis::Value> = self.run(async |c| pipe.query_async(c).await).await?;
        let viewers_key = self.keys.live_viewers();
        let viewers: u64 = self
            .run(async |c| {
                redis::cmd("ZCOUNT")
                    .arg(&viewers_key)
                    .arg(now - viewer_window + 1)
                    .arg("+inf")
                    .query_async(c)
                    .await
            })
            .await?;
        let mut window = LiveWindow::default();
        for (second, reply) in seconds.iter().zip(&replies) {
            let fields: Vec<(String, i64)> =
                redis::from_redis_value(reply.clone()).unwrap_or_default();
            if fields.is_empty() {
                continue;
            }
            let mut counts = LiveCounts::default();
            for (field, n) in fields {
                counts.add_field(&field, n);
            }
            window.seconds.push((*second, counts));
        }
        window.concurrent_viewers = viewers;
        Ok(window)
    }

    /// Sampled events after stream id `after`, oldest first, with the id
    /// to read after next time. Without `after`, no events: only the newest
    /// id, so a new reader starts from now.
    pub async fn live_feed_after(
        &self,
        after: Option<&str>,
        count: usize,
    ) -> Result<(String, Vec<String>), StoreError> {
        let feed = self.keys.live_feed();
        let Some(after) = after else {
            let start = self
                .newest_stream_id(&feed)
                .await?
                .unwrap_or_else(|| "0-0".to_string());
            return Ok((start, Vec::new()));
        };
        let exclusive = format!("({after}");
        let entries: Vec<(String, Vec<(String, String)>)> = self
            .run(async |c| {
                redis::cmd("XRANGE")
                    .arg(&feed)
                    .arg(&exclusive)
                    .arg("+")
                    .arg("COUNT")
                    .arg(count)
                    .query_async(c)
                    .await
            })
            .await?;
        let last = entries
            .last()
            .map_or_else(|| after.to_string(), |(id, _)| id.clone());
        let events = entries
            .into_iter()
            .filter_map(|(_, fields)| fields.into_iter().find(|(f, _)| f == "e").map(|(_, v)| v))
            .collect();
        Ok((last, events))
    }
}
