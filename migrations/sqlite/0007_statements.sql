-- Settlement statements between instances (issue 8, points 2 and 3; docs/settlement.md).
-- migrations/postgres/0007_statements.sql is the same step in PostgreSQL's dialect.

-- One row per statement, sent (we are the payer) or received (we are the payee). The id on
-- the wire is deterministic per payer, payee, period and version, so a close run twice, or a
-- statement delivered twice, finds its row instead of making a second one.
CREATE TABLE statements (
    id          INTEGER PRIMARY KEY,
    direction   TEXT    NOT NULL CHECK (direction IN ('sent', 'received')),
    -- The Offer's id.
    ap_id       TEXT    NOT NULL UNIQUE,
    -- The other instance's origin (scheme://host:port).
    peer        TEXT    NOT NULL,
    period      TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    currency    TEXT    NOT NULL,
    line_count  INTEGER NOT NULL,
    total       INTEGER NOT NULL CHECK (total >= 0),
    -- SHA-256 (hex) of the JCS form of the Offer without its proof: "the same statement".
    digest      TEXT    NOT NULL,
    -- The signed Offer, as sent or as received, byte for byte what a third party checks.
    document    TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('stated', 'claimed', 'rejected')),
    -- The signed Accept (a claim) or Reject: the one we sent for a received statement, the
    -- one we received for a sent one.
    claim       TEXT,
    -- Why the statement was rejected whole.
    reason      TEXT,
    created_at  INTEGER NOT NULL,
    claimed_at  INTEGER,
    UNIQUE (direction, peer, period, version)
);

-- The lines: one per flattr, in the statement's order.
CREATE TABLE statement_lines (
    statement_id INTEGER NOT NULL REFERENCES statements (id),
    position     INTEGER NOT NULL,
    like_id      TEXT    NOT NULL,
    thing        TEXT    NOT NULL,
    amount       INTEGER NOT NULL CHECK (amount >= 0),
    like_digest  TEXT    NOT NULL,
    -- 'accepted' or a dispute reason once claimed; NULL before.
    outcome      TEXT,
    -- On a received statement: the local creator an accepted line is credited to.
    owner_id     INTEGER REFERENCES users (id),
    PRIMARY KEY (statement_id, position)
);
CREATE INDEX statement_lines_like ON statement_lines (like_id);

-- Periods whose statements were all prepared: the payer's settlement looks at the others only.
CREATE TABLE statement_periods (
    period      TEXT    PRIMARY KEY,
    prepared_at INTEGER NOT NULL
);

-- The digest of each received Like as it arrived, to compare with a statement's line.
ALTER TABLE received_likes ADD COLUMN digest TEXT;

-- Pending earnings (money a peer owes our creators, not withdrawable until paid) and disputed
-- amounts are never negative; a receivable (what a peer owes us: an asset, like `world`)
-- is never positive. As for 0002, SQLite says it with triggers.
CREATE TRIGGER accounts_settlement_signs_insert BEFORE INSERT ON accounts
WHEN (NEW.kind IN ('pending', 'disputed') AND NEW.balance < 0)
  OR (NEW.kind = 'receivable' AND NEW.balance > 0)
BEGIN SELECT RAISE(ABORT, 'accounts_money_not_negative: a settlement balance has the wrong sign'); END;
CREATE TRIGGER accounts_settlement_signs_update BEFORE UPDATE OF balance, kind ON accounts
WHEN (NEW.kind IN ('pending', 'disputed') AND NEW.balance < 0)
  OR (NEW.kind = 'receivable' AND NEW.balance > 0)
BEGIN SELECT RAISE(ABORT, 'accounts_money_not_negative: a settlement balance has the wrong sign'); END;
