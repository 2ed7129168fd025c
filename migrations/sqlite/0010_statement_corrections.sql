-- Corrections of statements (issue 8, point 4; docs/settlement.md section 4).
-- migrations/postgres/0010_statement_corrections.sql is the same step in PostgreSQL's dialect.

-- A version above 1 names the version it restates; a restated version is marked superseded
-- (its books reversed in the transaction that posts its successor's), and stays stored as
-- received or sent: what each instance stated remains verifiable.
ALTER TABLE statements ADD COLUMN supersedes TEXT;
ALTER TABLE statements ADD COLUMN superseded_at INTEGER;
-- Our admin asked to restate this (sent) statement; the delivery worker prepares the next
-- version.
ALTER TABLE statements ADD COLUMN restate_requested_at INTEGER;

-- Statements refused because their id was received before with another digest: kept, so the
-- admin sees what the peer sent (`admin statements`), owned by `settle::statements`.
CREATE TABLE statement_conflicts (
    id          INTEGER PRIMARY KEY,
    ap_id       TEXT    NOT NULL,
    peer        TEXT    NOT NULL,
    digest      TEXT    NOT NULL,
    document    TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (ap_id, digest)
);
