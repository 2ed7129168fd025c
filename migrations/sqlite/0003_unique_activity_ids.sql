-- Ids we publish are unique forever, received flattrs count once per actor, thing and period,
-- and a delivery is sent by the worker that claimed it (issue 7, points 3, 4 and 8).
-- migrations/postgres/0003_unique_activity_ids.sql is the same step in PostgreSQL's dialect.

-- 7.3: a flattr's Like is published as /users/NAME/likes/PUBLIC_ID. The row id cannot be that
-- id: SQLite reuses the largest rowid after a delete (an undone flattr), and a peer drops a
-- Like whose id it has already seen. New flattrs get 128 random bits (32 hex digits). Flattrs that exist keep
-- their row id as text, which is the id their Like was already published under (an Undo must
-- name the same Like); no new flattr can take it, as a new id has 32 characters.
ALTER TABLE flattrs ADD COLUMN public_id TEXT;
UPDATE flattrs SET public_id = CAST(id AS TEXT);
CREATE UNIQUE INDEX flattrs_public_id ON flattrs (public_id);
-- SQLite cannot add a column with a non-constant default: a trigger gives every new flattr
-- its random id (set-based inserts such as subscription renewals included).
CREATE TRIGGER flattrs_public_id AFTER INSERT ON flattrs WHEN NEW.public_id IS NULL
BEGIN UPDATE flattrs SET public_id = lower(hex(randomblob(16))) WHERE id = NEW.id; END;

-- 7.4: one live flattr per remote actor, thing and period, as for local users. Duplicates
-- received before this rule are kept but marked undone (the earliest one stays live).
UPDATE received_likes SET undone_at = received_at
WHERE undone_at IS NULL
  AND id NOT IN (SELECT MIN(id) FROM received_likes WHERE undone_at IS NULL
                 GROUP BY actor, thing_id, period);
CREATE UNIQUE INDEX received_likes_once ON received_likes (actor, thing_id, period)
WHERE undone_at IS NULL;

-- 7.8: the worker that claimed a delivery writes a random token here; it renews
-- `locked_until` while it sends and records the outcome only while the token is still its own.
ALTER TABLE deliveries ADD COLUMN claim TEXT;
