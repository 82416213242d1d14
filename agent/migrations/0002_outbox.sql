-- Sync to a collector: the outbox, the sync bookkeeping and received
-- bundles (see src/sync/mod.rs and docs/ARCHITECTURE.md, "Sync").
--
-- Every run recorded at telemetry level 'anonymous' or 'full' gets an
-- outbox row in the same transaction as its `executions` row. The row
-- holds no copy of the run: the run is shaped for the wire
-- (privacy::Outbound::as_sent) when it is sent, so what is sent is always
-- what `earlyexit export --as-sent` shows.
--
-- States: 'pending' (to be sent), 'acknowledged' (the collector committed
-- it, or already had it), 'rejected' (the collector refused it for good;
-- never sent again, `reason` says why). A row is only ever changed after
-- the collector's answer, so a crash or a lost reply leaves it pending and
-- it is sent again; the collector counts that as a duplicate.
--
-- Deleting a run (retention, size cap, clear-data) deletes its outbox row;
-- a pending row deleted that way is counted in `sync_state` (dropped_*).

CREATE TABLE outbox (
    seq           INTEGER PRIMARY KEY,                    -- insertion order: oldest first
    execution_id  TEXT    NOT NULL UNIQUE
                      REFERENCES executions(execution_id) ON DELETE CASCADE,
    level         TEXT    NOT NULL CHECK (level IN ('anonymous', 'full')),
    state         TEXT    NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'acknowledged', 'rejected')),
    attempts      INTEGER NOT NULL DEFAULT 0,             -- pushes that carried it
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER,                                -- last state change or attempt
    reason        TEXT                                    -- rejected: why; pending: last retriable refusal
);

-- The sender reads pending rows in `seq` order; the partial index keeps
-- that read small however many acknowledged rows there are.
CREATE INDEX idx_outbox_pending ON outbox(seq) WHERE state = 'pending';

-- Runs recorded at a sending level before this migration are pending too.
INSERT INTO outbox (execution_id, level, created_at_ms)
SELECT execution_id, telemetry_level, started_at_ms FROM executions
WHERE telemetry_level IN ('anonymous', 'full')
ORDER BY started_at_ms, execution_id;

-- One row: the agent's sync bookkeeping.
CREATE TABLE sync_state (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    batch_seq          INTEGER NOT NULL DEFAULT 0,        -- last PushRequest.batch_seq used
    last_success_ms    INTEGER,                           -- last push the collector answered
    last_attempt_ms    INTEGER,
    last_error         TEXT,                              -- NULL after a clean sync
    last_error_ms      INTEGER,
    acknowledged_total INTEGER NOT NULL DEFAULT 0,        -- ever, newly stored by the collector
    duplicates_total   INTEGER NOT NULL DEFAULT 0,        -- ever, the collector already had them
    rejected_total     INTEGER NOT NULL DEFAULT 0,        -- ever, refused for good
    dropped_expired    INTEGER NOT NULL DEFAULT 0,        -- pending runs deleted by retention_days
    dropped_size_cap   INTEGER NOT NULL DEFAULT 0,        -- pending runs deleted by max_db_size_mb
    dropped_cleared    INTEGER NOT NULL DEFAULT 0         -- pending runs deleted by clear-data
);

INSERT INTO sync_state (id) VALUES (1);

-- Bundles (models, pattern libraries) pushed by the collector, reassembled
-- from their chunks and checked against their SHA-256. Stored, not applied.
CREATE TABLE bundles (
    kind           TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    sha256         TEXT    NOT NULL,                      -- hex, of `data`
    data           BLOB    NOT NULL,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, version)
);
