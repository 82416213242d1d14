-- Initial telemetry schema of the local store (see src/store.rs).
--
-- Conventions:
--   * times of day are integer milliseconds since the Unix epoch (`*_ms`);
--     `timestamp` / `created_at` are the same instants as RFC 3339 text for
--     people reading the file with the sqlite3 shell;
--   * durations are REAL seconds; NULL means "did not happen" or "not set";
--   * flags are BOOLEAN (stored as 0/1);
--   * columns holding JSON are TEXT and say so in their comment.
--
-- SQLite may hand back a REAL that has no fractional part as an INTEGER
-- inside expressions, so derived columns CAST before dividing.
--
-- Every child table references `executions` with ON DELETE CASCADE, so
-- deleting a run (retention, size cap, clear-data) deletes all of its rows.

CREATE TABLE executions (
    execution_id            TEXT    PRIMARY KEY NOT NULL,  -- UUIDv7
    started_at_ms           INTEGER NOT NULL,
    timestamp               TEXT GENERATED ALWAYS AS
                                (strftime('%Y-%m-%dT%H:%M:%fZ', started_at_ms / 1000.0, 'unixepoch')) VIRTUAL,
    mode                    TEXT    NOT NULL,              -- 'command' | 'pipe'

    -- command
    command                 TEXT    NOT NULL,
    command_hash            TEXT    NOT NULL,              -- SHA-256 hex of command
    program                 TEXT,
    working_directory       TEXT    NOT NULL,
    environment_vars        TEXT    NOT NULL DEFAULT '{}', -- JSON object

    -- pattern configuration
    pattern                 TEXT    NOT NULL,              -- '' when none
    pattern_type            TEXT    NOT NULL,              -- 'regex' | 'pcre'
    case_insensitive        BOOLEAN NOT NULL DEFAULT 0,
    invert_match            BOOLEAN NOT NULL DEFAULT 0,
    word_regexp             BOOLEAN NOT NULL DEFAULT 0,
    line_regexp             BOOLEAN NOT NULL DEFAULT 0,
    max_count               INTEGER NOT NULL DEFAULT 0,    -- 0 = unlimited
    exclude_patterns        TEXT    NOT NULL DEFAULT '[]', -- JSON array
    success_patterns        TEXT    NOT NULL DEFAULT '[]', -- JSON array

    -- stream configuration
    match_mode              TEXT    NOT NULL,              -- 'stdout' | 'stderr' | 'both'
    fd_patterns             TEXT    NOT NULL DEFAULT '{}', -- JSON object {fd: pattern}
    monitored_fds           TEXT    NOT NULL DEFAULT '[]', -- JSON array
    pty                     BOOLEAN NOT NULL DEFAULT 0,

    -- timeouts (seconds)
    overall_timeout         REAL,
    idle_timeout            REAL,
    first_output_timeout    REAL,
    delay_exit              REAL    NOT NULL,
    delay_exit_after_lines  INTEGER,
    max_repeat              INTEGER,
    kill_grace              REAL    NOT NULL,

    -- outcome
    exit_code               INTEGER NOT NULL,
    exit_reason             TEXT    NOT NULL,              -- record::ExitReason::as_str
    child_exit_code         INTEGER,
    child_signal            INTEGER,
    error_message           TEXT,

    -- timing (seconds)
    total_runtime           REAL    NOT NULL,
    time_to_first_output    REAL,
    time_to_first_match     REAL,
    time_from_match_to_exit REAL,
    idle_periods_count      INTEGER NOT NULL DEFAULT 0,
    longest_idle_period     REAL    NOT NULL DEFAULT 0,

    -- matches
    match_count             INTEGER NOT NULL DEFAULT 0,
    match_line_numbers      TEXT    NOT NULL DEFAULT '[]', -- JSON array

    -- volumes
    total_lines_processed   INTEGER NOT NULL DEFAULT 0,
    stdout_lines            INTEGER NOT NULL DEFAULT 0,
    stderr_lines            INTEGER NOT NULL DEFAULT 0,
    fd_lines                INTEGER NOT NULL DEFAULT 0,
    bytes_processed         INTEGER NOT NULL DEFAULT 0,
    stdout_bytes            INTEGER NOT NULL DEFAULT 0,
    stderr_bytes            INTEGER NOT NULL DEFAULT 0,

    -- context at start
    project_type            TEXT    NOT NULL DEFAULT 'unknown',
    command_category        TEXT    NOT NULL DEFAULT 'unknown',
    load_avg_1m             REAL,
    mem_available_mb        REAL,
    disk_free_mb            REAL,

    telemetry_level         TEXT    NOT NULL,
    earlyexit_version       TEXT    NOT NULL,

    -- user feedback, set later by `earlyexit feedback`
    false_positive_flag     BOOLEAN NOT NULL DEFAULT 0,
    user_rating             INTEGER CHECK (user_rating BETWEEN 1 AND 5),
    user_feedback           TEXT,
    should_have_exited      BOOLEAN,
    optimal_delay_suggestion REAL,

    -- privacy: 1 once command/paths/lines were scrubbed in place
    anonymized              BOOLEAN NOT NULL DEFAULT 0
);

CREATE INDEX idx_executions_command_hash ON executions(command_hash);
CREATE INDEX idx_executions_started_at   ON executions(started_at_ms);
CREATE INDEX idx_executions_exit_reason  ON executions(exit_reason);
CREATE INDEX idx_executions_project_type ON executions(project_type);
-- Recomputing one pattern's effectiveness after a prune reads its runs only.
CREATE INDEX idx_executions_pattern      ON executions(pattern);

