//! `flush-worker report generate|verify` as real processes: the recorded
//! parity history, the rollback file from the routes ingest-svc serves,
//! archives with checksums, and everything verify must refuse.

use std::io::Write;
use std::path::{Path, PathBuf};

use analytics_domain::artifact::{ParityArtifact, ParityRow};
use analytics_tests::TestEnv;
use chrono::{Duration, Utc};
use serde_json::Value;
use zip::write::SimpleFileOptions;

struct Run {
    code: i32,
    stdout: String,
}

async fn report(env: &TestEnv, args: &[&str]) -> anyhow::Result<Run> {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    let out = env.flush_worker(&all, &[]).await?;
    Ok(Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
    })
}

fn scratch(env: &TestEnv) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("evidence-{}", env.id));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn date(back: i64) -> String {
    (Utc::now().date_naive() - Duration::days(back)).to_string()
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}

/// Writes a zip of `entries` (name, content) as given, no manifest added.
fn zip_of(path: &Path, entries: &[(&str, Vec<u8>)]) -> anyhow::Result<()> {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
    for (name, bytes) in entries {
        zip.start_file(*name, SimpleFileOptions::default())?;
        zip.write_all(bytes)?;
    }
    zip.finish()?;
    Ok(())
}

/// The entries of an archive, read back.
fn entries_of(path: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path)?)?;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes)?;
        out.push((entry.name()?.to_string(), bytes));
    }
    Ok(out)
}

async fn env_with_a_past_mismatch() -> anyhow::Result<TestEnv> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    env.insert_movies(&[("m-1", "ABC-001", 0, 0)]).await?;
    // Two days ago the daily check found a movie out of step.
    let past = ParityArtifact::new(
        date(2),
        format!("{}T00:10:00+00:00", date(2)),
        500,
        1,
        vec![ParityRow {
            code: "ABC-001".into(),
            mysql_views: 3,
            mysql_downloads: 0,
            mongo_views: 4,
            mongo_downloads: 0,
        }],
    );
    env.rollup_store().await?.record_parity(&past).await?;
    Ok(env)
}

