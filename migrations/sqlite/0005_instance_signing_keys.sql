-- The Ed25519 keys of the instance actor, which sign settlement documents with FEP-8b32
-- object integrity proofs (eddsa-jcs-2022). migrations/postgres/0005_instance_signing_keys.sql
-- is the same step in PostgreSQL's dialect.
--
-- Keys are rotated by adding, never by removing or editing: a statement signed years ago must
-- still verify against the key its proof names, `BASE/actor#ed25519-key-N` with N = id. The
-- newest key signs; every key stays published in the actor's `assertionMethod`.
CREATE TABLE instance_signing_keys (
    -- N of the key id; given explicitly (1 for the first key, then max + 1), so that two
    -- processes creating the first key at once make one.
    id          INTEGER PRIMARY KEY,
    -- `publicKeyMultibase`: 'z' + base58btc(0xed01 ‖ the 32-byte public key) (FEP-521a).
    public_key  TEXT    NOT NULL,
    -- The 32-byte secret seed, hex.
    private_key TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TRIGGER instance_signing_keys_add_only_update BEFORE UPDATE ON instance_signing_keys
BEGIN SELECT RAISE(ABORT, 'instance signing keys are add-only'); END;
CREATE TRIGGER instance_signing_keys_add_only_delete BEFORE DELETE ON instance_signing_keys
BEGIN SELECT RAISE(ABORT, 'instance signing keys are add-only'); END;
