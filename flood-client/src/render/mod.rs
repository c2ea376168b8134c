//! Pictures of results, below the modes that build their data: the one chart engine and
//! its axes (`chart`: SVG, PNG through resvg), the servers' colours and markers
//! (`palette`), and a run's timeline as chart data (`timeline`).

pub(crate) mod chart;
pub(crate) mod palette;
pub(crate) mod timeline;
