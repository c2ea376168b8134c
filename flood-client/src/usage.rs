//! Plain words for the usage mistakes clap reports as something else. The flood is the
//! implicit subcommand, so its `ADDR` takes the first free word: a misspelt subcommand
//! (`sweeps`) came back as "not an address", and a size written with a space (`-b 5 MB`)
//! as a conflict between a subcommand and `--bytes`. Only consulted once clap has refused
//! the command line, so a valid one is never second-guessed.

use std::ffi::OsString;

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
    words.windows(2).find_map(|pair| {
        let number = pair[0].parse::<f64>().is_ok();
        (number && UNITS.contains(&pair[1].as_str())).then(|| {
            format!(
                "`{} {}` is two words: write a number and its unit together, `{}{}`",
                pair[0], pair[1], pair[0], pair[1]
            )
        })
    })
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
        assert_eq!(distance("", "plot"), 4);
    }
}
