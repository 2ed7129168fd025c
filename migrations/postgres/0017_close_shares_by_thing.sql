-- The close's per-flattr shares, keyed as the close writes and reads them (issue 10.4).
--
-- The close writes one `close_shares` row per flattr (5 000 000 in a close of 100 000 users
-- × 50 flattrs), then sums them per thing into `close_things`. The key is now
-- (period, thing_id, flattr_id): the close writes the rows in key order (one sort, which the
-- per-thing sums also needed, so the index grows at its right edge) and the held shares of a
-- thing are one key range.
--
-- `owner_id` and `peer` leave the per-flattr rows: they are the thing's, identical for every
-- share of a thing in a close, and `close_things` (one row per thing and period) holds them.
-- Looking them up per flattr was a third of the old insert. Statements to a peer and the
-- audit's payables read the peer from `close_things`.
--
-- (period, flattr_id) stays unique: a flattr has one thing, so (period, thing_id, flattr_id)
-- holds one row per flattr and period.
-- migrations/sqlite/0017_close_shares_by_thing.sql is the same step in SQLite's dialect.
ALTER TABLE close_shares DROP CONSTRAINT close_shares_pkey;
DROP INDEX close_shares_peer;
ALTER TABLE close_shares DROP COLUMN owner_id, DROP COLUMN peer;
ALTER TABLE close_shares ADD PRIMARY KEY (period, thing_id, flattr_id);

-- What the statements to a peer read: its things in one period (1 % of things in the bench).
CREATE INDEX close_things_peer ON close_things (period, peer) WHERE peer IS NOT NULL;
