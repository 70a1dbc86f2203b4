//! Person linkage on hand-written cases: NFD vs NFC, case and spaces, CMND vs
//! CCCD, typos, missing fields, and the ambiguity cases (two people with the
//! same name and birth date in one province). Uses the shipped
//! `pipelines/linkage.toml`, so a change of weights that breaks a case fails here.

use bhxh::link::{Decision, Field, Level, LinkConfig, Method, Model, Status};
use chrono::NaiveDate;
use std::path::Path;
use unicode_normalization::UnicodeNormalization;

fn config() -> LinkConfig {
    LinkConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/linkage.toml"), "2020-06".parse().unwrap()).unwrap().rules
}

fn days(s: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    Some((d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32)
}

/// A BHXH population of 3,000 unrelated people around the cases, so that
/// names have realistic term frequencies (one person in 3,000).
fn population() -> Model {
    let mut m = Model::new();
    for i in 0..3000 {
        m.add_si(
            &format!("99{i:08}"),
            Some(&format!("0791{:02}{:06}", 60 + i % 40, 500_000 + i)),
            &format!("Người Thứ {i}"),
            days("1980-01-01").map(|d| d + i),
            Some(if i % 2 == 0 { "M" } else { "F" }),
            Some("79"),
        );
    }
    m
}

struct Linked {
    m: Model,
    decisions: Vec<Decision>,
}

impl Linked {
    fn run(m: Model) -> Linked {
        let (decisions, _) = m.link(&config());
        Linked { m, decisions }
    }
    fn get(&self, person_ref: &str) -> &Decision {
        let i = (0..self.m.tax_len()).find(|&i| self.m.tax_key(i) == person_ref).expect("tax person");
        &self.decisions[i]
    }
    fn linked_to(&self, person_ref: &str) -> Option<&str> {
        self.get(person_ref).si().map(|s| self.m.si_key(s))
    }
    fn level(&self, person_ref: &str, f: Field) -> Level {
        self.get(person_ref).best.expect("a candidate").1.level(f)
    }
}

const AN: &str = "Nguyễn Thị Ánh";

#[test]
fn nfd_upper_case_and_stray_spaces_match_the_nfc_name() {
    let mut m = population();
    m.add_si("0100000001", Some("001185012345"), AN, days("1985-03-04"), Some("F"), Some("01"));
    let nfd: String = AN.nfd().collect();
    // Ingest stores names NFC single-spaced, but the linkage must not depend on it.
    m.add_tax_variant("name:nfd", 1, None, &nfd, days("1985-03-04"));
    m.add_tax_variant("name:upper", 1, None, &format!("  {}  ", AN.to_uppercase().replace(' ', "   ")), days("1985-03-04"));
    m.add_tax_variant("cid:001185012345", 1, Some("001185012345"), &nfd.to_uppercase(), days("1985-03-04"));
    let l = Linked::run(m);
    for r in ["name:nfd", "name:upper", "cid:001185012345"] {
        assert_eq!(l.linked_to(r), Some("0100000001"), "{r}");
        assert_eq!(l.level(r, Field::Name), Level::Exact, "{r}");
    }
    assert_eq!(l.get("name:nfd").method, Some(Method::NameBirth));
    assert_eq!(l.get("cid:001185012345").method, Some(Method::CitizenId));
}

#[test]
fn cmnd_in_one_source_and_cccd_in_the_other() {
    let mut m = population();
    m.add_si("0100000002", Some("001090001234"), "Trần Văn Hùng", days("1990-07-01"), Some("M"), Some("01"));
    // The tax side only has the old 9-digit CMND: not comparable, decided on name and birth date.
    m.add_tax_variant("cid:123456789", 1, Some("123456789"), "Trần Văn Hùng", days("1990-07-01"));
    m.add_tax_employer("cid:123456789", "0100109106", Some("01"));
    // And the reverse: BHXH has the CMND, the tax side a CCCD (sex and year agree).
    m.add_si("0100000003", Some("987654321"), "Lê Thị Hoa", days("1992-02-02"), Some("F"), Some("01"));
    m.add_tax_variant("cid:001192004321", 1, Some("001192004321"), "LÊ THỊ HOA", days("1992-02-02"));
    let l = Linked::run(m);
    assert_eq!(l.linked_to("cid:123456789"), Some("0100000002"));
    assert_eq!(l.level("cid:123456789", Field::CitizenId), Level::OtherType);
    assert_eq!(l.get("cid:123456789").method, Some(Method::NameBirth));
    assert_eq!(l.linked_to("cid:001192004321"), Some("0100000003"));
    assert_eq!(l.level("cid:001192004321", Field::Sex), Level::Agree, "sex from the CCCD's 4th digit");
}

#[test]
fn a_typo_in_the_given_name_is_fuzzy_and_the_id_or_employer_decides() {
    let mut m = population();
    m.add_si("0100000004", Some("001088000777"), "Phạm Minh Tuấn", days("1988-11-30"), Some("M"), Some("01"));
    m.add_tax_variant("pit:8000000001", 1, Some("001088000777"), "Phạm Minh Tuán", days("1988-11-30"));
    m.add_si_employer("0100000004", "0100109106");
    // No ID and a typo: the birth date and the employer that declares him decide.
    m.add_tax_variant("pit:8000000002", 1, None, "Phạm Minh Tuấm", days("1988-11-30"));
    m.add_tax_employer("pit:8000000002", "0100109106", Some("01"));
    // The same without the employer: not enough, a clerk decides.
    m.add_tax_variant("pit:8000000009", 1, None, "Phạm Minh Tuấm", days("1988-11-30"));
    m.add_tax_employer("pit:8000000009", "0300588569", Some("01"));
    let l = Linked::run(m);
    assert_eq!(l.linked_to("pit:8000000001"), Some("0100000004"));
    assert_eq!(l.level("pit:8000000001", Field::Name), Level::Exact, "a lost diacritic is not a typo");
    assert_eq!(l.linked_to("pit:8000000002"), Some("0100000004"));
    assert_eq!(l.level("pit:8000000002", Field::Name), Level::Fuzzy);
    assert_eq!(l.get("pit:8000000002").method, Some(Method::Probabilistic));
    assert_eq!(l.get("pit:8000000009").status, Status::Ambiguous);
}

#[test]
fn a_missing_birth_date_falls_back_on_the_cccd_year() {
    let mut m = population();
    m.add_si("0100000005", Some("001095000111"), "Vũ Văn Nam", days("1995-05-05"), Some("M"), Some("01"));
    m.add_tax_variant("cid:001095000111", 1, Some("001095000111"), "Vũ Văn Nam", None);
    let l = Linked::run(m);
    assert_eq!(l.linked_to("cid:001095000111"), Some("0100000005"));
    assert_eq!(l.level("cid:001095000111", Field::BirthDate), Level::YearOnly);
}

#[test]
fn two_namesakes_born_the_same_day_in_one_province_are_ambiguous_without_an_id() {
    let mut m = population();
    m.add_si("0100000006", None, "Nguyễn Văn Bình", days("1987-01-15"), Some("M"), Some("01"));
    m.add_si("0100000007", Some("001087000222"), "Nguyễn Văn Bình", days("1987-01-15"), Some("M"), Some("01"));
    // No ID: nothing tells them apart, so the pair goes to clerical review.
    m.add_tax_variant("name:nguyễn văn bình|1987-01-15", 1, None, "NGUYỄN VĂN BÌNH", days("1987-01-15"));
    m.add_tax_employer("name:nguyễn văn bình|1987-01-15", "0100109106", Some("01"));
    // With the CCCD of one of them: that one.
    m.add_tax_variant("cid:001087000222", 1, Some("001087000222"), "Nguyễn Văn Bình", days("1987-01-15"));
    // With a CMND (not comparable with either): still ambiguous.
    m.add_tax_variant("cid:111222333", 1, Some("111222333"), "Nguyễn Văn Bình", days("1987-01-15"));
    let l = Linked::run(m);
    let d = l.get("name:nguyễn văn bình|1987-01-15");
    assert_eq!(d.status, Status::Ambiguous);
    assert_eq!(d.si(), None, "never guessed");
    assert_eq!(d.review_reason, Some("close_runner_up"));
    let mut cands: Vec<&str> = d.review.iter().map(|c| l.m.si_key(c.0)).collect();
    cands.sort();
    assert_eq!(cands, ["0100000006", "0100000007"]);
    assert_eq!(l.linked_to("cid:001087000222"), Some("0100000007"));
    assert_eq!(l.get("cid:111222333").status, Status::Ambiguous);
}

#[test]
fn namesakes_are_told_apart_by_the_employer_that_declares_one_of_them() {
    let mut m = population();
    m.add_si("0100000008", None, "Đỗ Thị Lan", days("1991-09-09"), Some("F"), Some("01"));
    m.add_si("0100000009", None, "Đỗ Thị Lan", days("1991-09-09"), Some("F"), Some("01"));
    m.add_si_employer("0100000009", "0100109106");
    m.add_tax_variant("name:đỗ thị lan|1991-09-09", 1, None, "Đỗ Thị Lan", days("1991-09-09"));
    m.add_tax_employer("name:đỗ thị lan|1991-09-09", "0100109106", Some("01"));
    let l = Linked::run(m);
    assert_eq!(l.linked_to("name:đỗ thị lan|1991-09-09"), Some("0100000009"));
    assert_eq!(l.level("name:đỗ thị lan|1991-09-09", Field::Employer), Level::Agree);
}

#[test]
fn namesakes_with_different_ids_or_birth_dates_are_not_linked() {
    let mut m = population();
    m.add_si("0100000010", Some("001080000333"), "Hoàng Văn Đức", days("1980-04-04"), Some("M"), Some("01"));
    // Same name, another CCCD, same birth date: two people.
    m.add_tax_variant("cid:001080000444", 1, Some("001080000444"), "Hoàng Văn Đức", days("1980-04-04"));
    // Same name, no ID, born another year.
    m.add_tax_variant("name:hoàng văn đức|1983-06-06", 1, None, "Hoàng Văn Đức", days("1983-06-06"));
    // Nobody like them at all.
    m.add_tax_variant("pit:8000000003", 1, None, "Khúc Thừa Dụ", days("1970-01-01"));
    let l = Linked::run(m);
    assert_ne!(l.get("cid:001080000444").status, Status::Matched);
    assert_eq!(l.level("cid:001080000444", Field::CitizenId), Level::Disagree);
    assert_eq!(l.get("name:hoàng văn đức|1983-06-06").status, Status::Unmatched);
    let d = l.get("pit:8000000003");
    assert_eq!((d.status, d.candidates), (Status::Unmatched, 0));
}

#[test]
fn a_household_owner_brings_sex_and_province() {
    let mut m = population();
    m.add_si("0100000011", None, "Bùi Thị Mai", None, Some("F"), Some("27"));
    m.add_si("0100000012", None, "Bùi Thị Mai", None, Some("F"), Some("01"));
    m.add_tax_variant("pit:8000000004", 2, None, "Bùi Thị Mai", days("1975-12-12"));
    m.add_tax_facts("pit:8000000004", 2, Some("F"), Some("27"));
    let l = Linked::run(m);
    let d = l.get("pit:8000000004");
    // Name, sex and province only: not enough to link, but worth a clerk's look.
    assert_eq!(d.status, Status::Ambiguous);
    assert_eq!(d.review_reason, Some("below_match_weight"));
    assert_eq!(l.m.si_key(d.review[0].0), "0100000011", "the one in the owner's province ranks first");
    assert_eq!(l.m.tax_source(0), "households");
}

#[test]
fn candidates_of_equal_weight_rank_by_si_number_whatever_order_they_came_in() {
    // Three namesakes born the same day in one province, nothing to tell
    // them apart: equal weights, so the clerk sees them in si_number order,
    // whether si_people came sorted (the index is the rank) or not.
    let people = ["0100000031", "0100000032", "0100000033"];
    for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0]] {
        let mut m = Model::new();
        for &k in &order {
            m.add_si(people[k], None, "Lý Thị Hà", days("1993-03-03"), Some("F"), Some("01"));
        }
        // A person's rows need not come together: the second variant of
        // this one comes after another person's.
        m.add_tax_variant("name:lý thị hà|1993-03-03", 1, None, "Lý Thị Hà", days("1993-03-03"));
        m.add_tax_variant("pit:8000000031", 1, None, "Khúc Thừa Dụ", days("1970-01-01"));
        m.add_tax_variant("name:lý thị hà|1993-03-03", 1, None, "LY THI HA", days("1993-03-03"));
        assert_eq!(m.tax_len(), 2, "order {order:?}: one record per person_ref");
        let l = Linked::run(m);
        let d = l.get("name:lý thị hà|1993-03-03");
        assert_eq!(d.status, Status::Ambiguous, "order {order:?}");
        assert_eq!(d.candidates, 3);
        let review: Vec<&str> = d.review.iter().map(|c| l.m.si_key(c.0)).collect();
        assert_eq!(review, people, "order {order:?}");
        assert_eq!(l.m.si_key(d.best.unwrap().0), "0100000031");
    }
}

