-- Trust controls per peer instance (issue 8, point 7; docs/settlement.md "Trust controls"),
-- set at run time by an admin. migrations/sqlite/0008_peer_controls.sql is the same step in
-- SQLite's dialect. The static `blocked_domains` setting is honoured beside it.
CREATE TABLE peer_controls (
    -- The peer's origin (scheme://host:port), as the books name it.
    origin     TEXT    PRIMARY KEY,
    -- 1: the peer's activities are refused at the inbox and our users cannot flattr its things.
    blocked    BIGINT  NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
    -- The most we may owe the peer (ten-thousandths); NULL: no limit.
    owe_limit  BIGINT CHECK (owe_limit >= 0),
    updated_at BIGINT NOT NULL
);
