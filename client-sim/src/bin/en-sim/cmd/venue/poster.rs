//! The printable A4 poster (SVG): the entry QR code, the venue's name and address, and what
//! checking in does and does not record.

use super::qr::Qr;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What the poster tells visitors, one line each (short enough for A4 at 4.2 mm).
const LINES: &[&str] = &[
    "Scan when you arrive, and again when you leave (or you are checked out after 2 hours).",
    "Recorded: only on your phone, an encrypted note of the hours you were here.",
    "Not recorded: your name, number or location. Nothing is sent; no visitor list exists,",
    "here or anywhere. If a case was here, this venue and the health authority publish a",
    "warning that only the phones of people who were here at that time can read.",
];

/// The poster: A4 portrait, millimetre units.
pub fn poster(qr: &Qr, name: &str, address: &str) -> String {
    let n = qr.side();
    let qr_mm = 130.0;
    let scale = qr_mm / n as f64;
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"210mm\" height=\"297mm\" viewBox=\"0 0 210 297\" font-family=\"sans-serif\">\n\
         <rect width=\"210\" height=\"297\" fill=\"#fff\"/>\n\
         <text x=\"105\" y=\"30\" font-size=\"9\" text-anchor=\"middle\">Check in here</text>\n",
    );
    s.push_str(&format!(
        "<text x=\"105\" y=\"48\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\">{}</text>\n",
        escape(name)
    ));
    if !address.is_empty() {
        s.push_str(&format!(
            "<text x=\"105\" y=\"58\" font-size=\"6\" text-anchor=\"middle\">{}</text>\n",
            escape(address)
        ));
    }
    s.push_str(&format!(
        "<g transform=\"translate({:.2} 66) scale({scale:.4})\" shape-rendering=\"crispEdges\">\
         <path fill=\"#000\" d=\"{}\"/></g>\n",
        105.0 - qr_mm / 2.0,
        qr.svg_path()
    ));
    for (i, line) in LINES.iter().enumerate() {
        s.push_str(&format!(
            "<text x=\"105\" y=\"{}\" font-size=\"4.2\" text-anchor=\"middle\">{}</text>\n",
            212 + 8 * i,
            escape(line)
        ));
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        let qr = Qr::encode("https://venue.example/v#x").unwrap();
        let p = poster(&qr, "Bún & <Chả>", "1 \"Main\" St");
        assert!(p.contains("Bún &amp; &lt;Chả&gt;"));
        assert!(p.contains("1 &quot;Main&quot; St"));
        assert!(p.contains("Not recorded"));
    }
}
