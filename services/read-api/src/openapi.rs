//! The OpenAPI description of every read-api endpoint.

use analytics_domain::event::{MAX_ID_CHARS, MAX_USER_ID_CHARS};
use analytics_runtime::openapi::{
    document as build, id_schema, operational_paths, path, query, responses,
};
use serde_json::{json, Value};

use crate::params::MAX_RANGE_DAYS;

/// Every action's count, as each response carries them.
fn counts(mut schema: Value) -> Value {
    for action in ["view", "download"] {
        schema["properties"][action] = json!({"type": "integer", "minimum": 0});
        if let Some(required) = schema["required"].as_array_mut() {
            required.push(json!(action));
        }
    }
    schema
}

/// A list route's 200: the JSON body, or its rows as CSV (`Accept:
/// text/csv` or `format=csv`).
fn listing(description: &str, schema: Value, errors: &[u16]) -> Value {
    let mut out = responses(&[("200", description, schema)], errors);
    out["200"]["content"]["text/csv"] = json!({"schema": {"type": "string"}});
    out
}

fn format_param() -> Value {
    query(
        "format",
        json!({"type": "string", "enum": ["json", "csv"]}),
        "csv: the rows as CSV with a header row (as Accept: text/csv); default json.",
    )
}

fn integer(min: i64) -> Value {
    json!({"type": "integer", "minimum": min})
}

fn nullable_string() -> Value {
    json!({"type": "string", "nullable": true})
}

/// An object schema whose properties are all required.
fn object(properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({"type": "object", "required": required, "properties": properties})
}

/// The range parameters of the range reports: `days` ending today, or
/// `from`/`to` (named otherwise by the video player's route).
fn range_params(from: &str, to: &str, default_days: i64) -> Vec<Value> {
    let date =
        json!({"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"});
    vec![
        query(
            "days",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_RANGE_DAYS, "default": default_days}),
            &format!("Local days ending today (not with {from}/{to})."),
        ),
        query(from, date.clone(), &format!("First local day (default: {to} minus days − 1); at most {MAX_RANGE_DAYS} days before {to}.")),
        query(to, date, "Last local day (default: today in the domain's zone)."),
    ]
}

/// The fields every range report starts with.
fn range_head(mut properties: Value) -> Value {
    properties["domain"] = json!({"type": "string"});
    properties["period_days"] = json!({"type": "integer", "minimum": 1, "maximum": MAX_RANGE_DAYS});
    properties["from"] = json!({"type": "string"});
    properties["to"] = json!({"type": "string"});
    object(properties)
}

