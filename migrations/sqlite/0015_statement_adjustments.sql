-- Adjustment lines (issue 8, point 4; docs/settlement.md section 4.1): a correction of a period
-- that is already paid rides, as signed lines, in the payer's statement of a later period.
-- migrations/postgres/0015_statement_adjustments.sql is the same step in PostgreSQL's dialect.

-- The payer's side: corrections our admin asked for, waiting for the next statement to the
-- peer. `in_period` is the period whose statement carries them, set when its version 1 is
-- prepared (a restatement of that period carries the same ones again).
CREATE TABLE adjustment_requests (
    id             INTEGER PRIMARY KEY,
    peer           TEXT    NOT NULL,
    -- The statement corrected (the version netted and paid) and its period.
    adjusts        TEXT    NOT NULL,
    adjusts_period TEXT    NOT NULL,
    like_id        TEXT    NOT NULL,
    thing          TEXT    NOT NULL,
    -- Signed: positive adds (a line the peer disputed, presented again), negative takes back.
    amount         INTEGER NOT NULL CHECK (amount <> 0),
    like_digest    TEXT    NOT NULL,
    -- The flattrer, whose wallet a take-back goes back to.
    user_id        INTEGER NOT NULL REFERENCES users (id),
    requested_at   INTEGER NOT NULL,
    in_period      TEXT
);
-- One correction of a line at a time: a second request waits until the first is answered.
CREATE UNIQUE INDEX adjustment_requests_waiting ON adjustment_requests (adjusts, like_id)
    WHERE in_period IS NULL;

-- Both sides: the adjustment lines of a statement, sent or received, as stated, with the
-- outcome of each once claimed (like `statement_lines`).
CREATE TABLE statement_adjustments (
    statement_id   INTEGER NOT NULL REFERENCES statements (id),
    position       INTEGER NOT NULL,
    adjusts        TEXT    NOT NULL,
    adjusts_period TEXT    NOT NULL,
    like_id        TEXT    NOT NULL,
    thing          TEXT    NOT NULL,
    amount         INTEGER NOT NULL,
    like_digest    TEXT    NOT NULL,
    -- 'accepted' or a dispute reason once claimed; NULL before.
    outcome        TEXT,
    -- Sent: the flattrer a take-back is refunded to. Received: the creator credited or debited.
    user_id        INTEGER REFERENCES users (id),
    PRIMARY KEY (statement_id, position)
);
CREATE INDEX statement_adjustments_like ON statement_adjustments (adjusts, like_id);
