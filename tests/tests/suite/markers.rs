//! Exactly once without a multi-document transaction
//! (`mongo.exactly_once = "markers"`, for a sharded MongoDB): each document
//! marks, per partition, the last batch it took, and the ledger entries
//! follow the documents. A round stopped between the two is resumed, and
//! each document takes only the batches it lacks.

use analytics_domain::rollup::RollupDelta;
use analytics_domain::{Action, EntityType, Period};
use analytics_store::rollups::BatchDelta;
use analytics_tests::{jav_entity, TestEnv};
use mongodb::bson::{doc, Document};

fn views(of: &[(&str, i64)]) -> RollupDelta {
    let mut d = RollupDelta::default();
    for (movie, n) in of {
        assert!(d.add_field(
            &jav_entity(EntityType::Movie, movie),
            "view|2026-12-03|10",
            *n
        ));
    }
    d
}

fn batch<'a>(id: &'a str, partition: &'a str, delta: &'a RollupDelta) -> BatchDelta<'a> {
    BatchDelta {
        batch_id: id,
        sequence: partition,
        keys: delta.totals.len() as u64,
        delta,
    }
}

/// (totals, the day's, the week's) views of each movie, and the hour's.
async fn figures(env: &TestEnv, movies: &[&str]) -> anyhow::Result<(Vec<[i64; 3]>, i64)> {
    let days = env.docs("analytics_entity_daily").await?;
    let weeks = env.period_docs(Period::Week).await?;
    let of = |docs: &[Document], movie: &str| -> i64 {
        docs.iter()
            .filter(|d| d.get_str("entity_id") == Ok(movie))
            .map(|d| d.get_i64("view").unwrap_or(0))
            .sum()
    };
    let mut out = Vec::new();
    for movie in movies {
        let total = env.totals("movie", movie).await?.get(Action::View);
        out.push([total, of(&days, movie), of(&weeks, movie)]);
    }
    let hour: i64 = env
        .docs("analytics_hourly")
        .await?
        .iter()
        .map(|d| d.get_i64("view").unwrap_or(0))
        .sum();
    Ok((out, hour))
}

#[tokio::test]
async fn a_round_resumed_after_its_documents_takes_only_what_each_document_lacks(
) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("mongo.exactly_once", "markers");
    env.migrate().await?;
    let store = env.rollup_store().await?;
    let movies = ["m-1", "m-2", "m-3"];
    let a = views(&[("m-1", 2), ("m-2", 5)]);
    let b = views(&[("m-1", 3), ("m-3", 1)]);

    // Batch A of partition 1 written, then the run stops before its ledger
    // entry: its documents show it, the ledger does not.
    let open = store.begin_apply(&[batch("a", "1", &a)]).await?;
    drop(open);
    assert_eq!(store.applied_batches(&["a".into()]).await?.len(), 0);
    assert_eq!(
        figures(&env, &movies).await?,
        (vec![[2, 2, 2], [5, 5, 5], [0, 0, 0]], 7)
    );
    let marks = env
        .mongo()
        .await?
        .collection::<Document>("analytics_entity_totals")
        .find_one(doc! {"entity_id": "m-1"})
        .projection(doc! {"_id": 0, "applied": 1})
        .await?;
    assert_eq!(marks, Some(doc! {"applied": {"1": "a"}}));

    // The resumed round takes A again with partition 2's batch B: m-1 and
    // the hour have A already (only B is added), m-3 is new.
    let report = store
        .apply_batches(&[batch("a", "1", &a), batch("b", "2", &b)])
        .await?;
    assert_eq!((report.applied_batches, report.already_applied), (2, 0));
    assert_eq!(
        figures(&env, &movies).await?,
        (vec![[5, 5, 5], [5, 5, 5], [1, 1, 1]], 11)
    );
    assert_eq!(
        store
            .applied_batches(&["a".into(), "b".into()])
            .await?
            .len(),
        2
    );

    // Recorded: the same round again is skipped by the ledger.
    let again = store
        .apply_batches(&[batch("a", "1", &a), batch("b", "2", &b)])
        .await?;
    assert_eq!((again.applied_batches, again.already_applied), (0, 2));
    // Partition 1's next batch replaces its mark and counts.
    let c = views(&[("m-1", 4)]);
    store.apply_batches(&[batch("c", "1", &c)]).await?;
    assert_eq!(
        figures(&env, &movies).await?,
        (vec![[9, 9, 9], [5, 5, 5], [1, 1, 1]], 15)
    );
    // The marks never reach a counts read.
    assert_eq!(
        env.docs("analytics_entity_totals").await?[0].get("applied"),
        None
    );
    Ok(())
}
