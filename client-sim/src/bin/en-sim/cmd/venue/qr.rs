//! The entry QR code: drawn as SVG and PNG from the code's modules (`qrcode`), and read back
//! from a PNG (`rqrr`), as a phone's camera would.

use anyhow::{anyhow, Context};
use qrcode::{Color, EcLevel, QrCode};

/// Modules of white around the code (the QR specification's quiet zone).
const QUIET: usize = 4;
/// Largest PNG we try to read: phones' photos are smaller once cropped; larger is not a code.
const MAX_PNG_SIDE: u32 = 4096;

/// A QR code's modules.
pub struct Qr {
    width: usize,
    dark: Vec<bool>,
}

impl Qr {
    /// The code of `text` at error-correction level M (15 %: survives a scuffed poster).
    pub fn encode(text: &str) -> anyhow::Result<Self> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|e| anyhow!("cannot make a QR code: {e}"))?;
        Ok(Qr {
            width: code.width(),
            dark: code
                .to_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect(),
        })
    }

    /// Modules per side, quiet zone included.
    pub fn side(&self) -> usize {
        self.width + 2 * QUIET
    }

    fn is_dark(&self, x: usize, y: usize) -> bool {
        let (x, y) = (x.wrapping_sub(QUIET), y.wrapping_sub(QUIET));
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// An SVG path (one unit per module, quiet zone included) drawing the dark modules.
    pub fn svg_path(&self) -> String {
        let mut d = String::new();
        for y in 0..self.side() {
            for x in 0..self.side() {
                if self.is_dark(x, y) {
                    d.push_str(&format!("M{x} {y}h1v1h-1z"));
                }
            }
        }
        d
    }

    /// A standalone SVG of the code, `mm` millimetres wide.
    pub fn svg(&self, mm: u32) -> String {
        let n = self.side();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
             width=\"{mm}mm\" height=\"{mm}mm\" viewBox=\"0 0 {n} {n}\" shape-rendering=\"crispEdges\">\n\
             <rect width=\"{n}\" height=\"{n}\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"{}\"/>\n</svg>\n",
            self.svg_path()
        )
    }

    /// An 8-bit greyscale PNG, `scale` pixels per module.
    pub fn png(&self, scale: usize) -> anyhow::Result<Vec<u8>> {
        let side = self.side() * scale;
        let mut pixels = vec![255u8; side * side];
        for (i, p) in pixels.iter_mut().enumerate() {
            if self.is_dark(i % side / scale, i / side / scale) {
                *p = 0;
            }
        }
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().context("cannot write the PNG")?;
        w.write_image_data(&pixels)
            .context("cannot write the PNG")?;
        w.finish().context("cannot write the PNG")?;
        Ok(out)
    }
}

/// Reads the text of the first QR code found in a PNG image.
pub fn decode_png(bytes: &[u8]) -> anyhow::Result<String> {
    let not_png = || anyhow!("not a PNG image of at most {MAX_PNG_SIDE}×{MAX_PNG_SIDE} pixels");
    let mut dec = png::Decoder::new_with_limits(
        std::io::Cursor::new(bytes),
        png::Limits {
            bytes: 4 * (MAX_PNG_SIDE * MAX_PNG_SIDE) as usize,
        },
    );
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().map_err(|_| not_png())?;
    let info = reader.info();
    let (w, h) = (info.width, info.height);
    if w > MAX_PNG_SIDE || h > MAX_PNG_SIDE {
        return Err(not_png());
    }
    let mut buf = vec![0u8; reader.output_buffer_size().ok_or_else(not_png)?];
    let frame = reader.next_frame(&mut buf).map_err(|_| not_png())?;
    let channels = frame.color_type.samples();
    let (w, h) = (w as usize, h as usize);
    let grey = |x: usize, y: usize| -> u8 {
        let p = &buf[(y * w + x) * channels..][..channels];
        match channels {
            1 | 2 => p[0],
            _ => {
                ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000)
                    as u8
            }
        }
    };
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, grey);
    img.detect_grids()
        .iter()
        .find_map(|g| g.decode().ok().map(|(_, text)| text))
        .ok_or_else(|| anyhow!("no readable QR code in the image"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_png_reads_back() {
        let url = "https://venue.example/v#RU5WUQEKQ2Fmw6kgTMOibQ";
        let qr = Qr::encode(url).unwrap();
        assert_eq!(decode_png(&qr.png(6).unwrap()).unwrap(), url);
        assert!(qr.svg(60).contains("viewBox"));
        assert!(decode_png(b"not a png").is_err());
        let blank = Qr {
            width: 21,
            dark: vec![false; 441],
        };
        assert!(decode_png(&blank.png(4).unwrap()).is_err());
    }
}
