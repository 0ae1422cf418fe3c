//! The correction itself: one page of entities read from the log and made
//! what it says (days, periods, totals, registers, replicas), then the
//! range's hours.

use analytics_domain::rebuild::{correction, Current};
use analytics_domain::rollup::RollupDelta;
use analytics_domain::vocabulary::CATALOGUE_DOMAIN;
use analytics_domain::{Action, Domain, EntityKey, EntityType, EventRules, KeySpace, ValueLimits};
use analytics_store::rollups::rebuild::LogWindow;
use anyhow::{bail, Context};
use chrono::Utc;

use super::{Rebuilt, ENTITIES_PER_CHUNK, REPLICAS_PER_LOCK};
use crate::progress::Progress;
use crate::stores::Stores;

/// Makes one page's days, weeks, months, years, totals, registers and
/// replicas what the log says (`first`: the page's first entity, which
/// names its domain and type).
pub(super) async fn correct_page(
    stores: &Stores,
    chunk_id: &str,
    first: &EntityKey,
    ids: &[String],
    rebuilt: &RollupDelta,
    window: &LogWindow,
    done: &mut Rebuilt,
) -> anyhow::Result<()> {
    let current = Current {
        days: stores
            .step(
                "mongodb",
                stores.rollups.current_days(
                    window.from,
                    window.to,
                    &first.domain,
                    first.entity_type,
                    ids,
                ),
            )
            .await
            .context("reading the rollups of the range")?,
        hours: Default::default(),
    };
    let fix = correction(&current, rebuilt);
    done.count_changes(&fix);
    done.documents += stores
        .step(
            "mongodb",
            stores
                .rollups
                .apply_correction(chunk_id, &fix, ENTITIES_PER_CHUNK),
        )
        .await
        .context("writing the correction")?;
    done.replicas += sync_replicas(stores, &fix)
        .await
        .context("writing the catalogue replicas")?;
    done.registers += stores
        .step(
            "mongodb",
            stores.rollups.replace_registers(
                &current,
                &rebuilt.day_viewers,
                &Default::default(),
                &[],
            ),
        )
        .await
        .context("replacing the registers")?;
    Ok(())
}

/// Makes the range's hour documents what every page added up to.
pub(super) async fn correct_hours(
    stores: &Stores,
    run_id: &str,
    rules: &EventRules,
    window: &LogWindow,
    entity_type: Option<EntityType>,
    hours: &RollupDelta,
    done: &mut Rebuilt,
) -> anyhow::Result<()> {
    let (from, to) = (window.from, window.to);
    let current = Current {
        days: Default::default(),
        hours: stores
            .step(
                "mongodb",
                stores.rollups.current_hours(from, to, entity_type),
            )
            .await
            .context("reading the hour rollups of the range")?
            .into_iter()
            .filter(|(k, _)| rules.domains.contains_key(&k.domain))
            .collect(),
    };
    let fix = correction(&current, hours);
    done.count_changes(&fix);
    let chunk_id = format!("{run_id}-hours");
    done.documents += stores
        .step(
            "mongodb",
            stores
                .rollups
                .apply_correction(&chunk_id, &fix, ENTITIES_PER_CHUNK),
        )
        .await
        .context("writing the correction")?;
    // The site's hourly unique users mix every entity type: replaced only
    // when every type is rebuilt.
    if entity_type.is_none() {
        let site_hours = stores
            .step("mongodb", stores.rollups.site_hour_keys(from, to))
            .await
            .context("listing the site's hours")?;
        done.registers += stores
            .step(
                "mongodb",
                stores.rollups.replace_registers(
                    &current,
                    &Default::default(),
                    &hours.hour_users,
                    &site_hours,
                ),
            )
            .await
            .context("replacing the registers")?;
    }
    Ok(())
}

impl Rebuilt {
    fn count_changes(&mut self, fix: &RollupDelta) {
        self.days_changed += fix
            .buckets
            .keys()
            .filter(|k| k.period.period() == analytics_domain::Period::Day)
            .count();
        self.hours_changed += fix.hourly.len();
    }
}

/// Reads one page of entities' events from the log into the delta a flush
/// of them would build; counts what it read for the progress line.
pub(super) struct PageReader<'a> {
    pub(super) rules: &'a EventRules,
    pub(super) keys: &'a KeySpace,
    pub(super) limits: ValueLimits,
    pub(super) now: chrono::DateTime<Utc>,
    pub(super) window: LogWindow,
    pub(super) progress: Progress,
    pub(super) read: u64,
}

