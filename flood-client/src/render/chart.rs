//! The sweep chart as SVG: time against connections on log-log axes, one panel per payload,
//! one line per server (the median, inside a band from the fastest to the slowest run),
//! points that did not run marked on the axis and explained under the panels, and a caption
//! saying where, when and with what it was measured. Rendered to PNG with resvg when the
//! `png` feature is on.

use std::fmt::Write as _;

use crate::render::palette::{style, Style};

/// One measured point of a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Mark {
    /// Connections.
    pub(crate) x: f64,
    /// The line goes through this (the median).
    pub(crate) mid: f64,
    /// Bottom of the band (fastest run).
    pub(crate) lo: f64,
    /// Top of the band (slowest run).
    pub(crate) hi: f64,
}

/// One server's line in a panel.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    /// Index into [`Chart::legend`]; also picks the colour, marker and dash.
    pub(crate) server: usize,
    /// Points in x order; values that are not positive are left out (log axes).
    pub(crate) marks: Vec<Mark>,
}

/// A point that has no time: skipped, or every run failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Missing {
    /// Connections.
    pub(crate) x: f64,
    /// Index into [`Chart::legend`].
    pub(crate) server: usize,
    /// 1-based number of its line in [`Chart::notes`].
    pub(crate) note: usize,
}

/// One panel (one payload).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Panel {
    /// Heading above the plot.
    pub(crate) title: String,
    /// Measured lines.
    pub(crate) lines: Vec<Line>,
    /// Points marked on the x axis instead of drawn.
    pub(crate) missing: Vec<Missing>,
}

/// A whole chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chart {
    /// Says what is drawn.
    pub(crate) title: String,
    /// Lines under the title: when, where, with what.
    pub(crate) caption: Vec<String>,
    /// X axis label.
    pub(crate) x_label: String,
    /// Y axis label.
    pub(crate) y_label: String,
    /// Side by side, two to a row.
    pub(crate) panels: Vec<Panel>,
    /// Server names; drawn as a legend only when there is more than one.
    pub(crate) legend: Vec<String>,
    /// Numbered lines under the panels (why a point is missing).
    pub(crate) notes: Vec<String>,
}

/// Space around the whole chart.
pub(crate) const MARGIN: f64 = 16.0;
const PLOT_LEFT: f64 = 64.0;
const PLOT_TOP: f64 = 30.0;
const PLOT_W: f64 = 430.0;
const PLOT_H: f64 = 300.0;
const PANEL_W: f64 = PLOT_LEFT + PLOT_W + 16.0;
const PANEL_H: f64 = PLOT_TOP + PLOT_H + 48.0;
const LEGEND_W: f64 = 180.0;
const LINE_H: f64 = 16.0;
/// Most x tick labels that fit under a panel.
const MAX_X_TICKS: usize = 17;
/// Width of one character of an x tick label, px, and the space left between two labels.
const TICK_CHAR_W: f64 = 6.0;
const TICK_SPACE: f64 = 4.0;

/// How far apart two x ticks must be for their labels not to touch, px.
fn tick_gap(a: f64, b: f64) -> f64 {
    let chars = count_label(a).len() + count_label(b).len();
    TICK_CHAR_W * chars as f64 / 2.0 + TICK_SPACE
}
/// Rough width of a 12 px character, to make room for the notes.
pub(crate) const CHAR_W: f64 = 6.8;

/// The x axis: log2 range padded so no point sits on the border, and a tick at every
/// distinct x (thinned, last kept, when they would not fit).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct XAxis {
    /// log2 of the left edge.
    pub(crate) lo: f64,
    /// log2 of the right edge.
    pub(crate) hi: f64,
    /// Labelled ticks.
    pub(crate) ticks: Vec<f64>,
}