CREATE TABLE match_events (
    event_id             TEXT    PRIMARY KEY NOT NULL,     -- UUIDv7
    execution_id         TEXT    NOT NULL REFERENCES executions(execution_id) ON DELETE CASCADE,
    match_number         INTEGER NOT NULL,                 -- 1-based, in counting order
    timestamp_offset     REAL    NOT NULL,                 -- seconds from start
    stream_source        TEXT    NOT NULL,                 -- 'stdout' | 'stderr' | 'stdin' | 'fdN'
    line_number          INTEGER NOT NULL,
    line_content         TEXT    NOT NULL,
    matched_substring    TEXT    NOT NULL,
    match_position_start INTEGER NOT NULL,
    match_position_end   INTEGER NOT NULL,
    context_before       TEXT    NOT NULL,
    context_after        TEXT    NOT NULL,
    kind                 TEXT    NOT NULL                  -- 'error' | 'success'
);

CREATE INDEX idx_match_events_execution_id ON match_events(execution_id);

CREATE TABLE output_samples (
    sample_id        TEXT    PRIMARY KEY NOT NULL,         -- UUIDv7
    execution_id     TEXT    NOT NULL REFERENCES executions(execution_id) ON DELETE CASCADE,
    sample_type      TEXT    NOT NULL,                     -- 'match_context' | 'tail'
    stream_source    TEXT    NOT NULL,
    timestamp_offset REAL    NOT NULL,
    content          TEXT    NOT NULL,
    content_hash     TEXT    NOT NULL,                     -- SHA-256 hex of content
    is_error         BOOLEAN,                              -- label, set by feedback / learning
    confidence       REAL                                  -- model confidence for is_error
);

CREATE INDEX idx_output_samples_execution_id ON output_samples(execution_id);

CREATE TABLE performance_metrics (
    metric_id        TEXT    PRIMARY KEY NOT NULL,         -- UUIDv7
    execution_id     TEXT    NOT NULL REFERENCES executions(execution_id) ON DELETE CASCADE,
    metric_name      TEXT    NOT NULL,                     -- 'peak_rss_mb', 'cpu_user_seconds', ...
    metric_value     REAL    NOT NULL,
    timestamp_offset REAL    NOT NULL
);

CREATE INDEX idx_performance_metrics_execution_id ON performance_metrics(execution_id);

-- One row per error pattern, summarising the runs of that pattern that are
-- still in `executions`. Maintained by src/store.rs without rescanning:
-- every recorded run adds its counts and sums, every pruned run subtracts
-- them (so retention and clear-data keep it consistent), and
-- Store::rebuild_pattern_effectiveness recomputes it from scratch (after
-- feedback changes a run's flags). Averages and the score are derived
-- columns, so they can never disagree with the counts.
CREATE TABLE pattern_effectiveness (
    pattern_hash        TEXT    PRIMARY KEY NOT NULL,      -- SHA-256 hex of pattern
    pattern             TEXT    NOT NULL,
    total_uses          INTEGER NOT NULL DEFAULT 0,        -- runs with this pattern
    successful_exits    INTEGER NOT NULL DEFAULT 0,        -- runs that ended by a match
    false_positives     INTEGER NOT NULL DEFAULT 0,        -- runs flagged false positive
    missed_errors       INTEGER NOT NULL DEFAULT 0,        -- failing runs the pattern did not stop
    runs_with_match     INTEGER NOT NULL DEFAULT 0,        -- runs with a time_to_first_match
    sum_time_to_match   REAL    NOT NULL DEFAULT 0,
    sum_total_runtime   REAL    NOT NULL DEFAULT 0,
    rated_runs          INTEGER NOT NULL DEFAULT 0,        -- runs with a user_rating
    sum_user_rating     INTEGER NOT NULL DEFAULT 0,
    avg_time_to_match   REAL GENERATED ALWAYS AS
                            (CAST(sum_time_to_match AS REAL) / nullif(runs_with_match, 0)) VIRTUAL,
    avg_total_runtime   REAL GENERATED ALWAYS AS
                            (CAST(sum_total_runtime AS REAL) / nullif(total_uses, 0)) VIRTUAL,
    user_rating_avg     REAL GENERATED ALWAYS AS
                            (CAST(sum_user_rating AS REAL) / nullif(rated_runs, 0)) VIRTUAL,
    -- How well the pattern catches failing runs: the F1 score of true
    -- positives (matches not flagged false positive) against false positives
    -- and missed errors, 0..1; NULL while there is no evidence either way.
    effectiveness_score REAL GENERATED ALWAYS AS (
        2.0 * max(successful_exits - false_positives, 0)
            / nullif(2 * max(successful_exits - false_positives, 0) + false_positives + missed_errors, 0)
        ) VIRTUAL,
    last_updated        TEXT    NOT NULL                   -- RFC 3339
);

CREATE TABLE feedback (
    feedback_id        TEXT    PRIMARY KEY NOT NULL,       -- UUIDv7
    execution_id       TEXT    NOT NULL REFERENCES executions(execution_id) ON DELETE CASCADE,
    rating             INTEGER CHECK (rating BETWEEN 1 AND 5),
    comment            TEXT,
    false_positive     BOOLEAN,
    should_have_exited BOOLEAN,
    delay_should_be    REAL,
    created_at         TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX idx_feedback_execution_id ON feedback(execution_id);

-- Small bookkeeping values of the store itself (e.g. 'last_age_prune_ms').
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
