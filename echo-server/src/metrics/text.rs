//! The Prometheus text exposition format (version 0.0.4) of a [`Sample`]: base units, a
//! `_total` suffix on counters, `# HELP` and `# TYPE` before each family.

use std::fmt::Write;

use crate::sample::Sample;

/// The `Content-Type` of [`render`]'s text.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One metric family: name, type, help and its samples (label set, value).
struct Family<'a> {
    name: &'a str,
    kind: &'a str,
    help: &'a str,
    samples: Vec<(&'a str, f64)>,
}

/// The whole server's metrics in the text format.
pub(crate) fn render(s: &Sample) -> String {
    let c = &s.counters;
    let counter = |name, help, value: u64| Family {
        name,
        kind: "counter",
        help,
        samples: vec![("", value as f64)],
    };
    let gauge = |name, help, value: f64| Family {
        name,
        kind: "gauge",
        help,
        samples: vec![("", value)],
    };
    let families = [
        counter(
            "echo_server_accepted_total",
            "Connections accepted and kept (not those refused by --max-conns).",
            c.accepted,
        ),
        counter(
            "echo_server_closed_by_peer_total",
            "Connections the peer ended with a FIN, after every byte was echoed.",
            c.closed_by_peer,
        ),
        Family {
            name: "echo_server_connection_errors_total",
            kind: "counter",
            help: "Connections ended by an error: kind=\"reset\" a reset, abort or broken \
                   pipe; kind=\"other\" any other I/O error.",
            samples: vec![
                ("{kind=\"reset\"}", c.reset as f64),
                ("{kind=\"other\"}", c.errors as f64),
            ],
        },
        counter(
            "echo_server_idle_closed_total",
            "Connections closed by --idle-timeout.",
            c.idle_closed,
        ),
        counter(
            "echo_server_closed_at_shutdown_total",
            "Connections still open at SIGINT/SIGTERM, closed by the stop.",
            c.closed_at_shutdown,
        ),
        counter(
            "echo_server_refused_total",
            "Connections accepted and closed at once by --max-conns.",
            c.refused,
        ),
        counter(
            "echo_server_accept_exhausted_total",
            "accept() failures for lack of descriptors or memory (each pauses accepting).",
            c.accept_exhausted,
        ),
        counter(
            "echo_server_bytes_in_total",
            "Bytes read from clients.",
            c.bytes_in,
        ),
        counter(
            "echo_server_bytes_out_total",
            "Bytes written back to clients.",
            c.bytes_out,
        ),
        counter(
            "echo_server_bytes_dropped_on_reset_total",
            "Bytes read but never written back because their connection ended first.",
            c.bytes_dropped_on_reset,
        ),
        Family {
            name: "echo_server_cpu_seconds_total",
            kind: "counter",
            help: "User plus system CPU seconds of the server process and its workers.",
            samples: vec![("", s.cpu_seconds)],
        },
        gauge(
            "echo_server_open_connections",
            "Connections open now.",
            c.open as f64,
        ),
        gauge(
            "echo_server_peak_connections",
            "Most connections open at once (with workers: the sum of their peaks).",
            c.peak_concurrent as f64,
        ),
        gauge(
            "echo_server_resident_memory_bytes",
            "Resident memory of the server process and its workers.",
            s.rss_bytes as f64,
        ),
        gauge(
            "echo_server_workers",
            "Processes serving connections (1 without --processes).",
            s.workers as f64,
        ),
    ];
    let mut out = String::with_capacity(4096);
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, value) in f.samples {
            let _ = writeln!(out, "{}{labels} {value}", f.name);
        }
    }
    out
}
