-- Query columns beside each record's opaque body, filled at ingest from the
-- decoded record (collector/src/ingest.rs). Same names and meaning as
-- migrations/postgres/0004_query_columns.sql; only column types differ.
-- Rows stored before this migration keep NULL in them: their bodies are
-- protobuf, which SQL cannot decode (docs/OPERATIONS.md).
ALTER TABLE records ADD COLUMN program TEXT;
ALTER TABLE records ADD COLUMN project_type TEXT;
ALTER TABLE records ADD COLUMN child_exit_code INTEGER;
ALTER TABLE records ADD COLUMN runtime_s REAL;
ALTER TABLE records ADD COLUMN first_match_s REAL;
ALTER TABLE records ADD COLUMN match_count INTEGER;
ALTER TABLE records ADD COLUMN bytes INTEGER;
ALTER TABLE records ADD COLUMN bundle_version TEXT;
ALTER TABLE records ADD COLUMN agent_version TEXT;

-- No second index here, unlike PostgreSQL: every dashboard query reads "an
-- org's runs since T", and the key (org_id, ...) already gives an org's
-- rows in order. In this WITHOUT ROWID table an index on (org_id,
-- started_at_ms) makes each row it finds a lookup in the key's B-tree:
-- over 100,000 runs in the window that was 0.5-0.9 s per query against
-- 0.03-0.10 s scanning the org's key range (docs/BENCHMARKS.md), and it
-- slowed every insert.

-- What a token may do: 'agent' (push and subscribe over gRPC, read the
-- HTTP API) or 'viewer' (read-only: the dashboard and the HTTP API).
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'agent';
