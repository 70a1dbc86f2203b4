//! Identifiers and names: tax codes, citizen IDs, social insurance numbers,
//! and the normal forms of Vietnamese names used for storage and matching.
//!
//! Pure functions with no I/O, shared by the ingest validators and the
//! synthetic-data generator.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Weights of the tax-code check digit (Thông tư 105/2020/TT-BTC scheme).
const TAX_WEIGHTS: [u32; 9] = [31, 29, 23, 19, 17, 13, 7, 5, 3];

/// The check digit for the first nine digits of a tax code, or `None` when
/// the prefix has no valid check digit (the weighted sum is 0 mod 11, so the
/// formula gives 10: such prefixes are never issued).
pub fn tax_check_digit(prefix9: &[u8; 9]) -> Option<u8> {
    let sum: u32 = prefix9.iter().zip(TAX_WEIGHTS).map(|(d, w)| u32::from(*d) * w).sum();
    let check = 10 - (sum % 11);
    (check < 10).then_some(check as u8)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxCodeError {
    /// Not 10 digits, or not 10 digits + `-NNN`.
    Format,
    /// Well formed, but the 10th digit is wrong.
    CheckDigit,
}

/// Validates an enterprise/person tax code: 10 digits whose last is the check
/// digit, optionally followed by `-NNN` (a branch). Returns the 10-digit head.
pub fn check_tax_code(s: &str) -> Result<&str, TaxCodeError> {
    let (head, branch) = match s.split_once('-') {
        Some((h, b)) => (h, Some(b)),
        None => (s, None),
    };
    if head.len() != 10 || !head.bytes().all(|c| c.is_ascii_digit()) {
        return Err(TaxCodeError::Format);
    }
    if let Some(b) = branch {
        if b.len() != 3 || !b.bytes().all(|c| c.is_ascii_digit()) || b == "000" {
            return Err(TaxCodeError::Format);
        }
    }
    let mut d = [0u8; 10];
    for (slot, c) in d.iter_mut().zip(head.bytes()) {
        *slot = c - b'0';
    }
    let prefix: [u8; 9] = d[..9].try_into().expect("nine digits");
    match tax_check_digit(&prefix) {
        Some(c) if c == d[9] => Ok(head),
        _ => Err(TaxCodeError::CheckDigit),
    }
}

/// The head-office part of a tax code (`0100109106-001` → `0100109106`).
pub fn tax_head(s: &str) -> &str {
    s.split_once('-').map_or(s, |(h, _)| h)
}

/// Builds a valid tax code from nine digits, if that prefix has a check digit.
pub fn make_tax_code(prefix9: &[u8; 9]) -> Option<String> {
    let c = tax_check_digit(prefix9)?;
    let mut s: String = prefix9.iter().map(|d| char::from(b'0' + d)).collect();
    s.push(char::from(b'0' + c));
    Some(s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CitizenId {
    /// Old 9-digit identity card (CMND).
    Cmnd,
    /// 12-digit citizen identity card (CCCD).
    Cccd { birth_province: u8, female: bool, birth_year: i32 },
}

/// Validates a citizen ID: 9 digits (CMND), or 12 digits (CCCD) whose first
/// three digits are `0` + a province code, whose 4th digit encodes century
/// and sex (0/1: 1900s male/female, 2/3: 2000s male/female) and whose 5th–6th
/// digits are the last two digits of the birth year.
/// `is_province` says whether a 2-digit code is a known province.
pub fn check_citizen_id(s: &str, is_province: impl Fn(&str) -> bool) -> Option<CitizenId> {
    if !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match s.len() {
        9 => Some(CitizenId::Cmnd),
        12 => {
            let b = s.as_bytes();
            if b[0] != b'0' || !is_province(&s[1..3]) {
                return None;
            }
            let cs = b[3] - b'0';
            if cs > 3 {
                return None;
            }
            let yy: i32 = s[4..6].parse().ok()?;
            Some(CitizenId::Cccd {
                birth_province: s[1..3].parse().ok()?,
                female: cs % 2 == 1,
                birth_year: if cs < 2 { 1900 + yy } else { 2000 + yy },
            })
        }
        _ => None,
    }
}

/// Builds a CCCD from its parts; `serial` is taken modulo 10^6.
pub fn make_cccd(province_code: &str, female: bool, birth_year: i32, serial: u32) -> String {
    let century = if birth_year >= 2000 { 2 } else { 0 } + u8::from(female);
    format!("0{}{}{:02}{:06}", province_code, century, birth_year % 100, serial % 1_000_000)
}

/// Masks a personal identifier for messages and logs: the first 3
/// characters (for a CCCD, the birth province), then `*`.
pub fn mask(id: &str) -> String {
    id.chars().enumerate().map(|(i, c)| if i < 3 { c } else { '*' }).collect()
}

/// Social insurance number: exactly 10 digits.
pub fn is_si_number(s: &str) -> bool {
    s.len() == 10 && s.bytes().all(|c| c.is_ascii_digit())
}

/// `n` ASCII digits exactly.
pub fn is_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|c| c.is_ascii_digit())
}

/// The stored form of a name: NFC, trimmed, runs of whitespace collapsed to
/// one space. Case is kept as the source wrote it.
pub fn normalize_name(raw: &str) -> String {
    normalized_name(raw).into_owned()
}

/// [`normalize_name`], borrowing `raw` when it is already in the stored
/// form (NFC, single spaces), as nearly every name is: ingest normalises
/// every name of every wage line.
pub fn normalized_name(raw: &str) -> std::borrow::Cow<'_, str> {
    let single_spaced = !raw.starts_with(' ')
        && !raw.ends_with(' ')
        && !raw.contains("  ")
        && !raw.chars().any(|c| c != ' ' && c.is_whitespace());
    if single_spaced && unicode_normalization::is_nfc_quick(raw.chars()) == unicode_normalization::IsNormalized::Yes {
        return std::borrow::Cow::Borrowed(raw);
    }
    let nfc: String = raw.nfc().collect();
    std::borrow::Cow::Owned(nfc.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The comparison form of a name: the stored form in Vietnamese title case
/// (each word capitalised), so `NGUYỄN VĂN AN` and `nguyễn văn an` agree.
pub fn canonical_name(raw: &str) -> String {
    normalize_name(raw)
        .split(' ')
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_uppercase().chain(cs.flat_map(char::to_lowercase)).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// The folded form used for blocking and fuzzy comparison: no diacritics,
/// `đ` → `d`, lower case ASCII, single spaces.
pub fn fold_name(raw: &str) -> String {
    let lower: String = normalize_name(raw).to_lowercase();
    lower
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_tax_codes_are_valid() {
        // Vietnam Electricity (EVN) and a Ho Chi Minh City enterprise.
        assert_eq!(check_tax_code("0100109106"), Ok("0100109106"));
        assert_eq!(check_tax_code("0300588569"), Ok("0300588569"));
        assert_eq!(check_tax_code("0100109106-001"), Ok("0100109106"));
    }

    #[test]
    fn every_wrong_check_digit_is_caught() {
        for d in 0..10u8 {
            let s = format!("010010910{d}");
            let expected = if d == 6 { Ok("0100109106") } else { Err(TaxCodeError::CheckDigit) };
            assert_eq!(check_tax_code(&s), expected, "{s}");
        }
    }

    #[test]
    fn malformed_tax_codes() {
        for s in ["010010910", "01001091066", "0100109106-1", "0100109106-000", "01001O9106", "", "0100109106-"] {
            assert_eq!(check_tax_code(s), Err(TaxCodeError::Format), "{s}");
        }
    }

    #[test]
    fn make_tax_code_round_trips() {
        assert_eq!(make_tax_code(&[0, 1, 0, 0, 1, 0, 9, 1, 0]).as_deref(), Some("0100109106"));
        // A prefix whose weighted sum is 0 mod 11 has no check digit.
        let p = [0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(make_tax_code(&p), None);
        assert_eq!(tax_head("0300588569-012"), "0300588569");
    }

    #[test]
    fn citizen_ids() {
        let prov = |c: &str| c == "01" || c == "79";
        assert_eq!(check_citizen_id("123456789", prov), Some(CitizenId::Cmnd));
        assert_eq!(
            check_citizen_id("001185012345", prov),
            Some(CitizenId::Cccd { birth_province: 1, female: true, birth_year: 1985 })
        );
        assert_eq!(
            check_citizen_id("079202000001", prov),
            Some(CitizenId::Cccd { birth_province: 79, female: false, birth_year: 2002 })
        );
        assert_eq!(check_citizen_id("003185012345", prov), None, "unknown province");
        assert_eq!(check_citizen_id("001585012345", prov), None, "century digit");
        assert_eq!(check_citizen_id("12345678", prov), None);
        assert_eq!(check_citizen_id("12345678901", prov), None);
        assert_eq!(check_citizen_id("00118501234a", prov), None);
        assert_eq!(make_cccd("01", true, 1985, 12345), "001185012345");
        assert_eq!(make_cccd("79", false, 2002, 1), "079202000001");
    }

    #[test]
    fn si_numbers() {
        assert!(is_si_number("0123456789"));
        assert!(!is_si_number("123456789"));
        assert!(!is_si_number("01234567890"));
    }

    #[test]
    fn names_already_in_stored_form_are_copied_as_they_are() {
        // The fast path must agree with the full normalisation everywhere.
        let full = |raw: &str| -> String {
            let nfc: String = raw.nfc().collect();
            nfc.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let nfd: String = "Lê Văn Đức Anh".nfd().collect();
        for raw in [
            "Lê Văn Đức Anh", "", " ", "An", " An", "An ", "Lê  Văn", "Lê\tVăn", "Lê\u{a0}Văn", "Lê\u{3000}Văn",
            "Trần Thị Ngọc Hằng", nfd.as_str(), "Nguye\u{302}\u{303}n", "Ω", "\u{212b}ngstr\u{f6}m",
        ] {
            assert_eq!(normalize_name(raw), full(raw), "{raw:?}");
        }
    }

    #[test]
    fn nfd_and_nfc_names_normalise_equal() {
        let nfc = "Nguyễn Thị Ánh";
        let nfd: String = nfc.nfd().collect();
        assert_ne!(nfc, nfd);
        assert_eq!(normalize_name(&nfd), nfc);
        assert_eq!(normalize_name("  Nguyễn   Thị\tÁnh "), nfc);
        assert_eq!(canonical_name("NGUYỄN THỊ ÁNH"), nfc);
        assert_eq!(canonical_name(&nfd.to_uppercase()), nfc);
    }

    #[test]
    fn folding_removes_diacritics() {
        assert_eq!(fold_name("Đặng Thị Ánh"), "dang thi anh");
        assert_eq!(fold_name("ĐẶNG  THỊ ÁNH"), "dang thi anh");
        let nfd: String = "Trần Văn Hưởng".nfd().collect();
        assert_eq!(fold_name(&nfd), "tran van huong");
    }
}
