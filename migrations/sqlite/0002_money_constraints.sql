-- The database itself keeps user and instance money at zero or above. The close, payouts and
-- settlement already check their amounts; these triggers are the last lock on the door, so
-- that a future bug (or two closes racing, issue 7.1) aborts its transaction instead of
-- minting money. `world` (the outside, negative by design) and `clearing:*` (money between
-- the stages of a close) are the only kinds allowed below zero.
-- PostgreSQL has the same rule as a CHECK (migrations/postgres/0002_money_constraints.sql);
-- SQLite cannot add a CHECK to an existing table, so here it is two triggers.
CREATE TRIGGER accounts_money_not_negative_insert BEFORE INSERT ON accounts
WHEN NEW.kind IN ('wallet', 'earnings', 'fees', 'payouts', 'payable') AND NEW.balance < 0
BEGIN SELECT RAISE(ABORT, 'accounts_money_not_negative: a balance of money may not go below zero'); END;
CREATE TRIGGER accounts_money_not_negative_update BEFORE UPDATE OF balance, kind ON accounts
WHEN NEW.kind IN ('wallet', 'earnings', 'fees', 'payouts', 'payable') AND NEW.balance < 0
BEGIN SELECT RAISE(ABORT, 'accounts_money_not_negative: a balance of money may not go below zero'); END;
