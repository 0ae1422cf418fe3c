//! Leaderboards: the top-N documents the flush maintains so `top` reads
//! one small document, exact however the counts arrive.

use analytics_store::rollups::leaderboard::{LEADERBOARDS, LEADERBOARD_PENDING, LEADERBOARD_SIZE};
use analytics_tests::{get_json, ReadApi, TestEnv, OPERATOR_TOKEN};
use mongodb::bson::{doc, Document};
use serde_json::Value;

fn movie(i: usize) -> String {
    format!("m-{i:03}")
}

/// (entity_id, views) of a `top` answer.
async fn top(api: &ReadApi, query: &str) -> anyhow::Result<Vec<(String, i64)>> {
    let (status, body) = api
        .admin(&format!("/api/v1/admin/analytics/top?{query}"))
        .await?;
    anyhow::ensure!(status == 200, "{status}: {body}");
    Ok(body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| Some((i["entity_id"].as_str()?.to_string(), i["view"].as_i64()?)))
        .collect())
}

/// The exact ranking: views descending, then entity id.
fn ranking(mut views: Vec<(String, i64)>, n: usize) -> Vec<(String, i64)> {
    views.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    views.truncate(n);
    views
}

async fn board(env: &TestEnv, id: &str) -> anyhow::Result<Option<Document>> {
    Ok(env
        .mongo()
        .await?
        .collection::<Document>(LEADERBOARDS)
        .find_one(doc! {"_id": id})
        .await?)
}

/// Change records not merged into the boards yet.
async fn pending_changes(env: &TestEnv) -> anyhow::Result<u64> {
    Ok(env
        .mongo()
        .await?
        .collection::<Document>(LEADERBOARD_PENDING)
        .count_documents(doc! {})
        .await?)
}

#[tokio::test]
async fn an_entity_outside_a_full_board_enters_it_when_it_overtakes() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    // 105 movies with 1..=105 views, and m-106 tying m-105.
    let mut views: Vec<(String, i64)> = (1..=105).map(|i| (movie(i), i as i64)).collect();
    views.push((movie(106), 105));
    for (id, n) in &views {
        ingest
            .send(&format!("first-{id}"), "movie", id, "view", *n)
            .await?;
    }
    // Two shards at once: both merge into the same boards.
    let (a, b) = tokio::join!(
        env.flush_worker(&["flush", "--partitions", "0-7"], &[]),
        env.flush_worker(&["flush", "--partitions", "8-15"], &[]),
    );
    assert!(a?.status.success() && b?.status.success());

    let all = board(&env, "jav|movie|view|all")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no all-time board"))?;
    assert_eq!(
        all.get_array("entries")?.len(),
        LEADERBOARD_SIZE,
        "a full board"
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(board(&env, &format!("jav|movie|view|date={today}"))
        .await?
        .is_some());
    assert_eq!(
        top(&api, "period=all&limit=100").await?,
        ranking(views.clone(), 100)
    );
    assert_eq!(
        top(&api, "period=all&limit=3").await?,
        [(movie(105), 105), (movie(106), 105), (movie(104), 104)]
    );

    // m-001 (1 view, far below the board) overtakes everyone.
    ingest
        .send("second", "movie", &movie(1), "view", 500)
        .await?;
    env.flush_until_clean().await?;
    views[0].1 += 500;
    for query in ["period=all&limit=100", "period=day&limit=100"] {
        assert_eq!(
            top(&api, query).await?,
            ranking(views.clone(), 100),
            "{query}"
        );
    }
    assert_eq!(top(&api, "period=week&limit=1").await?, [(movie(1), 501)]);

    // A download changes the entry's other count in the views board too.
    ingest
        .send("third", "movie", &movie(105), "download", 2)
        .await?;
    env.flush_until_clean().await?;
    let (_, body) = api
        .admin("/api/v1/admin/analytics/top?period=all&limit=2")
        .await?;
    assert_eq!(
        body["items"][1],
        serde_json::json!({"rank": 2, "entity_id": movie(105), "view": 105, "download": 2})
    );
    assert_eq!(
        pending_changes(&env).await?,
        0,
        "every change record merged"
    );
    Ok(())
}