impl XAxis {
    /// The axis for these x values (positive ones; others are left out).
    pub(crate) fn of(xs: &[f64]) -> XAxis {
        let mut v: Vec<f64> = xs.iter().copied().filter(|x| *x > 0.0).collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        if v.is_empty() {
            v.push(1.0);
        }
        let (a, b) = (v[0].log2(), v[v.len() - 1].log2());
        let pad = if v.len() > 1 {
            (0.5 * (b - a) / (v.len() - 1) as f64).clamp(0.25, 1.0)
        } else {
            1.0
        };
        let step = v.len().div_ceil(MAX_X_TICKS);
        let last = v.len() - 1;
        let (lo, hi) = (a - pad, b + pad);
        // From the largest down, a tick only where its label has room: values a bisection
        // packs together (12800, 13600, 13700) would print over each other.
        let mut ticks: Vec<f64> = Vec::new();
        for (i, x) in v.iter().enumerate().rev() {
            let room = ticks.last().is_none_or(|kept| {
                PLOT_W * (kept.log2() - x.log2()) / (hi - lo) >= tick_gap(*kept, *x)
            });
            if (last - i) % step == 0 && room {
                ticks.push(*x);
            }
        }
        ticks.reverse();
        XAxis { lo, hi, ticks }
    }

    fn at(&self, x: f64) -> f64 {
        PLOT_W * (x.log2() - self.lo) / (self.hi - self.lo)
    }
}

/// The y axis: whole decades around the values with some room at both ends.
#[derive(Debug, Clone, Copy, PartialEq)]
struct YAxis {
    lo: i32,
    hi: i32,
}

impl YAxis {
    fn of(ys: impl Iterator<Item = f64>) -> YAxis {
        let (min, max) = ys
            .filter(|y| *y > 0.0 && y.is_finite())
            .fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
        if min > max {
            return YAxis { lo: -1, hi: 0 };
        }
        let lo = (min.log10() - 0.05).floor() as i32;
        let hi = ((max.log10() + 0.05).ceil() as i32).max(lo + 1);
        YAxis { lo, hi }
    }

    fn at(&self, y: f64) -> f64 {
        PLOT_H * (1.0 - (y.log10() - f64::from(self.lo)) / f64::from(self.hi - self.lo))
    }

    /// (value, labelled as a decade) for every grid line: decades, and 2 and 5 between them
    /// when there are few decades.
    fn ticks(&self) -> Vec<(f64, bool)> {
        let mut t = Vec::new();
        for d in self.lo..=self.hi {
            let base = 10f64.powi(d);
            t.push((base, true));
            if self.hi - self.lo <= 2 && d < self.hi {
                t.extend([(2.0 * base, false), (5.0 * base, false)]);
            }
        }
        t
    }
}

/// A connection count as a tick label: 1, 10, 1000, 1k (1,024), 32k.
pub(crate) fn count_label(x: f64) -> String {
    if x >= 1024.0 && x % 1024.0 == 0.0 {
        format!("{}k", x / 1024.0)
    } else {
        format!("{x}")
    }
}

/// A time as a tick label with just the digits it needs: 0.001, 0.05, 2, 100.
fn number_label(y: f64) -> String {
    if y >= 1.0 {
        format!("{y:.0}")
    } else {
        let digits = (-y.log10() - 1e-9).ceil().max(0.0) as usize;
        format!("{y:.digits$}")
    }
}

/// Escapes text for SVG and HTML.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Height of the title and `caption` lines [`head`] draws: where a chart's plots begin.
pub(crate) fn head_height(caption: &[String]) -> f64 {
    44.0 + LINE_H * caption.len() as f64
}

/// The start of a `width` x `height` SVG document on white: the bold `title` and, under
/// it, one grey line per `caption` line (the sweep chart and the run timeline look alike).
pub(crate) fn head(width: f64, height: f64, title: &str, caption: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{MARGIN}" y="26" font-size="16" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for (i, line) in caption.iter().enumerate() {
        let _ = writeln!(
            s,
            r##"<text class="caption" x="{MARGIN}" y="{}" fill="#444">{}</text>"##,
            46.0 + LINE_H * i as f64,
            escape(line)
        );
    }
    s
}

