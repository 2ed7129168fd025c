-- The close's per-flattr shares, one partition per period (issue 10.4, PostgreSQL only).
--
-- A close of 100 000 users × 50 flattrs writes 5 000 000 `close_shares` rows in one statement.
-- Into an indexed table PostgreSQL maintains the primary key row by row: a B-tree insertion
-- and a WAL record per row, about 40 % of that statement's CPU and most of its WAL. The close
-- now writes a period's shares into a table of their own, builds its primary key once they are
-- all written (one sorted build) and attaches it to `close_shares` as the period's partition,
-- all in the snapshot stage's transaction (settle::close::partition). Readers are unchanged:
-- they filter by period, which PostgreSQL prunes to the one partition.
--
-- The partition of period YYYY-MM is `close_shares_YYYY_MM`. Shares of periods closed before
-- this step move into partitions of the same shape, built the same way.
--
-- SQLite keeps the one `WITHOUT ROWID` table of migration 0017: it writes rows in key order
-- into its B-tree at no comparable cost, and has no partitions.
-- migrations/sqlite/0018_close_shares_by_period.sql records that it has nothing to do.
ALTER TABLE close_shares RENAME TO close_shares_unpartitioned;
ALTER INDEX close_shares_pkey RENAME TO close_shares_unpartitioned_pkey;

CREATE TABLE close_shares (
    period    TEXT   NOT NULL,
    thing_id  BIGINT NOT NULL,
    flattr_id BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    amount    BIGINT NOT NULL,
    PRIMARY KEY (period, thing_id, flattr_id)
) PARTITION BY LIST (period);

DO $$
DECLARE
    p    TEXT;
    part TEXT;
BEGIN
    FOR p IN SELECT DISTINCT period FROM close_shares_unpartitioned ORDER BY period LOOP
        part := 'close_shares_' || replace(p, '-', '_');
        EXECUTE format('CREATE TABLE %I (LIKE close_shares, CHECK (period = %L))', part, p);
        EXECUTE format(
            'INSERT INTO %I (period, thing_id, flattr_id, user_id, amount)
             SELECT period, thing_id, flattr_id, user_id, amount FROM close_shares_unpartitioned
             WHERE period = %L ORDER BY thing_id, flattr_id', part, p);
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (period, thing_id, flattr_id)', part);
        EXECUTE format('ALTER TABLE close_shares ATTACH PARTITION %I FOR VALUES IN (%L)', part, p);
    END LOOP;
END
$$;

DROP TABLE close_shares_unpartitioned;