#[tokio::test]
async fn generate_writes_the_recorded_history_and_verify_accepts_it() -> anyhow::Result<()> {
    let env = env_with_a_past_mismatch().await?;
    let ingest = env.spawn_ingest().await?;
    let dir = scratch(&env)?;
    let dir_arg = dir.display().to_string();
    let run = report(
        &env,
        &[
            "generate",
            "--days",
            "3",
            "--limit",
            "50",
            "--dir",
            &dir_arg,
            "--archive",
            "--rollback",
            "--ingest-url",
            &ingest.base,
        ],
    )
    .await?;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let parity = |back: i64| dir.join(format!("parity/parity-{}.json", date(back)));
    let rollback = dir.join(format!("rollback/rollback-{}.json", date(0)));
    assert_eq!(
        lines[0],
        format!("Parity artifact: {}", parity(2).display())
    );
    assert_eq!(
        lines[1],
        format!(
            "No parity check recorded for {}: no artifact written.",
            date(1)
        )
    );
    assert_eq!(
        lines[2],
        format!("Parity artifact: {}", parity(0).display())
    );
    assert_eq!(
        lines[3],
        format!("Rollback artifact: {}", rollback.display())
    );
    assert!(
        lines[4].starts_with(&format!(
            "Archive created: {}/archive/evidence-",
            dir.display()
        )),
        "{}",
        lines[4]
    );
    assert_eq!(lines.len(), 5, "{}", run.stdout);

    // The past file is what that day's check found, not today's result.
    let past = read_json(&parity(2))?;
    assert_eq!(past["artifact_date"], date(2));
    assert_eq!(past["mismatches"], 1);
    assert_eq!(past["rows"][0]["mongo_views"], 4);
    let today = read_json(&parity(0))?;
    assert_eq!(
        (
            today["checked"].as_i64(),
            today["mismatches"].as_i64(),
            today["limit"].as_i64()
        ),
        (Some(1), Some(0), Some(50))
    );
    let keys: Vec<&String> = today
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "schema_version",
            "artifact_type",
            "artifact_date",
            "generated_at",
            "limit",
            "checked",
            "mismatches",
            "rows"
        ]
    );
    // Today's check was recorded too: a later run finds it.
    let rolled = read_json(&rollback)?;
    assert_eq!(rolled["ingest_route_present"], true);
    assert_eq!(rolled["legacy_movie_view_route_present"], false);

    let archive = lines[4].trim_start_matches("Archive created: ").to_string();
    let names: Vec<String> = entries_of(Path::new(&archive))?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            format!("parity/parity-{}.json", date(2)),
            format!("parity/parity-{}.json", date(0)),
            format!("rollback/rollback-{}.json", date(0)),
            "manifest.json".to_string()
        ]
    );

    let verified = report(&env, &["verify", "--dir", &dir_arg]).await?;
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert_eq!(
        verified
            .stdout
            .lines()
            .filter(|l| l.starts_with("OK: "))
            .count(),
        3
    );
    assert!(
        verified
            .stdout
            .ends_with("Verified 3 artifact(s), invalid 0.\n"),
        "{}",
        verified.stdout
    );
    let verified = report(&env, &["verify", "--archive", &archive, "--strict"]).await?;
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert_eq!(
        verified.stdout,
        format!(
            "OK: parity/parity-{}.json\nOK: parity/parity-{}.json\nOK: rollback/rollback-{}.json\nVerified 3 artifact(s), invalid 0.\n",
            date(2),
            date(0),
            date(0)
        )
    );

    // A mismatch today fails the run (exit 1) and is on record.
    sqlx::query("UPDATE jav SET views = 5 WHERE uuid = 'm-1'")
        .execute(&mut env.mysql().await?)
        .await?;
    let run = report(&env, &["generate", "--days", "1", "--dir", &dir_arg]).await?;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(read_json(&parity(0))?["rows"][0]["mysql_views"], 5);
    ingest.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_rollback_file_says_so_when_ingest_does_not_answer() -> anyhow::Result<()> {
    let env = env_with_a_past_mismatch().await?;
    let dir = scratch(&env)?;
    let run = report(
        &env,
        &[
            "generate",
            "--days",
            "1",
            "--dir",
            &dir.display().to_string(),
            "--rollback",
            "--ingest-url",
            "http://127.0.0.1:9",
        ],
    )
    .await?;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let rolled = read_json(&dir.join(format!("rollback/rollback-{}.json", date(0))))?;
    assert_eq!(rolled["ingest_route_present"], false);
    let note = rolled["notes"][0].as_str().unwrap_or_default();
    assert!(
        note.starts_with("ingest-svc did not answer at http://127.0.0.1:9/openapi.json"),
        "{note}"
    );
    Ok(())
}

