//! Where, when and how a sweep was measured, kept in sweep.json so a redraw (`--from`)
//! captions the chart and the report with the original machine, not the redrawing one.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::modes::shell_word;

/// The machine, the tool and the command of one sweep. Empty fields are unknown (a
/// sweep.json from before they were recorded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Meta {
    /// When the sweep started, UTC (`2026-11-22 08:45 UTC`).
    pub(crate) date: String,
    /// Host name.
    pub(crate) host: String,
    /// Kernel (`Linux 6.18.0`).
    pub(crate) kernel: String,
    /// CPUs and model (`2 x Intel(R) Xeon(R) …`).
    pub(crate) cpu: String,
    /// Memory (`23.5 GiB`).
    pub(crate) memory: String,
    /// The tool (`flood-client 0.1.0`).
    pub(crate) version: String,
    /// The command line that ran the sweep.
    pub(crate) command: String,
    /// Settings every run shared (repeat, chunk, window, limits…).
    pub(crate) settings: String,
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `key: value` from /proc/cpuinfo or /proc/meminfo text.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim())
}

/// `YYYY-MM-DD HH:MM UTC` of seconds since the epoch.
fn utc(secs: u64) -> String {
    let rem = secs % 86_400;
    let (year, month, day) = hostkit::calendar::civil_from_days((secs / 86_400) as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

impl Meta {
    /// This machine now, running `argv` with `settings`.
    pub(crate) fn of_this_machine(argv: &[String], settings: String) -> Meta {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let model = field(&cpuinfo, "model name")
            .or_else(|| field(&cpuinfo, "Model"))
            .unwrap_or("unknown CPU");
        let memory = field(&meminfo, "MemTotal")
            .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(String::new(), |kib| {
                format!("{:.1} GiB", kib / f64::from(1u32 << 20))
            });
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Meta {
            date: utc(secs),
            host: read_trimmed("/proc/sys/kernel/hostname"),
            kernel: format!(
                "{} {}",
                read_trimmed("/proc/sys/kernel/ostype"),
                read_trimmed("/proc/sys/kernel/osrelease")
            )
            .trim()
            .to_string(),
            cpu: format!("{cpus} x {model}"),
            memory,
            version: format!("flood-client {}", env!("CARGO_PKG_VERSION")),
            command: argv
                .iter()
                .map(|a| shell_word(a))
                .collect::<Vec<_>>()
                .join(" "),
            settings,
        }
    }

    /// The chart's caption: when, where, on what, with what.
    pub(crate) fn caption(&self) -> Vec<String> {
        let or = |v: &str| {
            if v.is_empty() {
                "?".to_string()
            } else {
                v.to_string()
            }
        };
        if self.date.is_empty() && self.host.is_empty() {
            return vec![
                "Machine and date not recorded (a sweep.json from an older flood-client)".into(),
            ];
        }
        let mut lines = vec![format!(
            "{} · host {} · {} · {} · {} · {}",
            or(&self.date),
            or(&self.host),
            or(&self.kernel),
            or(&self.cpu),
            or(&self.memory),
            or(&self.version)
        )];
        if !self.settings.is_empty() {
            lines.push(self.settings.clone());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400 + 3_661), "2000-02-29 01:01 UTC");
        assert_eq!(utc(1_795_335_900), "2026-11-22 08:25 UTC");
    }

    #[test]
    fn this_machine_is_described_and_captioned() {
        let meta = Meta::of_this_machine(&["flood-client".into(), "sweep".into()], "s".into());
        assert!(!meta.host.is_empty());
        assert!(meta.kernel.starts_with("Linux "), "{}", meta.kernel);
        assert_eq!(meta.command, "flood-client sweep");
        let caption = meta.caption().join("\n");
        assert!(caption.contains(&meta.host) && caption.contains("flood-client 0.1"));
        assert!(Meta::default().caption()[0].contains("not recorded"));
    }
}
