//! What to offer in the actor pages' search boxes: actors, genres and
//! birthplaces containing what was typed.

use super::like_pattern;
use crate::catalogue::CatalogueStore;
use crate::error::StoreError;

impl CatalogueStore {
    /// Actors whose name or uuid contains `q`, by name: (name, uuid).
    pub async fn suggest_actors(
        &self,
        q: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let like = like_pattern(q);
        Ok(sqlx::query_as(
            "SELECT name, uuid FROM actors WHERE name LIKE ? OR uuid LIKE ? ORDER BY name, id LIMIT ?",
        )
        .bind(&like)
        .bind(&like)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Genre (tag) names containing `q`, by name.
    pub async fn suggest_genres(&self, q: &str, limit: i64) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT name FROM tags WHERE name LIKE ? ORDER BY name LIMIT ?")
                .bind(like_pattern(q))
                .bind(limit)
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// Distinct birthplaces containing `q`, by name.
    pub async fn suggest_birthplaces(
        &self,
        q: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT birthplace FROM actors WHERE birthplace IS NOT NULL \
             AND TRIM(birthplace) <> '' AND birthplace LIKE ? ORDER BY birthplace LIMIT ?",
        )
        .bind(like_pattern(q))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
