-- Feature "uploads", version 2: each key's federation destinations (spec/federation.md):
-- the regions whose federation chain the key also goes to, as sorted region codes joined by
-- ',' (no region code contains one); '' for none (every key stored before this version).
ALTER TABLE diagnosis_keys ADD COLUMN destinations TEXT NOT NULL DEFAULT '';
