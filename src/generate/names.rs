//! Vietnamese names and places, with realistic frequencies, and the ways
//! registries garble names (the planted noise).
//!
//! All literals are precomposed (NFC); a test checks it.

use super::rng::Table;
use rand::Rng;
use unicode_normalization::UnicodeNormalization;

/// Family names with weights per mille (roughly the national distribution:
/// Nguyễn ~38%, Trần ~11%, Lê ~9.5%, Phạm ~7%, Hoàng/Huỳnh ~5%, ...).
pub(crate) const FAMILY: &[(&str, u64)] = &[
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 29),
    ("Huỳnh", 21),
    ("Phan", 45),
    ("Vũ", 22),
    ("Võ", 20),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đinh", 8),
    ("Trương", 8),
    ("Đoàn", 5),
    ("Lâm", 4),
    ("Mai", 4),
    ("Trịnh", 4),
    ("Cao", 3),
    ("Lương", 3),
    ("Hà", 3),
    ("Tạ", 2),
    ("Tô", 2),
    ("Lưu", 2),
    ("Phùng", 2),
    ("Châu", 2),
    ("Nông", 2),
    ("Thái", 1),
    ("Quách", 1),
    ("Kiều", 1),
    ("Triệu", 1),
    ("Lò", 1),
    ("Chu", 1),
    ("La", 1),
    ("Khúc", 1),
    ("Tăng", 1),
];
/// Index pairs (northern form, southern form) swapped by region: Hoàng/Huỳnh, Vũ/Võ.
const FAMILY_PAIRS: &[(usize, usize)] = &[(4, 5), (7, 8)];

pub(crate) const MIDDLE_M: &[(&str, u64)] = &[
    ("Văn", 300),
    ("Đức", 70),
    ("Minh", 70),
    ("Hữu", 50),
    ("Quang", 50),
    ("Thanh", 40),
    ("Công", 40),
    ("Quốc", 45),
    ("Ngọc", 30),
    ("Xuân", 25),
    ("Hoàng", 25),
    ("Đình", 40),
    ("Trọng", 30),
    ("Duy", 30),
    ("Mạnh", 20),
    ("Tiến", 20),
    ("Hải", 20),
    ("Gia", 20),
    ("Anh", 20),
    ("Thành", 20),
    ("Việt", 20),
    ("Tuấn", 15),
    ("Nhật", 15),
    ("Bá", 15),
    ("Chí", 15),
    ("Khắc", 10),
    ("Kim", 10),
    ("Phú", 10),
    ("Trung", 15),
    ("Hồng", 10),
];
pub(crate) const MIDDLE_F: &[(&str, u64)] = &[
    ("Thị", 450),
    ("Ngọc", 80),
    ("Thu", 50),
    ("Thanh", 50),
    ("Kim", 40),
    ("Minh", 40),
    ("Mỹ", 30),
    ("Hồng", 30),
    ("Phương", 30),
    ("Bảo", 20),
    ("Thùy", 30),
    ("Hoài", 20),
    ("Diệu", 20),
    ("Khánh", 20),
    ("Quỳnh", 20),
    ("Tuyết", 10),
    ("Xuân", 20),
    ("Hải", 20),
    ("Lan", 10),
    ("Cẩm", 10),
    ("Như", 20),
    ("Ánh", 15),
    ("Hoàng", 15),
    ("Bích", 15),
    ("Thúy", 15),
    ("Tường", 10),
    ("Yến", 10),
];
/// Given names, most frequent first (weights follow a Zipf law on the rank).
pub(crate) const GIVEN_M: &[&str] = &[
    "Anh",
    "Hùng",
    "Dũng",
    "Tuấn",
    "Minh",
    "Hải",
    "Nam",
    "Long",
    "Thắng",
    "Cường",
    "Hoàng",
    "Huy",
    "Đức",
    "Sơn",
    "Phong",
    "Quân",
    "Bình",
    "Trung",
    "Thành",
    "Khánh",
    "Tùng",
    "Việt",
    "Hiếu",
    "Hưng",
    "Phúc",
    "Lâm",
    "Tâm",
    "Toàn",
    "Tiến",
    "Vinh",
    "Đạt",
    "Kiên",
    "Lộc",
    "Nghĩa",
    "Hậu",
    "Tài",
    "Thiện",
    "Tú",
    "Vũ",
    "Bảo",
    "Duy",
    "Khoa",
    "Nhân",
    "Quang",
    "Thịnh",
    "Trí",
    "Hòa",
    "Phát",
    "Sang",
    "Hiển",
    "Khải",
    "Lợi",
    "Mạnh",
    "Thái",
    "Chiến",
    "Công",
    "Định",
    "Giang",
    "Hiệp",
    "Luân",
    "Nguyên",
    "Phú",
    "Quý",
    "Tân",
    "Thuận",
    "Trọng",
    "Hào",
    "Lực",
    "Quyết",
    "Sỹ",
    "Thông",
    "Tín",
    "Trường",
    "Tường",
    "Vương",
    "Đông",
    "Khang",
    "Lân",
    "Nhật",
    "Thọ",
];
pub(crate) const GIVEN_F: &[&str] = &[
    "Linh",
    "Hương",
    "Trang",
    "Lan",
    "Hà",
    "Thảo",
    "Ngọc",
    "Hằng",
    "Mai",
    "Anh",
    "Huyền",
    "Phương",
    "Nhung",
    "Thủy",
    "Loan",
    "Dung",
    "Hạnh",
    "Yến",
    "Thu",
    "Hoa",
    "Vân",
    "Nga",
    "Hiền",
    "Oanh",
    "Trinh",
    "Vy",
    "Nhi",
    "Ly",
    "Quyên",
    "Hồng",
    "Tuyết",
    "Giang",
    "Thư",
    "Uyên",
    "Châu",
    "Diệp",
    "Huệ",
    "Khánh",
    "Liên",
    "My",
    "Nguyệt",
    "Nhàn",
    "Quỳnh",
    "Tâm",
    "Thắm",
    "Thoa",
    "Trâm",
    "Xuân",
    "Bích",
    "Chi",
    "Đào",
    "Hoài",
    "Kiều",
    "Lệ",
    "Lụa",
    "Mơ",
    "Phượng",
    "Sương",
    "Thùy",
    "Tiên",
    "Duyên",
    "Lài",
    "Ngân",
    "Thúy",
    "Vi",
    "Hậu",
];