#[tokio::test]
async fn verify_refuses_tampering_escapes_and_oversize_entries() -> anyhow::Result<()> {
    let env = env_with_a_past_mismatch().await?;
    let dir = scratch(&env)?;
    let dir_arg = dir.display().to_string();
    let run = report(
        &env,
        &["generate", "--days", "3", "--dir", &dir_arg, "--archive"],
    )
    .await?;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let archive = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Archive created: "))
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("no archive: {}", run.stdout))?;
    let good = entries_of(&archive)?;
    let past = format!("parity/parity-{}.json", date(2));
    let verify_zip = |name: &str, entries: Vec<(&str, Vec<u8>)>| {
        let path = dir.join(name);
        let made = zip_of(&path, &entries);
        let env = &env;
        async move {
            made?;
            report(env, &["verify", "--archive", &path.display().to_string()]).await
        }
    };

    // One byte changed in a file, the manifest kept.
    let tampered: Vec<(&str, Vec<u8>)> = good
        .iter()
        .map(|(n, b)| {
            let mut b = b.clone();
            if *n == past {
                b = String::from_utf8_lossy(&b)
                    .replace("\"mongo_views\": 4", "\"mongo_views\": 3")
                    .into_bytes();
            }
            (n.as_str(), b)
        })
        .collect();
    let run = verify_zip("tampered.zip", tampered).await?;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .starts_with(&format!("Checksum mismatch: {past} (manifest ")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("Verified 2 artifact(s), invalid 1.\n"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains(&format!("OK: {past}")),
        "a tampered file is not also OK: {}",
        run.stdout
    );

    // A file the manifest does not list, and a listed one missing.
    let mut extra: Vec<(&str, Vec<u8>)> = good
        .iter()
        .filter(|(n, _)| *n != past)
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    extra.push(("parity/parity-1999-01-01.json", good[0].1.clone()));
    let run = verify_zip("extra.zip", extra).await?;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("Missing from archive: {past}\n")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Not in the manifest: parity/parity-1999-01-01.json\n"),
        "{}",
        run.stdout
    );

    // Entries that would land outside the directory, or exhaust memory.
    let artifact = good[0].1.clone();
    for (name, entry, why) in [
        (
            "slip.zip",
            "../../evil.json",
            "a path climbing out of the archive (..)",
        ),
        ("absolute.zip", "/tmp/evil.json", "an absolute path"),
    ] {
        let run = verify_zip(name, vec![(entry, artifact.clone())]).await?;
        assert_eq!(run.code, 1, "{}", run.stdout);
        assert!(
            run.stdout
                .contains(&format!("\nRefused entry: {entry}: {why}\n")),
            "{}",
            run.stdout
        );
    }
    let run = verify_zip("big.zip", vec![("big.json", vec![b' '; 9 * 1024 * 1024])]).await?;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("\nRefused entry: big.json: larger than the 8388608 bytes allowed\n"),
        "{}",
        run.stdout
    );

    // No manifest: verified by schema alone, refused with --strict.
    let bare = verify_zip("bare.zip", vec![(past.as_str(), good[0].1.clone())]).await?;
    assert_eq!(bare.code, 0, "{}", bare.stdout);
    assert!(
        bare.stdout.starts_with("No manifest in: "),
        "{}",
        bare.stdout
    );
    let strict = report(
        &env,
        &[
            "verify",
            "--strict",
            "--archive",
            &dir.join("bare.zip").display().to_string(),
        ],
    )
    .await?;
    assert_eq!(strict.code, 1, "{}", strict.stdout);

    // Archives that are not there or not archives.
    let missing = dir.join("nope.zip").display().to_string();
    let run = report(&env, &["verify", "--archive", &missing]).await?;
    assert_eq!(
        (run.code, run.stdout),
        (1, format!("Archive not found: {missing}\n"))
    );
    let junk = dir.join("junk.zip");
    std::fs::write(&junk, b"not a zip")?;
    let run = report(&env, &["verify", "--archive", &junk.display().to_string()]).await?;
    assert_eq!(
        (run.code, run.stdout),
        (1, format!("Unable to open archive: {}\n", junk.display()))
    );
    Ok(())
}

#[tokio::test]
async fn verify_checks_a_directorys_files_with_the_legacy_messages() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let dir = scratch(&env)?;
    let dir_arg = dir.display().to_string();
    let run = report(&env, &["verify", "--dir", &dir_arg]).await?;
    assert_eq!(
        (run.code, run.stdout.clone()),
        (0, format!("No JSON artifacts found in: {dir_arg}\n"))
    );
    let run = report(&env, &["verify", "--dir", &dir_arg, "--strict"]).await?;
    assert_eq!(run.code, 1);
    let gone = dir.join("gone").display().to_string();
    let run = report(&env, &["verify", "--dir", &gone]).await?;
    assert_eq!(
        (run.code, run.stdout),
        (1, format!("Directory not found: {gone}\n"))
    );

    std::fs::create_dir_all(dir.join("parity"))?;
    let good = serde_json::to_vec_pretty(&ParityArtifact::new(
        date(0),
        format!("{}T01:00:00+00:00", date(0)),
        10,
        10,
        vec![],
    ))?;
    std::fs::write(dir.join("parity/a.json"), &good)?;
    let mut lying: Value = serde_json::from_slice(&good)?;
    lying["mismatches"] = 2.into();
    std::fs::write(dir.join("parity/b.json"), serde_json::to_vec(&lying)?)?;
    std::fs::write(dir.join("parity/c.json"), b"{not json")?;
    std::fs::write(
        dir.join("d.json"),
        br#"{"schema_version": "v0", "artifact_type": "other"}"#,
    )?;
    let run = report(&env, &["verify", "--dir", &dir_arg]).await?;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let p = |name: &str| dir.join(name).display().to_string();
    assert_eq!(
        run.stdout,
        format!(
            "Schema invalid: {} (schema_version is missing or unsupported; artifact_type must be parity or rollback)\n\
             OK: {}\n\
             Schema invalid: {} (mismatches must equal the number of rows)\n\
             Invalid JSON: {}\n\
             Verified 4 artifact(s), invalid 3.\n",
            p("d.json"),
            p("parity/a.json"),
            p("parity/b.json"),
            p("parity/c.json")
        )
    );
    Ok(())
}
