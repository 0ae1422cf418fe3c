//! Which genres a profile predicts (predict) and one actor in depth
//! (insights).

use actix_web::{web, HttpResponse};
use analytics_domain::actor_segments::ratio;
use analytics_domain::validation::{
    optional_int, optional_text, IntRule, TextRule, ValidationErrors,
};
use analytics_store::catalogue::{ActorProfile, PeriodCounts, ProfileQuery};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::SchemaFormat;
use utoipa::openapi::{ObjectBuilder, Required, Type};
use utoipa::{IntoParams, ToSchema};

use super::{
    counted, genre_count, period_count, serve, size, GenreCount, PeriodCount, Stamped, INSIGHTS,
    MAX_TEXT, PREDICT,
};
use crate::api::parameters::query;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

/// A genre a profile predicts.
#[derive(Serialize, ToSchema)]
pub struct GenrePrediction {
    genre: String,
    #[schema(minimum = 1)]
    count: i64,
    /// Its share of the genres returned.
    #[schema(minimum = 0)]
    probability: f64,
}

/// The genres a profile's actors play in most, with each one's share of
/// those returned.
fn predictions(genres: &[(String, i64)]) -> Vec<GenrePrediction> {
    let sum: i64 = genres.iter().map(|(_, n)| n).sum();
    genres
        .iter()
        .map(|(genre, count)| GenrePrediction {
            genre: genre.clone(),
            count: *count,
            probability: ratio(*count, sum),
        })
        .collect()
}

/// The profile a prediction is asked for, as documented (the handler reads
/// it field by field, to name the first bad field the way the admin pages
/// expect).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PredictBody {
    #[schema(minimum = 16, maximum = 80)]
    age: Option<i64>,
    #[schema(max_length = 20)]
    blood_type: Option<String>,
    #[schema(max_length = 120)]
    birthplace: Option<String>,
    #[schema(schema_with = movie_tags)]
    movie_tags: Option<Vec<String>>,
    #[schema(minimum = 1, maximum = 30)]
    size: Option<i64>,
}

/// At most `MAX_TAGS` genres of at most `MAX_TAG_CHARS` characters, or null.
fn movie_tags() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(MAX_TAG_CHARS)),
        )
        .max_items(Some(MAX_TAGS))
        .description(Some(
            "Genres the actor plays in (any case; repeats count once).",
        ))
        .build()
}

const MAX_TAGS: usize = 10;
const MAX_TAG_CHARS: usize = 100;

/// A prediction: the profile as read, the actors matching it, their genres.
#[derive(Serialize, ToSchema)]
pub struct Prediction {
    input_profile: InputProfile,
    matched_actors: i64,
    predictions: Vec<GenrePrediction>,
    /// The best-matching five.
    #[schema(max_items = 5)]
    sample_actors: Vec<ActorProfile>,
}

#[derive(Serialize, ToSchema)]
pub struct InputProfile {
    age: Option<u32>,
    blood_type: Option<String>,
    birthplace: Option<String>,
    /// Trimmed, lower-cased, without repeats.
    #[schema(max_items = 10)] // MAX_TAGS (the derive takes a literal)
    movie_tags: Vec<String>,
}

/// A prediction's profile is a few fields: 16 KiB is plenty.
const PREDICT_BODY: analytics_runtime::body::BodyLimits = analytics_runtime::body::BodyLimits {
    max_bytes: 16 * 1024,
    timeout: std::time::Duration::from_secs(10),
};

/// Sampled actors shown with a prediction.
const SAMPLE_ACTORS: i64 = 5;

