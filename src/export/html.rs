//! The one-page weekly summary of a province: the report week's figures and
//! two charts of the last weeks (collected vs the straight-line plan;
//! participants by scheme), as inline SVG so the file opens anywhere, offline.

use crate::assess::export::vnd;
use crate::reference::Province;
use anyhow::Result;
use chrono::NaiveDate;
use polars::prelude::*;
use std::fmt::Write;
use std::path::Path;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn ints(df: &DataFrame, name: &str) -> Vec<Option<i64>> {
    df.column(name).ok().and_then(|c| c.cast(&DataType::Int64).ok()).map(|c| c.i64().map(|v| v.iter().collect()).unwrap_or_default()).unwrap_or_else(|| vec![None; df.height()])
}

fn strings(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name).ok().and_then(|c| c.str().ok().map(|v| v.iter().map(|x| x.unwrap_or_default().to_string()).collect())).unwrap_or_else(|| vec![String::new(); df.height()])
}

/// A line chart: one polyline per series over the same x labels.
fn line_chart(title: &str, unit: &str, labels: &[String], series: &[(&str, &str, bool, Vec<Option<f64>>)]) -> String {
    let (w, h, left, right, top, bottom) = (720.0, 260.0, 70.0, 160.0, 30.0, 40.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let max = series.iter().flat_map(|s| s.3.iter().flatten()).fold(0.0f64, |a, b| a.max(*b));
    let max = if max <= 0.0 { 1.0 } else { max * 1.1 };
    let n = labels.len().max(1);
    let x = |i: usize| left + if n == 1 { pw / 2.0 } else { pw * i as f64 / (n - 1) as f64 };
    let y = |v: f64| top + ph - ph * v / max;
    let mut s = String::new();
    let _ = write!(s, r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#, escape(title));
    let _ = write!(s, r#"<text x="{left}" y="18" font-weight="bold">{} ({})</text>"#, escape(title), escape(unit));
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let _ = write!(s, r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##, left + pw, left - 6.0, y(v) + 4.0, short(v), y = y(v));
    }
    for (i, l) in labels.iter().enumerate() {
        if n <= 12 || i % 2 == 0 {
            let _ = write!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="11">{}</text>"#, x(i), h - bottom + 16.0, escape(l.trim_start_matches(|c: char| c.is_ascii_digit()).trim_start_matches('-')));
        }
    }
    for (k, (name, color, dashed, values)) in series.iter().enumerate() {
        let pts: Vec<String> = values.iter().enumerate().filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v)))).collect();
        let dash = if *dashed { r#" stroke-dasharray="6 4""# } else { "" };
        if pts.len() > 1 {
            let _ = write!(s, r#"<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{}"/>"#, pts.join(" "));
        }
        for p in &pts {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(s, r#"<circle cx="{px}" cy="{py}" r="3" fill="{color}"/>"#);
        }
        let ly = top + 16.0 * k as f64;
        let _ = write!(s, r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/><text x="{}" y="{}" font-size="12">{}</text>"#, w - right + 10.0, w - right + 34.0, w - right + 40.0, ly + 4.0, escape(name));
    }
    s.push_str("</svg>");
    s
}

/// 1234567 → `1,2 tr`, 1.2e9 → `1,2 tỷ`: axis labels.
fn short(v: f64) -> String {
    let (x, unit) = if v >= 1e9 { (v / 1e9, " tỷ") } else if v >= 1e6 { (v / 1e6, " tr") } else { (v, "") };
    let t = if x >= 100.0 || x == x.trunc() { format!("{x:.0}") } else { format!("{x:.1}") };
    format!("{}{unit}", t.replace('.', ","))
}

/// Writes the summary page for one province from its last weeks of `province_weekly`.
pub fn write(target: &Path, p: &Province, as_of: NaiveDate, weeks: &DataFrame) -> Result<()> {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Báo cáo tuần — {name}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:760px;margin:1em auto;color:#222}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:4px 6px;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style></head><body>
<h1>Báo cáo tuần: {name} ({code})</h1><p>Tỉnh từ 01/7/2025: {name25} ({code25}). Dữ liệu đến ngày {as_of}.</p>"#,
        name = escape(&p.name),
        code = escape(&p.code),
        name25 = escape(&p.name_2025),
        code25 = escape(&p.code_2025),
    );
    if weeks.height() == 0 {
        s.push_str("<p>Chưa có số liệu tuần.</p></body></html>\n");
        return crate::lake::write_file(target, s.as_bytes());
    }
    let labels = strings(weeks, "week");
    let last = weeks.height() - 1;
    let get = |c: &str| ints(weeks, c);
    let _ = write!(s, "<h2>Tuần {}</h2><table><tr><th></th><th>Trong tuần</th><th>Lũy kế năm</th><th>Kế hoạch năm</th><th>Kế hoạch đến ngày</th></tr>", escape(&labels[last]));
    let cell = |v: Option<i64>| v.map(vnd).unwrap_or_else(|| "—".into());
    let rows: [(&str, Option<&str>, Option<&str>, Option<&str>, Option<&str>); 7] = [
        ("Số thu (đồng)", Some("collected_week"), Some("collected_ytd"), Some("collection_target"), Some("collection_expected")),
        ("Người tham gia BHXH bắt buộc", None, Some("compulsory_participants"), Some("compulsory_target"), Some("compulsory_expected")),
        ("Người tham gia BHXH tự nguyện", None, Some("voluntary_participants"), Some("voluntary_target"), Some("voluntary_expected")),
        ("Người tham gia BHYT hộ gia đình", None, Some("household_hi_members"), Some("household_hi_target"), Some("household_hi_expected")),
        ("Lao động chưa tham gia phát hiện", Some("uninsured_workers_found_week"), Some("uninsured_workers_found_ytd"), None, None),
        ("Đơn vị chưa đăng ký phát hiện", Some("unregistered_employers_found_week"), Some("unregistered_employers_found_ytd"), None, None),
        ("Người đăng ký tại hội nghị", Some("conference_registrations_week"), Some("conference_registrations_ytd"), None, None),
    ];
    for (label, a, b, c, d) in rows {
        let v = |c: Option<&str>| c.map(|c| cell(get(c)[last])).unwrap_or_default();
        let _ = write!(s, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", escape(label), v(a), v(b), v(c), v(d));
    }
    let debt = get("debt")[last];
    let _ = write!(
        s,
        "</table><p>Nợ đóng: <b>{}</b> đồng; đơn vị nợ {} (từ 3 tháng trở lên: {}); đơn vị tạm dừng đóng: {}; rà soát Covid trong tuần: {}.</p>",
        cell(debt),
        cell(get("units_in_debt")[last]),
        cell(get("units_in_debt_3m")[last]),
        cell(get("suspended_units")[last]),
        cell(get("covid_reviews_week")[last]),
    );
    let f = |c: &str| get(c).into_iter().map(|v| v.map(|x| x as f64)).collect::<Vec<_>>();
    s.push_str(&line_chart(
        "Số thu lũy kế so với kế hoạch",
        "đồng",
        &labels,
        &[("Đã thu", "#1f77b4", false, f("collected_ytd")), ("Kế hoạch đến ngày", "#d62728", true, f("collection_expected"))],
    ));
    s.push_str(&line_chart(
        "Người tham gia theo loại hình",
        "người",
        &labels,
        &[
            ("BHXH bắt buộc", "#1f77b4", false, f("compulsory_participants")),
            ("BHXH tự nguyện", "#2ca02c", false, f("voluntary_participants")),
            ("BHYT hộ gia đình", "#ff7f0e", false, f("household_hi_members")),
        ],
    ));
    s.push_str("<p style=\"font-size:12px;color:#666\">Nguồn: bảng gold/province_weekly. Định nghĩa từng chỉ tiêu: docs/data-dictionary.md.</p></body></html>\n");
    crate::lake::write_file(target, s.as_bytes())
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_thousands() {
        assert_eq!(vnd(0), "0");
        assert_eq!(vnd(999), "999");
        assert_eq!(vnd(1_000), "1.000");
        assert_eq!(vnd(-14_388_829_840), "-14.388.829.840");
        assert_eq!(short(1_300_000_000.0), "1,3 tỷ");
        assert_eq!(short(2_000_000.0), "2 tr");
    }

    #[test]
    fn a_chart_has_one_point_per_week_and_escapes_text() {
        let labels: Vec<String> = (20..=23).map(|w| format!("2020-W{w}")).collect();
        let svg = line_chart("A & B", "đồng", &labels, &[("x<y", "#000", false, vec![Some(1.0), Some(2.0), None, Some(4.0)])]);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("A &amp; B") && svg.contains("x&lt;y"));
        assert!(svg.contains(">W23<"));
    }
}
