//! The codes the lists carry, explained in Vietnamese for the officers and
//! agents who read them: the workbook's last sheet, "Giải thích mã".
//!
//! The lists keep their codes (they are what the data dictionary, the gold
//! tables and any script that reads the CSV use); this table says what each
//! one means. Every code a list can hold must be here: the debt truth test
//! reads every list of a generated country and fails on one that is not.

/// The legend sheet's name.
pub const SHEET: &str = "Giải thích mã";

/// The legend sheet's headers.
pub const HEADERS: [&str; 4] = ["Danh sách", "Cột", "Mã", "Ý nghĩa"];

/// Separators of a cell holding several codes (`debt;uninsured_workers`,
/// `prime_age,income_level`).
pub const SEPARATORS: &[char] = &[';', ','];

/// (list file, column header, code, meaning).
pub const LEGEND: &[(&str, &str, &str, &str)] = &[
    ("officer_worklists.csv", "Loại việc", "uninsured_workers", "Lao động có thu nhập từ tiền lương (dữ liệu thuế) chưa được đóng BHXH bắt buộc"),
    ("officer_worklists.csv", "Loại việc", "unregistered_employer", "Doanh nghiệp đang hoạt động, có lao động, chưa đăng ký tham gia BHXH"),
    ("officer_worklists.csv", "Loại việc", "should_have_resumed", "Đơn vị báo lao động đã trở lại làm việc sau Covid nhưng chưa đóng lại đủ"),
    ("officer_worklists.csv", "Lý do", "no_si_record", "Không tìm thấy người này trong dữ liệu BHXH (chưa có sổ, mã số BHXH)"),
    ("officer_worklists.csv", "Lý do", "not_declared_by_employer", "Đã có mã số BHXH nhưng đơn vị trả lương không kê khai đóng"),
    ("officer_worklists.csv", "Lý do", "declared_elsewhere", "Đang được đóng BHXH tại đơn vị khác (không tính là chưa tham gia)"),
    ("officer_worklists.csv", "Cách đối chiếu", "citizen_id", "Khớp dữ liệu thuế với dữ liệu BHXH theo số CCCD/CMND"),
    ("officer_worklists.csv", "Cách đối chiếu", "name_birth", "Khớp theo họ tên và ngày sinh"),
    ("officer_worklists.csv", "Cách đối chiếu", "probabilistic", "Khớp theo mức độ giống nhau của họ tên, ngày sinh và các thông tin khác"),
    ("officer_worklists.csv", "Cách đối chiếu", "ambiguous", "Có nhiều hồ sơ BHXH có thể là người này: cần cán bộ kiểm tra"),
    ("officer_worklists.csv", "Cách đối chiếu", "unmatched", "Không khớp được với hồ sơ BHXH nào"),
    ("inspection_list.csv", "Lý do", "debt", "Nợ đóng BHXH, BHYT, BHTN"),
    ("inspection_list.csv", "Lý do", "uninsured_workers", "Có lao động chưa được đóng BHXH bắt buộc"),
    ("inspection_list.csv", "Lý do", "under_declared_wages", "Đóng BHXH thấp hơn mức lương tối thiểu vùng hoặc thấp hơn nhiều so với thu nhập chịu thuế"),
    ("inspection_list.csv", "Lý do", "unregistered_employer", "Doanh nghiệp chưa đăng ký tham gia BHXH"),
    ("d08a_due.csv", "Loại", "voluntary_si", "BHXH tự nguyện"),
    ("d08a_due.csv", "Loại", "household_hi", "BHYT hộ gia đình"),
    ("d08a_due.csv", "Nhóm hỗ trợ", "poor", "Người thuộc hộ nghèo"),
    ("d08a_due.csv", "Nhóm hỗ trợ", "near_poor", "Người thuộc hộ cận nghèo"),
    ("d08a_due.csv", "Nhóm hỗ trợ", "other", "Đối tượng khác"),
    ("d08a_due.csv", "Tình trạng", "renew", "Đến hạn đóng tiếp trong tháng"),
    ("d08a_due.csv", "Tình trạng", "lapsed", "Đã quá hạn đóng (trong thời gian còn được đóng tiếp)"),
    ("voluntary_prospects.csv", "Nguồn", "free_worker", "Lao động tự do có thu nhập, không thuộc diện BHXH bắt buộc"),
    ("voluntary_prospects.csv", "Nguồn", "household_business", "Chủ hộ kinh doanh"),
    ("voluntary_prospects.csv", "Nguồn", "household_hi_only", "Chỉ tham gia BHYT hộ gia đình"),
    ("voluntary_prospects.csv", "Nguồn", "stopped_contributing", "Đã dừng đóng BHXH bắt buộc"),
    ("voluntary_prospects.csv", "Lý do", "income_level", "Mức thu nhập khá"),
    ("voluntary_prospects.csv", "Lý do", "income_stability", "Thu nhập đều qua các tháng"),
    ("voluntary_prospects.csv", "Lý do", "stable_income", "Có thu nhập ổn định hầu hết các tháng trong năm"),
    ("voluntary_prospects.csv", "Lý do", "prior_10_19_years", "Đã đóng BHXH từ 10 đến dưới 20 năm: đóng tiếp để đủ điều kiện hưởng lương hưu"),
    ("voluntary_prospects.csv", "Lý do", "prior_months", "Đã có thời gian đóng BHXH"),
    ("voluntary_prospects.csv", "Lý do", "prime_age", "Trong độ tuổi lao động chính"),
    ("voluntary_prospects.csv", "Lý do", "business_revenue", "Hộ kinh doanh đang hoạt động có doanh thu khá"),
    ("voluntary_prospects.csv", "Lý do", "revenue_level", "Mức doanh thu của hộ kinh doanh"),
    ("voluntary_prospects.csv", "Lý do", "market_trader", "Tiểu thương kinh doanh tại chợ"),
    ("voluntary_prospects.csv", "Lý do", "craft_village", "Hộ kinh doanh tại làng nghề"),
    ("voluntary_prospects.csv", "Lý do", "household_covered", "Hộ gia đình đã tham gia BHYT"),
    ("voluntary_prospects.csv", "Lý do", "household_pays_ahead", "Hộ gia đình đóng BHYT trước nhiều tháng một lần"),
    ("voluntary_prospects.csv", "Lý do", "commune_registrations", "Ở xã có nhiều người đăng ký tại hội nghị gần đây"),
    ("voluntary_prospects.csv", "Lý do", "source_free_worker", "Lao động tự do có thu nhập"),
    ("voluntary_prospects.csv", "Lý do", "source_household_business", "Chủ hộ kinh doanh"),
    ("voluntary_prospects.csv", "Lý do", "source_household_hi_only", "Chỉ tham gia BHYT hộ gia đình"),
    ("voluntary_prospects.csv", "Lý do", "source_stopped_contributing", "Đã dừng đóng BHXH bắt buộc"),
];

