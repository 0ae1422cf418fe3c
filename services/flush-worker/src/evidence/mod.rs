//! `report generate` and `report verify`: the `analytics-artifact.v1`
//! evidence files the cut-over's reviewers keep, in the layout, messages and
//! exit codes their scripts expect. Unlike the system replaced, a day's
//! parity file is the check recorded that day (not today's relabelled), an
//! archive carries SHA-256 checksums that verify checks, archive entries are
//! checked in memory (never extracted, so no path can escape), and the
//! rollback file reports the routes ingest-svc actually serves.

pub mod archive;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use analytics_domain::artifact::{validate_strict, Manifest, RollbackArtifact, MANIFEST_NAME};
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::parity::{self, ParityOptions};
use crate::stores::Stores;

/// The ingest route and the legacy per-movie view route the rollback plan
/// asks about.
const INGEST_ROUTE: &str = "/api/v1/analytics/events";
const LEGACY_VIEW_ROUTE: &str = "/jav/movies/{jav}/view";

#[derive(Debug, Clone, clap::Args)]
pub struct GenerateOptions {
    /// Days of parity files, ending today (at least 1).
    #[arg(long, default_value_t = 7)]
    pub days: i64,
    /// Movies per parity check, top by views (at least 1).
    #[arg(long, default_value_t = 500)]
    pub limit: i64,
    #[arg(long, env = "ANALYTICS_EVIDENCE_DIR", default_value = "evidence")]
    pub dir: PathBuf,
    /// Also write archive/evidence-<time>.zip with a SHA-256 manifest.
    #[arg(long)]
    pub archive: bool,
    /// Also write rollback/rollback-<date>.json from the routes ingest-svc
    /// serves.
    #[arg(long)]
    pub rollback: bool,
    /// Where ingest-svc answers (its `/openapi.json` lists what it serves).
    #[arg(
        long,
        env = "ANALYTICS_INGEST_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub ingest_url: String,
}

/// Writes `value` as pretty JSON (parents created); returns the bytes.
fn save<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<Vec<u8>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let bytes = serde_json::to_vec_pretty(value)?;
    std::fs::write(path, &bytes)?;
    Ok(bytes)
}

/// The files one `generate` run wrote (path relative to the directory,
/// content), and whether one could not be written.
#[derive(Default)]
struct Written {
    files: Vec<(String, Vec<u8>)>,
    failed: bool,
}

impl Written {
    fn save<T: Serialize>(&mut self, dir: &Path, relative: String, value: &T, label: &str) {
        let path = dir.join(&relative);
        match save(&path, value) {
            Ok(bytes) => {
                println!("{label} artifact: {}", path.display());
                self.files.push((relative, bytes));
            }
            Err(e) => {
                println!("Failed to save artifact: {e}");
                self.failed = true;
            }
        }
    }
}

/// Runs today's parity check (and records it), writes the recorded parity
/// of each day of the window, the rollback file and the archive as asked.
/// Exit code 1 when today's check found mismatches or a file or the archive
/// could not be written.
pub async fn generate(stores: &Stores, opts: &GenerateOptions) -> anyhow::Result<u8> {
    let check = ParityOptions {
        limit: opts.limit.max(1),
        all: false,
        print_json: false,
        output: None,
    };
    let today = parity::check(stores, &check).await?;
    if let Err(e) = stores
        .step("mongodb", stores.rollups.record_parity(&today))
        .await
    {
        println!("Today's parity check could not be recorded: {e}");
    }
    let now = Utc::now();
    let dates: Vec<String> = (0..opts.days.max(1))
        .rev()
        .map(|back| (now.date_naive() - chrono::Duration::days(back)).to_string())
        .collect();
    let mut history = stores
        .step("mongodb", stores.rollups.parity_history(&dates))
        .await?;
    history.insert(today.artifact_date.clone(), today.clone());

    let mut written = Written::default();
    for date in &dates {
        match history.get(date) {
            Some(artifact) => {
                let relative = format!("parity/parity-{date}.json");
                written.save(&opts.dir, relative, artifact, "Parity");
            }
            None => println!("No parity check recorded for {date}: no artifact written."),
        }
    }
    if opts.rollback {
        let artifact = rollback(&opts.ingest_url).await;
        let relative = format!("rollback/rollback-{}.json", today.artifact_date);
        written.save(&opts.dir, relative, &artifact, "Rollback");
    }
    let mut failed = written.failed;
    if opts.archive && !written.files.is_empty() {
        let name = format!("archive/evidence-{}.zip", now.format("%Y%m%d_%H%M%S"));
        let path = opts.dir.join(name);
        let stamp = now.to_rfc3339_opts(SecondsFormat::Secs, false);
        match archive::write(&path, &written.files, &stamp) {
            Ok(()) => println!("Archive created: {}", path.display()),
            Err(e) => {
                println!("Archive could not be created: {e}");
                failed = true;
            }
        }
    }
    Ok(u8::from(failed || today.mismatches > 0))
}

