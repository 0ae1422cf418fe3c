-- The two questions read from the raw log (a user's playback; recommendation
-- events by placement and reason) get indexes that hold every column they
-- read, so they are answered from the index alone: a heavy viewer's month
-- or a week of recommendations is one index range, not one row lookup per
-- event. Each replaces the narrower index it extends (same leading columns).
ALTER TABLE analytics_events
    DROP INDEX analytics_events_user_time_index,
    ADD KEY analytics_events_user_playback_index (user_id, occurred_at, domain, entity_type,
        action, local_date, entity_id, position_seconds, duration_seconds, watched_seconds),
    DROP INDEX analytics_events_action_time_index,
    ADD KEY analytics_events_recommendation_index (action, occurred_at, domain, local_date,
        placement, reason);
