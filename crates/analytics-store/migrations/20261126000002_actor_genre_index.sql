-- The actor segment analytics ask which genres actors of a kind play in: the
-- genres of an actor are the tags of the movies the actor is linked to, a
-- join over every link. `flush-worker refresh-catalogue-index` keeps that join
-- here, one row per actor and genre, with each genre's number of actors, so
-- a request reads an index instead of the whole link graph.
CREATE TABLE IF NOT EXISTS actor_genres (
    actor_id  BIGINT UNSIGNED NOT NULL,
    tag_id    BIGINT UNSIGNED NOT NULL,
    -- Movies of the actor with this tag.
    movies    INT UNSIGNED NOT NULL,
    PRIMARY KEY (actor_id, tag_id),
    KEY actor_genres_tag_index (tag_id, actor_id)
);

CREATE TABLE IF NOT EXISTS genre_actor_counts (
    tag_id    BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    actors    INT UNSIGNED NOT NULL,
    KEY genre_actor_counts_actors_index (actors)
);

-- When the index was last rebuilt (one row).
CREATE TABLE IF NOT EXISTS actor_index_runs (
    id            TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    refreshed_at  TIMESTAMP NOT NULL,
    actors        INT UNSIGNED NOT NULL,
    pairs         INT UNSIGNED NOT NULL
);

-- Actors by their profile (segments, suggestions, trends).
ALTER TABLE actors
    ADD KEY actors_blood_type_index (blood_type),
    ADD KEY actors_birthplace_index (birthplace),
    ADD KEY actors_birth_date_index (birth_date),
    ADD KEY actors_name_index (name);

-- The admin snapshot's whole-catalogue figures that need a pass over every
-- movie, actor, tag or rating (the quality counts, the best rated), kept by
-- the same refresh so a snapshot reads one row instead of scanning them.
CREATE TABLE IF NOT EXISTS catalogue_stats (
    id                     TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    refreshed_at           TIMESTAMP NOT NULL,
    movies_without_actors  BIGINT NOT NULL,
    movies_without_tags    BIGINT NOT NULL,
    movies_without_image   BIGINT NOT NULL,
    movies_without_date    BIGINT NOT NULL,
    actors_without_movies  BIGINT NOT NULL,
    tags_without_movies    BIGINT NOT NULL,
    actor_links            BIGINT NOT NULL,
    tag_links              BIGINT NOT NULL,
    -- The best rated movies, JSON, as the snapshot lists them.
    top_rated              LONGTEXT NOT NULL
);
