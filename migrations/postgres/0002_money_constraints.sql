-- The database itself keeps user and instance money at zero or above. The close, payouts and
-- settlement already check their amounts; these constraints are the last lock on the door, so
-- that a future bug (or two closes racing, issue 7.1) aborts its transaction instead of
-- minting money. `world` (the outside, negative by design) and `clearing:*` (money between
-- the stages of a close) are the only kinds allowed below zero.
-- migrations/sqlite/0002_money_constraints.sql does the same with triggers (SQLite cannot
-- add a CHECK to an existing table).
ALTER TABLE accounts ADD CONSTRAINT accounts_money_not_negative
    CHECK (kind NOT IN ('wallet', 'earnings', 'fees', 'payouts', 'payable') OR balance >= 0);
