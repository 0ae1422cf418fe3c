//! The catalogue's migrations, embedded in the binary. Built here rather than
//! by sqlx's `migrate!` macro, whose `macros` feature compiles a second,
//! host-side sqlx (176 crates) into every build of the services. Each
//! migration is what `migrate!` would make of its file (version and
//! description from the name, SHA-384 of the text), so databases migrated
//! before keep their checksums. A test holds this list to the directory.

use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// Every file of `migrations/`, in order: (file name, text).
pub(crate) const FILES: &[(&str, &str)] = &[
    (
        "20261121000001_catalogue.sql",
        include_str!("../../migrations/20261121000001_catalogue.sql"),
    ),
    (
        "20261122000001_analytics_events.sql",
        include_str!("../../migrations/20261122000001_analytics_events.sql"),
    ),
    (
        "20261122000002_log_covering_indexes.sql",
        include_str!("../../migrations/20261122000002_log_covering_indexes.sql"),
    ),
    (
        "20261126000001_snapshot_indexes.sql",
        include_str!("../../migrations/20261126000001_snapshot_indexes.sql"),
    ),
    (
        "20261126000002_actor_genre_index.sql",
        include_str!("../../migrations/20261126000002_actor_genre_index.sql"),
    ),
    (
        "20261202000001_filtered_events.sql",
        include_str!("../../migrations/20261202000001_filtered_events.sql"),
    ),
    (
        "20261203000001_erasure.sql",
        include_str!("../../migrations/20261203000001_erasure.sql"),
    ),
];

/// The embedded files as sqlx migrations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Embedded;

impl Embedded {
    pub(crate) fn migrations() -> Result<Vec<Migration>, BoxDynError> {
        FILES
            .iter()
            .map(|(name, sql)| {
                let stem = name.strip_suffix(".sql").unwrap_or(name);
                let (version, description) = stem.split_once('_').ok_or_else(|| {
                    format!("migration {name} is not <version>_<description>.sql")
                })?;
                Ok(Migration::new(
                    version.parse()?,
                    Cow::Owned(description.replace('_', " ")),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    sql.starts_with("-- no-transaction"),
                ))
            })
            .collect()
    }

    pub(crate) async fn migrator() -> Result<Migrator, sqlx::migrate::MigrateError> {
        Migrator::new(Embedded).await
    }
}

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async { Embedded::migrations() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_directory_is_embedded_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".sql"))
                    .collect()
            })
            .unwrap_or_default();
        on_disk.sort();
        let embedded: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
        assert_eq!(embedded, on_disk);
        for (name, sql) in FILES {
            let file = std::fs::read_to_string(format!("{dir}/{name}")).unwrap_or_default();
            assert_eq!(*sql, file, "{name}");
        }
        let migrations = Embedded::migrations().unwrap_or_default();
        assert_eq!(migrations.len(), FILES.len());
        assert_eq!(migrations[2].version, 20261122000002);
        assert_eq!(migrations[2].description, "log covering indexes");
    }
}
