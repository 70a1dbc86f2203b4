//! `pipelines/coverage.toml`: the product rules of the coverage stage.

use crate::editions::{self, InForce};
use crate::month::Month;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageConfig {
    pub uninsured: Uninsured,
    pub unregistered: Unregistered,
    pub under_declared: UnderDeclared,
    pub covid: Covid,
    pub priority: Priority,
    pub worklist: Worklist,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uninsured {
    pub lookback_months: u32,
    pub compulsory_contracts: Vec<String>,
    pub due_statuses: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unregistered {
    pub active_statuses: Vec<String>,
    pub recent_months: u32,
    pub include_declared_only: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnderDeclared {
    pub income_share_percent: u32,
    pub lookback_months: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Covid {
    pub out_statuses: Vec<String>,
    pub pre_covid_month: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Priority {
    pub unregistered_employer: f64,
    pub uninsured_workers: f64,
    pub should_have_resumed: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Worklist {
    pub default_weekly_capacity: u32,
}

impl CoverageConfig {
    /// The rules in force in `month` (the run's as-of month); every edition
    /// of the file is checked (`crate::editions`).
    pub fn load(path: &Path, month: Month) -> Result<InForce<CoverageConfig>> {
        editions::load(path, month, CoverageConfig::check)
    }

    pub fn check(&self) -> Result<()> {
        let cfg = self;
        if cfg.uninsured.lookback_months == 0 || cfg.under_declared.lookback_months == 0 || cfg.unregistered.recent_months == 0 {
            bail!("lookback_months and recent_months must be at least 1");
        }
        if cfg.under_declared.income_share_percent > 100 {
            bail!("under_declared.income_share_percent must be 0–100");
        }
        if cfg.worklist.default_weekly_capacity == 0 {
            bail!("worklist.default_weekly_capacity must be at least 1");
        }
        cfg.pre_covid_month()?;
        Ok(())
    }

    pub fn pre_covid_month(&self) -> Result<Month> {
        self.covid.pre_covid_month.parse().context("covid.pre_covid_month")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_loads_and_bad_values_are_refused() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/coverage.toml");
        let cfg = CoverageConfig::load(&path, "2020-06".parse().unwrap()).unwrap();
        assert_eq!(cfg.valid_from.to_string(), "2018-01");
        assert_eq!(cfg.rules.under_declared.income_share_percent, 50);
        assert_eq!(cfg.rules.uninsured.lookback_months, 12);
        let text = std::fs::read_to_string(&path).unwrap();
        let parse = |t: String| editions::editions(&t, CoverageConfig::check);
        assert!(parse(text.clone()).is_ok());
        assert!(parse(text.replace("income_share_percent = 50", "income_share_percent = 150")).is_err());
        assert!(parse(text.replace("pre_covid_month = \"2020-01\"", "pre_covid_month = \"2020-13\"")).is_err());
        assert!(parse(text.replace("default_weekly_capacity = 10", "default_weekly_capacity = 0")).is_err());
        // An amendment not yet in force is checked all the same.
        assert!(parse(text.clone() + "\n[[amendment]]\nvalid_from = \"2099-01\"\n[amendment.under_declared]\nincome_share_percent = 150\n").is_err());
    }
}
