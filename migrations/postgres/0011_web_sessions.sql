-- Browser sessions of the web pages (issue 9; docs/web.md "Sessions"). The cookie carries a
-- 256-bit random secret; only its SHA-256 is stored, so a leaked database opens no session.
-- A row per session (not a signed cookie) so that logging out, or an admin, ends it for good.
-- migrations/sqlite/0011_web_sessions.sql is the same step in SQLite's dialect.
CREATE TABLE web_sessions (
    id_hash    TEXT    PRIMARY KEY,
    user_id    BIGINT  NOT NULL REFERENCES users (id),
    -- The synchronizer token every POST form of this session must carry (CSRF).
    csrf       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    -- Unix seconds after which the session is no longer honoured.
    expires_at BIGINT  NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
