-- Feature "traces", version 1: accepted venue traces and the trace chain.
--
-- Plain SQL, as the uploads' schema. A trace report's single-use token goes into
-- replay_tokens and its quota count into authority_quota (feature "uploads"), beside the case
-- reports': one token space and one quota per authority, across replicas.

-- Pending trace reports: what the next trace batch publishes (venue-hours' identities, keys,
-- tags and encrypted messages), nothing about who traced. Rows go when they are published.
CREATE TABLE trace_records (
    record BIGINT PRIMARY KEY,      -- from trace_counter: commits in record order
    entries BYTEA NOT NULL          -- the report's entries, 369 bytes each (wire format)
);

-- Record numbers. A trace insert increments this row first and holds it until it commits, so
-- trace inserts commit in record order: a reader that sees record n sees every record below
-- it, and anything committed later has a larger number.
CREATE TABLE trace_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last BIGINT NOT NULL
);
INSERT INTO trace_counter (id, last) VALUES (1, 0);

-- Published trace batches (what the trace index lists).
CREATE TABLE trace_batches (
    sequence BIGINT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    size BIGINT NOT NULL
);

-- The trace chain's head; it only moves from the head a batch was built on.
CREATE TABLE trace_chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sequence BIGINT NOT NULL,       -- 0: no trace batch yet
    hash BYTEA NOT NULL,
    window_end BIGINT NOT NULL,
    published_upto BIGINT NOT NULL  -- every record up to this number is published
);
INSERT INTO trace_chain (id, sequence, hash, window_end, published_upto) VALUES (1, 0, '', 0, 0);