/// Commune/district name stems used for synthetic places.
pub(crate) const PLACES: &[&str] = &[
    "An Phú",
    "Tân Lập",
    "Hòa Bình",
    "Thạnh Lộc",
    "Phú Hòa",
    "Bình An",
    "Tân Thành",
    "Vĩnh Phúc",
    "Đông Hòa",
    "Xuân Lộc",
    "Quảng An",
    "Hưng Đạo",
    "Kim Liên",
    "Yên Hòa",
    "Nghĩa Đô",
    "Long Bình",
    "Phước Long",
    "Trung Hòa",
    "Tân Định",
    "Hiệp Phước",
    "Đức Thắng",
    "Thanh Xuân",
    "Mỹ Đình",
    "Phú Lợi",
    "Tân Hiệp",
    "Hòa Khánh",
    "An Lạc",
    "Đồng Tâm",
    "Tiên Phong",
    "Quyết Thắng",
    "Hợp Thành",
    "Minh Khai",
    "Chiến Thắng",
    "Tân Tiến",
    "Việt Hưng",
    "Phúc Lợi",
    "Sơn Đồng",
    "Vân Canh",
    "Thuận An",
    "Phước Hòa",
    "Bình Thạnh",
    "Định Công",
    "Cát Lái",
    "Lộc Hà",
    "Gia Lộc",
    "Yên Phong",
    "Quế Võ",
    "Từ Sơn",
    "Đông Anh",
    "Sóc Sơn",
    "Hóc Môn",
    "Củ Chi",
];
pub(crate) const STREETS: &[&str] = &[
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Huệ",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Quang Trung",
    "Hùng Vương",
    "Nguyễn Trãi",
    "Lê Duẩn",
    "Điện Biên Phủ",
    "Phan Chu Trinh",
    "Nguyễn Văn Linh",
    "Võ Văn Kiệt",
    "Cách Mạng Tháng Tám",
    "Trường Chinh",
    "Nguyễn Du",
    "Bà Triệu",
    "Lạc Long Quân",
    "Hoàng Hoa Thám",
    "Phạm Văn Đồng",
    "Lê Thánh Tông",
    "Trần Phú",
    "Ngô Quyền",
    "Nguyễn Thái Học",
];
/// Words for company names.
pub(crate) const BRANDS: &[&str] = &[
    "Minh Phát",
    "Thành Công",
    "Hoàng Long",
    "Việt Tiến",
    "Phú Thịnh",
    "An Phát",
    "Hưng Thịnh",
    "Tân Phú",
    "Đại Việt",
    "Sao Mai",
    "Hòa Bình",
    "Thiên Long",
    "Phương Nam",
    "Trường Sơn",
    "Kim Long",
    "Phúc Lộc",
    "Nam Việt",
    "Bình Minh",
    "Vạn Xuân",
    "Đông Á",
    "Hồng Hà",
    "Sông Hàn",
    "Tây Đô",
    "Hải Âu",
    "Thăng Long",
    "Gia Phát",
    "Tiến Đạt",
    "Quang Minh",
    "Thuận Phát",
    "Đức Thành",
    "Nhật Quang",
    "Toàn Thắng",
    "Hải Đăng",
    "Bảo An",
    "Lộc Phát",
    "Ngọc Lan",
];
/// VSIC 4-digit industry codes with a name stem and a weight.
pub(crate) const INDUSTRIES: &[(&str, &str, u64)] = &[
    ("1410", "May mặc", 12),
    ("1520", "Giày da", 5),
    ("2610", "Điện tử", 4),
    ("4100", "Xây dựng", 12),
    ("4711", "Thương mại", 14),
    ("5610", "Dịch vụ Ăn uống", 6),
    ("4933", "Vận tải", 6),
    ("6201", "Công nghệ Phần mềm", 4),
    ("6810", "Bất động sản", 3),
    ("1075", "Thực phẩm", 5),
    ("2511", "Cơ khí", 5),
    ("4520", "Ô tô", 2),
    ("8299", "Dịch vụ Tổng hợp", 6),
    ("0322", "Thủy sản", 3),
    ("1629", "Gỗ", 3),
    ("2220", "Nhựa", 3),
    ("4663", "Vật liệu Xây dựng", 4),
    ("5510", "Khách sạn", 2),
    ("8559", "Giáo dục", 2),
    ("8620", "Y tế", 1),
];
pub(crate) const BUSINESS_LINES: &[&str] = &[
    "Bán lẻ quần áo",
    "Bán rau quả",
    "Bán thịt",
    "Bán thủy hải sản",
    "Bán tạp hóa",
    "Bán vải",
    "Bán giày dép",
    "Ăn uống",
    "Sửa chữa xe máy",
    "Cắt tóc gội đầu",
    "May đo",
    "Cà phê giải khát",
    "Nhà nghỉ",
    "Bán vật liệu xây dựng",
    "Bán điện thoại",
    "Bán thuốc tân dược",
];
pub(crate) const CRAFT_LINES: &[&str] =
    &["Gốm sứ", "Mây tre đan", "Dệt lụa", "Đồ gỗ mỹ nghệ", "Làm nón lá", "Dệt thổ cẩm", "Chạm bạc"];
