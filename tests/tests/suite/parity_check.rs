//! `flush-worker parity-check`: legacy output, exit codes and the v1 artifact.

use analytics_domain::artifact::validate_payload;
use analytics_tests::TestEnv;
use serde_json::Value;

async fn flushed_env() -> anyhow::Result<TestEnv> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    env.insert_movies(&[("m-1", "ABC-1", 0, 0), ("m-2", "ABC-2", 0, 0)])
        .await?;
    let app = env.spawn_ingest().await?;
    for i in 0..3 {
        app.send(&format!("v{i}"), "movie", "m-1", "view", 1)
            .await?;
    }
    app.send("d1", "movie", "m-1", "download", 1).await?;
    app.send("v-2", "movie", "m-2", "view", 2).await?;
    app.send("orphan", "movie", "m-zzz", "view", 1).await?;
    let out = env.flush_worker(&["flush"], &[]).await?;
    anyhow::ensure!(out.status.success(), "flush failed");
    Ok(env)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test]
async fn equal_replicas_pass_and_a_hand_edited_value_is_reported() -> anyhow::Result<()> {
    let env = flushed_env().await?;
    let ok = env.flush_worker(&["parity-check"], &[]).await?;
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(stdout(&ok), "Checked: 2, Mismatches: 0\n");

    let mut conn = env.mysql().await?;
    sqlx::query("UPDATE jav SET views = 10 WHERE uuid = 'm-1'")
        .execute(&mut conn)
        .await?;
    let bad = env.flush_worker(&["parity-check"], &[]).await?;
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        stdout(&bad),
        "ABC-1: MySQL(10/1) vs Mongo(3/1)\nChecked: 2, Mismatches: 1\n"
    );
    Ok(())
}

#[tokio::test]
async fn the_artifact_is_printed_and_saved_in_the_v1_schema() -> anyhow::Result<()> {
    let env = flushed_env().await?;
    let mut conn = env.mysql().await?;
    sqlx::query("UPDATE jav SET downloads = 5, code = NULL WHERE uuid = 'm-2'")
        .execute(&mut conn)
        .await?;
    let dir = std::env::temp_dir().join(format!("{}-artifacts", env.id));
    let path = dir.join("nested/parity.json");
    let path_arg = path.to_string_lossy().to_string();
    let out = env
        .flush_worker(
            &[
                "parity-check",
                "--limit",
                "5",
                "--print-json",
                "--output",
                &path_arg,
            ],
            &[],
        )
        .await?;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "m-2: MySQL(2/5) vs Mongo(2/0)",
        "a null code falls back to the uuid"
    );
    let printed: Value = serde_json::from_str(lines[1])?;
    assert_eq!(lines[2], format!("Artifact saved: {path_arg}"));
    assert_eq!(lines[3], "Checked: 2, Mismatches: 1");

    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    assert_eq!(saved, printed);
    assert!(validate_payload(&saved).is_empty(), "{saved}");
    assert_eq!(saved["schema_version"], "analytics-artifact.v1");
    assert_eq!(saved["artifact_type"], "parity");
    assert_eq!(saved["limit"], 5);
    assert_eq!(saved["checked"], 2);
    assert_eq!(saved["mismatches"], 1);
    assert_eq!(
        saved["rows"],
        serde_json::json!([{"code": "m-2", "mysql_views": 2, "mysql_downloads": 5, "mongo_views": 2, "mongo_downloads": 0}])
    );
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

#[tokio::test]
async fn the_sample_is_deterministic_and_all_reports_orphans() -> anyhow::Result<()> {
    let env = flushed_env().await?;
    let mut conn = env.mysql().await?;
    // Tie m-1 and m-2 on views: the uuid decides, every time.
    sqlx::query("UPDATE jav SET views = 3, downloads = 9 WHERE uuid IN ('m-1', 'm-2')")
        .execute(&mut conn)
        .await?;
    for _ in 0..3 {
        let out = env
            .flush_worker(&["parity-check", "--limit", "1"], &[])
            .await?;
        assert_eq!(
            stdout(&out),
            "ABC-1: MySQL(3/9) vs Mongo(3/1)\nChecked: 1, Mismatches: 1\n"
        );
    }
    let all = env.flush_worker(&["parity-check", "--all"], &[]).await?;
    assert_eq!(all.status.code(), Some(1));
    assert_eq!(
        stdout(&all),
        "ABC-1: MySQL(3/9) vs Mongo(3/1)\nABC-2: MySQL(3/9) vs Mongo(2/0)\n\
         Orphan: m-zzz Mongo(1/0) has no jav row\nChecked: 2, Mismatches: 2\nOrphans: 1\n"
    );
    Ok(())
}

#[tokio::test]
async fn an_unwritable_output_path_fails_with_the_legacy_message() -> anyhow::Result<()> {
    let env = flushed_env().await?;
    let out = env
        .flush_worker(&["parity-check", "--output", "/proc/nope/parity.json"], &[])
        .await?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("Failed to save artifact: "),
        "{}",
        stdout(&out)
    );
    Ok(())
}
