-- A retired bundle is no longer sent to agents that do not have it yet;
-- the newest bundle of its kind that is not retired is sent instead.
ALTER TABLE bundles ADD COLUMN retired_at_ms INTEGER;
