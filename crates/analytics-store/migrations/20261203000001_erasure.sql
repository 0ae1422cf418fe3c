-- Erasure (a user asks to be forgotten): their rows leave the raw log, but
-- their event ids stay behind, with the entity and action and without the
-- user, so an import that sends those events again is answered "duplicate"
-- and never counts into the rollups twice. The filtered table gets the user
-- index the log has, so an erasure deletes along it instead of scanning.
CREATE TABLE IF NOT EXISTS analytics_erased_events (
    event_id     VARCHAR(255) NOT NULL PRIMARY KEY,
    domain       VARCHAR(32) NOT NULL,
    entity_type  VARCHAR(16) NOT NULL,
    entity_id    VARCHAR(255) NOT NULL,
    action       VARCHAR(32) NOT NULL,
    value        INT NOT NULL,
    occurred_at  DATETIME(3) NOT NULL,
    erased_at    DATETIME(3) NOT NULL,
    KEY analytics_erased_events_occurred_at_index (occurred_at)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE analytics_events_filtered
    ADD KEY analytics_events_filtered_user_index (user_id);