impl PageReader<'_> {
    /// `page`: entities of one domain and type; `ids` their ids.
    pub(super) async fn read(
        &mut self,
        stores: &Stores,
        page: &[EntityKey],
        ids: &[String],
    ) -> anyhow::Result<RollupDelta> {
        let (domain, entity_type) = (&page[0].domain, page[0].entity_type);
        let mut rebuilt = RollupDelta::default();
        let mut unreadable = 0u64;
        let mut first_unreadable: Option<String> = None;
        stores
            .catalogue
            .for_each_logged(
                &self.window,
                domain,
                entity_type,
                ids,
                stores.step_timeout,
                |body| {
                    match self.rules.validate(&body, self.now, &self.limits) {
                        Ok(event) => {
                            add_event(&mut rebuilt, self.keys, self.rules, &event, &self.window)
                        }
                        Err(_) => {
                            unreadable += 1;
                            if first_unreadable.is_none() {
                                first_unreadable = body.get("event_id").map(|id| id.to_string());
                            }
                        }
                    }
                    self.read += 1;
                    self.progress.tick(self.read);
                },
            )
            .await
            .context("reading the raw event log")?;
        // An event that no longer validates would be taken out of its day:
        // this page and those after it are not written.
        if let Some(id) = first_unreadable {
            bail!(
                "{unreadable} raw-log events of {} do not validate under the configuration now (the first: event {id}); the entities before it were rebuilt, it and those after were not written. Fix the configuration and run the rebuild again.",
                page[0]
            );
        }
        Ok(rebuilt)
    }
}

/// The catalogue replicas of the films whose totals moved. A replica that
/// holds the old totals (the product wrote it) gets the new ones, lower
/// ones too: the flush's guard would take a lowered total's old replica
/// for history not yet cut over and keep it. A replica holding anything
/// else is left to the flush and the cut-over, as always.
async fn sync_replicas(stores: &Stores, fix: &RollupDelta) -> anyhow::Result<u64> {
    let changed: Vec<(&str, (i64, i64))> = fix
        .totals
        .iter()
        .filter(|(e, _)| {
            e.domain.as_str() == CATALOGUE_DOMAIN && e.entity_type == EntityType::Movie
        })
        .map(|(e, c)| {
            (
                e.entity_id.as_str(),
                (c.get(Action::View), c.get(Action::Download)),
            )
        })
        .filter(|(_, d)| *d != (0, 0))
        .collect();
    let domain = Domain::new(CATALOGUE_DOMAIN)?;
    let mut written = 0;
    for page in changed.chunks(REPLICAS_PER_LOCK) {
        let ids: Vec<String> = page.iter().map(|(id, _)| id.to_string()).collect();
        let diffs: std::collections::HashMap<&str, (i64, i64)> = page.iter().copied().collect();
        let lock = stores
            .step("mariadb", stores.catalogue.lock_movies(&ids))
            .await?;
        let totals = stores
            .step(
                "mongodb",
                stores
                    .rollups
                    .totals_for(&domain, EntityType::Movie, lock.present()),
            )
            .await?;
        let mut rows = Vec::new();
        for id in lock.present() {
            let (Some(t), Some(&(dv, dd))) = (totals.get(id), diffs.get(id.as_str())) else {
                continue;
            };
            let (views, downloads) = (t.get(Action::View), t.get(Action::Download));
            if lock.current(id) == Some((views - dv, downloads - dd)) {
                rows.push((id.clone(), views, downloads));
            }
        }
        written += stores.step("mariadb", lock.write(&rows)).await?;
    }
    Ok(written)
}

/// One logged event into the rebuilt delta, as a flush of it would add it,
/// if it falls on the range's days in its domain's zone now.
fn add_event(
    delta: &mut RollupDelta,
    keys: &KeySpace,
    rules: &EventRules,
    event: &analytics_domain::Event,
    window: &LogWindow,
) {
    let mode = rules.bucket_mode(&event.entity.domain);
    let date = mode.local_hour(&event.occurred_at).date;
    if date < window.from || date > window.to {
        return;
    }
    let inc = event.increments(&mode);
    for (field, n) in &inc.counter {
        delta.add_field(&event.entity, &field.encode(), *n);
    }
    if let Some((field, rank)) = &inc.day_register {
        delta.add_field(&event.entity, &field.encode(), i64::from(*rank));
    }
    if let Some((field, rank)) = &inc.hour_register {
        let site = KeySpace::site_entity(&event.entity.domain, keys.partition_of(&event.event_id));
        delta.add_field(&site, &field.encode(), i64::from(*rank));
    }
}
