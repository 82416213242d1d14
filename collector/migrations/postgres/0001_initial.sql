-- earlyexit collector schema, PostgreSQL flavour. Same tables, keys and
-- meaning as migrations/sqlite/0001_initial.sql; only column types differ.

CREATE TABLE orgs (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT   NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL
);

-- Tokens are stored as SHA-256 hashes; the plaintext is shown once.
CREATE TABLE tokens (
    hash          TEXT   PRIMARY KEY,
    token_id      TEXT   NOT NULL UNIQUE,
    org_id        BIGINT NOT NULL REFERENCES orgs(id),
    agent_name    TEXT,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);

-- One row per run record. The key (org_id, agent_id, execution_id) makes a
-- re-sent record a duplicate; it is the only index.
CREATE TABLE records (
    org_id           BIGINT  NOT NULL REFERENCES orgs(id),
    agent_id         TEXT    NOT NULL,
    execution_id     TEXT    NOT NULL,
    started_at_ms    BIGINT  NOT NULL,
    received_at_ms   BIGINT  NOT NULL,
    exit_reason      TEXT    NOT NULL,
    command_category TEXT    NOT NULL,
    telemetry_level  TEXT    NOT NULL,
    scrub_hits       INTEGER NOT NULL,
    body             BYTEA   NOT NULL,
    PRIMARY KEY (org_id, agent_id, execution_id)
);

-- Model and pattern bundles published for an org, pushed to its agents.
CREATE TABLE bundles (
    org_id          BIGINT NOT NULL REFERENCES orgs(id),
    kind            TEXT   NOT NULL,
    version         BIGINT NOT NULL,
    sha256          TEXT   NOT NULL,
    data            BYTEA  NOT NULL,
    published_at_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, kind, version)
);
