-- The false-positive filter (see src/learn/fp.rs and docs/LEARNING.md,
-- "False-positive filter"): every error match is scored by the line
-- classifier; with `fp_filter: enforce` a match the model calls noise with
-- confidence >= `fp_threshold` does not stop the run and is recorded as a
-- suppressed match.
--
-- `output_samples.is_error` / `confidence` (from 0001) hold the verdict on
-- the match a `match_context` sample was cut around.

-- The model's verdict on each match; NULL when the match was not scored
-- (fp_filter: off, a success-pattern hit, a run recorded before this
-- migration). `confidence` is the model's confidence in its own verdict
-- (0.5..1): "likely noise, 0.93" is is_error = 0, confidence = 0.93.
ALTER TABLE match_events ADD COLUMN is_error BOOLEAN;
ALTER TABLE match_events ADD COLUMN confidence REAL;
-- 1 when fp_filter: enforce ignored the match: it did not count and did not
-- stop the run (not part of executions.match_count).
ALTER TABLE match_events ADD COLUMN suppressed BOOLEAN NOT NULL DEFAULT 0;

-- Matches the filter ignored in this run, and the filter mode in effect
-- ('off' | 'annotate' | 'enforce'; NULL for runs recorded before).
ALTER TABLE executions ADD COLUMN suppressed_matches INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN fp_filter TEXT;
