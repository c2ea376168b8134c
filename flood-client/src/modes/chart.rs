//! The sweep chart: time against connections on log-log axes, one line per server and
//! payload, written as SVG and rendered to PNG with resvg.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// One line of the chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// Legend text.
    pub(crate) label: String,
    /// (x, y) points, both positive (log axes); others are left out.
    pub(crate) points: Vec<(f64, f64)>,
    /// Drawn dashed (the second payload size).
    pub(crate) dashed: bool,
    /// Lines of one group (one server) share a colour.
    pub(crate) group: usize,
}

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 600.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 250.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
];

/// Decades (powers of ten) covering `lo..=hi`.
fn decades(lo: f64, hi: f64) -> (i32, i32) {
    let a = lo.log10().floor() as i32;
    let b = hi.log10().ceil() as i32;
    (a, if b > a { b } else { a + 1 })
}

/// A label for a power of two (x axis): 1, 2, …, 1k, 2k, …, 32k.
fn pow2_label(x: f64) -> String {
    if x >= 1024.0 {
        format!("{}k", (x / 1024.0).round())
    } else {
        format!("{x}")
    }
}

/// Draws the chart as an SVG document.
pub(crate) fn svg(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let pts = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| *x > 0.0 && *y > 0.0)
    };
    let (xmin, xmax) = pts().fold((f64::MAX, f64::MIN), |(a, b), (x, _)| {
        (a.min(*x), b.max(*x))
    });
    let (ymin, ymax) = pts().fold((f64::MAX, f64::MIN), |(a, b), (_, y)| {
        (a.min(*y), b.max(*y))
    });
    let (xmin, xmax) = if xmin <= xmax {
        (xmin, xmax.max(xmin * 2.0))
    } else {
        (1.0, 2.0)
    };
    let (y0, y1) = if ymin <= ymax {
        decades(ymin, ymax)
    } else {
        (0, 1)
    };
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let sx = |x: f64| LEFT + pw * (x.log2() - xmin.log2()) / (xmax.log2() - xmin.log2());
    let sy = |y: f64| TOP + ph * (1.0 - (y.log10() - f64::from(y0)) / f64::from(y1 - y0));

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" font-size="16" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        escape(title)
    );
    // Grid and ticks: every power of two on x, every decade on y.
    let mut x = 2f64.powi(xmin.log2().floor() as i32);
    while x <= xmax * 1.0001 {
        if x >= xmin {
            let px = sx(x);
            let _ = writeln!(
                s,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#e0e0e0"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                TOP + ph,
                TOP + ph + 18.0,
                pow2_label(x)
            );
        }
        x *= 2.0;
    }
    for d in y0..=y1 {
        let y = 10f64.powi(d);
        let py = sy(y);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            py + 4.0,
            decade_label(y)
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        HEIGHT - 15.0,
        escape(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate(20 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + ph / 2.0,
        escape(y_label)
    );
    for (i, series) in series.iter().enumerate() {
        let color = COLORS[series.group % COLORS.len()];
        let dash = if series.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let path: Vec<String> = series
            .points
            .iter()
            .filter(|(x, y)| *x > 0.0 && *y > 0.0)
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        if !path.is_empty() {
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                path.join(" ")
            );
            for p in &path {
                let (cx, cy) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(s, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>"#);
            }
        }
        let ly = TOP + 10.0 + 20.0 * i as f64;
        let lx = LEFT + pw + 15.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
            lx + 30.0,
            lx + 36.0,
            ly + 4.0,
            escape(&series.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn decade_label(y: f64) -> String {
    if y >= 1.0 {
        format!("{y:.0}")
    } else {
        let digits = (-y.log10()).round() as usize;
        format!("{y:.digits$}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders an SVG document to a PNG file (system fonts for the text, where installed).
pub(crate) fn write_png(svg: &str, path: &Path) -> io::Result<()> {
    use resvg::{tiny_skia, usvg};
    let mut opt = usvg::Options::default();
    opt.fontdb_mut().load_system_fonts();
    let tree =
        usvg::Tree::from_str(svg, &opt).map_err(|e| io::Error::other(format!("SVG: {e}")))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| io::Error::other("chart has no area"))?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let png = pixmap
        .encode_png()
        .map_err(|e| io::Error::other(format!("PNG: {e}")))?;
    std::fs::write(path, png)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Series> {
        vec![
            Series {
                label: "echo-server 32 KiB".into(),
                points: vec![(1.0, 0.001), (1024.0, 0.05), (32768.0, 2.0)],
                dashed: false,
                group: 0,
            },
            Series {
                label: "node <512 KiB>".into(),
                points: vec![(1.0, 0.002), (1024.0, 0.9), (16384.0, 40.0)],
                dashed: true,
                group: 1,
            },
        ]
    }

    #[test]
    fn svg_has_every_series_axis_and_escapes_text() {
        let doc = svg("Echo flood", "connections", "seconds", &sample());
        assert!(doc.starts_with("<svg"));
        assert_eq!(doc.matches("<polyline").count(), 2);
        assert_eq!(doc.matches("<circle").count(), 6);
        assert!(doc.contains("echo-server 32 KiB"));
        assert!(doc.contains("node &lt;512 KiB&gt;"));
        assert!(doc.contains(">32k<") && doc.contains(">1k<"));
        assert!(doc.contains(">0.001<") && doc.contains(">100<"));
        assert!(doc.contains("stroke-dasharray"));
    }

    #[test]
    fn png_renders() {
        let doc = svg("Echo flood", "connections", "seconds", &sample());
        let path = std::env::temp_dir().join(format!("chart-test-{}.png", std::process::id()));
        write_png(&doc, &path).expect("render");
        let bytes = std::fs::read(&path).expect("png");
        assert_eq!(&bytes[1..4], b"PNG");
        // IHDR width and height, big-endian, at bytes 16..24.
        assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 1000);
        assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), 600);
        let _ = std::fs::remove_file(&path);
    }
}
