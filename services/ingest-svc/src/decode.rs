//! Request bodies into JSON objects: JSON, JSON sent as `text/plain` (what
//! `navigator.sendBeacon` sends from a browser), and protobuf. Every form
//! then goes through the same mapping and validation.

use actix_web::http::header;
use actix_web::HttpRequest;
use analytics_proto::analytics::v1::{Event as ProtoEvent, EventBatch};
use prost::Message;
use serde_json::{Map, Value};

use crate::error::IngestError;

/// How a body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyForm {
    Json,
    /// `text/plain` holding JSON (browser beacons).
    Beacon,
    Protobuf,
}

impl BodyForm {
    pub fn of(req: &HttpRequest) -> Result<BodyForm, IngestError> {
        if analytics_runtime::body::is_json(req) {
            return Ok(BodyForm::Json);
        }
        let mime = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        match mime.as_deref() {
            Some("text/plain") => Ok(BodyForm::Beacon),
            Some("application/x-protobuf" | "application/protobuf") => Ok(BodyForm::Protobuf),
            _ => Err(IngestError::UnsupportedMediaType),
        }
    }
}

/// One event's body.
pub fn single(form: BodyForm, body: &[u8]) -> Result<Map<String, Value>, IngestError> {
    match form {
        BodyForm::Json | BodyForm::Beacon => match json(body)? {
            Value::Object(fields) => Ok(fields),
            _ => Err(IngestError::NotAnObject),
        },
        BodyForm::Protobuf => ProtoEvent::decode(body)
            .map(|e| e.to_json())
            .map_err(|e| IngestError::MalformedProtobuf(e.to_string())),
    }
}

/// A batch's items: a JSON array or `{"events": [...]}`, or an `EventBatch`.
/// Items are left as they are; each is checked on its own.
pub fn batch(form: BodyForm, body: &[u8]) -> Result<Vec<Value>, IngestError> {
    match form {
        BodyForm::Json | BodyForm::Beacon => match json(body)? {
            Value::Array(items) => Ok(items),
            Value::Object(mut wrapper) => match wrapper.remove("events") {
                Some(Value::Array(items)) => Ok(items),
                _ => Err(IngestError::NotABatch),
            },
            _ => Err(IngestError::NotABatch),
        },
        BodyForm::Protobuf => EventBatch::decode(body)
            .map(|b| {
                b.events
                    .iter()
                    .map(|e| Value::Object(e.to_json()))
                    .collect()
            })
            .map_err(|e| IngestError::MalformedProtobuf(e.to_string())),
    }
}

fn json(body: &[u8]) -> Result<Value, IngestError> {
    analytics_runtime::json::parse(body).map_err(|e| IngestError::MalformedJson(e.to_string()))
}
