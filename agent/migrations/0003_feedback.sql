-- Feedback, outcome labels and training sessions (see src/store/feedback.rs,
-- src/learn/outcome.rs, src/store/analysis.rs and docs/LEARNING.md,
-- "Local learning").

-- `earlyexit feedback --missed-error`: the run failed and the pattern
-- should have stopped it (also sets executions.should_have_exited = 1).
ALTER TABLE feedback ADD COLUMN missed_error BOOLEAN;

-- A label set from the run history, without feedback (learn::outcome):
-- 'likely_false_positive' while the rule that set it holds; NULL otherwise.
-- `outcome_evidence` says which rule and which run showed it. Feedback
-- wins: a run with should_have_exited = 1 is never counted as a false
-- positive, whatever its label.
ALTER TABLE executions ADD COLUMN outcome_label TEXT
    CHECK (outcome_label IS NULL OR outcome_label IN ('likely_false_positive'));
ALTER TABLE executions ADD COLUMN outcome_evidence TEXT;

-- The outcome rules and `analyze` read one command's runs in time order.
CREATE INDEX idx_executions_command_started ON executions(command_hash, started_at_ms);

-- One row per training of a local model (written by the trainer through
-- Store::record_training_session; shown by `earlyexit analyze models`).
CREATE TABLE training_sessions (
    session_id    TEXT    PRIMARY KEY NOT NULL,            -- UUIDv7
    trained_at_ms INTEGER NOT NULL,
    model         TEXT    NOT NULL,                        -- e.g. 'line_classifier'
    samples       INTEGER NOT NULL CHECK (samples >= 0),   -- labelled examples trained on
    accuracy      REAL    CHECK (accuracy BETWEEN 0 AND 1),   -- on held-out examples; NULL if none
    precision     REAL    CHECK (precision BETWEEN 0 AND 1),
    recall        REAL    CHECK (recall BETWEEN 0 AND 1),
    triggered_by  TEXT    NOT NULL,                        -- why it ran: 'new_labels', 'accuracy_drop', 'manual', ...
    detail        TEXT                                     -- free text or JSON from the trainer
);

CREATE INDEX idx_training_sessions_trained_at ON training_sessions(trained_at_ms);
