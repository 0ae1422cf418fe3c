//! The closed sets of words the pipeline counts: entity types and actions are
//! enums; domains come from configuration but are validated the same way.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kind of thing an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityType {
    Movie,
    Actor,
    Tag,
    /// A search query; its id is the normalised query text.
    Query,
    /// An item of the admin's featured list.
    Featured,
    /// The whole domain: never sent by producers; the pipeline keeps the
    /// site-wide unique users of each hour under it.
    Site,
}

impl EntityType {
    /// Every type, in declaration order (the legacy enum's three first).
    pub const ALL: [EntityType; 6] = [
        EntityType::Movie,
        EntityType::Actor,
        EntityType::Tag,
        EntityType::Query,
        EntityType::Featured,
        EntityType::Site,
    ];

    /// The catalogue's types: the ones with MySQL replicas.
    pub const CATALOGUE: [EntityType; 3] = [EntityType::Movie, EntityType::Actor, EntityType::Tag];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Movie => "movie",
            EntityType::Actor => "actor",
            EntityType::Tag => "tag",
            EntityType::Query => "query",
            EntityType::Featured => "featured",
            EntityType::Site => "site",
        }
    }

    /// Exact, case-sensitive match (legacy `tryFrom`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// A type producers may send (everything but [`EntityType::Site`]).
    pub fn parse_from_producer(s: &str) -> Option<Self> {
        Self::parse(s).filter(|t| *t != EntityType::Site)
    }

    pub fn is_catalogue(self) -> bool {
        Self::CATALOGUE.contains(&self)
    }
}

/// What happened to the entity. The table in [`Action::spec`] says, for
/// each, which entity types it applies to, what `value` means, and whether
/// it makes its sender a *viewer* (counted in unique viewers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    // Catalogue pages (contract v1).
    View,
    Download,
    // A signed-in user's engagement.
    Like,
    Unlike,
    Rate,
    WatchlistAdd,
    WatchlistRemove,
    Favorite,
    // The admin's featured list.
    FeaturedCreated,
    FeaturedUpdated,
    FeaturedRemoved,
    // Discovery.
    Search,
    RecommendationImpression,
    RecommendationClick,
    // Playback.
    Start,
    Progress,
    Pause,
    Resume,
    Seek,
    Buffer,
    QualityChange,
    Error,
    Complete,
    Finish,
}

/// What an event's `value` means for its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRule {
    /// How many times it happened: 1 by default, capped per producer
    /// ([`crate::ValueLimits`]).
    Times,
    /// It happens once per event: `value` absent or 1.
    Once,
    /// The stars of a rating, required, 1..=5; counts once.
    Stars,
}

/// One row of the vocabulary.
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    pub name: &'static str,
    pub types: &'static [EntityType],
    pub value: ValueRule,
    /// Whether the sender counts as a viewer of the entity (unique viewers
    /// and the site's unique users per hour).
    pub viewer: bool,
}

const MOVIE: &[EntityType] = &[EntityType::Movie];
const PAGES: &[EntityType] = &[EntityType::Movie, EntityType::Actor, EntityType::Tag];

impl Action {
    pub const ALL: [Action; 24] = [
        Action::View,
        Action::Download,
        Action::Like,
        Action::Unlike,
        Action::Rate,
        Action::WatchlistAdd,
        Action::WatchlistRemove,
        Action::Favorite,
        Action::FeaturedCreated,
        Action::FeaturedUpdated,
        Action::FeaturedRemoved,
        Action::Search,
        Action::RecommendationImpression,
        Action::RecommendationClick,
        Action::Start,
        Action::Progress,
        Action::Pause,
        Action::Resume,
        Action::Seek,
        Action::Buffer,
        Action::QualityChange,
        Action::Error,
        Action::Complete,
        Action::Finish,
    ];

    /// The actions of contract v1: the ones with leaderboards, the MySQL
    /// replicas and the v1 read routes.
    pub const V1: [Action; 2] = [Action::View, Action::Download];

