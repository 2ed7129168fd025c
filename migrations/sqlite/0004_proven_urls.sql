-- A thing's URL pays only its proven owner; until then its shares are held (issue 7.2).
-- migrations/postgres/0004_proven_urls.sql is the same step in PostgreSQL's dialect.

-- A local thing is proven once its page links back to its owner or its owner verified the
-- URL's domain (see docs/security.md, "Who owns a URL"). Things registered before this step
-- start unproven: nothing told us who owns their URLs, and money held for them is not lost
-- (it goes to the owner once proven, or back to the payers).
ALTER TABLE things ADD COLUMN proven_at INTEGER;
-- How it was proven: 'payment_link' or 'verified_domain'.
ALTER TABLE things ADD COLUMN proof TEXT;
-- Why the last check did not prove it, in words for its owner.
ALTER TABLE things ADD COLUMN proof_problem TEXT;

-- Domains users claim. `token` is published by the user at
-- SCHEME://DOMAIN/.well-known/fedflattr (it is no secret: it only says "this user may have
-- this domain"); `verified_at` is set once we read it there, or an admin vouched.
CREATE TABLE user_domains (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    domain      TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    verified_at INTEGER,
    -- 'well_known' or 'admin'
    verified_by TEXT,
    UNIQUE (user_id, domain)
);
-- One domain belongs to at most one user once verified: a second verification of it fails
-- here, whatever races before.
CREATE UNIQUE INDEX user_domains_verified ON user_domains (domain) WHERE verified_at IS NOT NULL;

-- Shares of flattrs of unproven things, posted at close to `held:THING` instead of the
-- owner's earnings. One row per flattr (who paid, how much); `state` says where it went:
-- still held, released to the owner once the thing was proven, or returned to the payer's
-- wallet after `held_periods` periods. `settled_by` is the ledger reference that moved it.
-- `owner_id` is the owner when the share was held; a release pays the thing's owner at that
-- time (whoever proved the URL).
CREATE TABLE held_shares (
    period     TEXT    NOT NULL,
    flattr_id  INTEGER NOT NULL,
    thing_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    owner_id   INTEGER NOT NULL,
    amount     INTEGER NOT NULL CHECK (amount >= 0),
    state      TEXT    NOT NULL CHECK (state IN ('held', 'released', 'returned')),
    settled_by TEXT,
    settled_at INTEGER,
    PRIMARY KEY (period, flattr_id)
);
CREATE INDEX held_shares_thing ON held_shares (thing_id, state);
CREATE INDEX held_shares_state ON held_shares (state, period);

-- Held money is money: `held` accounts join the kinds that may never go below zero.
DROP TRIGGER accounts_money_not_negative_insert;
DROP TRIGGER accounts_money_not_negative_update;
CREATE TRIGGER accounts_money_not_negative_insert BEFORE INSERT ON accounts
WHEN NEW.kind IN ('wallet', 'earnings', 'fees', 'payouts', 'payable', 'held') AND NEW.balance < 0
BEGIN SELECT RAISE(ABORT, 'accounts_money_not_negative: a balance of money may not go below zero'); END;
CREATE TRIGGER accounts_money_not_negative_update BEFORE UPDATE OF balance, kind ON accounts
WHEN NEW.kind IN ('wallet', 'earnings', 'fees', 'payouts', 'payable', 'held') AND NEW.balance < 0
BEGIN SELECT RAISE(ABORT, 'accounts_money_not_negative: a balance of money may not go below zero'); END;

-- The close gained a last stage (6, held: release and return held shares), which now marks
-- the period closed. Periods closed before ran every stage there was; nothing was held then.
UPDATE periods SET stage = 6 WHERE stage = 5;
