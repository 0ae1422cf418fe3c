//! Actor segment analytics against a generated catalogue: each payload
//! compared with what the inserted rows say, worked out here without SQL.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use analytics_domain::actor_segments::{age_bucket, AGE_BUCKETS};
use analytics_tests::catalogue_data::{Actor, CatalogueData, Shape};
use analytics_tests::{ReadApi, TestEnv};
use chrono::{Datelike, NaiveDate, Utc};
use serde_json::{json, Value};

/// A predict profile: age, blood type, birthplace.
type Profile<'a> = (Option<u32>, Option<&'a str>, Option<&'a str>);

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

async fn predict(api: &ReadApi, body: &Value) -> anyhow::Result<reqwest::Response> {
    Ok(api
        .client
        .post(format!(
            "{}/api/v1/admin/analytics/actors/predict",
            api.base
        ))
        .bearer_auth(analytics_tests::ADMIN_TOKEN)
        .json(body)
        .send()
        .await?)
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
    let out = env.flush_worker(&["refresh-catalogue-index"], &[]).await?;
    let model = Model::new(data);
    let pairs: usize = model.genres.values().map(BTreeSet::len).sum();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).split(" in ").next(),
        Some(
            format!(
                "Indexed {pairs} actor genres of {} actors and the catalogue figures",
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
            format!("{base}/suggest?type="),
            "type",
            "The selected type is invalid.",
        ),
        (
            format!("{base}/trends?interval="),
            "interval",
            "The selected interval is invalid.",
        ),
        (
            format!("{base}/overview?size="),
            "size",
            "The size field must be an integer.",
        ),
        (
            format!("{base}/distribution?genre=a&dimension="),
            "dimension",
            "The selected dimension is invalid.",
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
    // The two routes the table above does not reach need the token too.
    let uuid = "00000000-0000-4000-8000-000000000001";
    let insights = format!("{base}/insights?actor_uuid={uuid}");
    assert_eq!(api.get_as(&insights, None).await?.0, 401);
    assert_eq!(api.get_as(&insights, Some("wrong-token")).await?.0, 403);
    let predict = api
        .client
        .post(format!("{}{base}/predict", api.base))
        .json(&json!({}));
    assert_eq!(predict.send().await?.status().as_u16(), 401);
    // Sizes past suggest's limit are clamped, not refused.
    assert_eq!(api.admin(&format!("{base}/suggest?size=30")).await?.0, 200);
    Ok(())
}

impl Model {
    fn profile_score(&self, a: &Actor, (age, blood, place): Profile, tags: &[&str]) -> u32 {
        if age.is_none() && blood.is_none() && place.is_none() && tags.is_empty() {
            // Nothing asked: every actor matches.
            return 1;
        }
        let today = Utc::now().date_naive();
        let mut score = 0;
        if let Some(want) = age {
            score += u32::from(self::age(a, today).is_some_and(|y| y + 2 >= want && y <= want + 2));
        }
        if let Some(b) = blood {
            let b = b.to_uppercase();
            score += u32::from(
                a.blood_type
                    .as_deref()
                    .is_some_and(|t| t.to_uppercase() == b),
            );
        }
        if let Some(p) = place {
            let p = p.to_lowercase();
            score += u32::from(
                a.birthplace
                    .as_deref()
                    .is_some_and(|b| b.to_lowercase().contains(&p)),
            );
        }
        if !tags.is_empty() {
            score += u32::from(tags.iter().any(|t| self.has_genre(a, t)));
        }
        score
    }

    /// (matched, predictions, sample) of a profile.
    fn predict(&self, profile: Profile, tags: &[&str], size: usize) -> (usize, Value, Vec<Value>) {
        let today = Utc::now().date_naive();
        let mut matched: Vec<(u32, &Actor)> = self
            .data
            .actors
            .iter()
            .map(|a| (self.profile_score(a, profile, tags), a))
            .filter(|(s, _)| *s > 0)
            .collect();
        let mut per_genre: BTreeMap<&String, usize> = BTreeMap::new();
        for (_, a) in &matched {
            for g in self.genres.get(&a.id).into_iter().flatten() {
                *per_genre.entry(g).or_default() += 1;
            }
        }
        let mut genres: Vec<(&String, usize)> = per_genre.into_iter().collect();
        genres.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        genres.truncate(size);
        let sum: usize = genres.iter().map(|(_, n)| n).sum();
        let predictions = genres
            .iter()
            .map(|(g, n)| json!({"genre": g, "count": n, "probability": ratio(*n, sum)}))
            .collect();
        matched.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
        let sample = matched
            .iter()
            .take(5)
            .map(|(_, a)| {
                json!({"id": a.id, "uuid": a.uuid, "name": a.name, "age": self::age(a, today),
                       "blood_type": a.blood_type, "birthplace": a.birthplace})
            })
            .collect();
        (matched.len(), predictions, sample)
    }
}

#[tokio::test]
async fn trends_follow_the_actors_added_per_period() -> anyhow::Result<()> {
    let (_env, api, model) = indexed_catalogue().await?;
    for (query, genre, week) in [
        ("?dimension=blood_type&size=2", None, false),
        (
            "?dimension=birthplace&genre=genre-0001&interval=week&size=1",
            Some("genre-0001"),
            true,
        ),
    ] {
        let dimension = if query.contains("blood_type") {
            "blood_type"
        } else {
            "birthplace"
        };
        let format = if week { "%G-W%V" } else { "%Y-%m" };
        let size = if week { 1 } else { 2 };
        let mut periods: BTreeMap<String, Vec<&Actor>> = BTreeMap::new();
        for a in model
            .data
            .actors
            .iter()
            .filter(|a| genre.is_none_or(|g| model.has_genre(a, g)))
        {
            periods
                .entry(a.created_at.format(format).to_string())
                .or_default()
                .push(a);
        }
        let want: Vec<Value> = periods
            .iter()
            .map(|(period, actors)| {
                let mut segments: Vec<(String, usize)> = model.counts(actors.iter().copied(), dimension).into_iter().collect();
                segments.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                segments.truncate(size);
                let (top, top_count) = segments.first().cloned().unwrap_or_default();
                json!({"period": period, "total": actors.len(),
                       "segments": segments.iter().map(|(s, n)| (s.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
                       "top_segment": top, "top_count": top_count, "top_share": ratio(top_count, actors.len())})
            })
            .collect();
        let (status, body) = api
            .admin(&format!("/api/v1/admin/analytics/actors/trends{query}"))
            .await?;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            without_stamps(body),
            json!({"dimension": dimension, "genre": genre, "interval": if week { "week" } else { "month" }, "periods": want}),
            "{query}"
        );
    }
    let (status, body) = api
        .admin("/api/v1/admin/analytics/actors/trends?interval=day")
        .await?;
    assert_eq!(
        (status, &body["errors"]["interval"]),
        (422, &json!(["The selected interval is invalid."]))
    );
    Ok(())
}

/// The genres of a profile's actors are counted over the matched actors,
/// or taken off each genre's total over the unmatched ones when most match:
/// both ways must give the rows' numbers.
#[tokio::test]
async fn predict_counts_alike_whether_few_or_most_actors_match() -> anyhow::Result<()> {
    let (_env, api, model) = indexed_catalogue().await?;
    let actors = model.data.actors.len();
    let profiles: [(Value, Profile, Vec<&str>); 5] = [
        (json!({}), (None, None, None), vec![]),
        (
            json!({"blood_type": "A", "birthplace": "o", "movie_tags": ["genre-0000", "GENRE-0002"]}),
            (None, Some("A"), Some("o")),
            vec!["genre-0000", "genre-0002"],
        ),
        (json!({"age": 25}), (Some(25), None, None), vec![]),
        (
            json!({"birthplace": "Aichi", "size": 30}),
            (None, None, Some("Aichi")),
            vec![],
        ),
        (
            json!({"movie_tags": ["no such genre"]}),
            (None, None, None),
            vec!["no such genre"],
        ),
    ];
    let mut ways = BTreeSet::new();
    for (body, profile, tags) in &profiles {
        let size = body["size"].as_u64().map_or(5, |n| n as usize);
        let (matched, predictions, sample) = model.predict(*profile, tags, size);
        ways.insert((matched > 0, 2 * matched > actors));
        let resp = predict(&api, body).await?;
        assert_eq!(resp.status().as_u16(), 200, "{body}");
        let answer = without_stamps(resp.json().await?);
        assert_eq!(answer["matched_actors"], matched, "{body}");
        assert_eq!(answer["predictions"], predictions, "{body}");
        assert_eq!(answer["sample_actors"], json!(sample), "{body}");
    }
    // Every way of counting was taken: none matched, few, most.
    assert_eq!(
        ways,
        BTreeSet::from([(false, false), (true, false), (true, true)])
    );
    Ok(())
}

#[tokio::test]
async fn predict_and_insights_match_the_rows() -> anyhow::Result<()> {
    let (_env, api, model) = indexed_catalogue().await?;
    let resp = predict(
        &api,
        &json!({"age": 30, "blood_type": "b", "movie_tags": ["GENRE-0001"], "size": 3}),
    )
    .await?;
    assert_eq!(resp.status().as_u16(), 200);
    let (matched, predictions, sample) =
        model.predict((Some(30), Some("b"), None), &["genre-0001"], 3);
    assert_eq!(
        without_stamps(resp.json().await?),
        json!({"input_profile": {"age": 30, "blood_type": "b", "birthplace": null, "movie_tags": ["genre-0001"]},
               "matched_actors": matched, "predictions": predictions, "sample_actors": sample})
    );
    for (body, field, message) in [
        (
            json!({"age": 15}),
            "age",
            "The age field must be between 16 and 80.",
        ),
        (
            json!({"age": "thirty"}),
            "age",
            "The age field must be an integer.",
        ),
        (
            json!({"movie_tags": vec!["a"; 11]}),
            "movie_tags",
            "The movie tags field must not have more than 10 items.",
        ),
        (
            json!({"movie_tags": "drama"}),
            "movie_tags",
            "The movie tags field must be an array.",
        ),
        (
            json!({"blood_type": "x".repeat(21)}),
            "blood_type",
            "The blood type field must not be greater than 20 characters.",
        ),
        (
            json!([1]),
            "body",
            "The request body must be a JSON object.",
        ),
    ] {
        let resp = predict(&api, &body).await?;
        assert_eq!(resp.status().as_u16(), 422, "{body}");
        let answer: Value = resp.json().await?;
        assert_eq!(answer["errors"][field], json!([message]), "{body}");
    }

    // The actor with the most movies, in depth.
    let mut links: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for (movie, actor) in &model.data.actor_links {
        links.entry(*actor).or_default().insert(*movie);
    }
    let actor = model
        .data
        .actors
        .iter()
        .max_by_key(|a| {
            (
                links.get(&a.id).map_or(0, BTreeSet::len),
                std::cmp::Reverse(a.id),
            )
        })
        .ok_or_else(|| anyhow::anyhow!("no actors"))?;
    let today = Utc::now().date_naive();
    let movies: HashMap<u64, &analytics_tests::catalogue_data::Movie> =
        model.data.movies.iter().map(|m| (m.id, m)).collect();
    let tags: BTreeMap<u64, String> = model
        .data
        .tags
        .iter()
        .map(|t| (t.id, t.name.to_lowercase()))
        .collect();
    let mut genre_movies: BTreeMap<&String, usize> = BTreeMap::new();
    for (movie, tag) in &model.data.tag_links {
        if links[&actor.id].contains(movie) {
            if let Some(name) = tags.get(tag) {
                *genre_movies.entry(name).or_default() += 1;
            }
        }
    }
    let mut genres: Vec<(&String, usize)> = genre_movies.into_iter().collect();
    genres.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let series = |format: &str, genres_too: bool| {
        let mut points: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        for m in &links[&actor.id] {
            let Some(movie) = movies.get(m) else { continue };
            let day = movie.date.unwrap_or_else(|| movie.created_at.date_naive());
            let key = day.format(format).to_string();
            let entry = points.entry(key).or_default();
            if genres_too {
                for (mm, tag) in &model.data.tag_links {
                    if mm == m && tags.contains_key(tag) {
                        entry.insert(*tag);
                    }
                }
            } else {
                entry.insert(*m);
            }
        }
        // A period whose movies have no genre has no genre count.
        points.retain(|_, set| !set.is_empty());
        let total: usize = points.values().map(BTreeSet::len).sum();
        let avg = (total as f64 / points.len() as f64 * 100.0).round() / 100.0;
        json!({"points": points.iter().map(|(p, s)| json!({"period": p, "count": s.len()})).collect::<Vec<_>>(),
               "total": total, "avg": avg})
    };
    let (matched, predicted, _) = model.predict(
        (
            age(actor, today),
            actor.blood_type.as_deref(),
            actor.birthplace.as_deref(),
        ),
        &[],
        4,
    );
    let (status, body) = api
        .admin(&format!(
            "/api/v1/admin/analytics/actors/insights?actor_uuid={}&size=4",
            actor.uuid
        ))
        .await?;
    assert_eq!(status, 200, "{body}");
    let body = without_stamps(body);
    assert_eq!(
        body["actor"],
        json!({"id": actor.id, "uuid": actor.uuid, "name": actor.name, "age": age(actor, today),
               "blood_type": actor.blood_type, "birthplace": actor.birthplace, "javs_count": links[&actor.id].len()})
    );
    assert_eq!(
        body["actor_genres"],
        json!(genres
            .iter()
            .take(4)
            .map(|(g, n)| json!({"genre": g, "count": n}))
            .collect::<Vec<_>>())
    );
    assert_eq!(body["actor_genres_total"], genres.len());
    for (grain, format) in [("week", "%G-W%V"), ("month", "%Y-%m"), ("year", "%Y")] {
        assert_eq!(
            body["movie_period_counts"][grain],
            series(format, false),
            "{grain}"
        );
        assert_eq!(
            body["genre_period_counts"][grain],
            series(format, true),
            "{grain}"
        );
    }
    assert_eq!(
        (&body["matched_actors"], &body["predicted_genres"]),
        (&json!(matched), &predicted)
    );

    let unknown = "00000000-0000-4000-8000-999999999999";
    let (status, body) = api
        .admin(&format!(
            "/api/v1/admin/analytics/actors/insights?actor_uuid={unknown}"
        ))
        .await?;
    assert_eq!(
        (status, &body["message"]),
        (404, &json!("Actor not found."))
    );
    for (query, message) in [
        ("", "Actor UUID is required."),
        (
            "?actor_uuid=a-1",
            "The actor uuid field must be a valid UUID.",
        ),
    ] {
        let (status, body) = api
            .admin(&format!("/api/v1/admin/analytics/actors/insights{query}"))
            .await?;
        assert_eq!(
            (status, &body["errors"]["actor_uuid"]),
            (422, &json!([message])),
            "{query}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn catalogue_answers_are_kept_for_the_cache_time() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("read_api.snapshot_cache_ms", "600000");
    env.migrate().await?;
    let api = env.spawn_read_api().await?;
    let path = "/api/v1/admin/analytics/actors/overview";
    let (status, first) = api.admin(path).await?;
    assert_eq!((status, &first["total_actors"]), (200, &json!(0)));
    sqlx::query(
        "INSERT INTO actors (uuid, name) VALUES ('00000000-0000-4000-8000-000000000001', 'New')",
    )
    .execute(&mut env.mysql().await?)
    .await?;
    // The kept answer, stamp and all; other parameters are computed anew.
    assert_eq!(api.admin(path).await?.1, first);
    let (_, other) = api.admin(&format!("{path}?size=3")).await?;
    assert_eq!(other["total_actors"], 1);

    // The admin snapshot is kept per period the same way.
    let snapshot = "/api/v1/admin/analytics/snapshot?days=7";
    let (_, kept) = api.admin(snapshot).await?;
    assert_eq!(kept["totals"]["jav"], 0);
    env.insert_movies(&[("m-1", "ABC-001", 0, 0)]).await?;
    assert_eq!(api.admin(snapshot).await?.1, kept);
    let (_, fresh) = api
        .admin("/api/v1/admin/analytics/snapshot?days=14")
        .await?;
    assert_eq!(fresh["totals"]["jav"], 1);
    Ok(())
}