/// The seed-compatible viewing routes and the search and recommendation
/// reports.
fn viewing_paths(paths: &mut serde_json::Map<String, Value>, domain: &Value, admin: &Value) {
    let limit = query(
        "limit",
        json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 10}),
        "How many.",
    );
    let ranking = json!({"type": "string", "enum": ["exact", "approximate"]});
    let errors: &[u16] = &[401, 403, 422, 500, 503];
    let with = |mut list: Vec<Value>, more: &[Value]| {
        list.extend(more.iter().cloned());
        Value::Array(list)
    };

    let popular_item = object(json!({
        "rank": integer(1), "movie_id": {"type": "string"},
        "code": nullable_string(), "title": nullable_string(),
        "total_views": integer(0), "unique_viewers": integer(0),
        "completion_rate": {"type": "number", "minimum": 0, "maximum": 100},
        "watch_time_seconds": integer(0), "avg_watch_percentage": {"type": "number", "minimum": 0, "maximum": 100},
        "page_views": integer(0)}));
    let popular = range_head(json!({
        "items": {"type": "array", "items": popular_item},
        "total_items": integer(0), "sort": {"type": "string"}, "ranking": ranking}));
    paths.insert("/api/v1/analytics/content/popular".into(), json!({"get": {
        "summary": "Most popular movies over a range of days: views (playback starts), unique viewers, completion rate (%), watch time.",
        "security": admin,
        "parameters": with(range_params("from", "to", 7), &[domain.clone(), limit.clone(),
            query("sort", json!({"type": "string", "enum": ["views", "unique_viewers", "watch_time", "page_views"], "default": "views"}),
                "Ranking: starts, merged unique viewers (among each day's leaders: approximate), watch seconds, page views."),
            format_param()]),
        "responses": listing("Ranked movies; `ranking` says whether the threshold test proved the order exact.", popular, errors)
    }}));

    let video = object(json!({
        "video_id": {"type": "string"}, "views": integer(0), "unique_viewers": integer(0),
        "watch_time_seconds": integer(0),
        "avg_watch_percentage": {"type": "number", "minimum": 0, "maximum": 100},
        "completion_rate": {"type": "number", "minimum": 0, "maximum": 1},
        "engagement_score": {"type": "number", "minimum": 0, "maximum": 10},
        "page_views": integer(0), "start_date": {"type": "string"}, "end_date": {"type": "string"},
        "domain": {"type": "string"}}));
    paths.insert("/api/metrics/video/{video_id}".into(), json!({"get": {
        "summary": "One film's viewing metrics over a range of days (default: the last 30).",
        "security": admin,
        "parameters": with(vec![path("video_id", id_schema(MAX_ID_CHARS)), domain.clone()],
            &range_params("startDate", "endDate", 30)),
        "responses": responses(&[("200", "Views (starts), unique viewers, watch time, average watch %, completion rate (0..1), engagement score (0..10).", video)], errors)
    }}));

    let stats = object(json!({
        "user_id": {"type": "string"}, "movies_started": integer(0), "movies_finished": integer(0),
        "unique_movies_watched": integer(0), "total_watch_time_seconds": integer(0),
        "completion_rate": {"type": "number", "minimum": 0, "maximum": 100},
        "period_days": integer(1), "most_watched_movie_id": nullable_string(),
        "domain": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}}));
    paths.insert("/api/v1/analytics/user/{user_id}/stats".into(), json!({"get": {
        "summary": "One user's viewing statistics over a range of days (default: the last 30), from the raw event log.",
        "security": admin,
        "parameters": with(vec![path("user_id", id_schema(MAX_USER_ID_CHARS)), domain.clone()],
            &range_params("from", "to", 30)),
        "responses": responses(&[("200", "Starts, completions, films, watch time, completion rate (%), the most watched film.", stats)], errors)
    }}));

    let day = object(json!({
        "date": {"type": "string"}, "views": integer(0), "unique_viewers": integer(0),
        "watch_time_seconds": integer(0), "completions": integer(0), "page_views": integer(0)}));
    let trends =
        range_head(json!({"unique_viewers": integer(0), "days": {"type": "array", "items": day}}));
    paths.insert("/api/v1/analytics/trends".into(), json!({"get": {
        "summary": "Daily viewing trends: views (starts), unique viewers, watch time, completions, page views.",
        "security": admin,
        "parameters": with(range_params("from", "to", 7), &[domain.clone(), format_param()]),
        "responses": listing("One row per local day, zero-filled; `unique_viewers` over the whole range.", trends, errors)
    }}));

    let hour = object(
        json!({"hour": {"type": "integer", "minimum": 0, "maximum": 23},
        "events_count": integer(0), "unique_users": integer(0)}),
    );
    let peak = range_head(json!({"timezone": {"type": "string"},
        "hours": {"type": "array", "minItems": 24, "maxItems": 24, "items": hour}}));
    paths.insert("/api/v1/analytics/peak-hours".into(), json!({"get": {
        "summary": "Activity per local hour of day: viewer events and distinct users, busiest first.",
        "security": admin,
        "parameters": with(range_params("from", "to", 7), &[domain.clone(), format_param()]),
        "responses": listing("All 24 hours, ordered by events_count descending, then hour.", peak, errors)
    }}));

    let query_item = object(json!({"rank": integer(1), "query": {"type": "string"},
        "searches": integer(0), "zero_results": integer(0)}));
    let queries = range_head(json!({"sort": {"type": "string"}, "ranking": ranking,
        "items": {"type": "array", "items": query_item}}));
    paths.insert("/api/v1/admin/analytics/search/queries".into(), json!({"get": {
        "summary": "Top search queries, or the queries that found nothing most often.",
        "security": admin,
        "parameters": with(range_params("from", "to", 7), &[domain.clone(), limit.clone(),
            query("sort", json!({"type": "string", "enum": ["searches", "zero_results"], "default": "searches"}), "Ranking."),
            format_param()]),
        "responses": listing("Ranked queries (trimmed, lower-cased).", queries, errors)
    }}));
    let search_day = object(json!({"date": {"type": "string"}, "searches": integer(0),
        "zero_results": integer(0), "zero_result_rate": {"type": "number", "minimum": 0, "maximum": 1}}));
    paths.insert(
        "/api/v1/admin/analytics/search/daily".into(),
        json!({"get": {
            "summary": "Searches and zero-result searches per local day.",
            "security": admin,
            "parameters": with(range_params("from", "to", 7), &[domain.clone(), format_param()]),
            "responses": listing("One row per day, zero-filled.",
                range_head(json!({"days": {"type": "array", "items": search_day}})), errors)
        }}),
    );
    let cell = object(
        json!({"placement": nullable_string(), "reason": nullable_string(),
        "impressions": integer(0), "clicks": integer(0), "ctr": {"type": "number", "minimum": 0, "maximum": 1}}),
    );
    paths.insert("/api/v1/admin/analytics/recommendations".into(), json!({"get": {
        "summary": "Recommendation impressions, clicks and click-through rate by placement, reason, or both.",
        "security": admin,
        "parameters": with(range_params("from", "to", 7), &[domain.clone(),
            query("by", json!({"type": "string", "enum": ["placement", "reason", "both"], "default": "placement"}), "Grouping (an ungrouped field is null)."),
            format_param()]),
        "responses": listing("Groups, most shown first.",
            range_head(json!({"by": {"type": "string"}, "items": {"type": "array", "items": cell}})), errors)
    }}));
    let clicked = object(json!({"rank": integer(1), "movie_id": {"type": "string"},
        "code": nullable_string(), "title": nullable_string(), "clicks": integer(1),
        "impressions": integer(0), "ctr": {"type": "number", "minimum": 0, "maximum": 1}}));
    paths.insert("/api/v1/admin/analytics/recommendations/movies".into(), json!({"get": {
        "summary": "The movies clicked most from recommendations.",
        "security": admin,
        "parameters": with(range_params("from", "to", 7), &[domain.clone(), limit, format_param()]),
        "responses": listing("Movies by clicks, then id.",
            range_head(json!({"items": {"type": "array", "items": clicked}})), errors)
    }}));
}

