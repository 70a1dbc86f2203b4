//! Identifiers of people (si_number, personal tax code, CCCD, CMND) and how
//! each source shows a person (with or without planted noise).

use super::names::{full_name, garble, Noise};
use super::rng::Perm;
use super::world::{flag, World};
use chrono::{Datelike, NaiveDate};
use rand::Rng;

/// Keyed permutations that make identifiers unique and random-looking.
pub(crate) struct Idents {
    si: Perm,
    ptc: Perm,
    cmnd: Perm,
}

/// A person's true identity.
#[derive(Clone, Debug)]
pub(crate) struct Ident {
    pub si_number: String,
    pub tax_code: Option<String>,
    pub cccd: Option<String>,
    pub cmnd: Option<String>,
    pub name: String,
    pub birth: NaiveDate,
}

impl Ident {
    /// The citizen ID the person normally shows.
    pub fn citizen_id(&self) -> Option<&str> {
        self.cccd.as_deref().or(self.cmnd.as_deref())
    }
}

/// How one source shows a person.
#[derive(Clone, Debug)]
pub(crate) struct Shown {
    pub name: String,
    pub citizen_id: Option<String>,
    pub birth: Option<NaiveDate>,
    pub noise: Option<Noise>,
}

impl Idents {
    pub fn new(seed: u64) -> Idents {
        Idents {
            si: Perm::new(100_000_000, seed, 10),
            ptc: Perm::new(90_000_000, seed, 11),
            cmnd: Perm::new(900_000_000, seed, 12),
        }
    }

    /// Personal tax code number `k` (< 9·10^7): `8` + 7-digit block + the
    /// (k mod 9)-th last digit of the block that has a check digit.
    fn personal_tax_code(&self, i: u64) -> String {
        let k = self.ptc.apply(i);
        let mut block = k / 9;
        let mut digits = [0u8; 9];
        digits[0] = 8;
        for d in (1..8).rev() {
            digits[d] = (block % 10) as u8;
            block /= 10;
        }
        let mut nth = k % 9;
        for last in 0..10u8 {
            digits[8] = last;
            if let Some(c) = crate::ids::make_tax_code(&digits) {
                if nth == 0 {
                    return c;
                }
                nth -= 1;
            }
        }
        unreachable!("nine valid codes per block")
    }

    pub fn ident(&self, w: &World, i: usize) -> Ident {
        let p = &w.people[i];
        let prov = &w.provinces[p.province as usize].code;
        let birth = p.birth_date();
        let cccd = p.has(flag::HAS_CCCD).then(|| {
            crate::ids::make_cccd(&w.provinces[p.birth_province as usize].code, p.female(), birth.year(), p.cccd_serial)
        });
        let cmnd = p.has(flag::HAS_CMND).then(|| format!("{:09}", 100_000_000 + self.cmnd.apply(i as u64)));
        Ident {
            si_number: format!("{prov}{:08}", self.si.apply(i as u64)),
            tax_code: p.has(flag::HAS_PTC).then(|| self.personal_tax_code(i as u64)),
            cccd,
            cmnd,
            name: full_name(p.name, p.female()),
            birth,
        }
    }
}

/// The person as a source shows them: clean, or with one planted noise kind
/// (with probability `rate`).
pub(crate) fn show(id: &Ident, rng: &mut impl Rng, rate: f64) -> Shown {
    let mut s = Shown {
        name: id.name.clone(),
        citizen_id: id.citizen_id().map(str::to_string),
        birth: Some(id.birth),
        noise: None,
    };
    if !rng.gen_bool(rate) {
        return s;
    }
    let mut kind = Noise::draw(rng);
    if kind == Noise::CmndNotCccd && (id.cccd.is_none() || id.cmnd.is_none()) {
        kind = Noise::NfdName;
    }
    if kind == Noise::MissingCitizenId && s.citizen_id.is_none() {
        kind = Noise::NfdName;
    }
    match kind {
        Noise::MissingCitizenId => s.citizen_id = None,
        Noise::CmndNotCccd => s.citizen_id = id.cmnd.clone(),
        Noise::MissingBirthDate => s.birth = None,
        k => match garble(&id.name, k, rng) {
            Some(g) => s.name = g,
            None => {
                kind = Noise::UpperName;
                s.name = id.name.to_uppercase();
            }
        },
    }
    s.noise = Some(kind);
    s
}