/// The genres actors of a profile play in: actors matching any given part
/// (age within 2 years, blood type, birthplace containing, any of the
/// genres; nothing given: all), their top genres with probabilities, and
/// the best-matching five.
#[utoipa::path(post, path = PREDICT, operation_id = "actor_predict", security(("admin" = [])),
    request_body = PredictBody,
    responses((status = 200, body = Stamped<Prediction>, description = "The prediction.")),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn predict(
    _: Admin,
    req: actix_web::HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    // Read by the runtime, as every service reads bodies: a body over the
    // limit is the JSON 413 of the error contract, not actix's plain text.
    let body = analytics_runtime::body::read(&req, payload, PREDICT_BODY).await?;
    let body = analytics_runtime::json::parse(&body).map_err(|e| {
        ReadApiError::invalid("body", format!("The request body is not valid JSON: {e}"))
    })?;
    let Value::Object(fields) = body else {
        return Err(ReadApiError::invalid(
            "body",
            "The request body must be a JSON object.",
        ));
    };
    let profile = profile_of(&fields)?;
    let size = json_int(&fields, "size", (1, 30))?.unwrap_or(5);
    let key = format!("predict|{profile:?}|{size}");
    serve(&state, key, move |state| async move {
        let (matched, genres, sample) = state
            .catalogue
            .profile_matches(&profile, size, SAMPLE_ACTORS)
            .await
            .map_err(|e| state.store_error(e))?;
        Ok(Prediction {
            input_profile: InputProfile {
                age: profile.age,
                blood_type: profile.blood_type,
                birthplace: profile.birthplace,
                movie_tags: profile.genres,
            },
            matched_actors: matched,
            predictions: predictions(&genres),
            sample_actors: sample,
        })
    })
    .await
}

/// One field of a JSON body read with the domain's readers; the first
/// refusal is the answer (the pages show one message at a time).
fn read_field<T>(
    fields: &Map<String, Value>,
    reader: impl FnOnce(&Map<String, Value>, &mut ValidationErrors) -> Option<T>,
) -> Result<Option<T>, ReadApiError> {
    let mut errors = ValidationErrors::default();
    let value = reader(fields, &mut errors);
    match errors.errors.into_iter().next() {
        Some((field, mut messages)) => Err(ReadApiError::invalid(field, messages.remove(0))),
        None => Ok(value),
    }
}

fn json_int(
    fields: &Map<String, Value>,
    name: &'static str,
    (min, max): (i64, i64),
) -> Result<Option<i64>, ReadApiError> {
    read_field(fields, |f, e| {
        optional_int(f, name, IntRule::Between(min, max), e)
    })
}

/// The profile a predict body describes, each field checked.
fn profile_of(fields: &Map<String, Value>) -> Result<ProfileQuery, ReadApiError> {
    let text = |name: &'static str, max: usize| {
        read_field(fields, |f, e| {
            optional_text(f, name, TextRule::Chars(max), e)
        })
    };
    let age = json_int(fields, "age", (16, 80))?.and_then(|a| u32::try_from(a).ok());
    let genres = match fields.get("movie_tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tags)) if tags.len() > MAX_TAGS => {
            return Err(ReadApiError::invalid(
                "movie_tags",
                format!("The movie tags field must not have more than {MAX_TAGS} items."),
            ))
        }
        Some(Value::Array(tags)) => {
            let mut out = Vec::new();
            for tag in tags {
                match tag.as_str() {
                    Some(t) if t.chars().count() <= MAX_TAG_CHARS => {
                        let t = t.trim().to_lowercase();
                        if !t.is_empty() && !out.contains(&t) {
                            out.push(t);
                        }
                    }
                    _ => {
                        return Err(ReadApiError::invalid(
                            "movie_tags",
                            format!("Each movie tag must be a string of at most {MAX_TAG_CHARS} characters."),
                        ))
                    }
                }
            }
            out
        }
        Some(_) => {
            return Err(ReadApiError::invalid(
                "movie_tags",
                "The movie tags field must be an array.",
            ))
        }
    };
    Ok(ProfileQuery {
        age,
        blood_type: text("blood_type", 20)?,
        birthplace: text("birthplace", MAX_TEXT)?,
        genres,
    })
}

/// A per-period series.
#[derive(Serialize, ToSchema)]
pub struct PeriodSeries {
    points: Vec<PeriodCount>,
    total: i64,
    /// Per period, 2 decimals.
    #[schema(minimum = 0)]
    avg: f64,
}

