-- earlyexit collector schema, SQLite flavour. Same tables, keys and meaning
-- as migrations/postgres/0001_initial.sql; only column types differ.

CREATE TABLE orgs (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL
);

-- Tokens are stored as SHA-256 hashes; the plaintext is shown once.
CREATE TABLE tokens (
    hash          TEXT    PRIMARY KEY,
    token_id      TEXT    NOT NULL UNIQUE,
    org_id        INTEGER NOT NULL REFERENCES orgs(id),
    agent_name    TEXT,
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
);

-- One row per run record. The key (org_id, agent_id, execution_id) makes a
-- re-sent record a duplicate. WITHOUT ROWID: the key is the only B-tree, so
-- an insert updates one tree, not a table and an index.
CREATE TABLE records (
    org_id           INTEGER NOT NULL REFERENCES orgs(id),
    agent_id         TEXT    NOT NULL,
    execution_id     TEXT    NOT NULL,
    started_at_ms    INTEGER NOT NULL,
    received_at_ms   INTEGER NOT NULL,
    exit_reason      TEXT    NOT NULL,
    command_category TEXT    NOT NULL,
    telemetry_level  TEXT    NOT NULL,
    scrub_hits       INTEGER NOT NULL,
    body             BLOB    NOT NULL,
    PRIMARY KEY (org_id, agent_id, execution_id)
) WITHOUT ROWID;

-- Model and pattern bundles published for an org, pushed to its agents.
CREATE TABLE bundles (
    org_id          INTEGER NOT NULL REFERENCES orgs(id),
    kind            TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    sha256          TEXT    NOT NULL,
    data            BLOB    NOT NULL,
    published_at_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, kind, version)
);
