//! The console's words in English and Vietnamese, chosen by the browser's `Accept-Language`.
//!
//! Every string is a field of [`Strings`], so a page cannot use a word that one language
//! lacks (the compiler checks both tables).

macro_rules! strings {
    ($($name:ident: $en:expr, $vi:expr;)*) => {
        /// Every word of the console in one language.
        #[derive(Debug)]
        pub struct Strings {
            /// BCP 47 tag (`<html lang>`).
            pub lang: &'static str,
            $(
                #[allow(missing_docs)]
                pub $name: &'static str,
            )*
        }
        /// English.
        pub static EN: Strings = Strings { lang: "en", $($name: $en,)* };
        /// Vietnamese.
        pub static VI: Strings = Strings { lang: "vi", $($name: $vi,)* };
    };
}

strings! {
    app: "Exposure notification console", "Bảng điều khiển thông báo phơi nhiễm";
    nav_issue: "Issue a code", "Cấp mã";
    nav_bulk: "Bulk (CSV)", "Cấp hàng loạt (CSV)";
    nav_stats: "Statistics", "Thống kê";
    nav_keys: "Keys", "Khóa";
    nav_audit: "Audit log", "Nhật ký";
    nav_accounts: "Accounts", "Tài khoản";
    logout: "Sign out", "Đăng xuất";
    signed_in_as: "Signed in as", "Đang đăng nhập:";
    for_authority: "for", "thuộc";

    login_title: "Sign in", "Đăng nhập";
    username: "Account name", "Tên tài khoản";
    password: "Password", "Mật khẩu";
    login_button: "Sign in", "Đăng nhập";
    login_failed: "Wrong account name or password.", "Sai tên tài khoản hoặc mật khẩu.";
    login_locked: "Too many failed sign-ins for this account. Try again in a few minutes, or ask an admin for a new password.", "Tài khoản này đăng nhập sai quá nhiều lần. Hãy thử lại sau vài phút hoặc nhờ quản trị viên cấp mật khẩu mới.";
    login_busy: "Too many failed sign-ins on this console. Wait a minute and try again.", "Có quá nhiều lần đăng nhập sai trên bảng điều khiển. Hãy chờ một phút rồi thử lại.";

    issue_title: "Issue a verification code", "Cấp mã xác minh";
    issue_intro: "One code per test result. The code lets the patient's phone share its keys; the server stores only a keyed hash of it, and nothing about the patient.", "Mỗi kết quả xét nghiệm một mã. Mã cho phép điện thoại của bệnh nhân chia sẻ khóa; máy chủ chỉ lưu giá trị băm có khóa của mã, không lưu gì về bệnh nhân.";
    test_type: "Test result", "Kết quả xét nghiệm";
    confirmed: "Confirmed (positive test)", "Xác nhận (xét nghiệm dương tính)";
    likely: "Likely (clinical diagnosis)", "Có khả năng (chẩn đoán lâm sàng)";
    negative: "Negative", "Âm tính";
    test_date: "Test date", "Ngày xét nghiệm";
    onset: "Symptom onset (optional)", "Ngày khởi phát triệu chứng (không bắt buộc)";
    date_hint: "YYYY-MM-DD (UTC)", "YYYY-MM-DD (giờ UTC)";
    short_too: "Also a short code, to read out on the phone", "Kèm mã ngắn để đọc qua điện thoại";
    issue_button: "Issue code", "Cấp mã";

    issued_title: "Code issued", "Đã cấp mã";
    short_code: "Short code, to read out", "Mã ngắn để đọc cho bệnh nhân";
    long_code: "Long code", "Mã dài";
    link: "Link for SMS", "Đường dẫn gửi qua SMS";
    qr: "QR code of the link, to print or show", "Mã QR của đường dẫn để in hoặc cho xem";
    expires: "Expires", "Hết hạn";
    shown_once: "These codes are shown only once: the server keeps only a keyed hash of each.", "Các mã này chỉ hiển thị một lần: máy chủ chỉ lưu giá trị băm có khóa của từng mã.";
    issue_another: "Issue another code", "Cấp mã khác";

    bulk_title: "Issue codes in bulk", "Cấp mã hàng loạt";
    bulk_intro: "One line per test result: test_type,test_date,symptom_onset,reference. test_type is confirmed, likely or negative; symptom_onset may be empty; reference (your sample number, say) is shown beside its code and never stored. Long codes only.", "Mỗi dòng một kết quả xét nghiệm: test_type,test_date,symptom_onset,reference. test_type là confirmed, likely hoặc negative; symptom_onset có thể để trống; reference (ví dụ số mẫu của đơn vị) được hiển thị cạnh mã và không được lưu. Chỉ cấp mã dài.";
    csv: "Test results (CSV)", "Kết quả xét nghiệm (CSV)";
    bulk_button: "Issue codes", "Cấp mã";
    bulk_done: "Codes issued", "Đã cấp mã";
    download_csv: "Download the codes (CSV)", "Tải danh sách mã (CSV)";
    reference: "Reference", "Tham chiếu";
    line: "Line", "Dòng";

    stats_title: "Statistics", "Thống kê";
    stats_note: "Daily counts for your authority; no row is about a patient.", "Số liệu theo ngày của cơ quan; không dòng nào nói về một bệnh nhân.";
    day: "Day (UTC)", "Ngày (UTC)";
    issued: "Codes issued", "Mã đã cấp";
    claimed: "Codes used", "Mã đã dùng";
    expired: "Expired unused", "Hết hạn chưa dùng";
    certificates: "Certificates", "Chứng nhận";
    keys_published: "Keys published", "Khóa đã công bố";
    outstanding: "Unused short codes now", "Mã ngắn chưa dùng hiện có";
    nothing_yet: "Nothing yet.", "Chưa có dữ liệu.";

    keys_title: "Registered keys", "Khóa đã đăng ký";
    keys_intro: "The keys this server accepts for your authority. The key this server holds signs the certificates of your codes.", "Các khóa mà máy chủ này chấp nhận cho cơ quan của bạn. Khóa do máy chủ giữ dùng để ký chứng nhận cho các mã.";
    public_key: "Public key", "Khóa công khai";
    key_id: "Key id", "Mã khóa";
    region: "Region", "Vùng";
    any_region: "any", "mọi vùng";
    status: "Status", "Trạng thái";
    active: "active", "đang hoạt động";
    revoked: "revoked", "đã thu hồi";
    held: "held by this server", "do máy chủ này giữ";
    not_held_short: "held elsewhere", "do nơi khác giữ";
    added: "Added", "Ngày thêm";

    audit_title: "Audit log", "Nhật ký kiểm tra";
    audit_intro: "Who did what, and how many codes; never a code.", "Ai đã làm gì và cấp bao nhiêu mã; không bao giờ ghi mã.";
    when: "When (UTC)", "Thời điểm (UTC)";
    who: "Who", "Người thực hiện";
    what: "What", "Hành động";
    how_many: "How many", "Số lượng";
    act_issued: "issued codes", "cấp mã";
    act_issued_bulk: "issued codes in bulk", "cấp mã hàng loạt";
    act_issued_api: "issued codes (API)", "cấp mã (API)";
    act_login: "signed in", "đăng nhập";
    act_login_failed: "failed to sign in", "đăng nhập thất bại";
    act_user_added: "added an account", "thêm tài khoản";
    act_password_reset: "reset a password", "đặt lại mật khẩu";
    act_user_removed: "removed an account", "xóa tài khoản";
    act_key_created: "created an API key", "tạo khóa API";
    act_key_revoked: "revoked an API key", "thu hồi khóa API";

    accounts_title: "Accounts and API keys", "Tài khoản và khóa API";
    add_account: "Add an account", "Thêm tài khoản";
    role: "Role", "Vai trò";
    role_admin: "admin", "quản trị viên";
    role_staff: "staff", "nhân viên";
    add_button: "Add", "Thêm";
    reset_button: "New password", "Cấp mật khẩu mới";
    remove_button: "Remove", "Xóa";
    new_password: "New password (shown once)", "Mật khẩu mới (chỉ hiển thị một lần)";
    api_keys: "API keys for your back office", "Khóa API cho hệ thống nội bộ";
    api_intro: "A back office issues codes with POST /console/api/v1/codes and the header Authorization: Bearer <key>.", "Hệ thống nội bộ cấp mã bằng POST /console/api/v1/codes với tiêu đề Authorization: Bearer <khóa>.";
    label: "Label", "Nhãn";
    create_key: "Create an API key", "Tạo khóa API";
    revoke_button: "Revoke", "Thu hồi";
    new_key: "New API key (shown once)", "Khóa API mới (chỉ hiển thị một lần)";

    error_title: "That did not work", "Không thực hiện được";
    csrf_error: "The form expired or did not come from this console. Reload the page and try again.", "Biểu mẫu đã hết hạn hoặc không đến từ bảng điều khiển này. Hãy tải lại trang rồi thử lại.";
    forbidden: "Your account may not do this; ask an admin of your authority.", "Tài khoản của bạn không được phép làm việc này; hãy hỏi quản trị viên của cơ quan.";
    not_found: "There is no such page.", "Không có trang này.";
    method: "This page does not accept that request.", "Trang này không nhận yêu cầu đó.";
    server_error: "The server could not complete this; nothing changed. Try again.", "Máy chủ không thực hiện được; không có gì thay đổi. Hãy thử lại.";
    not_held: "Codes cannot be issued for this authority here: the server does not hold its registered signing key, or it is revoked. An operator sets it up with: en-server authority add ID --server-key", "Không thể cấp mã cho cơ quan này tại đây: máy chủ không giữ khóa ký đã đăng ký của cơ quan, hoặc khóa đã bị thu hồi. Người vận hành thiết lập bằng lệnh: en-server authority add ID --server-key";
    too_many_short: "Your authority already holds as many unused short codes as allowed. Untick the short code and give the long code (link or QR), or wait until some are used or expire.", "Cơ quan đã có số mã ngắn chưa dùng tối đa. Bỏ chọn mã ngắn và dùng mã dài (đường dẫn hoặc QR), hoặc chờ đến khi một số mã được dùng hay hết hạn.";
    bad_count: "Enter between one test result and the allowed maximum.", "Hãy nhập từ một kết quả xét nghiệm đến số lượng tối đa cho phép.";
    bad_date: "is not a date (YYYY-MM-DD)", "không phải là ngày (YYYY-MM-DD)";
    date_future: "is in the future", "ở tương lai";
    date_old: "is too long ago", "đã quá lâu";
    bad_type: "test_type must be confirmed, likely or negative", "test_type phải là confirmed, likely hoặc negative";
    bad_account: "An account name is 1 to 64 of a-z 0-9 . _ -, and must not exist yet.", "Tên tài khoản gồm 1 đến 64 ký tự a-z 0-9 . _ - và chưa tồn tại.";
    back: "Back", "Quay lại";
}

/// The strings for an `Accept-Language` header: Vietnamese if the browser prefers it to
/// English, English otherwise.
pub fn negotiate(accept_language: Option<&str>) -> &'static Strings {
    let mut best: Option<(f32, &'static Strings)> = None;
    for part in accept_language.unwrap_or("").split(',') {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = match tag.split('-').next() {
            Some("vi") => &VI,
            Some("en") => &EN,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map_or(&EN, |(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_supported_language_wins() {
        assert_eq!(negotiate(None).lang, "en");
        assert_eq!(negotiate(Some("vi-VN,vi;q=0.9,en;q=0.8")).lang, "vi");
        assert_eq!(negotiate(Some("fr-FR,en;q=0.5,vi;q=0.4")).lang, "en");
        assert_eq!(negotiate(Some("fr, vi;q=0.1")).lang, "vi");
        assert_eq!(negotiate(Some("en;q=0, vi;q=0")).lang, "en");
    }
}
