-- The inbox's replay guard as one B-tree (issue 10.1).
--
-- Every activity the inbox accepts writes its id here, in the same batch as what it records (a
-- received Like: one row here, one in `received_likes`). Keyed by a TEXT primary key in a rowid
-- table, each row went into two B-trees (the table by rowid, and the automatic index on
-- `activity_id`); nothing reads the table by rowid, so `WITHOUT ROWID` keeps the rows in their
-- key's B-tree alone: one B-tree written per activity instead of two, on the inbox's hottest
-- path. PostgreSQL keeps a heap and its primary-key index either way, so it has no step here
-- (migrations/postgres/0019_inbox_activities_without_rowid.sql says so).
CREATE TABLE inbox_activities_by_id (
    activity_id TEXT    PRIMARY KEY,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO inbox_activities_by_id (activity_id, actor, kind, received_at)
SELECT activity_id, actor, kind, received_at FROM inbox_activities ORDER BY activity_id;
DROP TABLE inbox_activities;
ALTER TABLE inbox_activities_by_id RENAME TO inbox_activities;