/// A series per ISO week, month and year.
#[derive(Serialize, ToSchema)]
pub struct Grains {
    week: PeriodSeries,
    month: PeriodSeries,
    year: PeriodSeries,
}

fn period_series(points: &[(String, i64)]) -> PeriodSeries {
    let total: i64 = points.iter().map(|(_, n)| n).sum();
    let avg = if points.is_empty() {
        0.0
    } else {
        analytics_domain::viewing::round_to(total as f64 / points.len() as f64, 2)
    };
    PeriodSeries {
        points: counted(points, period_count),
        total,
        avg,
    }
}

/// One actor in depth.
#[derive(Serialize, ToSchema)]
pub struct Insights {
    actor: ActorWithMovies,
    predicted_genres: Vec<GenrePrediction>,
    /// Actors of the same profile.
    matched_actors: i64,
    actor_genres: Vec<GenreCount>,
    actor_genres_total: usize,
    genre_period_counts: Grains,
    movie_period_counts: Grains,
}

#[derive(Serialize, ToSchema)]
pub struct ActorWithMovies {
    #[serde(flatten)]
    profile: ActorProfile,
    javs_count: i64,
}

/// The insights' parameters.
pub struct InsightParams;

impl IntoParams for InsightParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let uuid = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("uuid".into())));
        let mut actor = query("actor_uuid", uuid, "Required: the actor's uuid.");
        actor.required = Required::True;
        vec![actor, size(5)]
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One actor in depth: profile and movies, their genres, genres and movies
/// per week, month and year, and the genres actors of the same profile
/// play in.
#[utoipa::path(get, path = INSIGHTS, operation_id = "actor_insights", params(InsightParams),
    security(("admin" = [])),
    responses((status = 200, body = Stamped<Insights>, description = "The analysis."),
        (status = 404, description = "Actor not found.")),
    extensions(("x-errors" = json!([401, 403, 404, 422, 500, 503]))))]
pub async fn insights(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let uuid = match q
        .get("actor_uuid")
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
    {
        None => {
            return Err(ReadApiError::invalid(
                "actor_uuid",
                "Actor UUID is required.",
            ))
        }
        Some(u) if !is_uuid(u) => {
            return Err(ReadApiError::invalid(
                "actor_uuid",
                "The actor uuid field must be a valid UUID.",
            ))
        }
        Some(u) => u.to_string(),
    };
    let size = params::field_int(&q, "size", 5, 1, 30)?;
    let key = format!("insights|{uuid}|{size}");
    serve(&state, key, move |state| async move {
        let store = &state.catalogue;
        let fail = |e| state.store_error(e);
        let Some((actor, movies)) = store.actor_by_uuid(&uuid).await.map_err(fail)? else {
            return Err(ReadApiError::NotFound("Actor not found."));
        };
        let profile = ProfileQuery {
            age: actor.age.and_then(|a| u32::try_from(a).ok()),
            blood_type: actor.blood_type.clone().filter(|b| !b.trim().is_empty()),
            birthplace: actor.birthplace.clone().filter(|b| !b.trim().is_empty()),
            genres: Vec::new(),
        };
        let (prediction, genres, [week, month, year]) = tokio::try_join!(
            store.profile_matches(&profile, size, 0),
            store.actor_genres(actor.id),
            store.actor_periods(actor.id),
        )
        .map_err(fail)?;
        let (matched, predicted, _) = prediction;
        let total_genres = genres.len();
        let shown = usize::try_from(size).unwrap_or(5);
        let series = |pick: fn(&PeriodCounts) -> &Vec<(String, i64)>| Grains {
            week: period_series(pick(&week)),
            month: period_series(pick(&month)),
            year: period_series(pick(&year)),
        };
        Ok(Insights {
            actor: ActorWithMovies {
                profile: actor,
                javs_count: movies,
            },
            predicted_genres: predictions(&predicted),
            matched_actors: matched,
            actor_genres: counted(&genres[..genres.len().min(shown)], genre_count),
            actor_genres_total: total_genres,
            genre_period_counts: series(|p| &p.genres),
            movie_period_counts: series(|p| &p.movies),
        })
    })
    .await
}
