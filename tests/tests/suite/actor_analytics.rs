//! Actor segment analytics against a generated catalogue: each payload
//! compared with what the inserted rows say, worked out here without SQL.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use analytics_domain::actor_segments::{age_bucket, AGE_BUCKETS};
use analytics_tests::catalogue_data::{Actor, CatalogueData, Shape};
use analytics_tests::{ReadApi, TestEnv};
use chrono::{Datelike, NaiveDate, Utc};
use serde_json::{json, Value};

/// The catalogue as the analytics see it.
struct Model {
    data: CatalogueData,
    /// Actor id → the lower-cased names of the genres of their movies.
    genres: BTreeMap<u64, BTreeSet<String>>,
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round4(part as f64 / whole as f64)
    }
}

fn age(a: &Actor, today: NaiveDate) -> Option<u32> {
    let b = a.birth_date?;
    let mut years = today.year() - b.year();
    if (today.month(), today.day()) < (b.month(), b.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

fn known(v: &Option<String>) -> String {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

impl Model {
    fn new(data: CatalogueData) -> Self {
        let tags: HashMap<u64, String> = data
            .tags
            .iter()
            .map(|t| (t.id, t.name.to_lowercase()))
            .collect();
        let mut movie_tags: HashMap<u64, Vec<&String>> = HashMap::new();
        for (movie, tag) in &data.tag_links {
            if let Some(name) = tags.get(tag) {
                movie_tags.entry(*movie).or_default().push(name);
            }
        }
        let actors: BTreeSet<u64> = data.actors.iter().map(|a| a.id).collect();
        let mut genres: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
        for (movie, actor) in &data.actor_links {
            if !actors.contains(actor) {
                continue;
            }
            for name in movie_tags.get(movie).into_iter().flatten() {
                genres.entry(*actor).or_default().insert((*name).clone());
            }
        }
        Model { data, genres }
    }

    fn segment(&self, a: &Actor, dimension: &str) -> Option<String> {
        match dimension {
            "age_bucket" => age(a, Utc::now().date_naive())
                .and_then(age_bucket)
                .map(str::to_string),
            "blood_type" => Some(known(&a.blood_type)),
            _ => Some(known(&a.birthplace)),
        }
    }

    fn counts<'a>(
        &self,
        actors: impl Iterator<Item = &'a Actor>,
        dimension: &str,
    ) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for a in actors {
            if let Some(s) = self.segment(a, dimension) {
                *out.entry(s).or_default() += 1;
            }
        }
        out
    }

    fn has_genre(&self, a: &Actor, genre: &str) -> bool {
        self.genres.get(&a.id).is_some_and(|g| g.contains(genre))
    }

    fn distribution(&self, genre: &str, dimension: &str, size: usize) -> Value {
        let all = self.counts(self.data.actors.iter(), dimension);
        let of_genre: Vec<&Actor> = self
            .data
            .actors
            .iter()
            .filter(|a| self.has_genre(a, genre))
            .collect();
        let mut counts: Vec<(String, usize)> = self
            .counts(of_genre.iter().copied(), dimension)
            .into_iter()
            .collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        counts.truncate(size);
        let total = self.data.actors.len();
        let segments: Vec<Value> = counts
            .iter()
            .map(|(s, n)| {
                let baseline = all.get(s).copied().unwrap_or(0);
                let lift = (baseline > 0).then(|| {
                    round4((*n as f64 / of_genre.len() as f64) / (baseline as f64 / total as f64))
                });
                json!({"segment": s, "count": n, "confidence": ratio(*n, of_genre.len()), "lift": lift})
            })
            .collect();
        json!({"dimension": dimension, "genre": genre, "genre_total": of_genre.len(),
               "overall_total": total, "segments": segments})
    }

    fn association(
        &self,
        in_segment: impl Fn(&Actor) -> bool,
        min_support: usize,
        size: usize,
    ) -> (usize, Value) {
        let members: Vec<&Actor> = self.data.actors.iter().filter(|a| in_segment(a)).collect();
        let mut per_genre: BTreeMap<&String, usize> = BTreeMap::new();
        let mut genre_actors: BTreeMap<&String, usize> = BTreeMap::new();
        for genres in self.genres.values() {
            for g in genres {
                *genre_actors.entry(g).or_default() += 1;
            }
        }
        for a in &members {
            for g in self.genres.get(&a.id).into_iter().flatten() {
                *per_genre.entry(g).or_default() += 1;
            }
        }
        let mut rules: Vec<(&String, usize)> = per_genre
            .into_iter()
            .filter(|(_, n)| *n >= min_support)
            .collect();
        rules.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        rules.truncate(size);
        let population = self.data.actors.len();
        let rules: Vec<Value> = rules
            .iter()
            .map(|(g, n)| {
                let base = genre_actors[g];
                json!({"genre": g, "count": n, "support": ratio(*n, population),
                       "confidence": ratio(*n, members.len()),
                       "lift": round4((*n as f64 / members.len() as f64) / (base as f64 / population as f64))})
            })
            .collect();
        (members.len(), Value::Array(rules))
    }
}

fn without_stamps(mut body: Value) -> Value {
    if let Some(o) = body.as_object_mut() {
        o.shift_remove("generated_at");
        o.shift_remove("index_refreshed_at");
    }
    body
}

async fn indexed_catalogue() -> anyhow::Result<(TestEnv, ReadApi, Model)> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let data = CatalogueData::generate(Shape::SMALL, 3, Utc::now());
    data.insert(&mut env.mysql().await?).await?;
    let api = env.spawn_read_api().await?;
    let (_, before) = api.admin("/api/v1/admin/analytics/actors/quality").await?;
    assert_eq!(before["index_refreshed_at"], Value::Null);
    let out = env.flush_worker(&["refresh-actor-index"], &[]).await?;
    let model = Model::new(data);
    let pairs: usize = model.genres.values().map(BTreeSet::len).sum();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).split(" in ").next(),
        Some(
            format!(
                "Indexed {pairs} actor genres of {} actors",
                model.genres.len()
            )
            .as_str()
        )
    );
    Ok((env, api, model))
}

