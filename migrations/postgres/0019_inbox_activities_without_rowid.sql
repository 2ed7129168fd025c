-- The SQLite step of this number stores the inbox's replay guard (`inbox_activities`) as one
-- B-tree (`WITHOUT ROWID`). PostgreSQL always keeps a heap and its primary-key index, so there
-- is nothing to change here; the file keeps both backends' migrations numbered alike.
SELECT 1;
