//! How the chart tells servers apart: a colour, a point marker and a dash pattern per server,
//! chosen so that up to [`STYLES`] servers stay distinct in colour and, through the marker
//! and dash, in greyscale or for a reader who cannot tell the colours apart.

use std::fmt::Write as _;

/// Distinct styles before they repeat.
pub(crate) const STYLES: usize = 12;

/// Twelve colours picked by a max–min search over dark-enough RGB colours (every pair at
/// least 230 apart in the "redmean" distance the test uses; the pairs the first chart mixed
/// up were 150 and 162), ordered so the first few, used most, are the plainest.
const COLORS: [&str; STYLES] = [
    "#0000FF", "#FF0000", "#00C080", "#000000", "#FF8040", "#C080FF", "#804000", "#FF00FF",
    "#004080", "#40C000", "#800080", "#0080FF",
];

/// Stroke dash patterns (`stroke-dasharray`; empty is a solid line).
const DASHES: [&str; 4] = ["", "7 3", "2 2", "9 3 2 3"];

/// Marker shapes; each is drawn filled for the first six styles and hollow after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
    Pentagon,
}

const SHAPES: [Shape; 6] = [
    Shape::Circle,
    Shape::Square,
    Shape::TriangleUp,
    Shape::Diamond,
    Shape::TriangleDown,
    Shape::Pentagon,
];

/// The look of one server's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    /// Stroke and fill colour (`#rrggbb`).
    pub(crate) color: &'static str,
    /// `stroke-dasharray` value, empty for solid.
    pub(crate) dash: &'static str,
    shape: Shape,
    hollow: bool,
}

/// The style of the `i`th server (repeats after [`STYLES`]).
pub(crate) fn style(i: usize) -> Style {
    let i = i % STYLES;
    Style {
        color: COLORS[i],
        dash: DASHES[i % DASHES.len()],
        shape: SHAPES[i % SHAPES.len()],
        hollow: i >= SHAPES.len(),
    }
}

impl Style {
    /// The ` stroke-dasharray="…"` attribute, or nothing for a solid line.
    pub(crate) fn dash_attr(&self) -> String {
        if self.dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{}""#, self.dash)
        }
    }

    /// An SVG element drawing this style's marker centred on (`x`, `y`).
    pub(crate) fn marker(&self, x: f64, y: f64) -> String {
        let r = 4.0;
        let fill = if self.hollow { "white" } else { self.color };
        let paint = format!(
            r#"fill="{fill}" stroke="{}" stroke-width="1.5""#,
            self.color
        );
        let polygon = |corners: &[(f64, f64)]| {
            let mut pts = String::new();
            for (dx, dy) in corners {
                let _ = write!(pts, "{:.1},{:.1} ", x + dx * r, y + dy * r);
            }
            format!(r#"<polygon points="{}" {paint}/>"#, pts.trim_end())
        };
        match self.shape {
            Shape::Circle => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" {paint}/>"#),
            Shape::Square => polygon(&[(-0.9, -0.9), (0.9, -0.9), (0.9, 0.9), (-0.9, 0.9)]),
            Shape::TriangleUp => polygon(&[(0.0, -1.2), (1.1, 0.8), (-1.1, 0.8)]),
            Shape::Diamond => polygon(&[(0.0, -1.25), (1.0, 0.0), (0.0, 1.25), (-1.0, 0.0)]),
            Shape::TriangleDown => polygon(&[(0.0, 1.2), (1.1, -0.8), (-1.1, -0.8)]),
            Shape::Pentagon => {
                let corners: Vec<(f64, f64)> = (0..5)
                    .map(|k| {
                        let a = std::f64::consts::TAU * f64::from(k) / 5.0;
                        (1.15 * a.sin(), -1.15 * a.cos())
                    })
                    .collect();
                polygon(&corners)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb(hex: &str) -> (f64, f64, f64) {
        let c = |i: usize| f64::from(u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"));
        (c(1), c(3), c(5))
    }

    /// The "redmean" approximation of perceived colour distance (0 to about 765).
    fn distance(a: &str, b: &str) -> f64 {
        let ((r1, g1, b1), (r2, g2, b2)) = (rgb(a), rgb(b));
        let rm = (r1 + r2) / 2.0;
        let (dr, dg, db) = (r1 - r2, g1 - g2, b1 - b2);
        ((2.0 + rm / 256.0) * dr * dr + 4.0 * dg * dg + (2.0 + (255.0 - rm) / 256.0) * db * db)
            .sqrt()
    }

    #[test]
    fn twelve_styles_differ_in_colour_and_in_greyscale() {
        let styles: Vec<Style> = (0..STYLES).map(style).collect();
        for (i, a) in styles.iter().enumerate() {
            for b in &styles[i + 1..] {
                // The pairs the first chart mixed up (#1f77b4/#17becf, #d62728/#8c564b) are
                // 150 and 162 apart; keep every pair well clear of that.
                assert!(
                    distance(a.color, b.color) > 220.0,
                    "{} and {} are too close",
                    a.color,
                    b.color
                );
                // Without colour, marker (shape, filled or hollow) alone tells them apart.
                assert_ne!((a.shape, a.hollow), (b.shape, b.hollow));
            }
        }
        assert_eq!(style(STYLES), style(0));
        assert!(style(0).dash_attr().is_empty());
        assert!(style(1).dash_attr().contains("stroke-dasharray"));
        assert!(style(0).marker(10.0, 10.0).starts_with("<circle"));
        assert!(style(7).marker(10.0, 10.0).contains(r#"fill="white""#));
    }
}
