//! The reference in `docs/` is held to the code: every setting of
//! `deploy/config/default.toml` is in `docs/configuration.md`, and every
//! route the three services describe in their OpenAPI is in `docs/api.md`
//! (or, for the routes every service has, in `docs/operations.md`).

use analytics_tests::{Telemetry, TestEnv};
use serde_json::Value;

fn read(path: &str) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(format!(
        "{}/../{path}",
        env!("CARGO_MANIFEST_DIR")
    ))?)
}

/// `section.key` of every setting in a TOML file of plain sections.
fn settings(toml: &str) -> Vec<String> {
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in toml.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
        } else if let Some((key, _)) = line.split_once('=') {
            if !line.starts_with('#') && !section.is_empty() {
                keys.push(format!("{section}.{}", key.trim()));
            }
        }
    }
    keys
}

#[test]
fn every_setting_is_in_the_configuration_reference() -> anyhow::Result<()> {
    let reference = read("docs/configuration.md")?;
    let keys = settings(&read("deploy/config/default.toml")?);
    assert!(keys.len() > 50, "{keys:?}");
    // A key under a named table (`domains.jav.zone`) may be written for
    // every name (`domains.<name>.zone`).
    let patterns: Vec<&str> = reference
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|token| token.contains('<'))
        .collect();
    let documented = |key: &str| {
        let parts: Vec<&str> = key.split('.').collect();
        reference.contains(&format!("`{key}`"))
            || patterns.iter().any(|pattern| {
                let segments: Vec<&str> = pattern.split('.').collect();
                segments.len() == parts.len()
                    && segments
                        .iter()
                        .zip(&parts)
                        .all(|(s, p)| s == p || (s.starts_with('<') && s.ends_with('>')))
            })
    };
    let missing: Vec<&String> = keys.iter().filter(|k| !documented(k)).collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md lacks {missing:?}"
    );
    Ok(())
}

#[tokio::test]
async fn every_route_is_in_the_api_reference() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    let telemetry = Telemetry::spawn(&env).await?;
    let (reference, shared) = (read("docs/api.md")?, read("docs/operations.md")?);
    let mut missing = Vec::new();
    for base in [&ingest.base, &api.base, &telemetry.base] {
        let doc: Value = reqwest::get(format!("{base}/openapi.json"))
            .await?
            .json()
            .await?;
        for path in doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(p, _)| p)
        {
            // Path parameters may be written as examples (`/movie/m-1`):
            // the part before the first one is enough.
            let stem = path.split('{').next().unwrap_or(path);
            let documented = reference.contains(stem) || shared.contains(path.as_str());
            if !documented {
                missing.push(path.clone());
            }
        }
    }
    assert!(missing.is_empty(), "docs/api.md lacks {missing:?}");
    Ok(())
}
