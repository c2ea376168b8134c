//! The real binary in a real terminal (tmux), read back from the screen: interval lines and
//! their header are printed above the live bar, never run into it.

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
    tmux.start(120, 60, &command);
    wait_until(Duration::from_secs(30), "the run to end in tmux", || {
        tmux.screen().contains("__DONE__")
    });
    let screen = tmux.screen();
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