    /// The vocabulary, one row per action.
    pub fn spec(self) -> ActionSpec {
        use EntityType::{Featured, Query};
        use ValueRule::{Once, Stars, Times};
        let (name, types, value, viewer): (_, &'static [EntityType], _, _) = match self {
            Action::View => ("view", PAGES, Times, true),
            Action::Download => ("download", MOVIE, Times, true),
            Action::Like => ("like", MOVIE, Once, false),
            Action::Unlike => ("unlike", MOVIE, Once, false),
            Action::Rate => ("rate", MOVIE, Stars, false),
            Action::WatchlistAdd => ("watchlist_add", MOVIE, Once, false),
            Action::WatchlistRemove => ("watchlist_remove", MOVIE, Once, false),
            Action::Favorite => ("favorite", MOVIE, Once, false),
            Action::FeaturedCreated => ("featured_created", &[Featured], Once, false),
            Action::FeaturedUpdated => ("featured_updated", &[Featured], Once, false),
            Action::FeaturedRemoved => ("featured_removed", &[Featured], Once, false),
            Action::Search => ("search", &[Query], Once, true),
            Action::RecommendationImpression => ("recommendation_impression", MOVIE, Once, false),
            Action::RecommendationClick => ("recommendation_click", MOVIE, Once, false),
            Action::Start => ("start", MOVIE, Once, true),
            Action::Progress => ("progress", MOVIE, Once, true),
            Action::Pause => ("pause", MOVIE, Once, true),
            Action::Resume => ("resume", MOVIE, Once, true),
            Action::Seek => ("seek", MOVIE, Once, true),
            Action::Buffer => ("buffer", MOVIE, Once, true),
            Action::QualityChange => ("quality_change", MOVIE, Once, true),
            Action::Error => ("error", MOVIE, Once, true),
            Action::Complete => ("complete", MOVIE, Once, true),
            Action::Finish => ("finish", MOVIE, Once, true),
        };
        ActionSpec {
            name,
            types,
            value,
            viewer,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// The canonical name only (exact, case-sensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// A canonical name or a producer's alias (see [`ALIASES`]), with the
    /// entity type the alias implies, if any.
    pub fn resolve(s: &str) -> Option<(Self, Option<EntityType>)> {
        Self::parse(s).map(|a| (a, None)).or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, ..)| *alias == s)
                .map(|(_, a, t)| (*a, *t))
        })
    }

    /// Index into per-action arrays ([`crate::rollup::Counts`]).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether this action can happen to that kind of entity (only a movie
    /// has a file to download; actor and tag pages are only viewed…).
    pub fn fits(self, entity_type: EntityType) -> bool {
        self.spec().types.contains(&entity_type)
    }

    /// The player's events (what "concurrent viewers", playback error rates
    /// and user statistics read).
    pub const PLAYBACK: [Action; 10] = [
        Action::Start,
        Action::Progress,
        Action::Pause,
        Action::Resume,
        Action::Seek,
        Action::Buffer,
        Action::QualityChange,
        Action::Error,
        Action::Complete,
        Action::Finish,
    ];

    pub fn is_playback(self) -> bool {
        Self::PLAYBACK.contains(&self)
    }

    /// A playback event that ends a viewing (its position says how far).
    pub fn ends_playback(self) -> bool {
        matches!(self, Action::Complete | Action::Finish)
    }
}

/// A running sum kept beside the action counts, for what the read side
/// derives: watch time, average rating, completion and average watch
/// percentage, zero-result searches. See [`crate::event::Event::increments`]
/// for what each event adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sum {
    WatchSeconds,
    RatingStars,
    Completions,
    WatchPercentSum,
    WatchPercentSamples,
    ZeroResults,
}

impl Sum {
    pub const ALL: [Sum; 6] = [
        Sum::WatchSeconds,
        Sum::RatingStars,
        Sum::Completions,
        Sum::WatchPercentSum,
        Sum::WatchPercentSamples,
        Sum::ZeroResults,
    ];

