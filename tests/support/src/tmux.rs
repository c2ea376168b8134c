//! A real terminal for a test: a tmux server of the test's own, a session running one
//! command, its screen read back with capture-pane and keys sent with send-keys.

use std::process::Command;

/// A tmux server of this test's own (its socket named after the process and `name`),
/// killed on drop.
#[derive(Debug)]
pub struct Tmux(String);

impl Tmux {
    /// A fresh server, or `None` when tmux cannot run here.
    pub fn new(name: &str) -> Option<Tmux> {
        let t = Tmux(format!("flood-test-{name}-{}", std::process::id()));
        t.run(&["-V"]).map(|_| t)
    }

    /// Runs `tmux ARGS` against this server; its stdout when it succeeded.
    pub fn run(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.0)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts the session `run`, `width` × `height`, running `command` in a shell.
    pub fn start(&self, width: u16, height: u16, command: &str) {
        let (w, h) = (width.to_string(), height.to_string());
        let args = [
            "new-session",
            "-d",
            "-s",
            "run",
            "-x",
            &w,
            "-y",
            &h,
            command,
        ];
        self.run(&args).expect("tmux new-session");
    }

    /// The whole pane, its history included (the alternate screen while it is shown).
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-S", "-", "-t", "run"])
            .unwrap_or_default()
    }

    /// Whether the pane shows the alternate screen (a full-screen program is drawing).
    pub fn alternate_on(&self) -> bool {
        self.run(&["display-message", "-p", "-t", "run", "#{alternate_on}"])
            .is_some_and(|on| on.trim() == "1")
    }

    /// Types `keys` into the pane (tmux key names: `q`, `C-c`).
    pub fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", "run", keys])
            .expect("tmux send-keys");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}
