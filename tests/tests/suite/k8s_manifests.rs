//! The manifests set only environment variables some binary reads: a typo
//! (`ANALYTICS__REDIS__URI`) would otherwise be ignored silently in a pod.
//! Rendering and schema validation run in scripts/check-k8s.sh.

use std::collections::BTreeSet;
use std::path::Path;

use analytics_runtime::config::{known_env_vars, OTHER_ENV_VARS};

/// Every `ANALYTICS__…` name and `name:`/data key that looks like an env var.
fn env_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        // Block (`- name: X`) or flow (`- {name: X, value: …}`) style.
        let line = line.trim().trim_start_matches("- ").trim_start_matches('{');
        let candidate = line
            .strip_prefix("name: ")
            .map(|rest| rest.split(',').next().unwrap_or_default())
            .or_else(|| line.split_once(':').map(|(k, _)| k))
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        let is_env_like = !candidate.is_empty()
            && candidate
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && candidate.chars().any(|c| c.is_ascii_uppercase());
        if is_env_like {
            out.insert(candidate.to_string());
        }
    }
    // Patches add config entries as JSON-patch paths: /data/ANALYTICS__…
    for part in text.split("/data/").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        out.insert(name);
    }
    out
}

fn unknown(names: &BTreeSet<String>) -> anyhow::Result<Vec<String>> {
    let known = known_env_vars()?;
    Ok(names
        .iter()
        .filter(|n| !known.contains(*n) && !OTHER_ENV_VARS.contains(&n.as_str()))
        .cloned()
        .collect())
}

fn manifests(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            manifests(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
    Ok(())
}

#[test]
fn every_env_var_in_the_manifests_is_read_by_a_binary() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s");
    let mut files = Vec::new();
    manifests(&root, &mut files)?;
    assert!(files.len() >= 6, "found only {files:?}");
    let mut seen = 0;
    for file in files {
        let names = env_names(&std::fs::read_to_string(&file)?);
        seen += names.len();
        assert_eq!(unknown(&names)?, Vec::<String>::new(), "{}", file.display());
    }
    assert!(
        seen >= 8,
        "the scan found only {seen} env vars: the parser is broken"
    );
    Ok(())
}

#[test]
fn a_misspelt_env_var_is_caught() -> anyhow::Result<()> {
    let manifest = "data:\n  ANALYTICS__REDIS__URI: redis://x\n  RUST_LOG: info\nenv:\n  - name: ANALYTICS__READ_API__ADMIN_TOKN\n";
    assert_eq!(
        unknown(&env_names(manifest))?,
        ["ANALYTICS__READ_API__ADMIN_TOKN", "ANALYTICS__REDIS__URI"]
    );
    let flow = "env:\n  - {name: ANALYTICS_EVIDENCE_DIRECTORY, value: /evidence}\n";
    assert_eq!(unknown(&env_names(flow))?, ["ANALYTICS_EVIDENCE_DIRECTORY"]);
    let patch = r#"- {op: add, path: /data/ANALYTICS__FLUSH__BATCH_SIZ, value: "1"}"#;
    assert_eq!(unknown(&env_names(patch))?, ["ANALYTICS__FLUSH__BATCH_SIZ"]);
    Ok(())
}

/// A Job that hangs (a store that stopped answering) must end: with
/// `concurrencyPolicy: Forbid` it would otherwise hold every later run of
/// its CronJob. Each CronJob's Job carries `activeDeadlineSeconds`.
#[test]
fn every_cronjob_has_an_active_deadline() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s");
    let mut files = Vec::new();
    manifests(&root, &mut files)?;
    let mut cronjobs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for doc in text.split("\n---") {
            if !doc.lines().any(|l| l.trim() == "kind: CronJob") {
                continue;
            }
            let name = doc
                .lines()
                .find_map(|l| l.trim().strip_prefix("name: "))
                .unwrap_or("?")
                .to_string();
            let deadline = doc.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("activeDeadlineSeconds: ")
                    .and_then(|v| v.parse::<u64>().ok())
            });
            cronjobs.push((name, deadline));
        }
    }
    assert!(cronjobs.len() >= 5, "found only {cronjobs:?}");
    let without: Vec<&String> = cronjobs
        .iter()
        .filter(|(_, d)| d.is_none_or(|d| d == 0))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(without, Vec::<&String>::new(), "{cronjobs:?}");
    Ok(())
}
