//! A chart's axes: where a value lands along a panel, and the labelled ticks, all labelled
//! by [`tick_label`]. An x axis is shared by every panel; each panel has its own y axis.

/// How values are spaced along an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Axis {
    /// Logarithmic: an x axis ticks every distinct value it shows (connections, rates as
    /// asked), a y axis ticks decades. Values that are not positive are left out.
    Log,
    /// From 0, round ticks (1, 2, 2.5 or 5 × 10^k); values below 0 are drawn at 0.
    Linear,
}

/// One labelled grid line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tick {
    /// Where it stands.
    pub(crate) value: f64,
    /// What it says.
    pub(crate) label: String,
    /// Its grid line's colour (a log axis's decades stand out).
    pub(crate) grid: &'static str,
}

/// An axis laid over the values it must show.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scale {
    log: bool,
    /// The ends: log2 of the values on a log axis.
    lo: f64,
    hi: f64,
    /// Labelled ticks, smallest first.
    pub(crate) ticks: Vec<Tick>,
}

/// Most x tick labels that fit under a panel.
const MAX_X_TICKS: usize = 17;
/// Width of one character of a tick label, px, and the space left between two labels.
const TICK_CHAR_W: f64 = 6.0;
const TICK_SPACE: f64 = 4.0;
const GRID: &str = "#e4e4e4";

/// How far apart two x ticks must be for their labels not to touch, px.
fn tick_gap(a: f64, b: f64) -> f64 {
    let chars = count_label(a).len() + count_label(b).len();
    TICK_CHAR_W * chars as f64 / 2.0 + TICK_SPACE
}

impl Scale {
    /// How far along the axis `v` is, 0 to 1.
    pub(crate) fn at(&self, v: f64) -> f64 {
        let v = if self.log { v.log2() } else { v };
        (v - self.lo) / (self.hi - self.lo)
    }

    /// Whether `v` can be drawn on this axis.
    pub(crate) fn shows(&self, v: f64) -> bool {
        v.is_finite() && (!self.log || v > 0.0)
    }

    /// The x axis of a plot `width` px wide over `xs`, running on to `end` when given (a
    /// run's end), with a tick kept at `pinned` (the knee) whatever else must go.
    pub(crate) fn x(
        axis: Axis,
        xs: &[f64],
        end: Option<f64>,
        pinned: Option<f64>,
        width: f64,
    ) -> Scale {
        match axis {
            Axis::Log => Scale::measured(xs, pinned, width),
            Axis::Linear => {
                let top = xs.iter().copied().chain(end).fold(0.0, f64::max);
                let (rounded, step) = linear(top, false);
                let top = if top > 0.0 { top } else { rounded };
                Scale::from_zero(top, step, "#efefef")
            }
        }
    }

    /// A y axis over `ys`.
    pub(crate) fn y(axis: Axis, ys: &[f64]) -> Scale {
        match axis {
            Axis::Log => Scale::decades(ys),
            Axis::Linear => {
                let whole = ys.iter().all(|y| y.fract() == 0.0);
                let max = ys
                    .iter()
                    .copied()
                    .filter(|y| y.is_finite())
                    .fold(0.0, f64::max);
                let (top, step) = linear(max * 1.05, whole);
                Scale::from_zero(top, step, GRID)
            }
        }
    }

    /// Linear from 0 to `top`, a tick every `step` up to it, its grid line `grid`.
    fn from_zero(top: f64, step: f64, grid: &'static str) -> Scale {
        let n = (top / step + 1e-9).floor() as usize;
        let ticks = (0..=n)
            .map(|k| k as f64 * step)
            .map(|v| Tick {
                value: v,
                label: tick_label(v, step),
                grid,
            })
            .collect();
        Scale {
            log: false,
            lo: 0.0,
            hi: top,
            ticks,
        }
    }

    /// Log, padded so no point sits on the border, a tick at every distinct value (thinned
    /// when they would not fit, the largest and `pinned` kept).
    fn measured(xs: &[f64], pinned: Option<f64>, width: f64) -> Scale {
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
        let mut kept: Vec<f64> = pinned.filter(|p| v.contains(p)).into_iter().collect();
        for (i, x) in v.iter().enumerate().rev() {
            let room = kept
                .iter()
                .all(|k| width * (k.log2() - x.log2()).abs() / (hi - lo) >= tick_gap(*k, *x));
            if (last - i) % step == 0 && room {
                kept.push(*x);
            }
        }
        kept.sort_by(f64::total_cmp);
        let ticks = kept
            .into_iter()
            .map(|x| Tick {
                value: x,
                label: count_label(x),
                grid: GRID,
            })
            .collect();
        Scale {
            log: true,
            lo,
            hi,
            ticks,
        }
    }

    /// Log, whole decades around the values with some room at both ends; 2 and 5 between
    /// them when there are few decades.
    fn decades(ys: &[f64]) -> Scale {
        let (min, max) = ys
            .iter()
            .filter(|y| **y > 0.0 && y.is_finite())
            .fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(*y), b.max(*y)));
        let (lo, hi) = if min > max {
            (-1, 0)
        } else {
            let lo = (min.log10() - 0.05).floor() as i32;
            (lo, ((max.log10() + 0.05).ceil() as i32).max(lo + 1))
        };
        let mut ticks = Vec::new();
        for d in lo..=hi {
            let base = 10f64.powi(d);
            let tick = |v: f64, grid| Tick {
                value: v,
                label: tick_label(v, v),
                grid,
            };
            ticks.push(tick(base, "#d8d8d8"));
            if hi - lo <= 2 && d < hi {
                ticks.extend([tick(2.0 * base, "#efefef"), tick(5.0 * base, "#efefef")]);
            }
        }
        let log2_10 = std::f64::consts::LOG2_10;
        Scale {
            log: true,
            lo: f64::from(lo) * log2_10,
            hi: f64::from(hi) * log2_10,
            ticks,
        }
    }
}

