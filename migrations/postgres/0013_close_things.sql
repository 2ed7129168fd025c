-- The close's totals per thing (issue 10.4). The close writes one `close_shares` row per
-- flattr, but everything after its snapshot — the postings to earnings, held and payable
-- accounts, the report, a creator's earnings pages — needs only what each thing received.
-- Reading those from the per-flattr rows made the shares stage scan every flattr of the
-- period four times; the close now sums them once, here, in the stage that freezes them.
-- migrations/sqlite/0013_close_things.sql is the same step in SQLite's dialect.
CREATE TABLE close_things (
    period   TEXT    NOT NULL,
    thing_id BIGINT  NOT NULL,
    -- As in close_shares: the local creator when the snapshot ran, or NULL and the peer's
    -- origin. Not a key: should the owner change between the snapshot and a capped spend's
    -- re-split (a URL proven by someone else), a thing has one row per owner.
    owner_id BIGINT,
    peer     TEXT,
    flattrs  BIGINT  NOT NULL,
    amount   BIGINT  NOT NULL
);
CREATE INDEX close_things_period ON close_things (period, thing_id);
CREATE INDEX close_things_thing ON close_things (thing_id, period);

-- Periods closed before this step get their totals from their shares.
INSERT INTO close_things (period, thing_id, owner_id, peer, flattrs, amount)
SELECT period, thing_id, owner_id, peer, COUNT(*), CAST(SUM(amount) AS BIGINT)
FROM close_shares GROUP BY period, thing_id, owner_id, peer;

-- Nothing reads shares by owner (earnings go by the thing's owner now, through close_things);
-- the index cost a random-order insert per flattr in every close.
DROP INDEX close_shares_owner;
-- What the statements to a peer read: the shares of its things in one period, a small part of
-- the period's flattrs.
CREATE INDEX close_shares_peer ON close_shares (period, peer) WHERE peer IS NOT NULL;
