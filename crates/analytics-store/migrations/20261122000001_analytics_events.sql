-- The raw event log grows the v2 fields: who (user, session, the client's
-- network and user agent), where playback was, what was searched, where a
-- recommendation was shown; times are UTC and local_date/local_hour are the
-- domain's zone at ingest. client_network is the client's /24 (IPv4) or
-- /48 (IPv6), never its address.
-- The binary collation keeps event ids exact, as Redis does ("evt-A" is not
-- "evt-a"): with the unique key, a flush that copies a stretch of the log
-- again (it was stopped between the copy and the trim) adds nothing twice.
ALTER TABLE analytics_events
    CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    MODIFY action VARCHAR(32) NOT NULL,
    MODIFY value INT NOT NULL,
    ADD COLUMN local_date DATE NULL AFTER occurred_at,
    ADD COLUMN local_hour TINYINT UNSIGNED NULL AFTER local_date,
    ADD COLUMN session_id VARCHAR(128) NULL AFTER user_id,
    ADD COLUMN position_seconds INT UNSIGNED NULL AFTER session_id,
    ADD COLUMN duration_seconds INT UNSIGNED NULL AFTER position_seconds,
    ADD COLUMN watched_seconds INT UNSIGNED NULL AFTER duration_seconds,
    ADD COLUMN query VARCHAR(500) NULL AFTER watched_seconds,
    ADD COLUMN result_count INT UNSIGNED NULL AFTER query,
    ADD COLUMN placement VARCHAR(64) NULL AFTER result_count,
    ADD COLUMN reason VARCHAR(64) NULL AFTER placement,
    ADD COLUMN properties TEXT NULL AFTER reason,
    ADD COLUMN filters TEXT NULL AFTER properties,
    ADD COLUMN client_network VARCHAR(45) NULL AFTER filters,
    ADD COLUMN user_agent VARCHAR(512) NULL AFTER client_network,
    DROP INDEX analytics_events_entity_index,
    ADD KEY analytics_events_entity_time_index (domain, entity_type, entity_id, occurred_at),
    ADD KEY analytics_events_user_time_index (user_id, occurred_at),
    ADD KEY analytics_events_action_time_index (action, occurred_at);
