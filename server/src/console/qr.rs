//! QR codes as inline SVG (no image library, no external asset): one path of unit squares.

use std::fmt::Write;

use qrcode::{Color, EcLevel, QrCode};

/// The QR code of `text` (error correction M, a 4-module quiet zone) as an `<svg>` element
/// labelled `label` for screen readers; `None` if the text is too long for a QR code.
pub fn svg(text: &str, label: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M).ok()?;
    let n = code.width();
    let side = n + 8;
    let mut path = String::with_capacity(n * n * 4);
    for y in 0..n {
        for x in 0..n {
            if code[(x, y)] == Color::Dark {
                let _ = write!(path, "M{} {}h1v1h-1z", x + 4, y + 4);
            }
        }
    }
    let label: String = label
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '&' | '"'))
        .collect();
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" role="img" aria-label="{label}" shape-rendering="crispEdges"><rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d="{path}"/></svg>"##
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_a_labelled_svg() {
        let s = super::svg("en-verify://v?a=moh.vn&c=abcdefghjkmnpqrs", "QR \"code\"").unwrap();
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains(r#"aria-label="QR code""#));
        assert!(
            s.contains("M4 4h1v1h-1z"),
            "the finder pattern's corner is dark"
        );
    }
}
