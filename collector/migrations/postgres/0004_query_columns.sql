-- Query columns beside each record's opaque body, filled at ingest from the
-- decoded record (collector/src/ingest.rs). Same names and meaning as
-- migrations/sqlite/0004_query_columns.sql; only column types differ.
-- Rows stored before this migration keep NULL in them: their bodies are
-- protobuf, which SQL cannot decode (docs/OPERATIONS.md).
ALTER TABLE records ADD COLUMN program TEXT;
ALTER TABLE records ADD COLUMN project_type TEXT;
ALTER TABLE records ADD COLUMN child_exit_code BIGINT;
ALTER TABLE records ADD COLUMN runtime_s DOUBLE PRECISION;
ALTER TABLE records ADD COLUMN first_match_s DOUBLE PRECISION;
ALTER TABLE records ADD COLUMN match_count BIGINT;
ALTER TABLE records ADD COLUMN bytes BIGINT;
ALTER TABLE records ADD COLUMN bundle_version TEXT;
ALTER TABLE records ADD COLUMN agent_version TEXT;

-- Every dashboard query reads "an org's runs since T". (SQLite has no such
-- index: see migrations/sqlite/0004_query_columns.sql.)
CREATE INDEX records_org_started ON records (org_id, started_at_ms);

-- What a token may do: 'agent' (push and subscribe over gRPC, read the
-- HTTP API) or 'viewer' (read-only: the dashboard and the HTTP API).
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'agent';
