//! `bhxh`: the nightly pipeline of Vietnam Social Security's coverage and
//! collection data product.
//!
//! ```text
//! inbox ─► ingest ─► bronze + rejects ─► conform ─► silver ─► link, coverage, assess, voluntary
//!       ─► gold + lists ─► publish (weekly report tables) ─► export (weekly report, workbooks, HTML)
//! ```
//! Each stage is a module with one entry point (`run`) that reads tables and
//! writes tables; [`pipeline::run`] calls them in order.

pub mod assess;
pub mod conform;
pub mod contract;
pub mod coverage;
pub mod dictionary;
pub mod editions;
pub mod export;
pub mod generate;
pub mod ids;
pub mod ingest;
pub mod lake;
pub mod link;
pub mod month;
pub mod order;
pub mod person_key;
pub mod pipeline;
pub mod publish;
pub mod reference;
pub mod verify;
pub mod voluntary;
