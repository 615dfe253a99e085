-- Feature "uploads", version 3: the federation chains this server publishes, one per
-- outbound region (spec/federation.md §2): their published batches (what their indexes list).
-- A chain's head is its last row; the primary key keeps two writers from forking it.
CREATE TABLE federation_batches (
    region TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (region, sequence)
);
