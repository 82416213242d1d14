-- One row the health probe writes every few seconds (collector/src/health.rs):
-- a store that takes this write takes writes.
CREATE TABLE store_probe (
    id INTEGER PRIMARY KEY,
    probed_at_ms BIGINT NOT NULL
);
