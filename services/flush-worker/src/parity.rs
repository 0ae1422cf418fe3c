//! `parity-check`: compares the MySQL replicas with the Mongo totals and
//! writes the `analytics-artifact.v1` parity artifact, with the output operators already script against.

use std::collections::HashSet;
use std::path::PathBuf;

use analytics_domain::artifact::{OrphanRow, ParityArtifact, ParityRow};
use analytics_domain::{Action, Domain, EntityType};
use analytics_store::catalogue::MovieCounters;
use analytics_store::StoreError;
use chrono::{SecondsFormat, Utc};

use crate::flush::CATALOGUE_DOMAIN;
use crate::stores::Stores;

const PAGE: i64 = 1000;

#[derive(Debug, Clone)]
pub struct ParityOptions {
    pub limit: i64,
    pub all: bool,
    pub print_json: bool,
    pub output: Option<PathBuf>,
}

pub async fn check(stores: &Stores, opts: &ParityOptions) -> Result<ParityArtifact, StoreError> {
    let domain = Domain::new(CATALOGUE_DOMAIN).map_err(|e| StoreError::Config(e.to_string()))?;
    let mut rows = Vec::new();
    let mut checked = 0i64;
    if opts.all {
        let mut after: Option<String> = None;
        loop {
            let page = stores.catalogue.movies_page(after.as_deref(), PAGE);
            let page = stores.step("mysql: a page of the catalogue", page).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.uuid.clone());
            checked += page.len() as i64;
            rows.extend(compare(stores, &domain, &page).await?);
        }
    } else {
        let page = stores.catalogue.top_movies(opts.limit);
        let page = stores
            .step("mysql: the catalogue's top films", page)
            .await?;
        checked = page.len() as i64;
        rows = compare(stores, &domain, &page).await?;
    }
    let now = Utc::now();
    let mut artifact = ParityArtifact::new(
        now.format("%Y-%m-%d").to_string(),
        now.to_rfc3339_opts(SecondsFormat::Secs, false),
        opts.limit,
        checked,
        rows,
    );
    if opts.all {
        artifact.orphans = Some(orphans(stores, &domain).await?);
    }
    Ok(artifact)
}

async fn compare(
    stores: &Stores,
    domain: &Domain,
    movies: &[MovieCounters],
) -> Result<Vec<ParityRow>, StoreError> {
    let ids: Vec<String> = movies.iter().map(|m| m.uuid.clone()).collect();
    let totals = stores.rollups.totals_for(domain, EntityType::Movie, &ids);
    let totals = stores.step("mongodb: the totals", totals).await?;
    Ok(movies
        .iter()
        .filter_map(|m| {
            let t = totals.get(&m.uuid).cloned().unwrap_or_default();
            let (views, downloads) = (t.get(Action::View), t.get(Action::Download));
            (views != m.views || downloads != m.downloads).then(|| ParityRow {
                code: m.code.clone().unwrap_or_else(|| m.uuid.clone()),
                mysql_views: m.views,
                mysql_downloads: m.downloads,
                mongo_views: views,
                mongo_downloads: downloads,
            })
        })
        .collect())
}

/// Mongo movie totals with no catalogue row (the old check never looked).
async fn orphans(stores: &Stores, domain: &Domain) -> Result<Vec<OrphanRow>, StoreError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = stores
            .rollups
            .totals_page(domain, EntityType::Movie, after.as_deref(), PAGE);
        let page = stores.step("mongodb: a page of the totals", page).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        let ids: Vec<String> = page.iter().map(|(id, _)| id.clone()).collect();
        let existing = stores.catalogue.existing_movies(&ids);
        let present: HashSet<String> = stores
            .step("mysql: the catalogue's films", existing)
            .await?
            .into_iter()
            .collect();
        out.extend(
            page.into_iter()
                .filter(|(id, _)| !present.contains(id))
                .map(|(id, c)| OrphanRow {
                    entity_id: id,
                    mongo_views: c.get(Action::View),
                    mongo_downloads: c.get(Action::Download),
                }),
        );
    }
    Ok(out)
}

/// Prints the legacy output and returns the exit code.
pub fn report(artifact: &ParityArtifact, opts: &ParityOptions) -> i32 {
    for r in &artifact.rows {
        println!(
            "{}: MySQL({}/{}) vs Mongo({}/{})",
            r.code, r.mysql_views, r.mysql_downloads, r.mongo_views, r.mongo_downloads
        );
    }
    if let Some(orphans) = &artifact.orphans {
        for o in orphans {
            println!(
                "Orphan: {} Mongo({}/{}) has no jav row",
                o.entity_id, o.mongo_views, o.mongo_downloads
            );
        }
    }
    if opts.print_json {
        match serde_json::to_string(artifact) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("Failed to encode artifact: {e}"),
        }
    }
    if let Some(path) = &opts.output {
        if let Err(e) = save(artifact, path) {
            println!("Failed to save artifact: {e}");
            return 1;
        }
        println!("Artifact saved: {}", path.display());
    }
    println!(
        "Checked: {}, Mismatches: {}",
        artifact.checked, artifact.mismatches
    );
    if let Some(orphans) = &artifact.orphans {
        println!("Orphans: {}", orphans.len());
    }
    i32::from(artifact.mismatches > 0)
}

fn save(artifact: &ParityArtifact, path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(artifact)?)?;
    Ok(())
}