    /// The field name in counter hashes and rollup documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Sum::WatchSeconds => "watch_seconds",
            Sum::RatingStars => "rating_stars",
            Sum::Completions => "completions",
            Sum::WatchPercentSum => "watch_percent_sum",
            Sum::WatchPercentSamples => "watch_percent_samples",
            Sum::ZeroResults => "zero_results",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The names other producers use: the event names of the site's own
/// application events (`movie.viewed`…), the video player's `video_*`
/// events and the streaming service's `stream.*` messages. The second
/// column is the action, the third the entity type the name implies.
pub const ALIASES: &[(&str, Action, Option<EntityType>)] = &[
    ("movie.viewed", Action::View, Some(EntityType::Movie)),
    (
        "movie.downloaded",
        Action::Download,
        Some(EntityType::Movie),
    ),
    ("movie.liked", Action::Like, Some(EntityType::Movie)),
    ("movie.unliked", Action::Unlike, Some(EntityType::Movie)),
    ("movie.rated", Action::Rate, Some(EntityType::Movie)),
    (
        "movie.watchlisted",
        Action::WatchlistAdd,
        Some(EntityType::Movie),
    ),
    (
        "movie.unwatchlisted",
        Action::WatchlistRemove,
        Some(EntityType::Movie),
    ),
    ("movie.favorited", Action::Favorite, Some(EntityType::Movie)),
    ("actor.viewed", Action::View, Some(EntityType::Actor)),
    ("tag.viewed", Action::View, Some(EntityType::Tag)),
    ("search.performed", Action::Search, Some(EntityType::Query)),
    (
        "recommendation.shown",
        Action::RecommendationImpression,
        Some(EntityType::Movie),
    ),
    (
        "recommendation.clicked",
        Action::RecommendationClick,
        Some(EntityType::Movie),
    ),
    (
        "featured.item.created",
        Action::FeaturedCreated,
        Some(EntityType::Featured),
    ),
    (
        "featured.item.updated",
        Action::FeaturedUpdated,
        Some(EntityType::Featured),
    ),
    (
        "featured.item.removed",
        Action::FeaturedRemoved,
        Some(EntityType::Featured),
    ),
    ("video_start", Action::Start, Some(EntityType::Movie)),
    ("video_progress", Action::Progress, Some(EntityType::Movie)),
    ("video_pause", Action::Pause, Some(EntityType::Movie)),
    ("video_resume", Action::Resume, Some(EntityType::Movie)),
    ("video_complete", Action::Complete, Some(EntityType::Movie)),
    ("video_error", Action::Error, Some(EntityType::Movie)),
    ("video_buffer", Action::Buffer, Some(EntityType::Movie)),
    ("video_seek", Action::Seek, Some(EntityType::Movie)),
    (
        "video_quality_change",
        Action::QualityChange,
        Some(EntityType::Movie),
    ),
    ("stream.start", Action::Start, Some(EntityType::Movie)),
    ("stream_start", Action::Start, Some(EntityType::Movie)),
    ("stream.progress", Action::Progress, Some(EntityType::Movie)),
    ("progress_update", Action::Progress, Some(EntityType::Movie)),
    ("stream.stop", Action::Finish, Some(EntityType::Movie)),
    ("stream_stop", Action::Finish, Some(EntityType::Movie)),
];

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

/// The domain whose movies the MySQL catalogue holds (its replicas,
/// parity and the admin snapshot are about this domain only).
pub const CATALOGUE_DOMAIN: &str = "jav";

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
    fn aliases_resolve_to_canonical_actions_and_imply_their_type() {
        assert_eq!(Action::resolve("view"), Some((Action::View, None)));
        assert_eq!(
            Action::resolve("stream.stop"),
            Some((Action::Finish, Some(EntityType::Movie)))
        );
        assert_eq!(
            Action::resolve("actor.viewed"),
            Some((Action::View, Some(EntityType::Actor)))
        );
        assert_eq!(Action::resolve("Stream.Stop"), None);
        for (alias, action, implied) in ALIASES {
            assert!(Action::parse(alias).is_none(), "{alias} shadows a name");
            if let Some(t) = implied {
                assert!(action.fits(*t), "{alias}: {action} does not fit {t}");
            }
        }
    }

    #[test]
    fn names_are_unique_and_every_action_applies_somewhere() {
        let names: std::collections::BTreeSet<&str> =
            Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), Action::ALL.len());
        for (i, a) in Action::ALL.iter().enumerate() {
            assert_eq!(a.index(), i);
            assert!(!a.spec().types.is_empty());
            assert!(!a.fits(EntityType::Site), "{a}");
        }
        assert_eq!(EntityType::parse_from_producer("site"), None);
        assert_eq!(
            EntityType::parse_from_producer("query"),
            Some(EntityType::Query)
        );
    }

    #[test]
    fn only_movies_can_be_downloaded() {
        assert!(Action::Download.fits(EntityType::Movie));
        assert!(!Action::Download.fits(EntityType::Actor));
        assert!(!Action::Download.fits(EntityType::Tag));
        assert!(EntityType::CATALOGUE.iter().all(|t| Action::View.fits(*t)));
    }

    #[test]
    fn domain_names_are_key_safe() {
        assert!(Domain::new("jav").is_ok());
        assert!(Domain::new("").is_err());
        assert!(Domain::new("ja:v").is_err());
        assert!(Domain::new("JAV").is_err());
    }
}
