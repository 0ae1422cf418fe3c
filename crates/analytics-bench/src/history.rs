//! `seed-history`: days of a realistic v2 mix counted by the real ingest
//! script (dated over the last days, as a replay would be), for the read
//! benchmark to flush and then read: Zipf-popular movies, users and guests,
//! playback with watch time and completions, page views, searches over a
//! Zipf vocabulary, recommendation impressions and clicks, and one heavy
//! user with a fixed number of playback events in the window.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use analytics_domain::details::{query_entity_id, Details};
use analytics_domain::{Action, BucketMode, Domain, EntityKey, EntityType, Event, UserId};
use analytics_runtime::StoreConfig;
use analytics_store::HotCounters;
use chrono::{Duration, Utc};
use rand::{Rng, SeedableRng};

use crate::pipeline::Zipf;

#[derive(clap::Args)]
pub struct HistoryArgs {
    #[arg(long, default_value_t = 1_500_000)]
    events: u64,
    #[arg(long, default_value_t = 1_000_000)]
    movies: u64,
    #[arg(long, default_value_t = 100_000)]
    users: u64,
    /// Local days back from today the events spread over.
    #[arg(long, default_value_t = 7)]
    days: i64,
    /// Playback events of the user `bench-heavy` in the window.
    #[arg(long, default_value_t = 10_000)]
    heavy_user_events: u64,
    #[arg(long, default_value_t = 64)]
    concurrency: u64,
}

const PLACEMENTS: [&str; 4] = ["home", "detail", "search", "player_end"];
const REASONS: [&str; 3] = ["trending", "similar", "watched_by_friends"];

// One function on purpose: one event's draws, in the order that makes a
// seed give the same history.
fn event(
    rng: &mut impl Rng,
    args: &HistoryArgs,
    movies: &Zipf,
    queries: &Zipf,
    i: u64,
    domain: &Domain,
) -> Event {
    let heavy = i < args.heavy_user_events;
    let now = Utc::now();
    let back = rng.random_range(0..args.days * 86_400 - 60);
    let occurred_at = (now - Duration::seconds(back + 60)).fixed_offset();
    let movie = if heavy {
        rng.random_range(0..500)
    } else {
        movies.sample(rng)
    };
    let mut e = Event {
        event_id: format!("hist-{i}"),
        entity: EntityKey {
            domain: domain.clone(),
            entity_type: EntityType::Movie,
            entity_id: format!("movie-{movie:07}"),
        },
        action: Action::View,
        value: 1,
        occurred_at,
        user_id: None,
        details: Details::default(),
    };
    if heavy {
        e.user_id = Some(UserId::Text("bench-heavy".into()));
    } else if rng.random_bool(0.85) {
        e.user_id = Some(UserId::Int(rng.random_range(0..args.users as i64)));
    } else {
        e.details.session_id = Some(format!("guest-{}", rng.random_range(0..args.users)));
    }
    let d = &mut e.details;
    let roll = if heavy {
        rng.random_range(30..80)
    } else {
        rng.random_range(0..100)
    };
    e.action = match roll {
        0..25 => Action::View,
        25..40 => Action::Start,
        40..68 => {
            d.watched_seconds = Some(rng.random_range(5..120));
            d.position_seconds = Some(rng.random_range(0..5400));
            Action::Progress
        }
        68..76 => {
            d.position_seconds = Some(rng.random_range(0..=5400));
            d.duration_seconds = Some(5400);
            Action::Finish
        }
        76..80 => {
            d.duration_seconds = Some(5400);
            Action::Complete
        }
        80..88 => {
            let q = format!("query {}", queries.sample(rng));
            e.entity.entity_type = EntityType::Query;
            e.entity.entity_id = query_entity_id(&q);
            d.result_count = Some(if rng.random_bool(0.08) { 0 } else { 20 });
            d.query = Some(q);
            Action::Search
        }
        88..97 => {
            d.placement = Some(PLACEMENTS[rng.random_range(0..PLACEMENTS.len())].into());
            d.reason = Some(REASONS[rng.random_range(0..REASONS.len())].into());
            Action::RecommendationImpression
        }
        _ => {
            d.placement = Some(PLACEMENTS[rng.random_range(0..PLACEMENTS.len())].into());
            d.reason = Some(REASONS[rng.random_range(0..REASONS.len())].into());
            Action::RecommendationClick
        }
    };
    e
}

pub async fn run(s: &StoreConfig, args: HistoryArgs) -> anyhow::Result<()> {
    let counters = HotCounters::new(&s.redis_settings()?, s.key_space()?)?;
    let args = Arc::new(args);
    let movies = Arc::new(Zipf::new(args.movies, 1.0));
    let queries = Arc::new(Zipf::new(5_000, 1.0));
    let total = args.events + args.heavy_user_events;
    let next = Arc::new(AtomicU64::new(0));
    let domain = Domain::new("jav")?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..args.concurrency {
        let (counters, next, args) = (counters.clone(), next.clone(), args.clone());
        let (movies, queries, domain) = (movies.clone(), queries.clone(), domain.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(task);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<(), anyhow::Error>(());
                }
                let e = event(&mut rng, &args, &movies, &queries, i, &domain);
                counters
                    .ingest_event(&e, &BucketMode::default(), true)
                    .await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {total} events over {} days, {} movies, {} users in {secs:.1}s ({:.0} events/s)",
        args.days,
        args.movies,
        args.users,
        total as f64 / secs
    );
    Ok(())
}