/// The meaning of `code` in the column `header` of the list `file`.
pub fn meaning(file: &str, header: &str, code: &str) -> Option<&'static str> {
    LEGEND.iter().find(|(f, h, c, _)| *f == file && *h == header && *c == code).map(|e| e.3)
}

/// The (list file, column header) pairs that hold codes.
pub fn code_columns() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = LEGEND.iter().map(|(f, h, _, _)| (*f, *h)).collect();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_legend_column_is_a_column_of_its_list_and_every_code_once() {
        let lists = super::super::lists().unwrap();
        for (file, header) in code_columns() {
            let list = lists.iter().find(|l| l.file == file).unwrap_or_else(|| panic!("{file} is not a list"));
            assert!(list.columns.iter().any(|c| c.0 == header), "{file} has no column {header}");
        }
        for (i, (f, h, c, _)) in LEGEND.iter().enumerate() {
            assert!(!LEGEND[..i].iter().any(|e| (e.0, e.1, e.2) == (*f, *h, *c)), "{f} {h} {c} twice");
            assert!(!c.contains(SEPARATORS), "{c}");
        }
        assert_eq!(code_columns().len(), 9, "the columns, each once (grouped in LEGEND)");
        assert_eq!(meaning("d08a_due.csv", "Loại", "household_hi"), Some("BHYT hộ gia đình"));
        assert_eq!(meaning("inspection_list.csv", "Loại", "household_hi"), None);
    }
}