/// A linear axis from 0: its top and tick step, both round (1, 2, 2.5 or 5 × 10^k), about
/// five ticks; 0 to 1 when there is nothing above 0. A `whole` quantity (a count) gets whole
/// steps: no 2.5 connections.
pub(crate) fn linear(max: f64, whole: bool) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .filter(|s| !whole || (*s >= 1.0 && s.fract() == 0.0))
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag)
        .max(if whole { 1.0 } else { 0.0 });
    ((max / step - 1e-9).ceil() * step, step)
}

/// The one tick labeller: `v` with as many decimals as the tick `step` needs (0.25 → 2;
/// a log tick is its own step: 0.001, 0.05, 2, 100), and a multiple of 1024 as `k` (1k, 32k).
pub(crate) fn tick_label(v: f64, step: f64) -> String {
    if v >= 1024.0 && v % 1024.0 == 0.0 {
        return format!("{}k", v / 1024.0);
    }
    let digits = (0..6)
        .find(|k| {
            let scaled = step * 10f64.powi(*k);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(6) as usize;
    format!("{v:.digits$}")
}

/// A count as people read it on the chart: 1, 10, 1000, 1k (1,024), 32k.
pub(crate) fn count_label(x: f64) -> String {
    tick_label(x, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: f64 = 430.0;

    #[test]
    fn every_point_is_inside_the_axes_on_a_labelled_tick() {
        for xs in [
            vec![1.0, 10.0, 100.0],
            vec![4.0],
            (0..16).map(|i| 2f64.powi(i)).collect(),
        ] {
            let axis = Scale::x(Axis::Log, &xs, None, None, W);
            let ticks: Vec<f64> = axis.ticks.iter().map(|t| t.value).collect();
            for &x in &xs {
                assert!(0.0 < axis.at(x) && axis.at(x) < 1.0, "{x} on the border");
                assert!(ticks.contains(&x), "{x} has no tick in {ticks:?}");
            }
        }
        // A bisection's steps close together: labels never overprint, the largest is kept.
        let crowded = [
            50.0, 100.0, 6400.0, 12800.0, 13600.0, 13700.0, 14400.0, 20000.0,
        ];
        let axis = Scale::x(Axis::Log, &crowded, None, None, W);
        let ticks: Vec<f64> = axis.ticks.iter().map(|t| t.value).collect();
        assert_eq!(ticks.last(), Some(&20000.0));
        for pair in ticks.windows(2) {
            let gap = W * (axis.at(pair[1]) - axis.at(pair[0]));
            assert!(gap >= tick_gap(pair[0], pair[1]), "{pair:?} {gap} px apart");
        }
        assert!(ticks.contains(&50.0) && ticks.contains(&6400.0));
        // A pinned value (the knee) keeps its tick among crowded ones.
        let pinned = Scale::x(Axis::Log, &crowded, None, Some(13600.0), W);
        assert!(pinned.ticks.iter().any(|t| t.value == 13600.0));
        assert_eq!(count_label(100.0), "100");
        assert_eq!(count_label(16384.0), "16k");
        let y = Scale::y(Axis::Log, &[0.001, 0.1]);
        assert!(y.at(0.001) > 0.0 && y.at(0.1) < 1.0, "{y:?}");
        assert_eq!(tick_label(0.001, 0.001), "0.001");
        assert_eq!(tick_label(0.05, 0.05), "0.05");
    }

    #[test]
    fn axes_are_round_and_labels_carry_the_digits_they_need() {
        assert_eq!(linear(0.4, false), (0.4, 0.1));
        assert_eq!(linear(7.3, false), (8.0, 2.0));
        assert_eq!(linear(0.0, false), (1.0, 0.2));
        assert_eq!(linear(1234.0, false), (1250.0, 250.0));
        assert_eq!(linear(10.5, true), (15.0, 5.0));
        assert_eq!(linear(2.1, true), (3.0, 1.0));
        assert_eq!(linear(1234.0, true), (1250.0, 250.0));
        assert_eq!(tick_label(0.5, 0.25), "0.50");
        assert_eq!(tick_label(200.0, 50.0), "200");
        assert_eq!(Scale::from_zero(1.0, 0.2, GRID).ticks.len(), 6);
    }

    #[test]
    fn a_linear_x_axis_ends_where_it_is_told_not_at_the_next_round_number() {
        // A 6.2 s run: ticks every 2 s up to 6, the axis ends at 6.2, not 8.
        let axis = Scale::x(Axis::Linear, &[0.5, 5.7], Some(6.2), None, W);
        let last = axis.ticks.last().map(|t| t.value);
        assert_eq!(last, Some(6.0));
        assert!((axis.at(6.2) - 1.0).abs() < 1e-12, "{axis:?}");
    }
}
