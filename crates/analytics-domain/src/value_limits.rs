//! How large an event's `value` may be, per action and producer.

use std::collections::BTreeMap;

use crate::vocabulary::Action;

/// The largest `value` the contract allows (authenticated producers).
pub const MAX_VALUE: i64 = 10_000;

/// The largest `value` each action may carry from a given producer. The
/// public ingest is anonymous, so its limits are small (browsers send 1):
/// one anonymous client could otherwise add 10,000 views per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueLimits {
    per_action: BTreeMap<Action, i64>,
}

impl ValueLimits {
    /// The contract's maximum for every action (authenticated producers).
    pub fn contract() -> Self {
        ValueLimits {
            per_action: Action::ALL.iter().map(|a| (*a, MAX_VALUE)).collect(),
        }
    }

    /// Given limits per action (an action not named gets 1), each 1..MAX_VALUE.
    pub fn new(per_action: BTreeMap<Action, i64>) -> Result<Self, String> {
        if let Some((a, n)) = per_action
            .iter()
            .find(|(_, n)| !(1..=MAX_VALUE).contains(*n))
        {
            return Err(format!("{a}: {n} is not within 1..{MAX_VALUE}"));
        }
        Ok(ValueLimits { per_action })
    }

    pub fn max(&self, action: Action) -> i64 {
        self.per_action.get(&action).copied().unwrap_or(1)
    }
}