/// Draws the chart as an SVG document.
pub(crate) fn svg(chart: &Chart) -> String {
    let cols = chart.panels.len().clamp(1, 2);
    let rows = chart.panels.len().div_ceil(cols).max(1);
    let legend_w = if chart.legend.len() > 1 {
        LEGEND_W
    } else {
        0.0
    };
    let head_h = head_height(&chart.caption);
    let notes_h = if chart.notes.is_empty() {
        0.0
    } else {
        10.0 + LINE_H * (chart.notes.len() + 1) as f64
    };
    let longest = chart
        .notes
        .iter()
        .chain(&chart.caption)
        .map(|t| t.chars().count() + 6)
        .max()
        .unwrap_or(0) as f64;
    let width = (2.0 * MARGIN + cols as f64 * PANEL_W + legend_w)
        .max(2.0 * MARGIN + CHAR_W * longest)
        .ceil();
    let height = (head_h + rows as f64 * PANEL_H + notes_h + MARGIN).ceil();
    let x_axis = XAxis::of(
        &chart
            .panels
            .iter()
            .flat_map(|p| {
                p.lines
                    .iter()
                    .flat_map(|l| l.marks.iter().map(|m| m.x))
                    .chain(p.missing.iter().map(|m| m.x))
            })
            .collect::<Vec<f64>>(),
    );

    let mut s = head(width, height, &chart.title, &chart.caption);
    for (i, panel) in chart.panels.iter().enumerate() {
        let ox = MARGIN + (i % cols) as f64 * PANEL_W;
        let oy = head_h + (i / cols) as f64 * PANEL_H;
        draw_panel(&mut s, chart, panel, &x_axis, ox, oy);
    }
    if legend_w > 0.0 {
        let lx = MARGIN + cols as f64 * PANEL_W + 10.0;
        for (i, name) in chart.legend.iter().enumerate() {
            let st = style(i);
            let ly = head_h + PLOT_TOP + 10.0 + 22.0 * i as f64;
            let _ = writeln!(
                s,
                r#"<g class="legend"><line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="2"{}/>{}<text x="{}" y="{}">{}</text></g>"#,
                lx + 34.0,
                st.color,
                st.dash_attr(),
                st.marker(lx + 17.0, ly),
                lx + 42.0,
                ly + 4.0,
                escape(name)
            );
        }
    }
    if !chart.notes.is_empty() {
        let ny = head_h + rows as f64 * PANEL_H + 10.0;
        let _ = writeln!(
            s,
            r#"<text x="{MARGIN}" y="{ny}" font-weight="bold">Not drawn (marked × on the axis):</text>"#
        );
        for (i, note) in chart.notes.iter().enumerate() {
            let _ = writeln!(
                s,
                r#"<text class="note" x="{MARGIN}" y="{}">[{}] {}</text>"#,
                ny + LINE_H * (i + 1) as f64,
                i + 1,
                escape(note)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

fn draw_panel(s: &mut String, chart: &Chart, panel: &Panel, x_axis: &XAxis, ox: f64, oy: f64) {
    let y_axis = YAxis::of(
        panel
            .lines
            .iter()
            .flat_map(|l| l.marks.iter().flat_map(|m| [m.lo, m.mid, m.hi])),
    );
    let (left, top) = (ox + PLOT_LEFT, oy + PLOT_TOP);
    let (right, bottom) = (left + PLOT_W, top + PLOT_H);
    let sx = |x: f64| left + x_axis.at(x);
    let sy = |y: f64| top + y_axis.at(y);
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="14" text-anchor="middle">{}</text>"#,
        left + PLOT_W / 2.0,
        oy + 18.0,
        escape(&panel.title)
    );
    for &x in &x_axis.ticks {
        let px = sx(x);
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{bottom}" stroke="#e4e4e4"/><text x="{px:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            bottom + 15.0,
            count_label(x)
        );
    }
    for (y, decade) in y_axis.ticks() {
        let py = sy(y);
        let grid = if decade { "#d8d8d8" } else { "#efefef" };
        let _ = writeln!(
            s,
            r#"<line x1="{left}" y1="{py:.1}" x2="{right}" y2="{py:.1}" stroke="{grid}"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"#,
            left - 5.0,
            py + 4.0,
            number_label(y)
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{left}" y="{top}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + PLOT_W / 2.0,
        bottom + 36.0,
        escape(&chart.x_label)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate({:.1} {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        ox + 14.0,
        top + PLOT_H / 2.0,
        escape(&chart.y_label)
    );
    for line in &panel.lines {
        let st = style(line.server);
        let marks: Vec<&Mark> = line
            .marks
            .iter()
            .filter(|m| m.x > 0.0 && m.lo > 0.0 && m.mid > 0.0 && m.hi > 0.0)
            .collect();
        if marks.iter().any(|m| m.hi > m.lo) {
            let edge: Vec<String> = marks
                .iter()
                .map(|m| (m.x, m.lo))
                .chain(marks.iter().rev().map(|m| (m.x, m.hi)))
                .map(|(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            let _ = writeln!(
                s,
                r#"<polygon class="band" points="{}" fill="{}" fill-opacity="0.15" stroke="none"/>"#,
                edge.join(" "),
                st.color
            );
        }
        let path: Vec<(f64, f64)> = marks.iter().map(|m| (sx(m.x), sy(m.mid))).collect();
        if path.len() > 1 {
            let pts: Vec<String> = path.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{}/>"#,
                pts.join(" "),
                st.color,
                st.dash_attr()
            );
        }
        for (x, y) in path {
            s.push_str(&st.marker(x, y));
            s.push('\n');
        }
    }
    let mut stacked: Vec<(f64, usize)> = Vec::new();
    for m in &panel.missing {
        let st: Style = style(m.server);
        let level = stacked.iter().filter(|(x, _)| *x == m.x).count();
        stacked.push((m.x, level));
        let (px, py) = (sx(m.x), bottom - 10.0 - 16.0 * level as f64);
        let _ = writeln!(
            s,
            r#"<g class="missing"><title>{}</title><path d="M{:.1},{:.1}l10,10m0,-10l-10,10" stroke="{}" stroke-width="2.5"/><text x="{:.1}" y="{:.1}" font-size="10">{}</text></g>"#,
            escape(
                chart
                    .notes
                    .get(m.note.wrapping_sub(1))
                    .map_or("", String::as_str)
            ),
            px - 5.0,
            py - 5.0,
            st.color,
            px + 7.0,
            py + 4.0,
            m.note
        );
    }
}

/// Renders an SVG document to a PNG file (system fonts for the text, where installed).
#[cfg(feature = "png")]
pub(crate) fn write_png(svg: &str, path: &std::path::Path) -> std::io::Result<()> {
    use resvg::{tiny_skia, usvg};
    use std::io;
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

    fn line(server: usize, pts: &[(f64, f64)]) -> Line {
        Line {
            server,
            marks: pts
                .iter()
                .map(|&(x, y)| Mark {
                    x,
                    mid: y,
                    lo: y * 0.8,
                    hi: y * 1.3,
                })
                .collect(),
        }
    }

    fn sample() -> Chart {
        Chart {
            title: "Echo flood".into(),
            caption: vec!["2026-11-22 on box".into()],
            x_label: "connections".into(),
            y_label: "seconds".into(),
            panels: vec![
                Panel {
                    title: "32 KiB".into(),
                    lines: vec![
                        line(0, &[(1.0, 0.001), (1024.0, 0.05), (32768.0, 2.0)]),
                        line(1, &[(1.0, 0.002), (1024.0, 0.9)]),
                    ],
                    missing: vec![Missing {
                        x: 16384.0,
                        server: 1,
                        note: 1,
                    }],
                },
                Panel {
                    title: "512 KiB".into(),
                    lines: vec![line(0, &[(1.0, 0.01), (32768.0, 20.0)])],
                    missing: vec![],
                },
            ],
            legend: vec!["echo-server".into(), "node <js>".into()],
            notes: vec!["node at 16k: every run failed".into()],
        }
    }

    #[test]
    fn svg_has_panels_bands_markers_missing_points_and_escapes_text() {
        let doc = svg(&sample());
        assert!(doc.starts_with("<svg"));
        assert_eq!(doc.matches("<polyline").count(), 3);
        assert_eq!(doc.matches(r#"class="band""#).count(), 3);
        assert!(doc.contains(">32 KiB<") && doc.contains(">512 KiB<"));
        assert!(doc.contains("node &lt;js&gt;"));
        assert!(doc.contains(">32k<") && doc.contains(">1k<") && doc.contains(">16k<"));
        assert_eq!(doc.matches(r#"class="missing""#).count(), 1);
        assert!(doc.contains("[1] node at 16k: every run failed"));
        assert_eq!(doc.matches(r#"class="legend""#).count(), 2);
        assert!(doc.contains(r#"class="caption""#));
    }

    #[test]
    fn a_single_server_gets_no_legend_and_no_gutter() {
        let mut chart = sample();
        chart.legend.truncate(1);
        chart.panels.truncate(1);
        chart.panels[0].lines.truncate(1);
        chart.panels[0].missing.clear();
        chart.notes.clear();
        let doc = svg(&chart);
        assert!(!doc.contains(r#"class="legend""#));
        let width = (2.0 * MARGIN + PANEL_W).ceil();
        assert!(doc.contains(&format!(r#"width="{width}""#)), "{doc}");
    }

    #[test]
    fn every_point_is_inside_the_axes_on_a_labelled_tick() {
        for xs in [
            vec![1.0, 10.0, 100.0],
            vec![4.0],
            (0..16).map(|i| 2f64.powi(i)).collect(),
        ] {
            let axis = XAxis::of(&xs);
            for &x in &xs {
                assert!(
                    axis.lo < x.log2() && x.log2() < axis.hi,
                    "{x} on the border"
                );
                assert!(
                    axis.ticks.contains(&x),
                    "{x} has no tick in {:?}",
                    axis.ticks
                );
            }
        }
        // A bisection's steps close together: labels never overprint, the largest is kept.
        let crowded = [
            50.0, 100.0, 6400.0, 12800.0, 13600.0, 13700.0, 14400.0, 20000.0,
        ];
        let axis = XAxis::of(&crowded);
        assert_eq!(axis.ticks.last(), Some(&20000.0));
        for pair in axis.ticks.windows(2) {
            let gap = axis.at(pair[1]) - axis.at(pair[0]);
            assert!(gap >= tick_gap(pair[0], pair[1]), "{pair:?} {gap} px apart");
        }
        assert!(axis.ticks.contains(&50.0) && axis.ticks.contains(&6400.0));
        assert_eq!(count_label(100.0), "100");
        assert_eq!(count_label(16384.0), "16k");
        let y = YAxis::of([0.001, 0.1].into_iter());
        assert!(y.lo < -3 && y.hi > -1, "{y:?}");
        assert_eq!(number_label(0.001), "0.001");
        assert_eq!(number_label(0.05), "0.05");
    }

    #[cfg(feature = "png")]
    #[test]
    fn png_renders() {
        let doc = svg(&sample());
        let path = std::env::temp_dir().join(format!("chart-test-{}.png", std::process::id()));
        write_png(&doc, &path).expect("render");
        let bytes = std::fs::read(&path).expect("png");
        assert_eq!(&bytes[1..4], b"PNG");
        // IHDR width, big-endian, at bytes 16..20.
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        assert_eq!(
            f64::from(width),
            (2.0 * MARGIN + 2.0 * PANEL_W + LEGEND_W).ceil()
        );
        let _ = std::fs::remove_file(&path);
    }
}
