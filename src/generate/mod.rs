//! `bhxh generate`: a deterministic synthetic Vietnam, written as the 14
//! input extracts of the data contract plus `truth/`, the planted answers
//! the pipeline is tested against.
//!
//! The same `(people, seed, as_of)` gives byte-identical files. The country
//! is built in memory as compact structs ([`world`]); each person's monthly
//! wages and declarations come from one function ([`plan`]) that feeds the
//! tax file, the contributions file and the truth alike. Rows are streamed
//! to buffered CSV writers ([`writer`]) that plant bad rows ([`badrows`]),
//! exact duplicates and record the noise, with physical line numbers.
//!
//! Two threads write the person-level files (one has tax_wages, the other
//! si_contributions with the dues and the person-level truth); then the
//! unit-level files follow from the dues.
//!
//! See [`world`] for the composition of the population, and
//! `truth_readme.md` (written as `truth/README.md` with the files) for the
//! exact rules of each truth file.

mod badrows;
mod contrib;
mod idents;
mod names;
mod people_files;
mod plan;
mod registry_files;
mod rng;
mod truth;
mod world;
mod writer;

#[cfg(test)]
mod tests;

use crate::reference::Reference;
use anyhow::{Context, Result};
use badrows::BadCtx;
use people_files::Out;
use std::path::PathBuf;
use writer::Planted;

pub struct GenerateOptions {
    pub out: PathBuf,
    pub people: u64,
    pub seed: u64,
    pub as_of: chrono::NaiveDate,
    pub reference_dir: PathBuf,
}

pub struct GenerateSummary {
    /// (dataset, path, data rows written) for the 14 extracts.
    pub files: Vec<(String, PathBuf, u64)>,
    pub bad_rows: u64,
    pub duplicate_rows: u64,
    pub noisy_rows: u64,
}

/// The rules behind each truth file, written as `truth/README.md`.
const TRUTH_README: &str = include_str!("truth_readme.md");

pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    let reference = Reference::load(&opts.reference_dir)
        .with_context(|| format!("loading reference data from {}", opts.reference_dir.display()))?;
    let w = world::World::build(&reference, opts.seed, opts.people, opts.as_of)?;
    let truth_dir = opts.out.join("truth");
    std::fs::create_dir_all(&truth_dir).with_context(|| format!("creating {}", truth_dir.display()))?;
    let tag = opts.as_of.format("%Y%m%d").to_string();
    let out =
        Out { dir: &opts.out, tag: &tag, ctx: BadCtx { unknown_provinces: w.unknown_provinces.clone(), fresh: 0 } };
    let ids = idents::Idents::new(opts.seed);

    // Thread A: tax_wages (the largest file), tax_households, si_voluntary.
    // This thread: si_contributions with the dues and the person-level truth,
    // then si_people.
    type PersonFiles = (Planted, Planted, (Planted, people_files::Enrolled));
    let (a, b): (Result<PersonFiles>, Result<(Planted, contrib::Ledger, Planted)>) = std::thread::scope(|s| {
        let ta = s.spawn(|| -> Result<PersonFiles> {
            Ok((
                people_files::tax_wages(&w, &ids, &out)?,
                people_files::tax_households(&w, &ids, &out)?,
                people_files::si_voluntary(&w, &ids, &out, &truth_dir)?,
            ))
        });
        let b = contrib::run(&w, &ids, &out, &truth_dir)
            .and_then(|(c, ledger)| Ok((c, ledger, people_files::si_people(&w, &ids, &out)?)));
        (ta.join().unwrap_or_else(|_| Err(anyhow::anyhow!("tax_wages writer panicked"))), b)
    });
    let (tax_wages, tax_households, (si_voluntary, enrolled)) = a?;
    let (si_contributions, ledger, si_people) = b?;
    let dues = ledger.dues(&w);
    let mut truth_rows: Vec<(&'static str, u64)> = ledger.truth_rows.clone();
    truth_rows.extend(enrolled.truth.iter().copied());

    let tax_employers = registry_files::tax_employers(&w, &out)?;
    let si_units = registry_files::si_units(&w, &out)?;
    let si_suspensions = registry_files::si_suspensions(&w, &out)?;
    let (si_payments, t) = registry_files::si_payments(&w, &dues, &out, &truth_dir)?;
    truth_rows.push(t);
    let agents = registry_files::agents(&w, &out)?;
    let officers = registry_files::officers(&w, &out)?;
    let plan_targets = registry_files::plan_targets(&w, &dues, &ledger, &enrolled, &out)?;
    let (covid_reviews, t) = registry_files::covid_reviews(&w, &ledger, &out, &truth_dir)?;
    truth_rows.push(t);
    let conferences = registry_files::conferences(&w, &out)?;
    truth_rows.push(registry_files::unregistered(&w, &ledger, &truth_dir)?);

    let planted = vec![
        tax_employers,
        tax_wages,
        tax_households,
        si_units,
        si_people,
        si_contributions,
        si_suspensions,
        si_payments,
        si_voluntary,
        agents,
        officers,
        plan_targets,
        covid_reviews,
        conferences,
    ];
    truth_rows.extend(truth::planted_files(&truth_dir, &planted)?);
    std::fs::write(truth_dir.join("README.md"), TRUTH_README)?;

    let mut datasets = serde_json::Map::new();
    let mut summary = GenerateSummary { files: Vec::new(), bad_rows: 0, duplicate_rows: 0, noisy_rows: 0 };
    for p in &planted {
        let ds = p.ds.expect("dataset");
        let (bad, dup, noisy) = (p.bad.len() as u64, p.dups.len() as u64, p.noise.len() as u64);
        datasets.insert(
            ds.name().to_string(),
            serde_json::json!({
                "file": p.file,
                "rows": p.rows,
                "good_rows": p.rows - bad - dup,
                "bad_rows": bad,
                "duplicate_rows": dup,
                "noisy_rows": noisy,
            }),
        );
        summary.files.push((ds.name().to_string(), p.path.clone(), p.rows));
        summary.bad_rows += bad;
        summary.duplicate_rows += dup;
        summary.noisy_rows += noisy;
    }
    let mut composition = serde_json::Map::new();
    for (k, (role, _)) in world::COMPOSITION.iter().enumerate() {
        composition.insert(role.code().to_string(), w.role_counts[k].into());
    }
    let truth_json: serde_json::Map<String, serde_json::Value> =
        truth_rows.iter().map(|(n, r)| (format!("{n}.csv"), (*r).into())).collect();
    let json = serde_json::json!({
        "generator": "bhxh generate",
        "parameters": {
            "people": opts.people,
            "seed": opts.seed,
            "as_of": opts.as_of.to_string(),
            "window_first_month": w.m0.to_string(),
            "window_last_month": w.asof_m.to_string(),
            "tax_months": format!("{}..{}", w.m0, w.asof_m.prev()),
            "covid_first_month": w.month(w.covid_t0).to_string(),
        },
        "composition": composition,
        "world": {
            "employers": w.employers.len(),
            "units": w.units.len(),
            "suspended_units": w.units.iter().filter(|u| u.susp.is_some()).count(),
            "households": w.households.len(),
            "officers": w.officers.len(),
            "agents": w.agents.len(),
        },
        "datasets": datasets,
        "truth_rows": truth_json,
    });
    std::fs::write(truth_dir.join("summary.json"), serde_json::to_string_pretty(&json)? + "\n")?;
    Ok(summary)
}
