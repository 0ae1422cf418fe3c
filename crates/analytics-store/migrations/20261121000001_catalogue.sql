-- The catalogue tables the legacy admin pages read. IF NOT EXISTS: on a
-- legacy database they are already there and are left exactly as they are.
CREATE TABLE IF NOT EXISTS jav (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uuid        VARCHAR(255) NOT NULL,
    code        VARCHAR(64) NULL,
    title       VARCHAR(1024) NULL,
    image       VARCHAR(2048) NULL,
    `date`      DATE NULL,
    source      VARCHAR(64) NULL,
    views       BIGINT UNSIGNED NULL DEFAULT 0,
    downloads   BIGINT UNSIGNED NULL DEFAULT 0,
    created_at  TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP NULL DEFAULT NULL,
    UNIQUE KEY jav_uuid_unique (uuid),
    KEY jav_views_index (views),
    KEY jav_downloads_index (downloads),
    KEY jav_created_at_index (created_at),
    KEY jav_source_index (source)
);

CREATE TABLE IF NOT EXISTS actors (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uuid        VARCHAR(255) NOT NULL,
    name        VARCHAR(255) NOT NULL,
    birth_date  DATE NULL,
    blood_type  VARCHAR(20) NULL,
    birthplace  VARCHAR(255) NULL,
    created_at  TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP NULL DEFAULT NULL,
    UNIQUE KEY actors_uuid_unique (uuid),
    KEY actors_created_at_index (created_at)
);

CREATE TABLE IF NOT EXISTS tags (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(255) NOT NULL,
    created_at  TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP NULL DEFAULT NULL,
    UNIQUE KEY tags_name_unique (name),
    KEY tags_created_at_index (created_at)
);

CREATE TABLE IF NOT EXISTS jav_actor (
    jav_id      BIGINT UNSIGNED NOT NULL,
    actor_id    BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (jav_id, actor_id),
    KEY jav_actor_actor_id_index (actor_id)
);

CREATE TABLE IF NOT EXISTS jav_tag (
    jav_id      BIGINT UNSIGNED NOT NULL,
    tag_id      BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (jav_id, tag_id),
    KEY jav_tag_tag_id_index (tag_id)
);

-- Engagement tables the legacy snapshot reads (dailyEngagement).
CREATE TABLE IF NOT EXISTS favorites (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    user_id     BIGINT UNSIGNED NOT NULL,
    jav_id      BIGINT UNSIGNED NOT NULL,
    created_at  TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    KEY favorites_created_at_index (created_at)
);

CREATE TABLE IF NOT EXISTS watchlists (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    user_id     BIGINT UNSIGNED NOT NULL,
    jav_id      BIGINT UNSIGNED NOT NULL,
    created_at  TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    KEY watchlists_created_at_index (created_at)
);

CREATE TABLE IF NOT EXISTS ratings (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    user_id     BIGINT UNSIGNED NOT NULL,
    jav_id      BIGINT UNSIGNED NOT NULL,
    rating      TINYINT UNSIGNED NOT NULL,
    created_at  TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    KEY ratings_jav_id_index (jav_id),
    KEY ratings_created_at_index (created_at)
);

CREATE TABLE IF NOT EXISTS user_jav_history (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    user_id     BIGINT UNSIGNED NOT NULL,
    jav_id      BIGINT UNSIGNED NOT NULL,
    action      VARCHAR(32) NOT NULL,
    created_at  TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    KEY user_jav_history_created_at_index (created_at)
);

-- Queue tables the snapshot's syncHealth reads.
CREATE TABLE IF NOT EXISTS jobs (
    id            BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    queue         VARCHAR(255) NOT NULL,
    payload       LONGTEXT NOT NULL,
    attempts      TINYINT UNSIGNED NOT NULL DEFAULT 0,
    reserved_at   INT UNSIGNED NULL,
    available_at  INT UNSIGNED NOT NULL DEFAULT 0,
    created_at    INT UNSIGNED NOT NULL DEFAULT 0,
    KEY jobs_queue_index (queue)
);

CREATE TABLE IF NOT EXISTS failed_jobs (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uuid        VARCHAR(255) NOT NULL,
    connection  TEXT NOT NULL,
    queue       TEXT NOT NULL,
    payload     LONGTEXT NOT NULL,
    exception   LONGTEXT NOT NULL,
    failed_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE KEY failed_jobs_uuid_unique (uuid)
);

-- The raw event log: one row per accepted event (unique event_id), copied
-- from Redis by the flush when the log is on.
CREATE TABLE IF NOT EXISTS analytics_events (
    id           BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    event_id     VARCHAR(255) NOT NULL,
    domain       VARCHAR(32) NOT NULL,
    entity_type  VARCHAR(16) NOT NULL,
    entity_id    VARCHAR(255) NOT NULL,
    action       VARCHAR(16) NOT NULL,
    value        INT UNSIGNED NOT NULL,
    occurred_at  DATETIME(3) NOT NULL,
    user_id      VARCHAR(64) NULL,
    received_at  DATETIME(3) NOT NULL,
    UNIQUE KEY analytics_events_event_id_unique (event_id),
    KEY analytics_events_entity_index (domain, entity_type, entity_id),
    KEY analytics_events_occurred_at_index (occurred_at)
);
