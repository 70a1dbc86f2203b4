//! `pipelines/linkage.toml`: the linkage's blocking rules, comparison levels
//! (m and u probabilities) and decision thresholds. Nothing of it is in code.

use anyhow::{bail, Context, Result};
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockRule {
    CitizenId,
    NameBirthDate,
    FamilyBirthDate,
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
    pub fuzzy_threshold: f64,
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
    pub fn load(path: &Path) -> Result<LinkConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        LinkConfig::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<LinkConfig> {
        let cfg: LinkConfig = toml::from_str(text)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
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
        if !(0.0..=1.0).contains(&c.name.fuzzy_threshold) {
            bail!("comparisons.name.fuzzy_threshold must be in [0, 1]");
        }
        let d = &self.decision;
        if d.review_weight > d.match_weight {
            bail!("decision.review_weight must not exceed decision.match_weight");
        }
        if d.margin < 0.0 {
            bail!("decision.margin must be ≥ 0");
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

    #[test]
    fn the_shipped_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/linkage.toml");
        let cfg = LinkConfig::load(&path).unwrap();
        assert!(cfg.comparisons.citizen_id.exact.weight() > cfg.decision.match_weight);
        assert!(cfg.comparisons.citizen_id.disagree.weight() < 0.0);
    }

    #[test]
    fn bad_probabilities_and_thresholds_are_refused() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/linkage.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let bad = text.replace("exact = { m = 0.97, u = 1e-8 }", "exact = { m = 1.5, u = 1e-8 }");
        assert!(LinkConfig::parse(&bad).unwrap_err().to_string().contains("citizen_id.exact"));
        let bad = text.replace("review_weight = 10.0", "review_weight = 99.0");
        assert!(LinkConfig::parse(&bad).is_err());
        let bad = text.replace("max_block_size", "max_block_sise");
        assert!(LinkConfig::parse(&bad).is_err());
    }
}
