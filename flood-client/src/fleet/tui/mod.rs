//! The full-screen live view (`--tui`), in place of the bar and the interval lines. A
//! [`Screen`] stays open for a whole command (a flood, or every step of a `limit` search) on
//! the terminal's alternate screen; the runs feed its one [`View`] through [`feed`] with
//! what the bar gets (the live counters, `fleet/progress.rs`), each released interval
//! (`fleet/series.rs`) and `limit`'s steps, never anything per chunk. Its own thread draws
//! the view a few times a second and reads the keys: the terminal is in raw mode, so Ctrl-C
//! sends no SIGINT, and `q` or Ctrl-C sets the run's stop flag instead, as Ctrl-C does
//! without the view; a second one leaves the screen and raises SIGINT, which exits at once as
//! a second Ctrl-C does. Closing the screen (or dropping it, on an error) leaves the terminal
//! as it was, so the report prints as usual.

mod view;

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::DefaultTerminal;

pub(crate) use view::View;

/// How often the view is drawn (and the keys looked at, at least).
const DRAW_EVERY: Duration = Duration::from_millis(200);

/// The view of the open screen; `None` while there is none (then feeding it costs a lock).
static VIEW: Mutex<Option<View>> = Mutex::new(None);

/// Why `--tui` cannot draw here, with the fix; `None` when stdout and stderr are terminals
/// (the view draws on stdout; a line on stderr would land in the middle of it otherwise).
pub(crate) fn refusal() -> Option<String> {
    let not = match (io::stdout().is_terminal(), io::stderr().is_terminal()) {
        (true, true) => return None,
        (false, true) => "stdout is not a terminal",
        (true, false) => "stderr is not a terminal",
        (false, false) => "neither stdout nor stderr is a terminal",
    };
    Some(format!(
        "--tui draws a full-screen view on the terminal, and {not}; run it in a terminal, \
         or drop --tui (--json or --quiet for a file or a pipe)"
    ))
}

/// Updates the open screen's view with `update`; nothing when no screen is open.
pub(crate) fn feed(update: impl FnOnce(&mut View)) {
    if let Some(view) = VIEW.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
        update(view);
    }
}

/// Runs `run` with the screen open when `on` (`--tui`), and leaves it before returning, so
/// whatever is printed next (the report, an error) is on the normal screen.
pub(crate) fn shown<T>(
    on: bool,
    stop: &Arc<AtomicBool>,
    run: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
    let screen = on.then(|| Screen::open(stop.clone())).transpose()?;
    let ran = run();
    if let Some(screen) = screen {
        screen.close()?;
    }
    ran
}

/// The open screen: its drawing thread, told to stop by `done`.
#[derive(Debug)]
struct Screen {
    done: Arc<AtomicBool>,
    drawer: Option<JoinHandle<io::Result<()>>>,
}

impl Screen {
    /// Enters the alternate screen and starts drawing; `q` or Ctrl-C sets `stop`.
    fn open(stop: Arc<AtomicBool>) -> io::Result<Screen> {
        let terminal = match ratatui::try_init() {
            Ok(t) => t,
            Err(e) => {
                let _ = ratatui::try_restore();
                return Err(hostkit::context(e, "opening the --tui screen"));
            }
        };
        *VIEW.lock().unwrap_or_else(PoisonError::into_inner) = Some(View::default());
        let done = Arc::new(AtomicBool::new(false));
        let drawer = thread::Builder::new().name("tui".into()).spawn({
            let done = done.clone();
            move || drive(terminal, &stop, &done)
        });
        let mut screen = Screen { done, drawer: None };
        match drawer {
            Ok(drawer) => screen.drawer = Some(drawer),
            Err(e) => {
                screen.leave()?;
                return Err(e);
            }
        }
        Ok(screen)
    }

    /// Leaves the alternate screen, the terminal as it was: ready for the report.
    fn close(mut self) -> io::Result<()> {
        self.leave()
    }

    fn leave(&mut self) -> io::Result<()> {
        self.done.store(true, Ordering::Relaxed);
        let drawn = match self.drawer.take().map(JoinHandle::join) {
            Some(Ok(drawn)) => drawn,
            Some(Err(_)) => Err(io::Error::other("the --tui thread panicked")),
            None => Ok(()),
        };
        *VIEW.lock().unwrap_or_else(PoisonError::into_inner) = None;
        ratatui::try_restore()?;
        drawn
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        if self.drawer.is_some() {
            let _ = self.leave();
        }
    }
}

/// The drawing thread: draws the view every [`DRAW_EVERY`] until `done`, and stops the run
/// at `q` or Ctrl-C.
fn drive(mut terminal: DefaultTerminal, stop: &AtomicBool, done: &AtomicBool) -> io::Result<()> {
    let mut asked = false;
    while !done.load(Ordering::Relaxed) {
        let Some(view) = VIEW
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
            .map(View::take)
        else {
            return Ok(());
        };
        if view.stale {
            // Something wrote over the screen (a limit step's line on stderr): redraw it all.
            terminal.clear()?;
        }
        terminal.draw(|frame| view.draw(frame))?;
        if !event::poll(DRAW_EVERY)? {
            continue;
        }
        if let Event::Key(key) = event::read()? {
            let ctrl_c =
                key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
            let q = matches!(key.code, KeyCode::Char('q' | 'Q')) && key.modifiers.is_empty();
            if key.kind != KeyEventKind::Press || !(q || ctrl_c) {
                continue;
            }
            if std::mem::replace(&mut asked, true) {
                drop(terminal);
                ratatui::try_restore()?;
                return hostkit::child::signal(std::process::id(), libc::SIGINT);
            }
            stop.store(true, Ordering::Relaxed);
            feed(View::stopping);
        }
    }
    Ok(())
}
