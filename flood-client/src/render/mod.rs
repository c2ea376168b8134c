//! Pictures of results, below the modes that build their data: the SVG chart and its
//! axes (`chart`), the servers' colours and markers (`palette`), and a run's timeline
//! (`timeline`); PNG through resvg.

pub(crate) mod chart;
pub(crate) mod palette;
pub(crate) mod timeline;
