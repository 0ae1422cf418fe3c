-- Events counted nowhere because a crawler, monitor or headless browser sent
-- them (events.log_filtered): the raw log's columns plus the reason. A table
-- of their own, so no report of the raw log has to leave them out, and the
-- log's covering indexes stay as they are.
CREATE TABLE IF NOT EXISTS analytics_events_filtered LIKE analytics_events;
ALTER TABLE analytics_events_filtered
    ADD COLUMN filter_reason VARCHAR(32) NOT NULL DEFAULT 'bot' AFTER received_at,
    DROP INDEX analytics_events_user_playback_index,
    DROP INDEX analytics_events_recommendation_index;
