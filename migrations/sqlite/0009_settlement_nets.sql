-- Netting, payments and receipts per peer and period (issue 8, points 5 and 6;
-- docs/settlement.md sections 5 and 6). migrations/postgres/0009_settlement_nets.sql is the
-- same step in PostgreSQL's dialect. Owned by `settle::netting`.

-- One row per (peer, period) once both directions of the period have a claim. Both instances
-- compute it from the same claims and the same carried rest, so their rows mirror each other:
-- our `ours` is the peer's `theirs`, our `carried_in`/`carried_out` are its negated.
CREATE TABLE settlement_nets (
    id                 INTEGER PRIMARY KEY,
    peer               TEXT    NOT NULL,
    period             TEXT    NOT NULL,
    -- The two statements netted (their latest claimed versions), by their Offer ids.
    sent_statement     TEXT    NOT NULL,
    received_statement TEXT    NOT NULL,
    -- What we owe (the accepted lines of our statement) and what the peer owes us (the
    -- accepted lines of its statement), in ten-thousandths. Disputed lines are never here.
    ours               INTEGER NOT NULL CHECK (ours >= 0),
    theirs             INTEGER NOT NULL CHECK (theirs >= 0),
    -- The sub-cent rest of the previous netting with this peer (positive: we owed it).
    carried_in         INTEGER NOT NULL CHECK (carried_in > -100 AND carried_in < 100),
    -- What the debtor pays: whole cents (100 ten-thousandths), rounded down.
    amount             INTEGER NOT NULL CHECK (amount >= 0 AND amount % 100 = 0),
    debtor             TEXT    NOT NULL CHECK (debtor IN ('us', 'peer', 'none')),
    -- ours - theirs + carried_in - (amount if we pay, -amount if the peer pays): the rest.
    carried_out        INTEGER NOT NULL CHECK (carried_out > -100 AND carried_out < 100),
    state              TEXT    NOT NULL CHECK (state IN ('netted', 'paid', 'received', 'closed')),
    -- netted: both sides know the amount; paid: the debtor paid (recorded, or announced to us);
    -- received: the creditor confirmed it arrived, its receipt not yet signed and queued;
    -- closed: this side's books of the period are closed and nothing more is to send.
    -- The payment as our admin recorded it (we are the debtor) or as the notice says.
    paid_on            TEXT,
    bank_reference     TEXT,
    -- The signed payment notice (its id, digest and document) and the signed receipt.
    payment_id         TEXT    UNIQUE,
    payment_digest     TEXT,
    payment_document   TEXT,
    receipt_id         TEXT    UNIQUE,
    receipt_document   TEXT,
    received_on        TEXT,
    -- 1 once this side's books of the period are settled: payable, receivable, the carried
    -- rest and the bank (`world`) posted under `settle:PEER:PERIOD`.
    posted             INTEGER NOT NULL DEFAULT 0 CHECK (posted IN (0, 1)),
    netted_at          INTEGER NOT NULL,
    paid_at            INTEGER,
    closed_at          INTEGER,
    UNIQUE (peer, period)
);
