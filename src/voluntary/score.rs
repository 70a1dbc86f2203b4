//! The prospect scoring model (`pipelines/scoring.toml`): a logistic model
//! over a few transparent features, each between 0 and 1. The weights are the
//! documented defaults until the prospect history holds enough outcomes;
//! then [`fit`] estimates them by plain logistic regression (batch gradient
//! descent with a small L2 penalty).

use crate::editions::{self, InForce};
use crate::month::Month;
use anyhow::{bail, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The model's features, in a fixed order (the history's `f_<name>` columns).
pub const FEATURES: &[&str] = &[
    "income_level",
    "income_stability",
    "stable_income",
    "prior_10_19_years",
    "prior_months",
    "prime_age",
    "business_revenue",
    "revenue_level",
    "market_trader",
    "craft_village",
    "household_covered",
    "household_pays_ahead",
    "commune_registrations",
    "source_household_business",
    "source_stopped_contributing",
    "source_household_hi_only",
    "source_free_worker",
];

/// What each feature (= reason code) means, for the docs and the dictionary.
pub const FEATURE_DOCS: &[(&str, &str)] = &[
    ("income_level", "average monthly income over the income months (tax_wages under short/none contracts), / income_full_vnd, capped at 1"),
    ("income_stability", "share of the income months with income"),
    ("stable_income", "income in ≥ stable_min_months months averaging ≥ stable_min_income_vnd"),
    ("prior_10_19_years", "months of compulsory/voluntary contributions on record (si_people.contributed_months + due months declared) between 120 and 239: close to a pension"),
    ("prior_months", "months on record / prior_full_months, capped at 1"),
    ("prime_age", "age in [prime_age_from, prime_age_to]"),
    ("business_revenue", "owner of an active household business with monthly revenue ≥ revenue_min_vnd"),
    ("revenue_level", "household business monthly revenue / revenue_full_vnd, capped at 1"),
    ("market_trader", "owner of a household business trading at a market (tax_households.market named): a group dispatch §2.1 names"),
    ("craft_village", "owner of a household business in a craft village (tax_households.craft_village named): a group dispatch §2.1 names"),
    ("household_covered", "the person's household BHYT is paid through the as-of month or later"),
    ("household_pays_ahead", "... and the household pays ≥ household_min_payment_months months at a time"),
    ("commune_registrations", "registrations at conferences in the person's commune in the last conference_months months / conference_full, capped at 1"),
    ("source_household_business", "source: household business owner"),
    ("source_stopped_contributing", "source: compulsory contributions stopped"),
    ("source_household_hi_only", "source: holds household BHYT only"),
    ("source_free_worker", "source: income under short/none contracts only"),
];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringConfig {
    pub pool: Pool,
    pub features: Features,
    pub model: ModelConfig,
    pub fit: FitConfig,
    pub targets: Targets,
    pub d08a: D08a,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub compulsory_now_months: u32,
    pub compulsory_wage_months: u32,
    pub compulsory_contracts: Vec<String>,
    pub due_statuses: Vec<String>,
    pub household_statuses: Vec<String>,
    pub min_age_years: u32,
    pub income_months: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    pub income_full_vnd: i64,
    pub stable_min_months: u32,
    pub stable_min_income_vnd: i64,
    pub near_pension_min_months: i64,
    pub near_pension_max_months: i64,
    pub prior_full_months: i64,
    pub prime_age_from: u32,
    pub prime_age_to: u32,
    pub revenue_min_vnd: i64,
    pub revenue_full_vnd: i64,
    pub household_min_payment_months: u32,
    pub conference_months: u32,
    pub conference_full: i64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub intercept: f64,
    pub max_reasons: usize,
    pub weights: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    pub enabled: bool,
    pub min_outcomes: usize,
    pub min_age_days: i64,
    pub learning_rate: f64,
    pub iterations: usize,
    pub l2: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    pub weekly_percent: u32,
    pub monthly_percent: u32,
    pub quarterly_percent: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct D08a {
    pub max_lapse_months: u32,
}

impl ScoringConfig {
    /// The rules in force in `month` (the run's as-of month); every edition
    /// of the file is checked (`crate::editions`).
    pub fn load(path: &Path, month: Month) -> Result<InForce<ScoringConfig>> {
        editions::load(path, month, ScoringConfig::check)
    }

    pub fn check(&self) -> Result<()> {
        let cfg = self;
        for k in cfg.model.weights.keys() {
            if !FEATURES.contains(&k.as_str()) {
                bail!("model.weights: unknown feature {k:?} (known: {})", FEATURES.join(", "));
            }
        }
        for f in FEATURES {
            if !cfg.model.weights.contains_key(*f) {
                bail!("model.weights: no weight for feature {f:?}");
            }
        }
        let f = &cfg.features;
        if f.income_full_vnd <= 0 || f.revenue_full_vnd <= 0 || f.prior_full_months <= 0 || f.conference_full <= 0 {
            bail!("features: the *_full values must be positive");
        }
        if cfg.pool.income_months == 0 || cfg.pool.compulsory_now_months == 0 {
            bail!("pool: income_months and compulsory_now_months must be at least 1");
        }
        let t = &cfg.targets;
        if t.weekly_percent > 100 || t.monthly_percent > 100 || t.quarterly_percent > 100 {
            bail!("targets: percentages must be 0–100");
        }
        Ok(())
    }

    /// The default model: (intercept, weights in [`FEATURES`] order).
    pub fn default_model(&self) -> Model {
        Model {
            intercept: self.model.intercept,
            weights: FEATURES.iter().map(|f| self.model.weights[*f]).collect(),
            fitted: None,
        }
    }
}

/// How a fit went.
#[derive(Clone, Debug, PartialEq)]
pub struct FitReport {
    pub observations: usize,
    pub positives: usize,
    /// Mean log-loss of the fitted model, and of the base rate alone.
    pub log_loss: f64,
    pub base_log_loss: f64,
    /// Area under the ROC curve on the fitting data.
    pub auc: f64,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub intercept: f64,
    /// One per [`FEATURES`].
    pub weights: Vec<f64>,
    /// Set when the weights were fitted from outcomes.
    pub fitted: Option<FitReport>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Model {
    pub fn linear(&self, x: &[f64]) -> f64 {
        self.intercept + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
    }

    pub fn probability(&self, x: &[f64]) -> f64 {
        sigmoid(self.linear(x))
    }

    /// Score 0–100: the probability in percent, rounded.
    pub fn score(&self, x: &[f64]) -> i64 {
        (100.0 * self.probability(x)).round().clamp(0.0, 100.0) as i64
    }

    /// The reason codes: features with a positive contribution, largest
    /// first (ties in feature order), at most `max`.
    pub fn reasons(&self, x: &[f64], max: usize) -> Vec<&'static str> {
        let mut c: Vec<(f64, usize)> =
            self.weights.iter().zip(x).enumerate().map(|(i, (w, v))| (w * v, i)).filter(|(c, _)| *c > 0.0).collect();
        c.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        c.into_iter().take(max).map(|(_, i)| FEATURES[i]).collect()
    }
}

/// Fits a logistic regression on `(features, enrolled)` by batch gradient
/// descent from zero weights. Deterministic.
pub fn fit(rows: &[(Vec<f64>, bool)], cfg: &FitConfig) -> Model {
    let k = FEATURES.len();
    let n = rows.len().max(1) as f64;
    let (mut b, mut w) = (0.0f64, vec![0.0f64; k]);
    for _ in 0..cfg.iterations {
        let (mut gb, mut gw) = (0.0, vec![0.0; k]);
        for (x, y) in rows {
            let p = sigmoid(b + w.iter().zip(x).map(|(a, v)| a * v).sum::<f64>());
            let e = p - if *y { 1.0 } else { 0.0 };
            gb += e;
            for j in 0..k {
                gw[j] += e * x[j];
            }
        }
        b -= cfg.learning_rate * gb / n;
        for j in 0..k {
            w[j] -= cfg.learning_rate * (gw[j] / n + cfg.l2 * w[j]);
        }
    }
    let mut model = Model { intercept: b, weights: w, fitted: None };
    model.fitted = Some(evaluate(&model, rows));
    model
}

fn evaluate(model: &Model, rows: &[(Vec<f64>, bool)]) -> FitReport {
    let n = rows.len().max(1) as f64;
    let pos = rows.iter().filter(|r| r.1).count();
    let base = (pos as f64 / n).clamp(1e-9, 1.0 - 1e-9);
    let ll = |p: f64, y: bool| -> f64 {
        let p = p.clamp(1e-9, 1.0 - 1e-9);
        if y {
            -p.ln()
        } else {
            -(1.0 - p).ln()
        }
    };
    let mut scored: Vec<(f64, bool)> = rows.iter().map(|(x, y)| (model.probability(x), *y)).collect();
    let log_loss = scored.iter().map(|(p, y)| ll(*p, *y)).sum::<f64>() / n;
    let base_log_loss = rows.iter().map(|(_, y)| ll(base, *y)).sum::<f64>() / n;
    // AUC by ranks (ties share the average rank).
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < scored.len() {
        let mut j = i;
        while j + 1 < scored.len() && scored[j + 1].0 == scored[i].0 {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += scored[i..=j].iter().filter(|s| s.1).count() as f64 * avg;
        i = j + 1;
    }
    let neg = rows.len() - pos;
    let auc = if pos == 0 || neg == 0 {
        0.5
    } else {
        (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
    };
    FitReport { observations: rows.len(), positives: pos, log_loss, base_log_loss, auc }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> ScoringConfig {
        ScoringConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/scoring.toml"), "2020-06".parse().unwrap()).unwrap().rules
    }

    #[test]
    fn shipped_config_names_every_feature_and_refuses_unknown_ones() {
        let cfg = shipped();
        assert_eq!(cfg.default_model().weights.len(), FEATURES.len());
        assert_eq!(FEATURE_DOCS.len(), FEATURES.len());
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/scoring.toml")).unwrap();
        let parse = |t: String| editions::editions(&t, ScoringConfig::check);
        assert!(parse(text.clone()).is_ok());
        assert!(parse(text.replace("income_level = 0.8", "income_levle = 0.8")).is_err());
        assert!(parse(text.replace("weekly_percent = 5", "weekly_percent = 105")).is_err());
    }

    #[test]
    fn scores_are_monotone_in_positive_features_and_reasons_explain_them() {
        let cfg = shipped();
        let m = cfg.default_model();
        let mut x = vec![0.0; FEATURES.len()];
        let s0 = m.score(&x);
        let near = FEATURES.iter().position(|f| *f == "prior_10_19_years").unwrap();
        x[near] = 1.0;
        let s1 = m.score(&x);
        assert!(s1 > s0);
        assert_eq!(m.reasons(&x, 3), vec!["prior_10_19_years"]);
        let age = FEATURES.iter().position(|f| *f == "prime_age").unwrap();
        x[age] = 1.0;
        assert!(m.score(&x) > s1);
        assert_eq!(m.reasons(&x, 1), vec!["prior_10_19_years"]);
        assert!((0..=100).contains(&m.score(&vec![1.0; FEATURES.len()])));
    }

    #[test]
    fn logistic_fit_recovers_a_planted_signal() {
        // Enrolment depends on feature 0 only: 80% when set, 10% when not.
        let mut rows = Vec::new();
        for i in 0..1000 {
            let mut x = vec![0.0; FEATURES.len()];
            let on = i % 2 == 0;
            x[0] = if on { 1.0 } else { 0.0 };
            x[1] = (i % 7) as f64 / 6.0; // noise
            let y = if on { i % 10 < 8 } else { i % 10 == 1 };
            rows.push((x, y));
        }
        let cfg = shipped().fit;
        let m = fit(&rows, &cfg);
        let r = m.fitted.clone().unwrap();
        assert!(m.weights[0] > 2.0, "weight {}", m.weights[0]);
        assert!(m.weights[1].abs() < 0.5, "noise weight {}", m.weights[1]);
        assert!(r.log_loss < r.base_log_loss);
        assert!(r.auc > 0.8, "auc {}", r.auc);
        assert_eq!(r.observations, 1000);
    }
}
