//! The one chart engine: panels of lines over a shared x axis, each axis [`Axis::Log`] or
//! [`Axis::Linear`], laid out as a grid (the sweep) or a stack (the timeline, the limit
//! search), under one title and caption, in one palette, with a legend, reference rules
//! (a knee, a bound) and numbered notes for points that could not be drawn. The modes only
//! build a [`Chart`]; [`svg`] draws it and `write_png` renders it through resvg.

mod axis;

use std::fmt::Write as _;

use axis::Scale;
pub(crate) use axis::{count_label, Axis};

use crate::render::palette::style;

/// One measured point of a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Mark {
    /// Where along the x axis.
    pub(crate) x: f64,
    /// The line goes through this (the median).
    pub(crate) mid: f64,
    /// Bottom of the band (fastest run); a band is drawn only where it differs from `hi`.
    pub(crate) lo: f64,
    /// Top of the band (slowest run).
    pub(crate) hi: f64,
}

impl Mark {
    /// A point without a band.
    pub(crate) fn at(x: f64, y: f64) -> Mark {
        Mark {
            x,
            mid: y,
            lo: y,
            hi: y,
        }
    }
}

/// One series in a panel.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    /// Index into [`Chart::legend`]; also picks the colour, marker and dash.
    pub(crate) server: usize,
    /// Points in x order; those an axis cannot show (not positive, on a log axis) are left out.
    pub(crate) marks: Vec<Mark>,
}

/// A point that has no value: skipped, or every run failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Missing {
    /// Where along the x axis.
    pub(crate) x: f64,
    /// Index into [`Chart::legend`].
    pub(crate) server: usize,
    /// 1-based number of its line in [`Chart::notes`].
    pub(crate) note: usize,
}

/// A reference drawn as a labelled straight line across a plot: a knee, a bound.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    /// The value it stands at.
    pub(crate) at: f64,
    /// What it says beside it.
    pub(crate) label: String,
}

/// One plot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Panel {
    /// Heading above the plot.
    pub(crate) title: String,
    /// How its values are spaced.
    pub(crate) y: Axis,
    /// Measured lines.
    pub(crate) lines: Vec<Line>,
    /// Points marked on the x axis instead of drawn.
    pub(crate) missing: Vec<Missing>,
    /// A level across the plot (a bound).
    pub(crate) level: Option<Rule>,
}

impl Panel {
    /// A panel of `lines` and nothing else.
    pub(crate) fn of(title: impl Into<String>, y: Axis, lines: Vec<Line>) -> Panel {
        Panel {
            title: title.into(),
            y,
            lines,
            missing: Vec::new(),
            level: None,
        }
    }
}

/// How the panels stand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Layout {
    /// Two to a row, each with its own tick labels and axis labels (the sweep's payloads).
    Grid,
    /// One above the other, plots this tall, sharing the x tick labels under the last.
    Stack(f64),
}

/// A whole chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chart {
    /// Says what is drawn.
    pub(crate) title: String,
    /// Lines under the title: when, where, with what.
    pub(crate) caption: Vec<String>,
    /// How the panels stand.
    pub(crate) layout: Layout,
    /// How x values are spaced (one x axis for every panel).
    pub(crate) x: Axis,
    /// Where a linear x axis ends when it runs past the last point (a run's end).
    pub(crate) x_end: Option<f64>,
    /// X axis label.
    pub(crate) x_label: String,
    /// Y axis label, beside each plot of a grid (a stack's panel titles name their units).
    pub(crate) y_label: String,
    /// The plots.
    pub(crate) panels: Vec<Panel>,
    /// A place on the x axis marked through every panel, its tick always labelled (a knee).
    pub(crate) knee: Option<Rule>,
    /// Series names; drawn as a legend only when there is more than one.
    pub(crate) legend: Vec<String>,
    /// Numbered lines under the panels (why a point is missing).
    pub(crate) notes: Vec<String>,
}

/// Space around the whole chart.
pub(crate) const MARGIN: f64 = 16.0;
const LEGEND_W: f64 = 180.0;
const LINE_H: f64 = 16.0;
/// Rough width of a 12 px character, to make room for the notes.
const CHAR_W: f64 = 6.8;
/// Beyond this many points a line carries no markers (they would merge into a smear).
const MARKED_UP_TO: usize = 120;

/// Where things stand in one panel of a layout, px.
struct Frame {
    /// The plot's offset in its panel.
    left: f64,
    top: f64,
    /// The plot's size.
    w: f64,
    h: f64,
    /// The panel's size (plot, title, labels, gaps).
    panel_w: f64,
    panel_h: f64,
    /// Room under the last row (a stack's shared tick labels and axis label).
    foot: f64,
    cols: usize,
}

impl Layout {
    fn frame(self, panels: usize) -> Frame {
        match self {
            Layout::Grid => Frame {
                left: 64.0,
                top: 30.0,
                w: 430.0,
                h: 300.0,
                panel_w: 64.0 + 430.0 + 16.0,
                panel_h: 30.0 + 300.0 + 48.0,
                foot: 0.0,
                cols: panels.clamp(1, 2),
            },
            Layout::Stack(h) => Frame {
                left: 72.0,
                top: 26.0,
                w: 760.0,
                h,
                panel_w: 72.0 + 760.0 + 24.0,
                panel_h: 26.0 + h + 12.0,
                foot: 46.0,
                cols: 1,
            },
        }
    }
}

