-- The close's per-flattr shares, one partition per period: a PostgreSQL step
-- (migrations/postgres/0018_close_shares_by_period.sql). SQLite has no partitions and keeps
-- the `WITHOUT ROWID` table of migration 0017, into which the close writes its rows in key
-- order at no comparable cost; this file keeps the two migration histories numbered alike.
SELECT 1;