/// Real craft villages by province code.
pub(crate) const CRAFT_VILLAGES: &[(&str, &str)] = &[
    ("01", "Làng gốm Bát Tràng"),
    ("01", "Làng lụa Vạn Phúc"),
    ("01", "Làng nón Chuông"),
    ("01", "Làng mây tre đan Phú Vinh"),
    ("27", "Làng gỗ Đồng Kỵ"),
    ("27", "Làng tranh Đông Hồ"),
    ("27", "Làng giấy Phong Khê"),
    ("49", "Làng gốm Thanh Hà"),
    ("49", "Làng mộc Kim Bồng"),
    ("36", "Làng mộc La Xuyên"),
    ("26", "Làng gốm Hương Canh"),
    ("35", "Làng trống Đọi Tam"),
    ("34", "Làng chiếu Hới"),
    ("37", "Làng đá Ninh Vân"),
    ("48", "Làng đá Non Nước"),
    ("46", "Làng nón Phú Cam"),
    ("74", "Làng sơn mài Tương Bình Hiệp"),
    ("86", "Làng gốm Mang Thít"),
    ("83", "Làng kẹo dừa Mỏ Cày"),
    ("87", "Làng chiếu Định Yên"),
    ("89", "Làng dệt Văn Giáo"),
];
/// Famous markets by province code; elsewhere `Chợ <place>`.
pub(crate) const MARKETS: &[(&str, &str)] = &[
    ("01", "Chợ Đồng Xuân"),
    ("01", "Chợ Long Biên"),
    ("01", "Chợ Hôm"),
    ("79", "Chợ Bến Thành"),
    ("79", "Chợ Bình Tây"),
    ("79", "Chợ An Đông"),
    ("48", "Chợ Hàn"),
    ("48", "Chợ Cồn"),
    ("46", "Chợ Đông Ba"),
    ("31", "Chợ Sắt"),
    ("92", "Chợ Cái Răng"),
];