/// The realtime route and the live feed's WebSocket.
fn live_paths(paths: &mut serde_json::Map<String, Value>, admin: &Value) {
    let rate = json!({"type": "number", "minimum": 0, "maximum": 1});
    let realtime = object(json!({
        "concurrent_viewers": integer(0), "viewer_window_seconds": integer(1),
        "events_per_second": {"type": "number", "minimum": 0},
        "error_rate": rate, "playback_error_rate": rate,
        "received_last_minute": integer(0), "accepted_last_minute": integer(0),
        "as_of": integer(0)}));
    paths.insert("/api/metrics/realtime".into(), json!({"get": {
        "summary": "Realtime metrics, read from Redis at the request: viewers with a playback event in the window, accepted events per second (last 10 complete seconds), refused ÷ received and player errors ÷ player events over the last minute.",
        "security": admin,
        "responses": responses(&[("200", "The figures and the second they are as of.", realtime)], &[401, 403, 500, 503])
    }}));
    let upgrade = |summary: &str| {
        json!({"get": {
            "summary": summary,
            "description": "A WebSocket. The admin token comes as `Authorization: Bearer` or, from a browser, as the subprotocols `analytics.v1` and `bearer.<token>`. Messages: `{\"type\": \"realtime_metrics\", \"payload\"}` every second and `{\"type\": \"analytics_event\", \"payload\"}` for each event ingest sampled. A client that falls behind is closed (code 1013).",
            "security": admin,
            "responses": {
                "101": {"description": "Switched to the WebSocket protocol."},
                "400": {"description": "Not a WebSocket upgrade.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "No token.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "403": {"description": "A wrong token.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "503": {"description": "As many clients as this process serves; see Retry-After.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        }})
    };
    paths.insert(
        "/ws".into(),
        upgrade("The live feed (the video player dashboard's address)."),
    );
    paths.insert(
        "/api/v1/admin/analytics/live".into(),
        upgrade("The live feed."),
    );
}

/// The admin snapshot of the catalogue.
fn snapshot_paths(paths: &mut serde_json::Map<String, Value>, admin: &Value) {
    let counts = object(json!({"jav": integer(0), "actors": integer(0), "tags": integer(0)}));
    let labels = json!({"type": "array", "items": {"type": "string", "format": "date"}});
    let values = json!({"type": "array", "items": integer(0)});
    let series = object(json!({"labels": labels, "values": values}));
    let movie = object(
        json!({"uuid": {"type": "string"}, "code": nullable_string(),
        "title": nullable_string(), "views": integer(0), "downloads": integer(0)}),
    );
    let rated = object(
        json!({"uuid": {"type": "string"}, "code": nullable_string(),
        "title": nullable_string(), "ratings_avg_rating": {"type": "number", "minimum": 1, "maximum": 5},
        "ratings_count": integer(1)}),
    );
    let list = |item: &Value| json!({"type": "array", "maxItems": 10, "items": item});
    let ratio = json!({"type": "number", "minimum": 0});
    let snapshot = object(json!({
        "days": {"type": "integer", "enum": [7, 14, 30, 90]},
        "generated_at": {"type": "string"},
        "timezone": {"type": "string"},
        "stats_refreshed_at": {"type": "string", "nullable": true,
            "description": "When flush-worker refresh-catalogue-index kept the quality figures and topRated (null: computed for this snapshot)."},
        "totals": counts, "todayCreated": counts,
        "dailyCreated": object(json!({"jav": series, "actors": series, "tags": series})),
        "providerDailyCreated": object(json!({"labels": labels,
            "series": {"type": "object", "additionalProperties": values}})),
        "dailyEngagement": object(json!({"favorites": series, "watchlists": series,
            "ratings": series, "history": series})),
        "providerStats": {"type": "array", "items": object(json!({"source": {"type": "string"},
            "total_count": integer(0), "today_count": integer(0), "window_count": integer(0)}))},
        "topViewed": list(&movie), "topDownloaded": list(&movie), "topRated": list(&rated),
        "quality": object(json!({"missing_actors": integer(0), "missing_tags": integer(0),
            "missing_image": integer(0), "missing_date": integer(0), "orphan_actors": integer(0),
            "orphan_tags": integer(0), "avg_actors_per_jav": ratio, "avg_tags_per_jav": ratio})),
        "syncHealth": object(json!({"pending_jobs": integer(0), "failed_jobs_24h": integer(0)}))}));
    paths.insert("/api/v1/admin/analytics/snapshot".into(), json!({"get": {
        "summary": "The catalogue at a glance: growth per day and provider, engagement, top lists, data quality, sync queue (days counted in the catalogue domain's zone).",
        "security": admin,
        "parameters": [query("days", json!({"type": "integer", "enum": [7, 14, 30, 90], "default": 14}), "Window ending today.")],
        "responses": responses(&[("200", "The snapshot (kept for read_api.snapshot_cache_ms per period).", snapshot)], &[401, 403, 422, 500, 503])
    }}));
}

/// The actor segment analytics.
fn actor_paths(paths: &mut serde_json::Map<String, Value>, admin: &Value) {
    let errors: &[u16] = &[401, 403, 422, 500, 503];
    // A parameter the route refuses to go without is required here too.
    let text = |name: &str, description: &str| {
        let mut p = query(
            name,
            json!({"type": "string", "maxLength": 120}),
            description,
        );
        p["required"] = json!(description.starts_with("Required"));
        p
    };
    let size = |default: i64| {
        query(
            "size",
            json!({"type": "integer", "minimum": 1, "maximum": 30, "default": default}),
            "How many.",
        )
    };
    let dimension = |name: &str| {
        query(name, json!({"type": "string", "enum": ["age_bucket", "blood_type", "birthplace"], "default": "age_bucket"}),
            "Segment actors by age bucket (18-22, 23-27, 28-32, 33-37, 38+), blood type or birthplace (missing: unknown).")
    };
    let ratio = json!({"type": "number", "minimum": 0});
    let stamped = |mut properties: Value| {
        properties["generated_at"] = json!({"type": "string"});
        properties["index_refreshed_at"] = json!({"type": "string", "nullable": true,
            "description": "When flush-worker refresh-catalogue-index last rebuilt the actor-genre index."});
        object(properties)
    };
    let counted = |key: &str| json!({"type": "array", "items": object(json!({key: {"type": "string"}, "count": integer(0)}))});
    let coverage = object(json!({"count": integer(0), "rate": ratio, "missing": integer(0)}));
    let routes = [
        ("distribution", "How a genre's actors spread over a dimension: per segment its count, confidence (share of the genre's actors) and lift against all actors (null without a baseline).",
            vec![text("genre", "Required: a genre (tag) name, any case."), dimension("dimension"), size(10)],
            stamped(json!({"dimension": {"type": "string"}, "genre": {"type": "string"},
                "genre_total": integer(0), "overall_total": integer(0),
                "segments": {"type": "array", "items": object(json!({"segment": {"type": "string"},
                    "count": integer(1), "confidence": ratio, "lift": {"type": "number", "nullable": true}}))}}))),
        ("association", "The genres a segment's actors play in, by confidence: count, support (of all actors), confidence (of the segment), lift.",
            vec![text("segment_value", "Required: 23-27 or 38+ (ages), a blood type, a birthplace."), dimension("segment_type"), size(10),
                query("min_support", json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 1}), "Fewest actors a genre needs.")],
            stamped(json!({"segment_type": {"type": "string"}, "segment_value": {"type": "string"},
                "segment_total": integer(0), "population_total": integer(0),
                "rules": {"type": "array", "items": object(json!({"genre": {"type": "string"}, "count": integer(1),
                    "support": ratio, "confidence": ratio, "lift": ratio}))}}))),
        ("overview", "The actor catalogue at a glance: top genres, age buckets, blood types, actors added per month.",
            vec![size(8)],
            stamped(json!({"total_actors": integer(0), "top_genres": counted("genre"), "age_buckets": counted("bucket"),
                "blood_types": counted("type"), "actors_timeline": counted("period")}))),
        ("quality", "How complete actor profiles are: per field the actors that have it, the rate and those missing it.",
            vec![],
            stamped(json!({"total_actors": integer(0), "coverage": object(json!({"genres": coverage, "age": coverage,
                "blood_type": coverage, "birthplace": coverage, "birth_date": coverage}))}))),
        ("suggest", "Values for a search box: actors (name or uuid), genres, birthplaces, blood types containing q.",
            vec![query("type", json!({"type": "string", "enum": ["actor", "genre", "birthplace", "blood_type"], "default": "genre"}), "What to suggest."),
                text("q", "Contained text (any case)."), size(8)],
            stamped(json!({"type": {"type": "string"}, "query": {"type": "string"},
                "items": {"type": "array", "maxItems": 20, "items": {"type": "object", "required": ["label", "value"]}}}))),
    ];
    let series = object(json!({"points": counted("period"), "total": integer(0), "avg": ratio}));
    let grains = object(json!({"week": series, "month": series, "year": series}));
    let predictions = json!({"type": "array", "items": object(json!({"genre": {"type": "string"},
        "count": integer(1), "probability": ratio}))});
    let profile = object(
        json!({"id": integer(1), "uuid": {"type": "string"}, "name": {"type": "string"},
        "age": {"type": "integer", "nullable": true}, "blood_type": nullable_string(),
        "birthplace": nullable_string()}),
    );
    let more = [
        ("trends", "Actors added per month or ISO week (of a genre, if given), each period split by a dimension: its top segments, the leader and its share.",
            vec![dimension("dimension"), text("genre", "Only actors playing in this genre."),
                query("interval", json!({"type": "string", "enum": ["week", "month"], "default": "month"}), "Period length."),
                size(5)],
            stamped(json!({"dimension": {"type": "string"}, "genre": nullable_string(),
                "interval": {"type": "string"}, "periods": {"type": "array", "items": object(json!({
                    "period": {"type": "string"}, "total": integer(1), "segments": {"type": "object"},
                    "top_segment": nullable_string(), "top_count": integer(0), "top_share": ratio}))}}))),
        ("insights", "One actor in depth: profile and movies, their genres, genres and movies per week, month and year, and the genres actors of the same profile play in. 404 Actor not found.",
            vec![{
                let mut p = query("actor_uuid", json!({"type": "string", "format": "uuid"}), "Required: the actor's uuid.");
                p["required"] = json!(true);
                p
            }, size(5)],
            stamped(json!({"actor": profile, "predicted_genres": predictions, "matched_actors": integer(0),
                "actor_genres": counted("genre"), "actor_genres_total": integer(0),
                "genre_period_counts": grains, "movie_period_counts": grains}))),
    ];
    let mut routes: Vec<_> = routes.into_iter().collect();
    routes.extend(more);
    let mut insights_errors = errors.to_vec();
    insights_errors.push(404);
    paths.insert("/api/v1/admin/analytics/actors/predict".into(), json!({"post": {
        "summary": "The genres actors of a profile play in: actors matching any given part (age within 2 years, blood type, birthplace containing, any of the genres; nothing given: all), their top genres with probabilities, and the best-matching five.",
        "security": admin,
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
            "age": {"type": "integer", "minimum": 16, "maximum": 80, "nullable": true},
            "blood_type": {"type": "string", "maxLength": 20, "nullable": true},
            "birthplace": {"type": "string", "maxLength": 120, "nullable": true},
            "movie_tags": {"type": "array", "maxItems": 10, "nullable": true, "items": {"type": "string", "maxLength": 100}},
            "size": {"type": "integer", "minimum": 1, "maximum": 30, "nullable": true}}}}}},
        "responses": responses(&[("200", "The prediction.", stamped(json!({
            "input_profile": {"type": "object"}, "matched_actors": integer(0),
            "predictions": predictions, "sample_actors": {"type": "array", "maxItems": 5, "items": profile}})))], errors)
    }}));
    for (name, summary, parameters, body) in routes {
        let errors = if name == "insights" {
            &insights_errors[..]
        } else {
            errors
        };
        paths.insert(
            format!("/api/v1/admin/analytics/actors/{name}"),
            json!({"get": {
                "summary": summary, "security": admin, "parameters": parameters,
                "responses": responses(&[("200", "The analysis.", body)], errors)
            }}),
        );
    }
}

