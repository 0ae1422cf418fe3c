//! The Lua scripts of the hot counters, one `.lua` file each (the header of
//! each file names its KEYS, ARGV and reply), and their replies as types.

use deadpool_redis::redis::Script;

use crate::error::StoreError;

/// Every script, hashed once; invocations send EVALSHA and fall back to
/// loading the script when Redis does not know it yet.
pub(crate) struct Scripts {
    pub ingest: Script,
    pub claim: Script,
    pub finish: Script,
    pub renew_lease: Script,
    pub release_lease: Script,
    pub take_lease: Script,
    pub trim_log: Script,
    pub drain_legacy: Script,
    pub scrub_log_entry: Script,
    pub enter_seen: Script,
}

impl Scripts {
    pub fn load() -> Self {
        Scripts {
            ingest: Script::new(INGEST),
            claim: Script::new(CLAIM),
            finish: Script::new(FINISH),
            renew_lease: Script::new(include_str!("lua/renew_lease.lua")),
            release_lease: Script::new(include_str!("lua/release_lease.lua")),
            take_lease: Script::new(include_str!("lua/take_lease.lua")),
            trim_log: Script::new(include_str!("lua/trim_log.lua")),
            drain_legacy: Script::new(DRAIN_LEGACY),
            scrub_log_entry: Script::new(include_str!("lua/scrub_log_entry.lua")),
            enter_seen: Script::new(include_str!("lua/enter_seen.lua")),
        }
    }
}

/// The ingest script's source (the ingest benchmark loads it too).
pub const INGEST: &str = include_str!("lua/ingest.lua");
const CLAIM: &str = include_str!("lua/claim.lua");
const FINISH: &str = include_str!("lua/finish.lua");
const DRAIN_LEGACY: &str = include_str!("lua/drain_legacy.lua");

pub(crate) fn unexpected(script: &str, reply: impl std::fmt::Debug) -> StoreError {
    StoreError::Protocol {
        store: "redis",
        detail: format!("{script} script replied {reply:?}"),
    }
}

/// What the ingest script did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    Counted,
    /// A retry of an event already counted (same fingerprint).
    Duplicate,
    /// The id was already used by an event with another fingerprint.
    Conflict,
}

impl TryFrom<i64> for IngestOutcome {
    type Error = StoreError;
    fn try_from(reply: i64) -> Result<Self, StoreError> {
        match reply {
            0 => Ok(IngestOutcome::Counted),
            1 => Ok(IngestOutcome::Duplicate),
            2 => Ok(IngestOutcome::Conflict),
            other => Err(unexpected("ingest", other)),
        }
    }
}

/// The claim script's reply: `{status, batch id, keys claimed}`.
pub(crate) type ClaimReply = (i64, String, u64);

/// What a claim found on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// A batch to apply: resumed from an interrupted run, or newly claimed.
    Batch(Batch),
    /// Nothing dirty in the round's order range.
    Empty,
    /// Only stale dirty entries were popped; claim again.
    Stale,
}

/// A claimed batch of counter keys on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub partition: u16,
    pub id: String,
    /// True when this batch was left open by an earlier, interrupted run.
    pub resumed: bool,
    /// Keys the claim took (0 for a resumed batch: unknown until read).
    pub claimed_keys: u64,
}

impl Claim {
    pub(crate) fn decode(partition: u16, reply: ClaimReply) -> Result<Self, StoreError> {
        let (status, id, claimed_keys) = reply;
        match status {
            -1 => Err(StoreError::LeaseLost { partition }),
            0 => Ok(Claim::Empty),
            3 => Ok(Claim::Stale),
            1 | 2 => Ok(Claim::Batch(Batch {
                partition,
                id,
                resumed: status == 1,
                claimed_keys,
            })),
            _ => Err(unexpected("claim", (status, id, claimed_keys))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_decode_into_types() {
        assert_eq!(
            IngestOutcome::try_from(1).ok(),
            Some(IngestOutcome::Duplicate)
        );
        assert!(IngestOutcome::try_from(7).is_err());
        assert_eq!(
            Claim::decode(3, (0, String::new(), 0)).ok(),
            Some(Claim::Empty)
        );
        assert!(matches!(
            Claim::decode(3, (-1, String::new(), 0)),
            Err(StoreError::LeaseLost { partition: 3 })
        ));
        assert_eq!(
            Claim::decode(3, (2, "b".into(), 5)).ok(),
            Some(Claim::Batch(Batch {
                partition: 3,
                id: "b".into(),
                resumed: false,
                claimed_keys: 5
            }))
        );
    }

    #[test]
    fn every_script_names_its_keys_and_arguments() {
        for source in [INGEST, CLAIM, FINISH, DRAIN_LEGACY] {
            assert!(source.contains("-- KEYS[1]") && source.contains("-- Reply:"));
        }
    }
}
