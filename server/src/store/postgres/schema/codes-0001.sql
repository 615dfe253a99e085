-- Feature "codes", version 1: verification codes, their tokens, statistics, failed attempts
-- and the console's audit log, shared by every replica.
--
-- Plain SQL, as the uploads' schema. Never a code, a token or a person: codes and tokens are
-- keyed hashes (HMAC-SHA256 under codes.key, which is not in the database), claims are what
-- staff certified (test type and dates).

-- One issued test result: its claims, whether it was redeemed, and its codes.
CREATE TABLE code_issues (
    id BYTEA PRIMARY KEY,           -- random, 16 bytes
    authority TEXT NOT NULL,
    test_type SMALLINT NOT NULL,    -- en_api::verify::TestType::code
    test_date INTEGER NOT NULL,     -- UTC day
    symptom_onset INTEGER,          -- UTC day
    used BOOLEAN NOT NULL,
    short_hash BYTEA,
    short_expiry BIGINT,
    long_hash BYTEA NOT NULL,
    long_expiry BIGINT NOT NULL
);
CREATE INDEX code_issues_short ON code_issues (authority, short_expiry) WHERE NOT used;

-- Every code's hash, to its issue: the primary key refuses a hash stored twice.
CREATE TABLE codes (
    hash BYTEA PRIMARY KEY,
    issue BYTEA NOT NULL,
    expiry BIGINT NOT NULL
);
CREATE INDEX codes_issue ON codes (issue);

-- Tokens a redeemed code gave a phone, spent once for a certificate.
CREATE TABLE code_tokens (
    token BYTEA PRIMARY KEY,
    authority TEXT NOT NULL,
    test_type SMALLINT NOT NULL,
    test_date INTEGER NOT NULL,
    symptom_onset INTEGER,
    used BOOLEAN NOT NULL,
    expiry BIGINT NOT NULL
);

-- One row per authority that issued codes: an issue locks it, so that two replicas cannot
-- both pass the cap on outstanding short codes.
CREATE TABLE code_authorities (
    authority TEXT PRIMARY KEY
);

-- Daily counts per authority.
CREATE TABLE code_stats (
    day BIGINT NOT NULL,
    authority TEXT NOT NULL,
    issued BIGINT NOT NULL DEFAULT 0,
    claimed BIGINT NOT NULL DEFAULT 0,
    expired BIGINT NOT NULL DEFAULT 0,
    certificates BIGINT NOT NULL DEFAULT 0,
    keys BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, authority)
);

-- Failed short-code attempts per clock hour and authority.
CREATE TABLE code_failures (
    hour BIGINT NOT NULL,
    authority TEXT NOT NULL,
    failures BIGINT NOT NULL,
    PRIMARY KEY (hour, authority)
);

-- Who did how much when (never a code).
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    authority TEXT NOT NULL,
    actor TEXT NOT NULL,
    action SMALLINT NOT NULL,       -- AuditAction::code
    count BIGINT NOT NULL
);
CREATE INDEX audit_log_authority ON audit_log (authority, id);

-- What the last fake request wrote.
CREATE TABLE code_chaff (
    slot INTEGER PRIMARY KEY,
    filler BYTEA NOT NULL
);
