//! Dedupe in day hashes: an accepted event leaves an 8-byte entry in one of
//! its partition's hashes of the UTC day (Redis's clock) it was accepted
//! on, and is looked up in that day's hashes and the two days' before.
//! "Accepted yesterday" is made here by renaming today's hash to
//! yesterday's name, as the day turning over does to it.

use analytics_domain::keys::seen_entry;
use analytics_domain::KeySpace;
use analytics_tests::{event, Ingest, TestEnv};

/// (status, duplicate header) of posting one event.
async fn post(app: &Ingest, id: &str, movie: &str) -> anyhow::Result<(u16, bool)> {
    let resp = app
        .post_as_producer(&event(id, "movie", movie, "view", 1))
        .await?;
    let duplicate = resp.headers().get("x-analytics-duplicate").is_some();
    Ok((resp.status().as_u16(), duplicate))
}

/// Views of a movie counted in Redis and not flushed yet.
async fn waiting_views(env: &TestEnv, movie: &str) -> anyhow::Result<i64> {
    let entity = analytics_domain::EntityKey {
        domain: analytics_domain::Domain::new("jav")?,
        entity_type: analytics_domain::EntityType::Movie,
        entity_id: movie.into(),
    };
    let pending = env.hot_counters()?.pending(&entity).await?;
    Ok(pending.fresh.get(analytics_domain::Action::View))
}

async fn rename(env: &TestEnv, from: &str, to: &str) -> anyhow::Result<()> {
    let _: () = redis::cmd("RENAME")
        .arg(from)
        .arg(to)
        .query_async(&mut env.redis().await?)
        .await?;
    Ok(())
}

#[tokio::test]
async fn an_event_retried_across_day_turnovers_is_a_duplicate_and_a_reused_id_a_conflict(
) -> anyhow::Result<()> {
    // Run again if Redis's day turned over meanwhile (a second at midnight).
    for attempt in 0..2 {
        let env = TestEnv::new().await?;
        let day = env.redis_day().await?;
        let app = env.spawn_ingest().await?;
        assert_eq!(post(&app, "d-1", "m-1").await?, (202, false));

        let today = env.seen_hash("d-1", day)?;
        let mut redis = env.redis().await?;
        let (_, field) = seen_entry("d-1");
        let entry: Vec<u8> = redis::cmd("HGET")
            .arg(&today)
            .arg(&field[..])
            .query_async(&mut redis)
            .await?;
        assert_eq!(entry.len(), 8, "an 8-byte fingerprint");
        let ttl: i64 = redis::cmd("TTL")
            .arg(&today)
            .query_async(&mut redis)
            .await?;
        assert!((48 * 3600..=72 * 3600).contains(&ttl), "{ttl}");

        // Accepted yesterday, then the day before: still found.
        let mut held = today.clone();
        for back in 1..=2 {
            let earlier = env.seen_hash("d-1", day - back)?;
            rename(&env, &held, &earlier).await?;
            held = earlier;
            assert_eq!(post(&app, "d-1", "m-1").await?, (202, true), "day -{back}");
            assert_eq!(post(&app, "d-1", "m-2").await?.0, 409, "day -{back}");
        }
        // Three days back is past the window (at least 48 h, at most 72 h):
        // the id is new again. (An event that old is refused by its time.)
        rename(&env, &held, &env.seen_hash("d-1", day - 3)?).await?;
        assert_eq!(post(&app, "d-1", "m-1").await?, (202, false));

        if env.redis_day().await? == day {
            assert_eq!(waiting_views(&env, "m-1").await?, 2);
            assert_eq!(waiting_views(&env, "m-2").await?, 0);
            return Ok(());
        }
        eprintln!("Redis's day turned over during attempt {attempt}; again");
    }
    anyhow::bail!("Redis's day turned over twice")
}

#[tokio::test]
async fn migrate_moves_the_markers_of_the_earlier_layout_into_the_day_hashes() -> anyhow::Result<()>
{
    let mut env = TestEnv::new().await?;
    // Earlier releases ran on one Redis only.
    env.use_redis(analytics_tests::redis_url());
    env.migrate().await?;
    let app = env.spawn_ingest().await?;
    // The fingerprint an earlier release kept in its marker: the entry's
    // 8 bytes as 16 hex digits.
    assert_eq!(post(&app, "old-1", "m-1").await?, (202, false));
    let day = env.redis_day().await?;
    let today = env.seen_hash("old-1", day)?;
    let (_, field) = seen_entry("old-1");
    let mut redis = env.redis().await?;
    let entry: Vec<u8> = redis::cmd("HGET")
        .arg(&today)
        .arg(&field[..])
        .query_async(&mut redis)
        .await?;
    let fingerprint: String = entry.iter().map(|b| format!("{b:02x}")).collect();
    let _: () = redis::cmd("DEL")
        .arg(&today)
        .query_async(&mut redis)
        .await?;

    let keys = KeySpace::new(env.id.clone(), 16)?;
    for (id, value) in [("old-1", fingerprint.as_str()), ("old-2", "legacy")] {
        let _: () = redis::cmd("SET")
            .arg(keys.event_marker(keys.partition_of(id), id))
            .arg(value)
            .arg("EX")
            .arg(3600)
            .query_async(&mut redis)
            .await?;
    }
    let out = env.flush_worker(&["migrate"], &[]).await?;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Migrations applied; indexes ensured.\n\
         Moved 2 dedupe markers of the earlier layout into the day hashes.\n"
    );
    let left: Vec<String> = env
        .redis_keys()
        .await?
        .into_iter()
        .filter(|k| k.contains(":evt:"))
        .collect();
    assert_eq!(left, Vec::<String>::new());

    assert_eq!(post(&app, "old-1", "m-1").await?, (202, true));
    assert_eq!(post(&app, "old-1", "m-2").await?.0, 409);
    assert_eq!(post(&app, "old-2", "m-3").await?, (202, true));
    // Nothing more to move.
    let out = env.flush_worker(&["migrate"], &[]).await?;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Migrations applied; indexes ensured.\n"
    );
    Ok(())
}