/// Weighted tables over the name lists.
pub(crate) struct Names {
    family: Table,
    middle_m: Table,
    middle_f: Table,
    given_m: Table,
    given_f: Table,
}

/// The stored name parts of a person (indexes into the lists; middle2 0 = none).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NameParts {
    pub family: u8,
    pub middle: u8,
    pub middle2: u8,
    pub given: u8,
}

fn zipf(n: usize, s: f64) -> Table {
    Table::new((0..n).map(|r| (1_000_000.0 / ((r + 1) as f64).powf(s)) as u64))
}

impl Names {
    pub fn new() -> Names {
        Names {
            family: Table::new(FAMILY.iter().map(|f| f.1)),
            middle_m: Table::new(MIDDLE_M.iter().map(|f| f.1)),
            middle_f: Table::new(MIDDLE_F.iter().map(|f| f.1)),
            given_m: zipf(GIVEN_M.len(), 0.85),
            given_f: zipf(GIVEN_F.len(), 0.85),
        }
    }

    /// Draws a name. `south` swaps Hoàng→Huỳnh and Vũ→Võ mostly (and the
    /// reverse in the north), as the family names are spread in the country.
    pub fn draw(&self, rng: &mut impl Rng, female: bool, south: bool) -> NameParts {
        let mut family = self.family.pick(rng);
        for &(north_i, south_i) in FAMILY_PAIRS {
            if south && family == north_i && rng.gen_bool(0.7) {
                family = south_i;
            } else if !south && family == south_i && rng.gen_bool(0.8) {
                family = north_i;
            }
        }
        let (mid, giv) = if female { (&self.middle_f, &self.given_f) } else { (&self.middle_m, &self.given_m) };
        // ~4% have no middle name, ~8% have two.
        let x: f64 = rng.gen();
        let middle = if x < 0.04 { 0 } else { mid.pick(rng) as u8 + 1 };
        let middle2 = if x > 0.92 { mid.pick(rng) as u8 + 1 } else { 0 };
        let mut given = giv.pick(rng) as u8;
        let g = if female { GIVEN_F } else { GIVEN_M };
        let m = if female { MIDDLE_F } else { MIDDLE_M };
        // Avoid "Văn Văn"-like repeats.
        if middle2 != 0 && middle2 == middle {
            return NameParts { family: family as u8, middle, middle2: 0, given };
        }
        if middle != 0 && m[middle as usize - 1].0 == g[given as usize] {
            given = ((given as usize + 1) % g.len()) as u8;
        }
        NameParts { family: family as u8, middle, middle2, given }
    }
}

/// The clean NFC full name.
pub(crate) fn full_name(p: NameParts, female: bool) -> String {
    let (mid, giv) = if female { (MIDDLE_F, GIVEN_F) } else { (MIDDLE_M, GIVEN_M) };
    let mut s = String::with_capacity(32);
    s.push_str(FAMILY[p.family as usize].0);
    for m in [p.middle, p.middle2] {
        if m != 0 {
            s.push(' ');
            s.push_str(mid[m as usize - 1].0);
        }
    }
    s.push(' ');
    s.push_str(giv[p.given as usize]);
    s
}

/// Kinds of planted noise (`truth/noise.csv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Noise {
    NfdName,
    UpperName,
    DoubleSpace,
    TypoName,
    MissingCitizenId,
    CmndNotCccd,
    MissingBirthDate,
}

impl Noise {
    pub const ALL: [Noise; 7] = [
        Noise::NfdName,
        Noise::UpperName,
        Noise::DoubleSpace,
        Noise::TypoName,
        Noise::MissingCitizenId,
        Noise::CmndNotCccd,
        Noise::MissingBirthDate,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Noise::NfdName => "nfd_name",
            Noise::UpperName => "upper_name",
            Noise::DoubleSpace => "double_space",
            Noise::TypoName => "typo_name",
            Noise::MissingCitizenId => "missing_citizen_id",
            Noise::CmndNotCccd => "cmnd_not_cccd",
            Noise::MissingBirthDate => "missing_birth_date",
        }
    }
    /// Draws a kind with the relative frequencies seen in registries.
    pub fn draw(rng: &mut impl Rng) -> Noise {
        const W: [u32; 7] = [25, 18, 14, 10, 12, 11, 10];
        let mut x = rng.gen_range(0..W.iter().sum::<u32>());
        for (k, w) in W.iter().enumerate() {
            if x < *w {
                return Noise::ALL[k];
            }
            x -= w;
        }
        Noise::NfdName
    }
}

