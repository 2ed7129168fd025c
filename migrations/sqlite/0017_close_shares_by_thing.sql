-- The close's per-flattr shares, keyed as the close writes and reads them (issue 10.4).
--
-- The close writes one `close_shares` row per flattr (5 000 000 in a close of 100 000 users
-- × 50 flattrs), then sums them per thing into `close_things`. Keyed by (period, flattr_id)
-- in a rowid table, each row went into two B-trees, and the per-thing sums sorted all of them
-- again. Now the table is one B-tree (`WITHOUT ROWID`) keyed (period, thing_id, flattr_id):
-- the close writes it in key order (one sort, which the per-thing sums also needed) and sums
-- it per thing in one ordered pass, and the held shares of a thing are one key range.
--
-- `owner_id` and `peer` leave the per-flattr rows: they are the thing's, identical for every
-- share of a thing in a close, and `close_things` (one row per thing and period) holds them.
-- Looking them up per flattr was a third of the old insert. Statements to a peer and the
-- audit's payables read the peer from `close_things`.
--
-- (period, flattr_id) stays unique: a flattr has one thing, so (period, thing_id, flattr_id)
-- holds one row per flattr and period.
-- migrations/postgres/0017_close_shares_by_thing.sql is the same step in PostgreSQL's dialect.
CREATE TABLE close_shares_by_thing (
    period    TEXT    NOT NULL,
    thing_id  INTEGER NOT NULL,
    flattr_id INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    amount    INTEGER NOT NULL,
    PRIMARY KEY (period, thing_id, flattr_id)
) WITHOUT ROWID;
INSERT INTO close_shares_by_thing (period, thing_id, flattr_id, user_id, amount)
SELECT period, thing_id, flattr_id, user_id, amount FROM close_shares
ORDER BY period, thing_id, flattr_id;
DROP TABLE close_shares;
ALTER TABLE close_shares_by_thing RENAME TO close_shares;

-- What the statements to a peer read: its things in one period (1 % of things in the bench).
CREATE INDEX close_things_peer ON close_things (period, peer) WHERE peer IS NOT NULL;
