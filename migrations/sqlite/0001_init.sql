-- The first schema of fedflattr, SQLite flavour. migrations/postgres/0001_init.sql is the
-- same schema in PostgreSQL's dialect; a test compares the two (tests/api/schema.rs).
-- Money columns are INTEGER ten-thousandths of the instance currency: no floats, no NUMERIC,
-- so that both backends and the Any driver see the same exact integers.
-- Flags are INTEGER 0/1 because sqlx's Any driver cannot read SQLite's BOOLEAN.
-- Times are INTEGER seconds since the Unix epoch (UTC).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    budget        INTEGER NOT NULL CHECK (budget >= 0),
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- Only a hash of each bearer token is kept: a leaked database leaks no sessions.
CREATE TABLE tokens (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL
);

CREATE TABLE things (
    id          INTEGER PRIMARY KEY,
    url         TEXT    NOT NULL,
    owner_id    INTEGER NOT NULL REFERENCES users (id),
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    tags        TEXT    NOT NULL, -- JSON array of strings
    language    TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    hidden      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    -- Deleted things stay as rows: past earnings keep pointing at them.
    deleted_at  INTEGER
);
-- One live thing per URL; a deleted thing frees its URL.
CREATE UNIQUE INDEX things_live_url ON things (url) WHERE deleted_at IS NULL;
CREATE INDEX things_owner ON things (owner_id);

CREATE TABLE subscriptions (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    thing_id      INTEGER NOT NULL REFERENCES things (id),
    periods_total INTEGER NOT NULL CHECK (periods_total IN (3, 6, 12)),
    periods_left  INTEGER NOT NULL CHECK (periods_left >= 0),
    paused        INTEGER NOT NULL DEFAULT 0,
    -- The last period this subscription flattred in; renewal skips periods already done.
    last_period   TEXT,
    created_at    INTEGER NOT NULL,
    -- Set when the user stops it, its thing is deleted, or its periods are used up.
    stopped_at    INTEGER
);
CREATE UNIQUE INDEX subscriptions_live ON subscriptions (user_id, thing_id) WHERE stopped_at IS NULL;

-- A flattr is a click, not yet money: money moves when its period closes.
-- Undo deletes the row, which is why the close snapshots flattrs before posting anything.
CREATE TABLE flattrs (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    thing_id        INTEGER NOT NULL REFERENCES things (id),
    period          TEXT    NOT NULL,
    subscription_id INTEGER REFERENCES subscriptions (id),
    created_at      INTEGER NOT NULL,
    -- flattr_once is this constraint: it holds under concurrent clicks, a read-then-write can't.
    UNIQUE (user_id, thing_id, period)
);
CREATE INDEX flattrs_period_user ON flattrs (period, user_id);
CREATE INDEX flattrs_thing ON flattrs (thing_id);

-- Ledger accounts. `name` is unique and spells the account (wallet:7, earnings:7, fees, world,
-- payouts, clearing:2026-10); kind + user_id let set-based SQL join users to their accounts.
-- `balance` is a cache of the postings, kept in the same transaction; the audit recomputes it.
CREATE TABLE accounts (
    id      INTEGER PRIMARY KEY,
    name    TEXT    NOT NULL UNIQUE,
    kind    TEXT    NOT NULL,
    user_id INTEGER REFERENCES users (id),
    balance INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX accounts_kind_user ON accounts (kind, user_id);

-- One row per movement of money. `reference` is unique: it is the idempotency key that makes a
-- retried deposit, close stage or payout count once.
CREATE TABLE ledger_transactions (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    reference  TEXT    NOT NULL UNIQUE,
    memo       TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE TABLE postings (
    id             INTEGER PRIMARY KEY,
    transaction_id INTEGER NOT NULL REFERENCES ledger_transactions (id),
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    amount         INTEGER NOT NULL
);
CREATE INDEX postings_account ON postings (account_id);
CREATE INDEX postings_transaction ON postings (transaction_id);

-- The ledger is append-only: history is corrected by new postings, never by editing old ones.
CREATE TRIGGER postings_append_only_update BEFORE UPDATE ON postings
BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END;
CREATE TRIGGER postings_append_only_delete BEFORE DELETE ON postings
BEGIN SELECT RAISE(ABORT, 'postings are append-only'); END;

-- The close of a period moves through numbered stages; each stage is one transaction that also
-- advances `stage`, so a crash leaves the period at the last finished stage and a re-run resumes.
CREATE TABLE periods (
    period     TEXT    PRIMARY KEY,
    stage      INTEGER NOT NULL DEFAULT 0,
    started_at INTEGER NOT NULL,
    closed_at  INTEGER
);

-- The frozen inputs of a close: what each user spends ...
CREATE TABLE close_spends (
    period       TEXT    NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    flattr_count INTEGER NOT NULL,
    spend        INTEGER NOT NULL,
    fee          INTEGER NOT NULL,
    net          INTEGER NOT NULL,
    PRIMARY KEY (period, user_id)
);

-- ... and what each flattr of the period received. Earnings per period and per thing are read
-- from here.
CREATE TABLE close_shares (
    period    TEXT    NOT NULL,
    flattr_id INTEGER NOT NULL,
    user_id   INTEGER NOT NULL REFERENCES users (id),
    thing_id  INTEGER NOT NULL REFERENCES things (id),
    owner_id  INTEGER NOT NULL REFERENCES users (id),
    amount    INTEGER NOT NULL,
    PRIMARY KEY (period, flattr_id)
);
CREATE INDEX close_shares_owner ON close_shares (owner_id, period);

CREATE TABLE payouts (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    amount       INTEGER NOT NULL CHECK (amount > 0),
    state        TEXT    NOT NULL CHECK (state IN ('requested', 'exported', 'paid')),
    batch        TEXT,
    requested_at INTEGER NOT NULL,
    exported_at  INTEGER,
    paid_at      INTEGER
);
CREATE INDEX payouts_state ON payouts (state);