#[tokio::test]
async fn distribution_and_association_match_the_rows() -> anyhow::Result<()> {
    let (_env, api, model) = indexed_catalogue().await?;
    let popular = "genre-0000";
    for (dimension, size) in [("age_bucket", 10), ("blood_type", 10), ("birthplace", 3)] {
        let (status, body) = api
            .admin(&format!(
                "/api/v1/admin/analytics/actors/distribution?genre=%20GENRE-0000%20&dimension={dimension}&size={size}"
            ))
            .await?;
        assert_eq!(status, 200, "{body}");
        assert!(body["index_refreshed_at"].is_string());
        assert_eq!(
            without_stamps(body),
            model.distribution(popular, dimension, size),
            "{dimension}"
        );
    }
    // A genre no actor plays in.
    let (_, none) = api
        .admin("/api/v1/admin/analytics/actors/distribution?genre=nothing")
        .await?;
    assert_eq!(
        (&none["genre_total"], &none["segments"]),
        (&json!(0), &json!([]))
    );

    let today = Utc::now().date_naive();
    let in_ages = |a: &Actor| age(a, today).is_some_and(|y| (23..28).contains(&y));
    let (members, rules) = model.association(in_ages, 2, 5);
    let (status, body) = api
        .admin(
            "/api/v1/admin/analytics/actors/association?segment_value=23-27&min_support=2&size=5",
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        without_stamps(body),
        json!({"segment_type": "age_bucket", "segment_value": "23-27", "segment_total": members,
               "population_total": model.data.actors.len(), "rules": rules})
    );
    // A blood type matches as given, lower- or upper-cased.
    let blood_a = |a: &Actor| a.blood_type.as_deref() == Some("A");
    let (members, rules) = model.association(blood_a, 1, 10);
    let (_, body) = api
        .admin("/api/v1/admin/analytics/actors/association?segment_type=blood_type&segment_value=a")
        .await?;
    assert_eq!(
        (&body["segment_total"], &body["rules"]),
        (&json!(members), &rules)
    );
    Ok(())
}

