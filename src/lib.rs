//! fedflattr: a federated, self-hosted Flattr.
//!
//! The crate is layered; a layer may import only the layers below it:
//!
//! ```text
//! cli, app         entry points: parse, configure, wire, run
//!   http, web      JSON API (one router per resource), errors → HTTP in one place;
//!                  web: server-rendered pages, cookie sessions, the embeddable button
//!   accounts       sign-up, log-in, the budget, a user's overview (API and pages share it)
//!   flattring      the flattr use case: find what a URL names, flattr, undo, subscribe
//!   proving        who owns a URL: registration checks, proofs, domains, releasing held money
//!   federation     ActivityPub: discovery, actors, things as objects, Like/Undo (one file
//!                  each), the inbox and its checks, the delivery queue, the SSRF guard
//!     settle       period close (staged, resumable) and its scheduler
//!       ledger     double-entry postings, deposits, payouts, audit
//!         store    the database (SQLite or PostgreSQL): pool, migrations, queries
//!           domain pure rules: money, periods, the split, names, things; no I/O
//! config, clock    read by the entry points and passed down as values
//! state            the handles every handler shares (store, settings, clock, client)
//! limits, metrics  per-process bounds and rate limits; the counters behind /metrics
//! keys             in memory, per process: remote actors' parsed keys
//! ```

pub mod accounts;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod federation;
pub mod flattring;
pub mod http;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod metrics;
pub mod proving;
pub mod settle;
pub mod state;
pub mod store;
pub mod web;