pub fn document(domains: &[&str]) -> Value {
    let entity_type = json!({"type": "string", "enum": ["movie", "actor", "tag"]});
    let action = json!({"type": "string", "enum": ["view", "download"], "default": "view"});
    let domain = query(
        "domain",
        json!({"type": "string", "enum": domains, "default": "jav"}),
        "A configured domain.",
    );
    let domain_param = domain.clone();
    let date =
        json!({"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"});
    let admin = json!([{"admin": []}]);
    let admin_security = admin.clone();
    let top_item = counts(
        json!({"type": "object", "required": ["rank", "entity_id"], "properties": {
        "rank": {"type": "integer", "minimum": 1},
        "entity_id": {"type": "string"},
        "code": {"type": "string", "nullable": true},
        "title": {"type": "string", "nullable": true}}}),
    );
    let top = json!({"type": "object", "required": ["domain", "entity_type", "action", "period", "items"],
        "properties": {
            "domain": {"type": "string"}, "entity_type": entity_type, "action": action,
            "period": {"type": "string", "enum": ["day", "week", "month", "year", "all", "range"]},
            "bucket": {"type": "string", "nullable": true},
            "from": {"type": "string"}, "to": {"type": "string"},
            "ranking": {"type": "string", "enum": ["exact", "approximate"]},
            "items": {"type": "array", "items": top_item}}});
    let point = counts(
        json!({"type": "object", "required": ["bucket"], "properties": {"bucket": {"type": "string"}}}),
    );
    let entity = json!({"type": "object",
        "required": ["domain", "entity_type", "entity_id", "totals", "granularity", "from", "to", "series"],
        "properties": {
            "domain": {"type": "string"}, "entity_type": entity_type, "entity_id": {"type": "string"},
            "totals": counts(json!({"type": "object", "required": [], "properties": {}})),
            "granularity": {"type": "string", "enum": ["day", "week", "month", "year"]},
            "from": {"type": "string"}, "to": {"type": "string"},
            "series": {"type": "array", "items": point}}});
    let trends = json!({"type": "object", "required": ["domain", "days", "action", "labels", "values", "total"],
        "properties": {
            "domain": {"type": "string"}, "days": {"type": "integer"}, "action": action,
            "entity_type": {"type": "string", "nullable": true},
            "labels": {"type": "array", "items": {"type": "string"}},
            "values": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "total": {"type": "integer", "minimum": 0}}});
    let counted = counts(
        json!({"type": "object", "required": ["domain", "entity_type", "entity_id"],
        "properties": {"domain": {"type": "string"}, "entity_type": entity_type, "entity_id": {"type": "string"}}}),
    );

    let mut display_counts = counted.clone();
    for figure in [
        "likes",
        "favorites",
        "watchlist",
        "ratings",
        "rating_average",
    ] {
        display_counts["properties"][figure] = match figure {
            "rating_average" => json!({"type": "number", "nullable": true, "minimum": 0}),
            "favorites" | "ratings" => json!({"type": "integer", "minimum": 0}),
            _ => json!({"type": "integer"}),
        };
        if let Some(required) = display_counts["required"].as_array_mut() {
            required.push(json!(figure));
        }
    }
    let mut paths = operational_paths("Redis, MongoDB and MySQL reachable.");
    // The replaced video service's health route answers as /ready does.
    let mut health = paths.get("/ready").cloned().unwrap_or(Value::Null);
    health["get"]["summary"] =
        json!("The replaced video service's health route: the same answer as /ready.");
    paths.insert("/api/metrics/health".into(), health);
    paths.insert("/api/v1/admin/analytics/top".into(), json!({"get": {
        "summary": "Top entities by an action in a day, ISO week, month, year, all time, or a range of local days (period=range: the items' counts are the range's, with `from`, `to` and `ranking`).",
        "security": admin,
        "parameters": Value::Array([domain.clone(),
            query("entity_type", json!({"type": "string", "enum": ["movie", "actor", "tag"], "default": "movie"}), "Kind of entity."),
            query("action", action.clone(), "Ranking action."),
            query("period", json!({"type": "string", "enum": ["day", "week", "month", "year", "all", "range"], "default": "day"}), "Rollup period; `range` ranks over days or from/to."),
            query("bucket", json!({"type": "string", "pattern": "^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?|-W[0-9]{2})?$"}),
                "A label of the period's kind (2026-11-21, 2026-W47, 2026-11 or 2026; not with period all or range); default: the current one in the domain's zone."),
            query("limit", json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 10}), "How many."),
            format_param()
        ].into_iter().chain(range_params("from", "to", 7)).collect::<Vec<Value>>()),
        "responses": listing("Ranked items with every action's count (movies carry code and title).", top, &[401, 403, 422, 500, 503])
    }}));
    paths.insert("/api/v1/admin/analytics/entities/{entity_type}/{entity_id}".into(), json!({"get": {
        "summary": "An entity's totals and its zero-filled series.",
        "security": admin,
        "parameters": [
            path("entity_type", entity_type.clone()),
            path("entity_id", id_schema(MAX_ID_CHARS)),
            domain,
            query("from", date.clone(), "Default: 29 days before `to`; not after `to`."),
            query("to", date, "Default: today in the domain's zone."),
            query("granularity", json!({"type": "string", "enum": ["day", "week", "month", "year"], "default": "day"}),
                "Series buckets (at most read_api.max_series_points of them)."),
            format_param()
        ],
        "responses": listing("Totals and series (CSV: the series).", entity, &[401, 403, 422, 500, 503])
    }}));
    paths.insert("/api/v1/admin/analytics/trends".into(), json!({"get": {
        "summary": "Site-wide daily series of one action.",
        "security": admin,
        "parameters": [
            domain,
            query("days", json!({"type": "integer", "enum": [7, 14, 30, 90], "default": 14}), "Window ending today."),
            query("action", action, "Counted action."),
            query("entity_type", entity_type.clone(), "Only this kind of entity (default: all)."),
            format_param()
        ],
        "responses": listing("Labels (dates) and values (CSV: date, value).", trends, &[401, 403, 422, 500, 503])
    }}));
    viewing_paths(&mut paths, &domain_param, &admin_security);
    snapshot_paths(&mut paths, &admin_security);
    actor_paths(&mut paths, &admin_security);
    live_paths(&mut paths, &admin_security);
    let erased = json!({"type": "object",
        "required": ["user_id", "user_id_sha256", "requested_by", "erased_at", "events_erased", "erased", "kept"],
        "properties": {
            "user_id": {"type": "string"}, "user_id_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "requested_by": {"type": "string"}, "erased_at": {"type": "string", "format": "date-time"},
            "events_erased": {"type": "integer", "minimum": 0},
            "erased": {"type": "object",
                "required": ["raw_log_rows", "filtered_rows", "waiting_events", "live_feed_samples", "live_viewer"],
                "properties": {
                    "raw_log_rows": {"type": "integer", "minimum": 0},
                    "filtered_rows": {"type": "integer", "minimum": 0},
                    "waiting_events": {"type": "integer", "minimum": 0},
                    "live_feed_samples": {"type": "integer", "minimum": 0},
                    "live_viewer": {"type": "boolean"}}},
            "kept": {"type": "array", "items": {"type": "string"}}}});
    paths.insert("/api/v1/admin/analytics/users/{user_id}".into(), json!({"delete": {
        "summary": "Forget a user: delete their events from the raw log, the events not yet flushed and the live feed, and record the erasure (by a SHA-256 of the id). Idempotent; counts and unique-viewer registers, which hold no user, stay.",
        "security": admin_security,
        "parameters": [
            path("user_id", id_schema(MAX_USER_ID_CHARS)),
            query("requested_by", id_schema(MAX_ID_CHARS), "Who asked, for the audit trail (default: read-api).")
        ],
        "responses": responses(&[("200", "What was deleted, and what stays.", erased)], &[401, 403, 422, 500, 503])
    }}));
    paths.insert("/api/v1/analytics/counts/{entity_type}/{entity_id}".into(), json!({"get": {
        "summary": "Public display counts, including increments not yet flushed (rate limited per client; up to a second old).",
        "parameters": [path("entity_type", entity_type), path("entity_id", id_schema(MAX_ID_CHARS)), domain],
        "responses": responses(&[("200", "The figures a page shows beside the entity: views and downloads, net likes (likes − unlikes), favorites, net watchlist entries, ratings and their average (null before the first). Fresh to the second, unflushed events included.", display_counts)], &[422, 429, 500, 503])
    }}));
    build(
        "analytics read-api",
        env!("CARGO_PKG_VERSION"),
        paths,
        &["admin"],
    )
}