#[tokio::test]
async fn a_flush_stopped_after_its_commit_leaves_changes_the_next_run_merges() -> anyhow::Result<()>
{
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    ingest.send("e-1", "movie", "m-1", "view", 3).await?;
    env.flush_until_clean().await?;
    ingest.send("e-2", "movie", "m-2", "view", 5).await?;

    let crashed = env
        .flush_worker(&["flush"], &[("ANALYTICS_FLUSH_FAULT", "after-mongo")])
        .await?;
    assert_eq!(crashed.status.code(), Some(86));
    let pending = pending_changes(&env).await?;
    assert!(pending > 0, "the stopped run's change records wait");
    // Operators see them waiting.
    let telemetry = env.spawn_telemetry().await?;
    let client = reqwest::Client::new();
    let url = format!("{telemetry}/api/v1/telemetry/pipeline");
    let pipeline = || async {
        let (_, view) = get_json(&client, &url, Some(OPERATOR_TOKEN)).await?;
        anyhow::Ok(view["backlog"]["leaderboard_changes"].clone())
    };
    assert_eq!(pipeline().await?, serde_json::json!(pending));

    env.flush_until_clean().await?;
    assert_eq!(
        top(&api, "period=all").await?,
        [("m-2".to_string(), 5), ("m-1".to_string(), 3)]
    );
    assert_eq!(pipeline().await?, serde_json::json!(0));
    Ok(())
}

#[tokio::test]
async fn rollups_without_a_board_are_ranked_by_a_sort_and_get_one_on_the_next_change(
) -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    ingest.send("e-1", "movie", "m-1", "view", 3).await?;
    ingest.send("e-2", "movie", "m-2", "view", 2).await?;
    env.flush_until_clean().await?;
    // Rollups from before the boards existed (or a board lost): no board.
    env.mongo()
        .await?
        .collection::<Document>(LEADERBOARDS)
        .delete_many(doc! {})
        .await?;
    let expected = [("m-1".to_string(), 3), ("m-2".to_string(), 2)];
    assert_eq!(top(&api, "period=all").await?, expected);

    ingest.send("e-3", "movie", "m-3", "view", 1).await?;
    env.flush_until_clean().await?;
    let rebuilt = board(&env, "jav|movie|view|all")
        .await?
        .ok_or_else(|| anyhow::anyhow!("board not rebuilt"))?;
    let ids: Vec<&str> = rebuilt
        .get_array("entries")?
        .iter()
        .filter_map(|e| e.as_document()?.get_str("entity_id").ok())
        .collect();
    assert_eq!(ids, ["m-1", "m-2", "m-3"]);

    // A manual fix of the rollups, then a rebuild: the boards follow.
    env.mongo()
        .await?
        .collection::<Document>("analytics_entity_totals")
        .update_one(doc! {"entity_id": "m-1"}, doc! {"$set": {"view": 1}})
        .await?;
    let out = env.flush_worker(&["rebuild-leaderboards"], &[]).await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("Rebuilt 25 leaderboards in "),
        "totals and four periods, each by views, downloads, starts, watch time and \
         recommendation clicks: {stdout}"
    );
    let all = board(&env, "jav|movie|view|all")
        .await?
        .ok_or_else(|| anyhow::anyhow!("board lost"))?;
    let entries: Vec<(String, i64)> = all
        .get_array("entries")?
        .iter()
        .filter_map(|e| {
            let e = e.as_document()?;
            Some((
                e.get_str("entity_id").ok()?.to_string(),
                e.get_i64("view").ok()?,
            ))
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("m-2".to_string(), 2),
            ("m-1".to_string(), 1),
            ("m-3".to_string(), 1)
        ]
    );
    let body: Value = api
        .admin("/api/v1/admin/analytics/top?period=all&action=download")
        .await?
        .1;
    assert_eq!(body["items"], serde_json::json!([]), "no downloads yet");
    Ok(())
}
