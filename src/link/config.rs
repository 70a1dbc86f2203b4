//! `pipelines/linkage.toml`: the linkage's blocking rules, comparison levels
//! (m and u probabilities) and decision thresholds. Nothing of it is in code.
//! Dated like the other rules files (`crate::editions`): a run links under
//! the edition in force in its as-of month.

use crate::editions::{self, InForce};
use crate::month::Month;
use anyhow::{bail, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    pub decision: Decision,
    pub blocking: Blocking,
    pub comparisons: Comparisons,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Match weight (bits) from which the best candidate is `matched`.
    pub match_weight: f64,
    /// Bits by which the best must lead the runner-up to be `matched`.
    pub margin: f64,
    /// Match weight from which an unmatched person goes to clerical review.
    pub review_weight: f64,
    /// Candidates per ambiguous person kept in the clerical-review table.
    pub review_candidates: usize,
    /// The BHXH population (si_people) `match_weight` and `review_weight`
    /// are set for. A larger one raises both by log2(its size ÷ this)
    /// bits; a smaller one, or none given, leaves them as they are.
    #[serde(default)]
    pub reference_population: Option<u64>,
}

impl Decision {
    /// Bits `match_weight` and `review_weight` rise by for a BHXH
    /// population of `si_people`: a pair's prior odds of being the same
    /// person fall as 1 / si_people, so each doubling of the population
    /// asks one more bit of evidence for the same certainty. Never
    /// negative: below the reference population the thresholds are kept.
    pub fn population_bits(&self, si_people: usize) -> f64 {
        match self.reference_population {
            Some(r) if r > 0 && si_people as u64 > r => (si_people as f64 / r as f64).log2(),
            _ => 0.0,
        }
    }

