//! The real binary in a real terminal (tmux), read back from the screen: interval lines and
//! their header are printed above the live bar, never run into it, the bar keeps its width
//! at 80 columns and is gone before the report; the `--tui` view draws
//! its panels on the alternate screen, stops the run at `q` or Ctrl-C and leaves the report
//! on the normal screen.

use std::time::Duration;

use test_support::tmux::Tmux;
use test_support::{bin, missing, wait_until};

/// Whether `line` holds an interval row (`0.70-1.70` style time span).
fn has_span(line: &str) -> bool {
    line.split_whitespace().any(|w| {
        w.split_once('-').is_some_and(|(a, b)| {
            a.parse::<f64>().is_ok() && b.parse::<f64>().is_ok() && a.contains('.')
        })
    })
}

/// The cells of the live bar's bar on `screen` (its line holds `[HH:MM:SS]`), if it is drawn.
fn bar_cells(screen: &str) -> Option<usize> {
    let line = screen
        .lines()
        .find(|l| l.contains("] ") && l.contains("[00:"))?;
    Some(line.chars().filter(|c| matches!(c, '█' | '░')).count())
}

#[test]
fn interval_lines_print_above_the_bar_in_a_terminal() {
    let Some(tmux) = Tmux::new("bar") else {
        return missing(
            "the terminal test",
            "apt-get install tmux",
            "tmux is not runnable",
        );
    };
    let command = format!(
        "{} --spawn-server -c 100 --duration 2500ms --interval 250ms; echo __DONE__; sleep 60",
        bin("flood-client").display()
    );
    // 80 columns: the bar and its counters must fit there (the interval lines wrap).
    tmux.start(80, 60, &command);
    let mut drawn = String::new();
    wait_until(
        Duration::from_secs(30),
        "the bar's counters in tmux",
        || {
            drawn = tmux.screen();
            drawn.contains("MB verified") || drawn.contains("__DONE__")
        },
    );
    let cells = bar_cells(&drawn);
    assert!(
        cells.is_some_and(|n| n >= 20) && drawn.lines().any(|l| l.starts_with("  now ")),
        "the bar has {cells:?} cells at 80 columns, or no counters line under it:\n{drawn}"
    );
    wait_until(Duration::from_secs(30), "the run to end in tmux", || {
        tmux.screen().contains("__DONE__")
    });
    let screen = tmux.screen();
    assert!(
        bar_cells(&screen).is_none() && !screen.contains("MB verified"),
        "the bar was not cleared before the report:\n{screen}"
    );
    let rows: Vec<&str> = screen.lines().filter(|l| has_span(l)).collect();
    assert!(
        rows.len() >= 5,
        "too few interval lines on the screen:\n{screen}"
    );
    for row in &rows {
        assert!(
            row.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit()),
            "an interval line ran into the bar: {row:?}\n{screen}"
        );
    }
    let header = screen
        .lines()
        .find(|l| l.contains("time s"))
        .expect("the header");
    assert!(
        header.trim_start().starts_with("time s"),
        "the header ran into the bar: {header:?}\n{screen}"
    );
    assert!(screen.contains("flood-client PASS"), "{screen}");
}

/// A tmux server, or `None` (the test then says what it needs and passes).
fn tmux(name: &str) -> Option<Tmux> {
    let tmux = Tmux::new(name);
    if tmux.is_none() {
        missing(
            "the terminal test",
            "apt-get install tmux",
            "tmux is not runnable",
        );
    }
    tmux
}

/// `flood-client ARGS` in the session, then its exit code on a line of its own.
fn in_tmux(tmux: &Tmux, args: &str) {
    let command = format!(
        "{} {args}; echo __EXIT__$?; sleep 60",
        bin("flood-client").display()
    );
    tmux.start(120, 50, &command);
}

/// Waits for the command to end and returns its exit code and the normal screen.
fn ended(tmux: &Tmux, within: Duration) -> (String, String) {
    wait_until(within, "the command to end in tmux", || {
        tmux.screen().contains("__EXIT__")
    });
    let screen = tmux.screen();
    let code = screen
        .lines()
        .find_map(|l| l.trim().strip_prefix("__EXIT__"))
        .unwrap_or_default()
        .to_string();
    (code, screen)
}

/// Waits until the `--tui` view is on the alternate screen with every text of `shown`.
fn wait_for_view(tmux: &Tmux, shown: &[&str]) {
    wait_until(Duration::from_secs(30), "the --tui view's panels", || {
        let screen = tmux.screen();
        tmux.alternate_on() && shown.iter().all(|s| screen.contains(s))
    });
}

#[test]
fn the_tui_draws_its_panels_and_q_stops_the_run_leaving_the_report() {
    let Some(tmux) = tmux("tui") else { return };
    // Long enough that only `q` can end it within the wait below.
    in_tmux(&tmux, "--spawn-server -c 50 --duration 60s --tui");
    wait_for_view(
        &tmux,
        &[
            "flood-client live view",
            "q or Ctrl-C stops the run",
            "throughput MB/s",
            "open connections: 50",
            "chunk round trip p99 ms",
            "errors by kind",
        ],
    );
    tmux.keys("q");
    let (code, screen) = ended(&tmux, Duration::from_secs(20));
    assert!(
        !tmux.alternate_on(),
        "still on the alternate screen:\n{screen}"
    );
    assert_eq!(
        code, "1",
        "an interrupted run exits 1, as at Ctrl-C:\n{screen}"
    );
    assert!(
        screen.contains("flood-client FAIL")
            && screen.contains("interrupted: this is a partial report"),
        "no interrupted report on the normal screen:\n{screen}"
    );
    // `q` is the user's stop, as Ctrl-C is: no signal, and no limit named.
    assert!(
        screen.contains("bound by     not weighed: the run was stopped before its end")
            && screen.contains("connection(s) were still running when it stopped")
            && !screen.contains("interrupted after")
            && !screen.contains("signal"),
        "the report after `q` names a signal or a limit:\n{screen}"
    );
    assert!(
        !screen.contains("q or Ctrl-C stops the run"),
        "the view was drawn on the normal screen:\n{screen}"
    );
}

#[test]
fn the_tui_of_a_limit_search_shows_its_steps_and_ctrl_c_stops_it() {
    let Some(tmux) = tmux("tui-limit") else {
        return;
    };
    let out = test_support::fresh_dir("tui-limit");
    // One more connection per step, each held the bound (p99 under 10 s): a search that
    // goes on until Ctrl-C.
    in_tmux(
        &tmux,
        &format!(
            "limit --spawn-server --connections 1..200 --linear 1 --step 500ms --warmup 0s \
             --p99 10s --out {} --tui",
            out.display()
        ),
    );
    wait_for_view(
        &tmux,
        &["limit steps · knee so far 2 connections", "step", "held"],
    );
    tmux.keys("C-c");
    let (code, screen) = ended(&tmux, Duration::from_secs(20));
    assert!(
        !tmux.alternate_on(),
        "still on the alternate screen:\n{screen}"
    );
    assert_eq!(code, "1", "an interrupted search exits 1:\n{screen}");
    // Every step held until Ctrl-C: no knee, and the step it cut short is no break.
    assert!(
        screen.contains("flood-client limit: no knee found: interrupted")
            && (screen.lines())
                .any(|l| l.contains("ended: interrupted") && l.trim_end().ends_with(" step")),
        "no search report on the normal screen:\n{screen}"
    );
    assert!(
        !screen.contains("broke the bound:"),
        "an interrupted step called a break:\n{screen}"
    );
}