/// The name as a noisy source writes it, for the name kinds of noise.
/// Returns `None` when the transformation would not change the name.
pub(crate) fn garble(name: &str, kind: Noise, rng: &mut impl Rng) -> Option<String> {
    let out = match kind {
        Noise::NfdName => name.nfd().collect::<String>(),
        Noise::UpperName => name.to_uppercase(),
        Noise::DoubleSpace => {
            let spaces: Vec<usize> = name.match_indices(' ').map(|(i, _)| i).collect();
            if spaces.is_empty() {
                return None;
            }
            let at = spaces[rng.gen_range(0..spaces.len())];
            let mut s = String::with_capacity(name.len() + 1);
            s.push_str(&name[..at]);
            s.push(' ');
            s.push_str(&name[at..]);
            s
        }
        Noise::TypoName => {
            // One letter of the given name (the last word) replaced by a near key,
            // or deleted, keeping at least two letters.
            let start = name.rfind(' ').map_or(0, |i| i + 1);
            let word: Vec<char> = name[start..].chars().collect();
            let pos: Vec<usize> = (1..word.len()).filter(|&k| word[k].is_ascii_alphabetic()).collect();
            if pos.is_empty() {
                return None;
            }
            let k = pos[rng.gen_range(0..pos.len())];
            let mut w = word.clone();
            if w.len() > 3 && rng.gen_bool(0.3) {
                w.remove(k);
            } else {
                const NEAR: &[(char, &str)] = &[
                    ('a', "sq"),
                    ('n', "mb"),
                    ('m', "n"),
                    ('h', "gn"),
                    ('g', "hq"),
                    ('i', "uo"),
                    ('u', "iy"),
                    ('y', "ui"),
                    ('t', "rg"),
                    ('o', "ip"),
                    ('c', "xv"),
                    ('e', "rw"),
                    ('r', "te"),
                    ('l', "k"),
                    ('k', "l"),
                    ('p', "o"),
                    ('v', "bc"),
                    ('d', "sf"),
                    ('s', "ad"),
                    ('q', "w"),
                    ('b', "vn"),
                    ('x', "cz"),
                ];
                let c = w[k].to_ascii_lowercase();
                let subs = NEAR.iter().find(|(from, _)| *from == c).map_or("e", |(_, to)| to);
                let b = subs.as_bytes()[rng.gen_range(0..subs.len())] as char;
                w[k] = if word[k].is_ascii_uppercase() { b.to_ascii_uppercase() } else { b };
            }
            let mut s = String::with_capacity(name.len());
            s.push_str(&name[..start]);
            s.extend(w);
            s
        }
        _ => return None,
    };
    (out != name).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use unicode_normalization::is_nfc;

    #[test]
    fn literals_are_nfc() {
        let all = FAMILY
            .iter()
            .map(|f| f.0)
            .chain(MIDDLE_M.iter().map(|f| f.0))
            .chain(MIDDLE_F.iter().map(|f| f.0))
            .chain(GIVEN_M.iter().copied())
            .chain(GIVEN_F.iter().copied())
            .chain(PLACES.iter().copied())
            .chain(STREETS.iter().copied())
            .chain(BRANDS.iter().copied())
            .chain(INDUSTRIES.iter().map(|i| i.1))
            .chain(BUSINESS_LINES.iter().copied())
            .chain(CRAFT_LINES.iter().copied())
            .chain(CRAFT_VILLAGES.iter().map(|c| c.1))
            .chain(MARKETS.iter().map(|c| c.1));
        for s in all {
            assert!(is_nfc(s), "{s:?} is not NFC");
            assert_eq!(s.trim(), s);
        }
        assert!(FAMILY.len() < 256 && GIVEN_M.len() < 256 && GIVEN_F.len() < 256);
    }

    #[test]
    fn garbled_names_normalise_back_except_typos() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let n = "Nguyễn Thị Ánh Hương";
        for k in [Noise::NfdName, Noise::DoubleSpace] {
            let g = garble(n, k, &mut rng).unwrap();
            assert_ne!(g, n);
            assert_eq!(crate::ids::normalize_name(&g), n);
        }
        assert_eq!(crate::ids::canonical_name(&garble(n, Noise::UpperName, &mut rng).unwrap()), n);
        for _ in 0..50 {
            let t = garble(n, Noise::TypoName, &mut rng).unwrap();
            assert_ne!(crate::ids::fold_name(&t), crate::ids::fold_name(n));
            assert!(t.starts_with("Nguyễn Thị Ánh "));
        }
    }
}
