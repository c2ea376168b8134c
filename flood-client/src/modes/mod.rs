//! What flood-client can be asked to do, one module each: a flood ([`flood`]), a saturation
//! run ([`saturate`]), the client-delay [`probe`], a [`sweep`] over counts and payloads, the
//! step-up to the knee ([`limit`]), [`merge`] of reports, and [`plot`] of a recorded run.
//! Modes build their data and print it; the pictures are drawn in `render/`, and getting a
//! run ready (preflight, the spawned server, sampling) is in `setup/`. A new mode is a module
//! here and a subcommand in `cli/mod.rs`.

pub(crate) mod flood;
pub(crate) mod input;
pub(crate) mod limit;
pub(crate) mod merge;
pub(crate) mod placement;
pub(crate) mod plot;
pub(crate) mod probe;
pub(crate) mod publish;
pub(crate) mod saturate;
pub(crate) mod shards;
pub(crate) mod sweep;

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use hostkit::limits::raise_nofile;

use crate::cli::StartArgs;
use crate::setup::placement::{Placement, Split};
use crate::setup::preflight::Facts;
use crate::setup::spawn::CLIENT_CPU;

/// Exit code for bad usage or a run that cannot fit.
pub(crate) const USAGE: u8 = 2;

/// What [`begin`] sets up: the stop flag, this machine's facts, and the namespaces of
/// `--placement split` (removed when the last holder drops them).
pub(crate) type Begun = (Arc<AtomicBool>, Facts, Option<Arc<Split>>);

/// The start of every mode that runs floods, before anything is started: the stop flag
/// (Ctrl-C), the placement (`--placement split` moves this process into the client's
/// namespace), the open-file limit raised, this process pinned if asked (`--pin`), and the
/// facts of this machine (of its namespace) each run is checked against.
pub(crate) fn begin(start: &StartArgs) -> io::Result<Begun> {
    let stop = stop_flag()?;
    let split = match start.placement {
        Placement::Loopback => None,
        Placement::Split => Some(Arc::new(Split::create()?)),
    };
    let facts = Facts::of_this_machine(raise_nofile()?);
    if start.pin {
        hostkit::child::pin_self(CLIENT_CPU)?;
    }
    Ok((stop, facts, split))
}

/// Ctrl-C (or SIGTERM) sets the flag for a partial report; a second one exits at once
/// (130, saying so). Watched on a thread of its own, which can print.
pub(crate) fn stop_flag() -> io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let flag = stop.clone();
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut first = None;
            for _ in signals.forever() {
                // --tui takes its first `q` or Ctrl-C as a key and sets the flag itself; its
                // second comes as this process's SIGINT, the first this thread sees.
                let stopping = flag.load(Ordering::SeqCst);
                match on_stop_signal(&mut first, Instant::now(), stopping) {
                    StopSignal::Stop => flag.store(true, Ordering::SeqCst),
                    StopSignal::Same => {}
                    StopSignal::Quit => {
                        // Not eprintln!, which panics on a closed stderr: this thread must
                        // get to the exit.
                        let _ = writeln!(
                            io::stderr().lock(),
                            "flood-client: stopped again: quitting at once, without a report \
                             (one Ctrl-C or SIGTERM stops with a partial report)"
                        );
                        std::process::exit(130);
                    }
                }
            }
        })?;
    Ok(stop)
}

/// Within this of the first, a stop signal is the same stop: GNU `timeout` signals the
/// process and then its process group, so one stop arrives twice within microseconds (and
/// used to quit without a report). A person's second Ctrl-C comes later.
const SAME_STOP: Duration = Duration::from_millis(100);

/// What a stop signal at `now` means, given when the first came (set by the first) and
/// whether the run is already stopping by other means (a key in --tui).
#[derive(Debug, PartialEq, Eq)]
enum StopSignal {
    /// The first: stop, with a partial report.
    Stop,
    /// The first again, delivered twice.
    Same,
    /// A second stop: quit at once.
    Quit,
}

fn on_stop_signal(first: &mut Option<Instant>, now: Instant, stopping: bool) -> StopSignal {
    match *first {
        None if stopping => StopSignal::Quit,
        None => {
            *first = Some(now);
            StopSignal::Stop
        }
        Some(at) if now.saturating_duration_since(at) < SAME_STOP => StopSignal::Same,
        Some(_) => StopSignal::Quit,
    }
}

/// A `--processes` worker's stop flag: SIGINT and SIGTERM only ever ask for its partial
/// report. A terminal's Ctrl-C reaches a worker twice, once from the terminal (it is in the
/// parent's process group) and once forwarded by the parent (which may have been signalled
/// alone), so exiting at a second signal lost every worker's report. A worker still goes
/// when its parent does: the parent exits at its own second signal, and the kernel then
/// sends its workers SIGTERM (`die_with_parent`).
pub(crate) fn worker_stop_flag() -> io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    Ok(stop)
}

/// A CSV document: `header`, then one record per row, quoted by the `csv` crate so a field
/// with a comma, a quote or a newline (a failure's reason) survives.
pub(crate) fn csv_text<R, F>(
    header: &[&str],
    rows: impl IntoIterator<Item = R>,
) -> io::Result<String>
where
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(io::Error::other)?;
    for row in rows {
        w.write_record(row).map_err(io::Error::other)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?;
    String::from_utf8(bytes).map_err(io::Error::other)
}

/// The one wording for an input file that cannot be read, in every subcommand (which then
/// exits 2: a file named on the command line is the user's input).
pub(crate) fn cannot_read(name: impl std::fmt::Display, e: &io::Error) -> String {
    format!("cannot read {name}: {e}")
}

/// `word` quoted for a POSIX shell when it needs it (a command a message or a report
/// suggests).
pub(crate) fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Refuses the user's input: says `why` on stderr (with the fix, where there is one) and
/// gives exit code 2, having run nothing.
pub(crate) fn refuse(why: impl std::fmt::Display) -> io::Result<ExitCode> {
    eprintln!("flood-client: {why}");
    Ok(ExitCode::from(USAGE))
}

/// Exit code 0 for a run that passed, 1 for one that did not.
pub(crate) fn verdict(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first stop signal stops; the same one delivered again at once (GNU timeout
    /// signals the process and its group) is still that stop; a later one quits.
    #[test]
    fn a_stop_signalled_twice_at_once_is_one_stop_and_a_later_one_quits() {
        let t0 = Instant::now();
        let mut first = None;
        assert_eq!(on_stop_signal(&mut first, t0, false), StopSignal::Stop);
        let soon = t0 + Duration::from_micros(50);
        assert_eq!(on_stop_signal(&mut first, soon, true), StopSignal::Same);
        let later = t0 + SAME_STOP + Duration::from_millis(1);
        assert_eq!(on_stop_signal(&mut first, later, true), StopSignal::Quit);
        // --tui stopped the run on its first key; the signal of its second quits.
        assert_eq!(on_stop_signal(&mut None, t0, true), StopSignal::Quit);
    }

    #[test]
    fn a_word_is_quoted_for_a_shell_only_when_it_needs_it() {
        assert_eq!(shell_word("--bytes"), "--bytes");
        assert_eq!(shell_word("go=/x/go-echo 0"), "'go=/x/go-echo 0'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