/// What ingest-svc serves now, from its own OpenAPI document.
async fn rollback(ingest_url: &str) -> RollbackArtifact {
    let generated_at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, false);
    let url = format!("{}/openapi.json", ingest_url.trim_end_matches('/'));
    let document = async {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?
            .get(&url)
            .send()
            .await?
            .error_for_status()?
            .json::<Value>()
            .await
    };
    match document.await {
        Ok(doc) => {
            let paths = &doc["paths"];
            let ingest = paths[INGEST_ROUTE]["post"].is_object();
            let legacy = paths
                .as_object()
                .is_some_and(|p| p.keys().any(|k| k == LEGACY_VIEW_ROUTE));
            RollbackArtifact::new(
                generated_at,
                ingest,
                legacy,
                vec![
                    format!("Routes as ingest-svc lists them at {url}."),
                    format!(
                        "POST {INGEST_ROUTE} is {}served.",
                        if ingest { "" } else { "NOT " }
                    ),
                    format!(
                        "The legacy {LEGACY_VIEW_ROUTE} route is {}served.",
                        if legacy { "" } else { "not " }
                    ),
                ],
            )
        }
        Err(e) => RollbackArtifact::new(
            generated_at,
            false,
            false,
            vec![format!(
                "ingest-svc did not answer at {url} ({e}): no route is known to be served."
            )],
        ),
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct VerifyOptions {
    #[arg(long, env = "ANALYTICS_EVIDENCE_DIR", default_value = "evidence")]
    pub dir: PathBuf,
    /// An evidence zip (takes precedence over --dir).
    #[arg(long)]
    pub archive: Option<PathBuf>,
    /// No artifact, or an archive without a manifest, fails too.
    #[arg(long)]
    pub strict: bool,
}

/// Checks every artifact of a directory or an archive; prints one line per
/// file and the summary; exit code 0 only when none is invalid.
pub fn verify(opts: &VerifyOptions) -> u8 {
    // `tampered`: files whose checksum failed, reported with the problems
    // and not read (an "OK" beside "Checksum mismatch" would contradict).
    let (files, problems, tampered) = match &opts.archive {
        Some(path) => match archive_files(path, opts.strict) {
            Ok(found) => found,
            Err(message) => {
                println!("{message}");
                return 1;
            }
        },
        None => match directory_files(&opts.dir) {
            Ok(files) => (files, Vec::new(), 0),
            Err(message) => {
                println!("{message}");
                return 1;
            }
        },
    };
    let source = opts
        .archive
        .as_ref()
        .unwrap_or(&opts.dir)
        .display()
        .to_string();
    if files.is_empty() && problems.is_empty() {
        println!("No JSON artifacts found in: {source}");
        return u8::from(opts.strict);
    }
    let mut invalid = problems.len();
    for problem in &problems {
        println!("{problem}");
    }
    for (name, bytes) in &files {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) if v.is_object() || v.is_array() => {
                let errors = validate_strict(&v);
                if errors.is_empty() {
                    println!("OK: {name}");
                } else {
                    println!("Schema invalid: {name} ({})", errors.join("; "));
                    invalid += 1;
                }
            }
            _ => {
                println!("Invalid JSON: {name}");
                invalid += 1;
            }
        }
    }
    println!(
        "Verified {} artifact(s), invalid {invalid}.",
        files.len() + tampered
    );
    u8::from(invalid > 0)
}

type Files = Vec<(String, Vec<u8>)>;

/// Every `*.json` under `dir` (sorted), read.
fn directory_files(dir: &Path) -> Result<Files, String> {
    if !dir.is_dir() {
        return Err(format!("Directory not found: {}", dir.display()));
    }
    let mut paths = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| format!("Unreadable: {} ({e})", d.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_default();
            (p.display().to_string(), bytes)
        })
        .collect())
}

/// The archive's `*.json` artifacts, and every problem found on the way:
/// refused entries, a checksum that does not match, a file the manifest
/// does not list or lists but the archive lacks, no manifest (a problem
/// only with `strict`: archives from before manifests have none).
fn archive_files(path: &Path, strict: bool) -> Result<(Files, Vec<String>, usize), String> {
    if !path.is_file() {
        return Err(format!("Archive not found: {}", path.display()));
    }
    let mut zip = std::fs::File::open(path)
        .ok()
        .and_then(|f| zip::ZipArchive::new(f).ok())
        .ok_or_else(|| format!("Unable to open archive: {}", path.display()))?;
    let contents = archive::read(&mut zip);
    let mut problems: Vec<String> = contents
        .refused
        .iter()
        .map(|r| format!("Refused entry: {r}"))
        .collect();
    let mut files: BTreeMap<String, Vec<u8>> = contents.entries.into_iter().collect();
    let mut tampered = 0;
    match files.remove(MANIFEST_NAME) {
        Some(bytes) => match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(manifest) => {
                let (found, mismatched) = manifest_problems(&manifest, &files);
                problems.extend(found);
                files.retain(|name, _| !mismatched.contains(name));
                tampered = mismatched.len();
            }
            Err(e) => problems.push(format!("Invalid manifest: {MANIFEST_NAME} ({e})")),
        },
        None if strict => problems.push(format!("No manifest in: {}", path.display())),
        None => println!(
            "No manifest in: {} (checksums not verified)",
            path.display()
        ),
    }
    let json = files
        .into_iter()
        .filter(|(name, _)| name.ends_with(".json"))
        .collect();
    Ok((json, problems, tampered))
}

/// What is wrong with the archive against its manifest, and the files
/// whose checksum does not match.
fn manifest_problems(
    manifest: &Manifest,
    files: &BTreeMap<String, Vec<u8>>,
) -> (Vec<String>, std::collections::BTreeSet<String>) {
    let mut problems = Vec::new();
    let mut mismatched = std::collections::BTreeSet::new();
    for listed in &manifest.files {
        match files.get(&listed.path) {
            None => problems.push(format!("Missing from archive: {}", listed.path)),
            Some(bytes) => {
                let actual = archive::sha256_hex(bytes);
                if actual != listed.sha256.to_ascii_lowercase() {
                    problems.push(format!(
                        "Checksum mismatch: {} (manifest {}, archive {actual})",
                        listed.path, listed.sha256
                    ));
                    mismatched.insert(listed.path.clone());
                }
            }
        }
    }
    for name in files.keys() {
        if !manifest.files.iter().any(|f| &f.path == name) {
            problems.push(format!("Not in the manifest: {name}"));
        }
    }
    (problems, mismatched)
}
