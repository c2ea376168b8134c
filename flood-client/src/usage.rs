//! Plain words for the usage mistakes clap reports as something else. The flood is the
//! implicit subcommand, so its `ADDR` takes the first free word: a misspelt subcommand
//! (`sweeps`) came back as "not an address", a size written with a space (`-b 5 MB`) and
//! an address written as nc and telnet take it (`127.0.0.1 12345`) as a conflict between a
//! subcommand and `--bytes` or `[ADDR]`, and `completions bash` likewise. Only consulted
//! once clap has refused the command line, so a valid one is never second-guessed.

use std::ffi::OsString;
use std::net::IpAddr;

/// Subcommands a misspelt first word is compared with.
const SUBCOMMANDS: [&str; 6] = ["sweep", "saturate", "probe", "merge", "plot", "limit"];

/// Unit words that belong to the number before them (sizes, counts and durations).
const UNITS: [&str; 24] = [
    "k", "K", "KiB", "KB", "M", "MiB", "MB", "G", "GiB", "GB", "T", "TiB", "TB", "Ki", "Mi", "Gi",
    "B", "us", "ms", "s", "m", "h", "sec", "min",
];

/// What was meant, when the refused command line `args` (program first) shows it.
pub(crate) fn hint(args: &[OsString]) -> Option<String> {
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into())
        .collect();
    if let Some(first) = words.first().filter(|w| !w.starts_with('-')) {
        if matches!(first.as_str(), "completions" | "completion") {
            return Some(format!(
                "`{first}` is a flag, not a subcommand: `flood-client --completions SHELL` \
                 prints the script (bash, zsh, fish, elvish or powershell)"
            ));
        }
        if let Some(near) = SUBCOMMANDS
            .iter()
            .find(|s| (1..=2).contains(&distance(first, s)))
        {
            if hostkit::units::parse_echo_addr(first).is_err() {
                return Some(format!(
                    "`{first}` is neither an address nor a subcommand; did you mean `flood-client {near}`?"
                ));
            }
        }
    }
    let spaced_unit = words.windows(2).find_map(|pair| {
        let number = pair[0].parse::<f64>().is_ok();
        (number && UNITS.contains(&pair[1].as_str())).then(|| {
            format!(
                "`{} {}` is two words: write a number and its unit together, `{}{}`",
                pair[0], pair[1], pair[0], pair[1]
            )
        })
    });
    spaced_unit.or_else(|| host_port(&words))
}

/// `HOST PORT` as nc and telnet take it: the first two free words (option values and a
/// subcommand's name skipped) of a command whose first positional is `ADDR`, the first a
/// host and the second a bare port number. The hint names the one word meant.
fn host_port(words: &[String]) -> Option<String> {
    let mut root = crate::command();
    root.build();
    let mut cmd = &root;
    let mut free = Vec::new();
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        if word == "--" {
            free.extend(rest.by_ref());
            break;
        }
        if word.len() > 1 && word.starts_with('-') {
            if option_of(cmd, word).is_some_and(|a| a.get_action().takes_values()) {
                rest.next();
            }
        } else if let Some(sub) = cmd.find_subcommand(word).filter(|_| free.is_empty()) {
            cmd = sub;
        } else {
            free.push(word);
        }
    }
    let first = cmd
        .get_positionals()
        .next()
        .and_then(|a| a.get_value_names());
    if !first.is_some_and(|names| names.iter().any(|n| n == "ADDR")) {
        return None;
    }
    let [host, port, ..] = free[..] else {
        return None;
    };
    let number = port
        .parse::<u16>()
        .ok()
        .filter(|_| port.bytes().all(|b| b.is_ascii_digit()))?;
    let addr = match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]:{number}"),
        Ok(IpAddr::V4(ip)) => format!("{ip}:{number}"),
        Err(_) if is_host_name(host) => format!("{host}:{number}"),
        Err(_) => return None,
    };
    Some(format!(
        "`{host} {port}` is two words: write `{addr}` (HOST:PORT, one word)"
    ))
}

/// The option of `cmd` that `word` (`--long`, a long alias or `-s`) names, when its value
/// would be the next word (`--long=VALUE` and `-sVALUE` name none).
fn option_of<'a>(cmd: &'a clap::Command, word: &str) -> Option<&'a clap::Arg> {
    if let Some(long) = word.strip_prefix("--") {
        return cmd.get_arguments().find(|a| {
            let visible = a.get_long_and_visible_aliases();
            (visible.into_iter().chain(a.get_aliases())).any(|names| names.contains(&long))
        });
    }
    let mut short = word.chars().skip(1);
    let (Some(short), None) = (short.next(), short.next()) else {
        return None;
    };
    cmd.get_arguments().find(|a| a.get_short() == Some(short))
}

/// A DNS name as a resolver takes it: dot-separated labels of letters, digits and inner
/// dashes, not all digits (`5` and `1.2.3` are not hosts).
fn is_host_name(text: &str) -> bool {
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    text.len() <= 253
        && text.split('.').all(label)
        && !text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Edit distance (insertions, deletions, substitutions) between two short words.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint_of(line: &str) -> Option<String> {
        let args: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        hint(&args)
    }

    #[test]
    fn names_what_was_meant() {
        assert!(hint_of("flood-client sweeps").is_some_and(|h| h.contains("`flood-client sweep`")));
        assert!(hint_of("flood-client limt -c 9").is_some_and(|h| h.contains("limit")));
        let spaced = hint_of("flood-client -b 5 MB 127.0.0.1:1").expect("a hint");
        assert!(spaced.contains("`5MB`"), "{spaced}");
        assert!(hint_of("flood-client --timeout 2 s").is_some_and(|h| h.contains("`2s`")));
        assert_eq!(hint_of("flood-client 127.0.0.1:1 -c 2"), None);
        assert_eq!(hint_of("flood-client nonsense"), None);
        // A real subcommand's own mistakes are clap's to name.
        assert_eq!(hint_of("flood-client sweep --connections 1,0"), None);
        assert_eq!(distance("sweeps", "sweep"), 1);
        assert!(hint_of("flood-client completions bash")
            .is_some_and(|h| h.contains("--completions SHELL")));
    }

    #[test]
    fn names_the_address_written_as_host_and_port() {
        let meant = |line: &str| hint_of(line).and_then(|h| h.split('`').nth(3).map(String::from));
        assert_eq!(
            meant("flood-client 127.0.0.1 12345").as_deref(),
            Some("127.0.0.1:12345")
        );
        assert_eq!(
            meant("flood-client -c 5 localhost 7 --json").as_deref(),
            Some("localhost:7")
        );
        assert_eq!(meant("flood-client ::1 9").as_deref(), Some("[::1]:9"));
        assert_eq!(
            meant("flood-client probe [::1] 9").as_deref(),
            Some("[::1]:9")
        );
        assert_eq!(
            meant("flood-client limit --connections 1..2 h.example 80").as_deref(),
            Some("h.example:80")
        );
        // An option's value is not the address, a file is not a host, nor a number.
        assert_eq!(hint_of("flood-client --source 127.0.0.2 5"), None);
        assert_eq!(hint_of("flood-client plot run.json 5"), None);
        assert_eq!(hint_of("flood-client 5 80"), None);
        assert_eq!(hint_of("flood-client 127.0.0.1 80x"), None);
        assert_eq!(hint_of("flood-client 127.0.0.1 70000"), None);
        assert_eq!(distance("", "plot"), 4);
    }
}
