-- Feature "uploads", version 1: accepted uploads, the hash chain, and the publication cut.
--
-- Plain SQL (tables, primary keys, indexes; no extension, function or trigger), so that it
-- also runs on PostgreSQL-compatible distributed databases. Integers are Unix seconds.

-- The keys of accepted uploads. Nothing here says who uploaded them or when: no token, no
-- authority, only the window a key is published in. The primary key is the duplicate check,
-- the same on every replica.
CREATE TABLE diagnosis_keys (
    tek BYTEA PRIMARY KEY,          -- 16 bytes
    meta BYTEA NOT NULL,            -- metadata, spec/wire-format.md §2.1 (8 bytes)
    slot BIGINT NOT NULL,           -- end of the batch window the key is published in
    expiry BIGINT NOT NULL          -- the row may go once the key is published and this passed
);
CREATE INDEX diagnosis_keys_slot ON diagnosis_keys (slot);
CREATE INDEX diagnosis_keys_expiry ON diagnosis_keys (expiry);

-- Single-use tokens (case-report nonces, certificate ids), apart from the keys and only as
-- keyed hashes (the key, replay.key, is not in the database), until the token expires.
CREATE TABLE replay_tokens (
    token BYTEA PRIMARY KEY,        -- HMAC-SHA256(replay.key, token)
    digest BYTEA NOT NULL,          -- HMAC-SHA256(replay.key, the upload's keys): a retry
    expiry BIGINT NOT NULL
);
CREATE INDEX replay_tokens_expiry ON replay_tokens (expiry);

-- Uploads per authority per UTC day; an upload increments its row in its transaction.
CREATE TABLE authority_quota (
    day BIGINT NOT NULL,
    authority TEXT NOT NULL,
    uploads BIGINT NOT NULL,
    PRIMARY KEY (day, authority)
);

-- Published batches (what the index lists).
CREATE TABLE batches (
    sequence BIGINT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    size BIGINT NOT NULL
);

-- The chain head; it only moves from the head a batch was built on (compare and set).
CREATE TABLE chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sequence BIGINT NOT NULL,       -- 0: no batch yet
    hash BYTEA NOT NULL,
    window_end BIGINT NOT NULL,
    published BIGINT NOT NULL       -- every key whose window ends by this is in a batch
);
INSERT INTO chain (id, sequence, hash, window_end, published) VALUES (1, 0, '', 0, 0);

-- The publication cut. Every upload holds this row FOR SHARE until it commits; the batcher
-- moves the cut with an UPDATE, which waits for those uploads, and later ones read the new
-- cut: no upload slips under a window being published, whichever replica takes it.
CREATE TABLE publication_cut (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cut BIGINT NOT NULL
);
INSERT INTO publication_cut (id, cut) VALUES (1, 0);

-- What every replica must share: the replay secret (a keyed check value, not the secret) and
-- the batch period (it decides the window of a key).
CREATE TABLE upload_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    replay_key_check BYTEA NOT NULL,
    batch_period BIGINT NOT NULL
);

-- Fake uploads write here as much as a real one, so that they cost what real ones cost.
CREATE TABLE chaff (
    slot INTEGER PRIMARY KEY,
    filler BYTEA NOT NULL
);