#[test]
fn the_clerk_sees_the_best_five_of_many_candidates_whatever_order_they_came_in() {
    // Twelve namesakes born the same day in one province, among people of
    // other names (so that the linker's own order of the BHXH side is not
    // the order they were added in). Two work at the tax-side person's
    // employer, three are men; the rest tie. Only five go to the clerk:
    // the two at the employer, then the best of the rest by si_number; the
    // decision still counts all twelve.
    let people: Vec<String> = (0..12).map(|i| format!("01000001{i:02}")).collect();
    let at_employer = ["0100000107", "0100000103"];
    let men = ["0100000100", "0100000101", "0100000105"];
    for order in [(0..12).collect::<Vec<usize>>(), (0..12).rev().collect(), vec![5, 11, 0, 7, 3, 9, 1, 10, 2, 8, 4, 6]] {
        let mut m = Model::new();
        for (n, &k) in order.iter().enumerate() {
            m.add_si(&format!("02{n:08}"), None, &format!("Người Khác {n}"), days("1990-01-01"), Some("M"), Some("01"));
            let p = &people[k];
            let sex = if men.contains(&p.as_str()) { "M" } else { "F" };
            m.add_si(p, None, "Lý Thị Hà", days("1993-03-03"), Some(sex), Some("01"));
        }
        for p in at_employer {
            m.add_si_employer(p, "0101234567");
        }
        m.add_tax_variant("pit:8000000100", 1, None, "Lý Thị Hà", days("1993-03-03"));
        m.add_tax_employer("pit:8000000100", "0101234567", Some("01"));
        m.add_tax_facts("pit:8000000100", 1, Some("F"), Some("01"));
        let l = Linked::run(m);
        let d = l.get("pit:8000000100");
        assert_eq!(d.candidates, 12, "order {order:?}");
        assert_eq!(d.status, Status::Ambiguous, "order {order:?}: the two at the employer tie");
        let review: Vec<&str> = d.review.iter().map(|c| l.m.si_key(c.0)).collect();
        assert_eq!(review, ["0100000103", "0100000107", "0100000102", "0100000104", "0100000106"], "order {order:?}");
        assert_eq!(l.m.si_key(d.best.unwrap().0), "0100000103");
        assert_eq!(d.runner_up, Some(d.best.unwrap().1.weight));
        assert!(d.review[1].1.weight > d.review[2].1.weight, "the employer counts");
        assert_eq!(d.review[2].1.weight, d.review[4].1.weight);
        assert_eq!(d.review[2].1.level(Field::Employer), Level::Disagree);
    }
}

