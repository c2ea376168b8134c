//! Throwaway network namespaces for tests, removed (with their veths) on drop.

use std::process::Command;

/// Network namespaces created by a test; deleted when this is dropped.
#[derive(Debug, Default)]
pub struct Namespaces(pub Vec<String>);

impl Namespaces {
    /// Creates a namespace with its loopback up and adds it to the guard.
    pub fn add(&mut self, name: &str) -> Result<(), String> {
        ip(&["netns", "add", name])?;
        self.0.push(name.to_string());
        ip(&["-n", name, "link", "set", "lo", "up"])
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// Runs `ip ARGS`, returning its stderr as the error.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A short tag unique to this test process (interface names are limited to 15 bytes).
pub fn tag() -> String {
    format!("{}", std::process::id() % 100_000)
}
