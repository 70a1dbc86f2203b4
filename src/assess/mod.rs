//! Stage 3, assess (collection side): dues from the effective-dated rules
//! and the ledger of every unit. See `docs/rules.md`.

pub mod dues;
pub mod ledger;
