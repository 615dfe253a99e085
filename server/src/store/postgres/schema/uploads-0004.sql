-- Feature "uploads", version 4: imports from peers' federation chains (spec/federation.md §3).
-- `origin`: the region an imported key came from ('' for keys uploaded here); a region, never
-- who uploaded. `federation_imports`: the follower state of each peer's chain (the last
-- imported batch), written in the transaction that stores that batch's keys.
ALTER TABLE diagnosis_keys ADD COLUMN origin TEXT NOT NULL DEFAULT '';
CREATE TABLE federation_imports (
    origin TEXT PRIMARY KEY,
    state BYTEA NOT NULL
);
