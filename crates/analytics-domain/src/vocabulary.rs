//! The closed sets of words the pipeline counts: entity types and actions are
//! enums; domains come from configuration but are validated the same way.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of catalogue thing an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityType {
    Movie,
    Actor,
    Tag,
}

impl EntityType {
    /// Declaration order, as the legacy enum listed them.
    pub const ALL: [EntityType; 3] = [EntityType::Movie, EntityType::Actor, EntityType::Tag];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Movie => "movie",
            EntityType::Actor => "actor",
            EntityType::Tag => "tag",
        }
    }

    /// Exact, case-sensitive match (legacy `tryFrom`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What happened to the entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    View,
    Download,
}

impl Action {
    pub const ALL: [Action; 2] = [Action::View, Action::Download];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::Download => "download",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Index into per-action arrays ([`crate::rollup::ActionCounts`]).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether this action can happen to that kind of entity: only a movie
    /// has a file to download; actor and tag pages are only viewed.
    pub fn fits(self, entity_type: EntityType) -> bool {
        match self {
            Action::View => true,
            Action::Download => entity_type == EntityType::Movie,
        }
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A business domain name (`jav` today). Configured, not compiled in, but it
/// goes into Redis keys, so it is restricted to a safe alphabet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("domain name {0:?} must be 1..32 characters of a-z, 0-9 or _")]
pub struct InvalidDomain(pub String);

impl Domain {
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidDomain> {
        let name = name.into();
        let ok = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Domain(name))
        } else {
            Err(InvalidDomain(name))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Domain {
    type Error = InvalidDomain;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Domain::new(value)
    }
}

impl From<Domain> for String {
    fn from(d: Domain) -> String {
        d.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_is_exact_and_case_sensitive() {
        assert_eq!(EntityType::parse("movie"), Some(EntityType::Movie));
        assert_eq!(EntityType::parse("Movie"), None);
        assert_eq!(EntityType::parse("invalid"), None);
        assert_eq!(Action::parse("download"), Some(Action::Download));
        assert_eq!(Action::parse("VIEW"), None);
    }

    #[test]
    fn only_movies_can_be_downloaded() {
        assert!(Action::Download.fits(EntityType::Movie));
        assert!(!Action::Download.fits(EntityType::Actor));
        assert!(!Action::Download.fits(EntityType::Tag));
        assert!(EntityType::ALL.iter().all(|t| Action::View.fits(*t)));
    }

    #[test]
    fn domain_names_are_key_safe() {
        assert!(Domain::new("jav").is_ok());
        assert!(Domain::new("").is_err());
        assert!(Domain::new("ja:v").is_err());
        assert!(Domain::new("JAV").is_err());
    }
}