/// Escapes text for SVG and HTML.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Draws the chart as an SVG document.
pub(crate) fn svg(chart: &Chart) -> String {
    let f = chart.layout.frame(chart.panels.len());
    let rows = chart.panels.len().div_ceil(f.cols).max(1);
    let legend_w = if chart.legend.len() > 1 {
        LEGEND_W
    } else {
        0.0
    };
    let head_h = 44.0 + LINE_H * chart.caption.len() as f64;
    let notes_h = if chart.notes.is_empty() {
        0.0
    } else {
        10.0 + LINE_H * (chart.notes.len() + 1) as f64
    };
    let longest = chart
        .notes
        .iter()
        .chain(&chart.caption)
        .chain([&chart.title])
        .map(|t| t.chars().count() + 6)
        .max()
        .unwrap_or(0) as f64;
    let width = (2.0 * MARGIN + f.cols as f64 * f.panel_w + legend_w)
        .max(2.0 * MARGIN + CHAR_W * longest)
        .ceil();
    let height = (head_h + rows as f64 * f.panel_h + f.foot + notes_h + MARGIN).ceil();
    let xs: Vec<f64> = chart
        .panels
        .iter()
        .flat_map(|p| {
            p.lines
                .iter()
                .flat_map(|l| l.marks.iter().map(|m| m.x))
                .chain(p.missing.iter().map(|m| m.x))
        })
        .chain(chart.knee.as_ref().map(|k| k.at))
        .collect();
    let knee = chart.knee.as_ref().map(|k| k.at);
    let x_axis = Scale::x(chart.x, &xs, chart.x_end, knee, f.w);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{MARGIN}" y="26" font-size="16" font-weight="bold">{}</text>"#,
        escape(&chart.title)
    );
    for (i, line) in chart.caption.iter().enumerate() {
        let _ = writeln!(
            s,
            r##"<text class="caption" x="{MARGIN}" y="{}" fill="#444">{}</text>"##,
            46.0 + LINE_H * i as f64,
            escape(line)
        );
    }
    for (i, panel) in chart.panels.iter().enumerate() {
        let ox = MARGIN + (i % f.cols) as f64 * f.panel_w;
        let oy = head_h + (i / f.cols) as f64 * f.panel_h;
        let labelled = chart.layout == Layout::Grid || i + 1 == chart.panels.len();
        let first = i == 0;
        draw_panel(
            &mut s,
            chart,
            panel,
            &x_axis,
            &f,
            (ox, oy),
            (first, labelled),
        );
    }
    if legend_w > 0.0 {
        let lx = MARGIN + f.cols as f64 * f.panel_w + 10.0;
        for (i, name) in chart.legend.iter().enumerate() {
            let st = style(i);
            let ly = head_h + f.top + 10.0 + 22.0 * i as f64;
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
        let ny = head_h + rows as f64 * f.panel_h + f.foot + 10.0;
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

/// Draws one panel whose top left corner is `origin`; `(first, labelled)`: whether it is the
/// first (it carries the knee's label) and whether the x tick labels go under it.
fn draw_panel(
    s: &mut String,
    chart: &Chart,
    panel: &Panel,
    x_axis: &Scale,
    f: &Frame,
    (ox, oy): (f64, f64),
    (first, labelled): (bool, bool),
) {
    let ys: Vec<f64> = panel
        .lines
        .iter()
        .flat_map(|l| l.marks.iter().flat_map(|m| [m.lo, m.mid, m.hi]))
        .chain(panel.level.as_ref().map(|r| r.at))
        .collect();
    let y_axis = Scale::y(panel.y, &ys);
    let (left, top) = (ox + f.left, oy + f.top);
    let (right, bottom) = (left + f.w, top + f.h);
    let sx = |x: f64| left + f.w * x_axis.at(x);
    let sy = |y: f64| top + f.h * (1.0 - y_axis.at(y.max(0.0)));
    let _ = writeln!(s, r#"<g class="panel">"#);
    let _ = match chart.layout {
        Layout::Grid => writeln!(
            s,
            r#"<text class="panel-title" x="{:.1}" y="{:.1}" font-size="14" text-anchor="middle">{}</text>"#,
            left + f.w / 2.0,
            oy + 18.0,
            escape(&panel.title)
        ),
        Layout::Stack(_) => writeln!(
            s,
            r#"<text class="panel-title" x="{left}" y="{:.1}" font-size="13" font-weight="bold">{}</text>"#,
            top - 8.0,
            escape(&panel.title)
        ),
    };
    let knee = chart.knee.as_ref();
    for tick in &x_axis.ticks {
        let px = sx(tick.value);
        let _ = write!(
            s,
            r#"<line x1="{px:.1}" y1="{top:.1}" x2="{px:.1}" y2="{bottom:.1}" stroke="{}"/>"#,
            tick.grid
        );
        if labelled {
            let bold = if knee.is_some_and(|k| k.at == tick.value) {
                r#" class="knee" font-weight="bold""#
            } else {
                ""
            };
            let _ = write!(
                s,
                r#"<text{bold} x="{px:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
                bottom + 15.0,
                tick.label
            );
        }
        s.push('\n');
    }
    for tick in &y_axis.ticks {
        let py = sy(tick.value);
        let _ = writeln!(
            s,
            r#"<line x1="{left}" y1="{py:.1}" x2="{right}" y2="{py:.1}" stroke="{}"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"#,
            tick.grid,
            left - 5.0,
            py + 4.0,
            tick.label
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{left}" y="{top:.1}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
        f.w, f.h
    );
    if labelled {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            left + f.w / 2.0,
            bottom + 36.0,
            escape(&chart.x_label)
        );
    }
    if !chart.y_label.is_empty() {
        let _ = writeln!(
            s,
            r#"<text transform="translate({:.1} {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            ox + 14.0,
            top + f.h / 2.0,
            escape(&chart.y_label)
        );
    }
    if let Some(level) = panel.level.as_ref().filter(|r| y_axis.shows(r.at)) {
        let py = sy(level.at);
        let _ = writeln!(
            s,
            r##"<g class="rule"><line x1="{left}" y1="{py:.1}" x2="{right}" y2="{py:.1}" stroke="#c00000" stroke-width="1.5" stroke-dasharray="6 3"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#c00000">{}</text></g>"##,
            right - 4.0,
            py - 4.0,
            escape(&level.label)
        );
    }
    if let Some(knee) = knee.filter(|k| x_axis.shows(k.at)) {
        let px = sx(knee.at);
        let _ = write!(
            s,
            r##"<g class="rule"><line x1="{px:.1}" y1="{top:.1}" x2="{px:.1}" y2="{bottom:.1}" stroke="#333" stroke-width="1.5" stroke-dasharray="4 3"/>"##
        );
        if first {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
                px + 4.0,
                top + 13.0,
                escape(&knee.label)
            );
        }
        s.push_str("</g>\n");
    }
    let dashed = chart.legend.len() > 1;
    for line in &panel.lines {
        let st = style(line.server);
        let marks: Vec<&Mark> = line
            .marks
            .iter()
            .filter(|m| x_axis.shows(m.x) && [m.lo, m.mid, m.hi].iter().all(|v| y_axis.shows(*v)))
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
        if !path.is_empty() {
            let pts: Vec<String> = path.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                s,
                r#"<polyline class="trace" points="{}" fill="none" stroke="{}" stroke-width="2"{}/>"#,
                pts.join(" "),
                st.color,
                if dashed {
                    st.dash_attr()
                } else {
                    String::new()
                }
            );
        }
        if path.len() <= MARKED_UP_TO {
            for (x, y) in path {
                s.push_str(&st.marker(x, y));
                s.push('\n');
            }
        }
    }
    let mut stacked: Vec<f64> = Vec::new();
    for m in &panel.missing {
        let level = stacked.iter().filter(|x| **x == m.x).count();
        stacked.push(m.x);
        let (px, py) = (sx(m.x), bottom - 10.0 - 16.0 * level as f64);
        let note = chart.notes.get(m.note.wrapping_sub(1));
        let _ = writeln!(
            s,
            r#"<g class="missing"><title>{}</title><path d="M{:.1},{:.1}l10,10m0,-10l-10,10" stroke="{}" stroke-width="2.5"/><text x="{:.1}" y="{:.1}" font-size="10">{}</text></g>"#,
            escape(note.map_or("", String::as_str)),
            px - 5.0,
            py - 5.0,
            style(m.server).color,
            px + 7.0,
            py + 4.0,
            m.note
        );
    }
    let _ = writeln!(s, "</g>");
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
            layout: Layout::Grid,
            x: Axis::Log,
            x_end: None,
            x_label: "connections".into(),
            y_label: "seconds".into(),
            panels: vec![
                Panel {
                    title: "32 KiB".into(),
                    y: Axis::Log,
                    lines: vec![
                        line(0, &[(1.0, 0.001), (1024.0, 0.05), (32768.0, 2.0)]),
                        line(1, &[(1.0, 0.002), (1024.0, 0.9)]),
                    ],
                    missing: vec![Missing {
                        x: 16384.0,
                        server: 1,
                        note: 1,
                    }],
                    level: None,
                },
                Panel::of(
                    "512 KiB",
                    Axis::Log,
                    vec![line(0, &[(1.0, 0.01), (32768.0, 20.0)])],
                ),
            ],
            knee: None,
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
        let width = (2.0 * MARGIN + Layout::Grid.frame(1).panel_w).ceil();
        assert!(doc.contains(&format!(r#"width="{width}""#)), "{doc}");
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
            (2.0 * MARGIN + 2.0 * Layout::Grid.frame(2).panel_w + LEGEND_W).ceil()
        );
        let _ = std::fs::remove_file(&path);
    }
}