/// The match and review weights rise by log2(BHXH people ÷
/// `reference_population`): a name and birth date that link a person in
/// the shipped config (whose reference is far above this population) only
/// send them to clerical review when the population is large against the
/// reference, by a bit more than the pair's lead over the match weight.
#[test]
fn a_larger_population_asks_more_evidence_of_a_link() {
    let build = || {
        let mut m = population();
        m.add_si("0100000010", None, "Trần Văn Cường", days("1985-03-04"), Some("M"), Some("01"));
        m.add_tax_variant("name:trần văn cường|1985-03-04", 1, None, "Trần Văn Cường", days("1985-03-04"));
        m
    };
    let shipped = config();
    let (base, stats) = build().link(&shipped);
    assert_eq!(stats.threshold_bits, 0.0, "3,001 people: below the shipped reference");
    let m = build();
    let i = (0..m.tax_len()).find(|&i| m.tax_key(i) == "name:trần văn cường|1985-03-04").unwrap();
    assert_eq!(base[i].status, Status::Matched);
    assert_eq!(base[i].method, Some(Method::NameBirth));
    let weight = base[i].best.unwrap().1.weight;
    let lead = weight - shipped.decision.match_weight;
    assert!(lead > 0.0);
    // A reference that raises the thresholds by the lead and one bit more.
    let mut raised = shipped.clone();
    let reference = (m.si_len() as f64 / 2f64.powf(lead + 1.0)).floor() as u64;
    raised.decision.reference_population = Some(reference);
    let (scaled, stats) = m.link(&raised);
    let bits = (m.si_len() as f64 / reference as f64).log2();
    assert!((stats.threshold_bits - bits).abs() < 1e-12 && bits > lead, "{bits} bits against a lead of {lead}");
    let d = &scaled[i];
    assert_eq!(d.status, Status::Ambiguous, "{weight} bits: below the raised match weight, above the raised review weight");
    assert_eq!(d.review_reason, Some("below_match_weight"));
    assert_eq!(d.si(), None);
    assert_eq!(d.best.unwrap().1.weight, weight, "the pair's weight itself is the same");
    // Everyone else decides as before (their weights are far from both thresholds).
    let changed = (0..m.tax_len()).filter(|&j| base[j].status != scaled[j].status).count();
    assert_eq!(changed, 1);
}
