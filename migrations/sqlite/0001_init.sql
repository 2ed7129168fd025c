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
    -- The RSA key pair (PEM) that signs this user's activities (HTTP Signatures).
    public_key    TEXT    NOT NULL,
    private_key   TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);

-- The instance's own actor (type Application): one row, created on first start.
CREATE TABLE instance_actor (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    public_key  TEXT    NOT NULL,
    private_key TEXT    NOT NULL
);

-- Actors of other servers, as fetched: what is needed to verify their signatures and to
-- deliver to them.
CREATE TABLE remote_actors (
    id           INTEGER PRIMARY KEY,
    ap_id        TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL,
    username     TEXT    NOT NULL,
    inbox        TEXT    NOT NULL,
    shared_inbox TEXT,
    public_key   TEXT    NOT NULL,
    fetched_at   INTEGER NOT NULL
);

-- Only a hash of each bearer token is kept: a leaked database leaks no sessions.
CREATE TABLE tokens (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL
);

-- Local things have an owner_id. Things of other servers that our users flattred have none:
-- they have an ap_id (the object's ActivityPub id), the owner's actor and inbox, the origin of
-- the owner's server (scheme://host:port, the peer), and whether that server speaks fedflattr.
CREATE TABLE things (
    id          INTEGER PRIMARY KEY,
    url         TEXT    NOT NULL,
    owner_id    INTEGER REFERENCES users (id),
    ap_id       TEXT    UNIQUE,
    remote_owner TEXT,
    remote_inbox TEXT,
    origin      TEXT,
    fedflattr   INTEGER NOT NULL DEFAULT 0,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    tags        TEXT    NOT NULL, -- JSON array of strings
    language    TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    hidden      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    -- Deleted things stay as rows: past earnings keep pointing at them.
    deleted_at  INTEGER,
    CHECK (owner_id IS NOT NULL OR (ap_id IS NOT NULL AND remote_inbox IS NOT NULL AND origin IS NOT NULL))
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
    -- 0 for a flattr of a thing on software that cannot be paid (a plain Like, Flattr's
    -- "pending flattr"): it is delivered but takes no share of the budget.
    charged         INTEGER NOT NULL DEFAULT 1,
    -- 0 for a flattr of a remote thing whose Like is not queued yet (a subscription renewed it
    -- inside the close); the delivery worker queues those Likes and sets it to 1.
    announced       INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    -- flattr_once is this constraint: it holds under concurrent clicks, a read-then-write can't.
    UNIQUE (user_id, thing_id, period)
);
CREATE INDEX flattrs_period_user ON flattrs (period, user_id);
CREATE INDEX flattrs_thing ON flattrs (thing_id);
CREATE INDEX flattrs_unannounced ON flattrs (announced) WHERE announced = 0;

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
CREATE INDEX postings_transaction ON postings (transaction_id, account_id);

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
-- (No foreign keys on these two tables: they are derived in one statement from rows that exist
-- in the same transaction, and checking 3 keys per flattr made the close of a large
-- instance several times slower on PostgreSQL; see benches/close.rs.)
CREATE TABLE close_spends (
    period       TEXT    NOT NULL,
    user_id      INTEGER NOT NULL,
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
    user_id   INTEGER NOT NULL,
    thing_id  INTEGER NOT NULL,
    -- The local creator, or NULL when the thing lives on a peer (then `peer` is its origin and
    -- the share is owed to that peer until settlement).
    owner_id  INTEGER,
    peer      TEXT,
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

-- Likes of our things received from other servers. `activity_id` is unique: a duplicate or
-- replayed delivery counts once. Plain Likes (no fedflattr terms) are kept with an empty
-- currency: they are favourites, not money.
CREATE TABLE received_likes (
    id          INTEGER PRIMARY KEY,
    activity_id TEXT    NOT NULL UNIQUE,
    actor       TEXT    NOT NULL,
    thing_id    INTEGER NOT NULL REFERENCES things (id),
    period      TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    undone_at   INTEGER
);
CREATE INDEX received_likes_thing ON received_likes (thing_id);

-- Every activity id our inbox accepted, whatever its type: the replay guard.
CREATE TABLE inbox_activities (
    activity_id TEXT    PRIMARY KEY,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    received_at INTEGER NOT NULL
);

-- The persistent delivery queue. One row per activity and inbox (so one delivery per shared
-- inbox); `locked_until` is the claim of the worker sending it, so that several servers on one
-- database never send the same row at once.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    activity_id     TEXT    NOT NULL,
    inbox           TEXT    NOT NULL,
    signer_user_id  INTEGER REFERENCES users (id),
    body            TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'rejected', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    last_status     INTEGER,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    UNIQUE (activity_id, inbox)
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);

-- Every attempt: its HTTP status, or the network error when there was no answer.
CREATE TABLE delivery_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES deliveries (id),
    attempted_at INTEGER NOT NULL,
    status       INTEGER,
    error        TEXT
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);
