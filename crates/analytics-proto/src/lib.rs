//! Protobuf forms of the wire contract, and their mapping onto the JSON
//! contract so both go through the one validation in `analytics-domain`.

use serde_json::{json, Map, Value};

pub mod analytics {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/analytics.v1.rs"));
    }
}

pub mod telemetry {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/telemetry.v1.rs"));
    }
}

use analytics::v1::{event::UserId, Event};

impl Event {
    /// The JSON body carrying the same event (absent optional fields are
    /// left out, as a JSON producer would).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("event_id".into(), json!(self.event_id));
        body.insert("domain".into(), json!(self.domain));
        body.insert("entity_type".into(), json!(self.entity_type));
        body.insert("entity_id".into(), json!(self.entity_id));
        body.insert("action".into(), json!(self.action));
        if let Some(value) = self.value {
            body.insert("value".into(), json!(value));
        }
        body.insert("occurred_at".into(), json!(self.occurred_at));
        match &self.user_id {
            Some(UserId::UserIdInt(id)) => {
                body.insert("user_id".into(), json!(id));
            }
            Some(UserId::UserIdText(id)) => {
                body.insert("user_id".into(), json!(id));
            }
            None => {}
        }
        let mut optional = |key: &str, value: Option<Value>| {
            if let Some(v) = value {
                body.insert(key.into(), v);
            }
        };
        optional("session_id", self.session_id.as_ref().map(|v| json!(v)));
        optional("position_seconds", self.position_seconds.map(|v| json!(v)));
        optional("duration_seconds", self.duration_seconds.map(|v| json!(v)));
        optional("watched_seconds", self.watched_seconds.map(|v| json!(v)));
        optional("query", self.query.as_ref().map(|v| json!(v)));
        optional("result_count", self.result_count.map(|v| json!(v)));
        optional("placement", self.placement.as_ref().map(|v| json!(v)));
        optional("reason", self.reason.as_ref().map(|v| json!(v)));
        optional(
            "properties",
            Some(&self.properties)
                .filter(|m| !m.is_empty())
                .map(|m| json!(m)),
        );
        optional(
            "filters",
            Some(&self.filters)
                .filter(|m| !m.is_empty())
                .map(|m| json!(m)),
        );
        // proto3 cannot tell an empty string from an absent one: empty
        // means absent, so an implied type or a search's query applies.
        for key in ["entity_type", "entity_id"] {
            if body.get(key).and_then(Value::as_str) == Some("") {
                body.remove(key);
            }
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use analytics_domain::{EventRules, ValueLimits};
    use prost::Message;

    use super::*;

    #[test]
    fn the_json_and_protobuf_forms_of_an_event_decode_to_the_same_domain_value() {
        let now = chrono::Utc::now();
        let occurred_at = (now - chrono::Duration::minutes(5)).to_rfc3339();
        let json_body = json!({
            "event_id": "evt-1", "domain": "jav", "entity_type": "movie",
            "entity_id": "f6f7163c-4c8c-4ce8-bfe5-7dbd7574d273", "action": "download",
            "value": 3, "occurred_at": occurred_at, "user_id": "u-42"
        });
        let proto = Event {
            event_id: "evt-1".into(),
            domain: "jav".into(),
            entity_type: "movie".into(),
            entity_id: "f6f7163c-4c8c-4ce8-bfe5-7dbd7574d273".into(),
            action: "download".into(),
            value: Some(3),
            occurred_at: occurred_at.clone(),
            user_id: Some(UserId::UserIdText("u-42".into())),
            ..Default::default()
        };
        let wire = proto.encode_to_vec();
        let decoded = Event::decode(wire.as_slice()).expect("decodes");

        let from_json = EventRules::default()
            .validate(
                json_body.as_object().expect("object"),
                now,
                &ValueLimits::contract(),
            )
            .expect("json form is valid");
        let from_proto = EventRules::default()
            .validate(&decoded.to_json(), now, &ValueLimits::contract())
            .expect("proto form is valid");
        assert_eq!(from_json, from_proto);
        assert_eq!(from_proto.value, 3);
    }

    #[test]
    fn an_absent_value_means_one_and_an_integer_user_id_survives() {
        let now = chrono::Utc::now();
        let proto = Event {
            event_id: "evt-2".into(),
            domain: "jav".into(),
            entity_type: "actor".into(),
            entity_id: "a-1".into(),
            action: "view".into(),
            value: None,
            occurred_at: now.to_rfc3339(),
            user_id: Some(UserId::UserIdInt(123)),
            ..Default::default()
        };
        let decoded = Event::decode(proto.encode_to_vec().as_slice()).expect("decodes");
        let event = EventRules::default()
            .validate(&decoded.to_json(), now, &ValueLimits::contract())
            .expect("valid");
        assert_eq!(event.value, 1);
        assert_eq!(event.user_id, Some(analytics_domain::UserId::Int(123)));
    }

    #[test]
    fn invalid_protobuf_events_fail_the_same_rules_with_the_field_named() {
        let now = chrono::Utc::now();
        let proto = Event {
            event_id: "evt-3".into(),
            domain: "jav".into(),
            entity_type: "tag".into(),
            entity_id: "t-1".into(),
            action: "download".into(),
            value: Some(0),
            occurred_at: "yesterday".into(),
            user_id: None,
            ..Default::default()
        };
        let errors = EventRules::default()
            .validate(&proto.to_json(), now, &ValueLimits::contract())
            .expect_err("invalid");
        assert_eq!(
            errors.errors.keys().copied().collect::<Vec<_>>(),
            ["action", "occurred_at", "value"]
        );
    }

    #[test]
    fn a_v2_batch_round_trips_and_empty_strings_mean_absent() {
        let now = chrono::Utc::now();
        let search = Event {
            event_id: "evt-4".into(),
            domain: "jav".into(),
            action: "search.performed".into(),
            occurred_at: now.to_rfc3339(),
            query: Some("Space Opera".into()),
            result_count: Some(0),
            filters: [("year".to_string(), "2020".to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let batch = analytics::v1::EventBatch {
            events: vec![search],
        };
        let decoded =
            analytics::v1::EventBatch::decode(batch.encode_to_vec().as_slice()).expect("decodes");
        let event = EventRules::default()
            .validate(&decoded.events[0].to_json(), now, &ValueLimits::contract())
            .expect("valid");
        assert_eq!(
            event.entity.entity_type,
            analytics_domain::EntityType::Query
        );
        assert_eq!(event.entity.entity_id, "space opera");
        assert_eq!(event.details.result_count, Some(0));
        assert_eq!(event.details.filters["year"], "2020");
    }

    #[test]
    fn a_job_event_round_trips_with_its_legacy_fields() {
        let job = telemetry::v1::JobEvent {
            event_type: "failed".into(),
            job_uuid: "j-1".into(),
            job_name: "OnejavJob".into(),
            queue: "jav".into(),
            attempt: 2,
            site: "onejav".into(),
            duration_ms: Some(1500),
            error_class: "GuzzleHttp\\Exception\\ConnectException".into(),
            error_code: Some(429),
            timeout_ms_observed: Some(30000),
            payload_meta: [("page".to_string(), "3".to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        };
        let decoded =
            telemetry::v1::JobEvent::decode(job.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(decoded, job);
    }
}
