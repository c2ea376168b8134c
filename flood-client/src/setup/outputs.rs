//! Outputs checked before the work: a folder the results go to is made and takes a file, a
//! file's folder exists and takes one, so a run never ends by losing what it measured to a
//! path that was wrong from the start. Each refusal names the flag and the path.

use std::path::Path;

/// Makes `dir` (the value of `flag`) if missing and checks a file can be written in it.
pub(crate) fn folder(flag: &str, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "{flag} {}: cannot make it a folder for the results: {e}",
            dir.display()
        )
    })?;
    takes_a_file(flag, dir, dir)
}

/// Checks the folder of `file` (the value of `flag`) exists and takes a file.
pub(crate) fn file(flag: &str, file: &Path) -> Result<(), String> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "{flag} {}: its folder {} does not exist",
            file.display(),
            dir.display()
        ));
    }
    takes_a_file(flag, file, dir)
}

/// Writes and removes an empty file in `dir`, the only sure test that it takes one.
fn takes_a_file(flag: &str, named: &Path, dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".flood-client-check-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| format!("{flag} {}: cannot write there: {e}", named.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_that_cannot_take_the_results_is_named() {
        let why = folder("--out", Path::new("/proc/nope")).unwrap_err();
        assert!(why.starts_with("--out /proc/nope: "), "{why}");
        let why = file("--chart", Path::new("/nodir/c.svg")).unwrap_err();
        assert!(why.contains("its folder /nodir does not exist"), "{why}");
        let dir = std::env::temp_dir().join(format!("outputs-check-{}", std::process::id()));
        assert_eq!(folder("--out", &dir.join("made")), Ok(()));
        assert_eq!(file("--chart", &dir.join("made/c.svg")), Ok(()));
        assert_eq!(
            std::fs::read_dir(dir.join("made")).map(|d| d.count()).ok(),
            Some(0)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