#[tokio::test]
async fn overview_quality_and_suggestions_match_the_rows() -> anyhow::Result<()> {
    let (_env, api, model) = indexed_catalogue().await?;
    let actors = &model.data.actors;
    let mut genre_actors: BTreeMap<&String, usize> = BTreeMap::new();
    for g in model.genres.values().flatten() {
        *genre_actors.entry(g).or_default() += 1;
    }
    let mut top: Vec<(&String, usize)> = genre_actors.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let ages = model.counts(actors.iter(), "age_bucket");
    let mut blood: Vec<(String, usize)> = model
        .counts(actors.iter(), "blood_type")
        .into_iter()
        .collect();
    blood.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut months: BTreeMap<String, usize> = BTreeMap::new();
    for a in actors {
        *months
            .entry(a.created_at.format("%Y-%m").to_string())
            .or_default() += 1;
    }
    let (status, body) = api
        .admin("/api/v1/admin/analytics/actors/overview?size=3")
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        without_stamps(body),
        json!({
            "total_actors": actors.len(),
            "top_genres": top.iter().take(3).map(|(g, n)| json!({"genre": g, "count": n})).collect::<Vec<_>>(),
            "age_buckets": AGE_BUCKETS.iter().map(|(b, _, _)| json!({"bucket": b, "count": ages.get(*b).copied().unwrap_or(0)})).collect::<Vec<_>>(),
            "blood_types": blood.iter().take(8).map(|(t, n)| json!({"type": t, "count": n})).collect::<Vec<_>>(),
            "actors_timeline": months.iter().map(|(p, n)| json!({"period": p, "count": n})).collect::<Vec<_>>(),
        })
    );

    let n = actors.len();
    let field =
        |count: usize| json!({"count": count, "rate": ratio(count, n), "missing": n - count});
    let dated = actors.iter().filter(|a| a.birth_date.is_some()).count();
    let (_, body) = api.admin("/api/v1/admin/analytics/actors/quality").await?;
    assert_eq!(
        without_stamps(body),
        json!({"total_actors": n, "coverage": {
            "genres": field(model.genres.len()),
            "age": field(dated),
            "blood_type": field(actors.iter().filter(|a| a.blood_type.is_some()).count()),
            "birthplace": field(actors.iter().filter(|a| a.birthplace.is_some()).count()),
            "birth_date": field(dated),
        }})
    );

    let mut named: Vec<&Actor> = actors
        .iter()
        .filter(|a| a.name.contains("Actor 1"))
        .collect();
    named.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let want: Vec<Value> = named
        .iter()
        .take(5)
        .map(|a| json!({"label": format!("{} ({})", a.name, a.uuid), "value": a.uuid, "name": a.name}))
        .collect();
    let (_, body) = api
        .admin("/api/v1/admin/analytics/actors/suggest?type=actor&q=Actor%201&size=5")
        .await?;
    assert_eq!(
        without_stamps(body),
        json!({"type": "actor", "query": "Actor 1", "items": want})
    );
    let (_, body) = api
        .admin("/api/v1/admin/analytics/actors/suggest?q=GENRE-000")
        .await?;
    let genres: Vec<String> = (0..8).map(|i| format!("genre-000{i}")).collect();
    let want: Vec<Value> = genres
        .iter()
        .map(|g| json!({"label": g, "value": g}))
        .collect();
    assert_eq!(body["items"], json!(want));
    let (_, body) = api
        .admin("/api/v1/admin/analytics/actors/suggest?type=blood_type&q=b")
        .await?;
    assert_eq!(
        body["items"],
        json!([{"label": "B", "value": "B"}, {"label": "AB", "value": "AB"}])
    );
    let places: BTreeSet<&str> = actors
        .iter()
        .filter_map(|a| a.birthplace.as_deref())
        .filter(|p| p.to_lowercase().contains('k'))
        .collect();
    let (_, body) = api
        .admin("/api/v1/admin/analytics/actors/suggest?type=birthplace&q=K&size=30")
        .await?;
    let want: Vec<Value> = places
        .iter()
        .map(|p| json!({"label": p, "value": p}))
        .collect();
    assert_eq!(body["items"], json!(want));
    Ok(())
}

#[tokio::test]
async fn each_bad_parameter_gets_the_admin_pages_message() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let api = env.spawn_read_api().await?;
    let long = "x".repeat(121);
    let base = "/api/v1/admin/analytics/actors";
    for (path, field, message) in [
        (
            format!("{base}/distribution"),
            "genre",
            "Genre is required.",
        ),
        (
            format!("{base}/distribution?genre=%20"),
            "genre",
            "Genre is required.",
        ),
        (
            format!("{base}/distribution?genre={long}"),
            "genre",
            "The genre field must not be greater than 120 characters.",
        ),
        (
            format!("{base}/distribution?genre=a&dimension=height"),
            "dimension",
            "The selected dimension is invalid.",
        ),
        (
            format!("{base}/distribution?genre=a&size=31"),
            "size",
            "The size field must be between 1 and 30.",
        ),
        (
            format!("{base}/distribution?genre=a&size=ten"),
            "size",
            "The size field must be an integer.",
        ),
        (
            format!("{base}/association"),
            "segment_value",
            "Segment value is required.",
        ),
        (
            format!("{base}/association?segment_value=A&segment_type=shoe"),
            "segment_type",
            "The selected segment type is invalid.",
        ),
        (
            format!("{base}/association?segment_value=A&min_support=0"),
            "min_support",
            "The min support field must be between 1 and 10000.",
        ),
        (
            format!("{base}/overview?size=0"),
            "size",
            "The size field must be between 1 and 30.",
        ),
        (
            format!("{base}/suggest?type=studio"),
            "type",
            "The selected type is invalid.",
        ),
        (
            format!("{base}/suggest?q={long}"),
            "q",
            "The q field must not be greater than 120 characters.",
        ),
    ] {
        let (status, body) = api.admin(&path).await?;
        assert_eq!(status, 422, "{path}");
        assert_eq!(body["errors"][field], json!([message]), "{path}");
    }
    // Sizes past suggest's limit are clamped, not refused.
    assert_eq!(api.admin(&format!("{base}/suggest?size=30")).await?.0, 200);
    Ok(())
}
