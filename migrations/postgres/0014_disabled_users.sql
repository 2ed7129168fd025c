-- An admin may disable a user (issue 9.5; docs/web.md "Admin pages"): from then on the user
-- cannot log in, and their bearer tokens and browser sessions are refused. Nothing is deleted:
-- their money, things and flattrs stay in the books, and enabling them again restores access.
-- migrations/sqlite/0014_disabled_users.sql is the same step in SQLite's dialect.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
