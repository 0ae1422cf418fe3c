//! Rollups laid down or damaged directly, for the read, cut-over and rebuild
//! benchmarks: `seed-rollups` fills the totals, days and hours of many
//! entities; `damage-rollups` loses one day's documents as a bug would.

use std::time::Instant;

use analytics_domain::Period;
use analytics_runtime::StoreConfig;
use analytics_store::rollups::{period_counts_field, DAILY, TOTALS};
use mongodb::bson::doc;

pub async fn seed_rollups(s: &StoreConfig, entities: u64) -> anyhow::Result<()> {
    let store = analytics_store::RollupStore::connect(&s.mongo_settings()?).await?;
    store.ensure_indexes().await?;
    let date = chrono::Utc::now().date_naive();
    let today = Period::Day.bucket_of(date);
    let started = Instant::now();
    let ids: Vec<u64> = (0..entities).collect();
    for chunk in ids.chunks(10_000) {
        let mut totals = Vec::with_capacity(chunk.len());
        let mut daily = Vec::with_capacity(chunk.len());
        for i in chunk {
            let id = format!("movie-{i:07}");
            let (view, download) = (((i * 7919) % 100_000) as i64 + 1, (i % 13) as i64);
            let mut t = doc! {"domain": "jav", "entity_type": "movie", "entity_id": &id, "view": view, "download": download};
            // This week, month and year hold everything, inside the totals.
            for period in [Period::Week, Period::Month, Period::Year] {
                if let Some(field) = period_counts_field(period) {
                    t.insert(
                        field,
                        doc! {period.bucket_of(date): {"view": view, "download": download}},
                    );
                }
            }
            totals.push(t);
            daily.push(doc! {"domain": "jav", "entity_type": "movie", "entity_id": &id, "date": &today, "view": view, "download": download});
        }
        store
            .collection(TOTALS)
            .insert_many(totals)
            .ordered(false)
            .await?;
        store
            .collection(DAILY)
            .insert_many(daily)
            .ordered(false)
            .await?;
    }
    println!(
        "seeded rollups of {entities} movies in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    // As after a restore: the rollups are there, the leaderboards are not.
    let started = Instant::now();
    let boards = store.leaderboards().rebuild().await?;
    println!(
        "rebuilt {boards} leaderboards in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `damage-rollups`: returns the day documents and views lost.
pub async fn damage_rollups(
    store: &analytics_store::RollupStore,
    date: chrono::NaiveDate,
) -> anyhow::Result<(u64, i64)> {
    use analytics_domain::Period;
    use analytics_store::rollups::{counts_of, HOURLY};
    let day = Period::Day.bucket_of(date);
    let daily = store.collection(DAILY);
    let docs: Vec<mongodb::bson::Document> =
        futures_util::TryStreamExt::try_collect(daily.find(doc! {"date": &day}).await?).await?;
    let mut lost = 0;
    for d in &docs {
        let n = counts_of(d).get(analytics_domain::Action::View);
        let entity = doc! {"domain": d.get_str("domain")?, "entity_type": d.get_str("entity_type")?,
        "entity_id": d.get_str("entity_id")?};
        // The day's views leave the totals and their week, month and year.
        let mut lose = doc! {"view": -n};
        for period in [Period::Week, Period::Month, Period::Year] {
            if let Some(field) = period_counts_field(period) {
                lose.insert(format!("{field}.{}.view", period.bucket_of(date)), -n);
            }
        }
        store
            .collection(TOTALS)
            .update_one(entity, doc! {"$inc": lose})
            .await?;
        lost += n;
    }
    daily.delete_many(doc! {"date": &day}).await?;
    store
        .collection(HOURLY)
        .delete_many(doc! {"date": &day})
        .await?;
    Ok((docs.len() as u64, lost))
}
