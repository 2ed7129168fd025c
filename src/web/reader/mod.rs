//! A reader's pages: sign up, log in and out ([`account`]), and "my flattrs" ([`flattrs`]):
//! the wallet, the budget, what this month costs per flattr, this period's flattrs with undo,
//! flattr any URL, and the subscriptions, paused, resumed or stopped ([`subscriptions`]). A
//! refused form is shown again with the error next to its field and what was typed (never
//! the password).

pub mod account;
pub mod flattrs;
pub mod subscriptions;