    /// The decision with its thresholds for a BHXH population of `si_people`.
    pub fn for_population(&self, si_people: usize) -> Decision {
        let bits = self.population_bits(si_people);
        Decision { match_weight: self.match_weight + bits, review_weight: self.review_weight + bits, ..self.clone() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockRule {
    CitizenId,
    NameBirthDate,
    FamilyBirthDate,
    GivenBirthDate,
    FamilyMiddleBirthDate,
    NameBirthYear,
    NameProvince,
    EmployerGivenName,
    CccdPartsName,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blocking {
    pub rules: Vec<BlockRule>,
    /// Blocks with more BHXH people than this are skipped.
    pub max_block_size: usize,
}

/// One comparison level: P(level | same person), P(level | different people).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MU {
    pub m: f64,
    pub u: f64,
}

impl MU {
    /// The level's weight, log2(m / u) bits.
    pub fn weight(self) -> f64 {
        (self.m / self.u).log2()
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenIdLevels {
    pub exact: MU,
    pub disagree: MU,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameLevels {
    pub exact: MU,
    pub term_frequency: bool,
    pub tf_min_u: f64,
    /// `fuzzy`: the folded names differ by at most this many edits
    /// (insertion, deletion, substitution, transposition of neighbours).
    pub fuzzy_max_edits: usize,
    pub fuzzy: MU,
    pub disagree: MU,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BirthLevels {
    pub exact: MU,
    pub year_only: MU,
    pub same_year: MU,
    pub disagree: MU,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreeLevels {
    pub agree: MU,
    pub disagree: MU,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployerLevels {
    pub agree: MU,
    /// With term frequency, u of `agree` is the share of BHXH people the
    /// shared employer declares (a big employer proves less), at least tf_min_u.
    pub term_frequency: bool,
    pub tf_min_u: f64,
    pub disagree: MU,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparisons {
    pub citizen_id: CitizenIdLevels,
    pub name: NameLevels,
    pub birth_date: BirthLevels,
    pub sex: AgreeLevels,
    pub province: AgreeLevels,
    pub employer: EmployerLevels,
}

impl LinkConfig {
    /// The edition in force in `month` (the run's as-of month); every
    /// edition of the file is checked.
    pub fn load(path: &Path, month: Month) -> Result<InForce<LinkConfig>> {
        editions::load(path, month, LinkConfig::check)
    }

    /// Refuses probabilities outside (0, 1], thresholds out of order and an
    /// empty list of blocking rules.
    pub fn check(&self) -> Result<()> {
        let c = &self.comparisons;
        let levels = [
            ("citizen_id.exact", c.citizen_id.exact),
            ("citizen_id.disagree", c.citizen_id.disagree),
            ("name.exact", c.name.exact),
            ("name.fuzzy", c.name.fuzzy),
            ("name.disagree", c.name.disagree),
            ("birth_date.exact", c.birth_date.exact),
            ("birth_date.year_only", c.birth_date.year_only),
            ("birth_date.same_year", c.birth_date.same_year),
            ("birth_date.disagree", c.birth_date.disagree),
            ("sex.agree", c.sex.agree),
            ("sex.disagree", c.sex.disagree),
            ("province.agree", c.province.agree),
            ("province.disagree", c.province.disagree),
            ("employer.agree", c.employer.agree),
            ("employer.disagree", c.employer.disagree),
        ];
        for (name, l) in levels {
            if !(l.m > 0.0 && l.m <= 1.0 && l.u > 0.0 && l.u <= 1.0) {
                bail!("comparisons.{name}: m and u must be probabilities in (0, 1]");
            }
        }
        if !(c.name.tf_min_u > 0.0 && c.name.tf_min_u <= 1.0) || !(c.employer.tf_min_u > 0.0 && c.employer.tf_min_u <= 1.0) {
            bail!("comparisons.name.tf_min_u and comparisons.employer.tf_min_u must be in (0, 1]");
        }
        if c.name.fuzzy_max_edits == 0 {
            bail!("comparisons.name.fuzzy_max_edits must be at least 1 (0 is the exact level)");
        }
        let d = &self.decision;
        if d.review_weight > d.match_weight {
            bail!("decision.review_weight must not exceed decision.match_weight");
        }
        if d.margin < 0.0 {
            bail!("decision.margin must be ≥ 0");
        }
        if d.reference_population == Some(0) {
            bail!("decision.reference_population must be at least 1");
        }
        if self.blocking.rules.is_empty() {
            bail!("blocking.rules is empty: no candidate pair would ever be compared");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/linkage.toml")
    }

    fn month(s: &str) -> Month {
        s.parse().unwrap()
    }

    /// The last edition of `text` (every one checked).
    fn parse(text: &str) -> Result<LinkConfig> {
        Ok(editions::editions(text, LinkConfig::check)?.pop().expect("a first edition").rules)
    }

    #[test]
    fn the_shipped_config_loads() {
        let cfg = LinkConfig::load(&shipped(), month("2020-06")).unwrap();
        assert_eq!(cfg.valid_from, month("2018-01"));
        assert!(cfg.source.contains("08/06/2020"), "{}", cfg.source);
        let cfg = cfg.rules;
        assert!(cfg.comparisons.citizen_id.exact.weight() > cfg.decision.match_weight);
        assert!(cfg.comparisons.citizen_id.disagree.weight() < 0.0);
        let err = format!("{:#}", LinkConfig::load(&shipped(), month("2017-12")).unwrap_err());
        assert!(err.contains("no edition in force in 2017-12"), "{err}");
    }

    /// An amendment names only what changes and applies from its month on;
    /// one not yet in force is checked all the same.
    #[test]
    fn an_amendment_applies_from_its_month() {
        let text = std::fs::read_to_string(shipped()).unwrap()
            + "\n[[amendment]]\nvalid_from = \"2027-01\"\nsource = \"test\"\n[amendment.decision]\nmatch_weight = 22.5\n\
               [amendment.blocking]\nrules = [\"citizen_id\"]\n";
        let all = editions::editions(&text, LinkConfig::check).unwrap();
        assert_eq!(all.len(), 2);
        let (first, second) = (&all[0].rules, &all[1].rules);
        assert_eq!((first.decision.match_weight, second.decision.match_weight), (20.0, 22.5));
        assert_eq!(second.decision.review_weight, first.decision.review_weight, "not named: kept");
        assert_eq!(second.blocking.rules, [BlockRule::CitizenId]);
        assert_eq!(first.blocking.rules.len(), 7);
        assert_eq!((all[1].valid_from, all[1].source.as_str()), (month("2027-01"), "test"));
        let bad = text.clone() + "\n[[amendment]]\nvalid_from = \"2099-01\"\nsource = \"test\"\n[amendment.decision]\nreview_weight = 99.0\n";
        assert!(parse(&bad).is_err(), "a future amendment is checked tonight");
        let undated = text.replace("valid_from = \"2018-01\"\n", "");
        assert_ne!(undated, text);
        assert!(format!("{:#}", parse(&undated).unwrap_err()).contains("no valid_from"));
    }

    #[test]
    fn bad_probabilities_and_thresholds_are_refused() {
        let text = std::fs::read_to_string(shipped()).unwrap();
        assert!(parse(&text).is_ok());
        let bad = text.replace("exact = { m = 0.97, u = 1e-8 }", "exact = { m = 1.5, u = 1e-8 }");
        assert!(format!("{:#}", parse(&bad).unwrap_err()).contains("citizen_id.exact"));
        let bad = text.replace("review_weight = 10.0", "review_weight = 99.0");
        assert!(parse(&bad).is_err());
        let bad = text.replace("max_block_size", "max_block_sise");
        assert!(parse(&bad).is_err());
        let bad = text.replace("reference_population = 1_000_000", "reference_population = 0");
        assert_ne!(bad, text);
        assert!(format!("{:#}", parse(&bad).unwrap_err()).contains("reference_population"));
    }

    /// One bit a doubling above the reference population, exactly: 4M
    /// people against 1M raise both thresholds by 2 bits, 16M by 4;
    /// fewer people than the reference, or no reference, change nothing.
    #[test]
    fn thresholds_rise_a_bit_for_each_doubling_of_the_population() {
        let d = LinkConfig::load(&shipped(), month("2026-11")).unwrap().rules.decision;
        assert_eq!(d.reference_population, Some(1_000_000));
        for (people, bits) in [(4_000_000, 2.0), (16_000_000, 4.0), (1_000_000, 0.0), (500, 0.0), (2_000_000, 1.0)] {
            assert!((d.population_bits(people) - bits).abs() < 1e-12, "{people}: {}", d.population_bits(people));
            let at = d.for_population(people);
            assert!((at.match_weight - d.match_weight - bits).abs() < 1e-12 && (at.review_weight - d.review_weight - bits).abs() < 1e-12);
            assert_eq!((at.margin, at.review_candidates), (d.margin, d.review_candidates));
        }
        let none = Decision { reference_population: None, ..d.clone() };
        assert_eq!(none.population_bits(16_000_000), 0.0);
    }
}
