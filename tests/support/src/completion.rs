//! What a shell's TAB offers with a generated completion script loaded, asked of the real
//! shell.

use std::path::Path;
use std::process::Command;

/// What bash completes for `line` (the last word being completed; a trailing space starts
/// a new, empty one) with the completion script `script` of `bin` sourced, as a
/// terminal's TAB would: COMP_WORDS, COMP_CWORD and the function `complete -p` names for
/// the binary.
#[track_caller]
pub fn bash_completes(script: &Path, bin: &str, line: &str) -> Vec<String> {
    let driver = format!(
        r#"source "$1"
line="$2"
read -ra COMP_WORDS <<< "$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="$line"; COMP_POINT=${{#COMP_LINE}}
fn=$(complete -p {bin} | sed -E 's/.*-F ([^ ]+) .*/\1/')
cur=${{COMP_WORDS[COMP_CWORD]}}; prev=${{COMP_WORDS[COMP_CWORD-1]}}
"$fn" {bin} "$cur" "$prev"
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    let out = Command::new("bash")
        .args(["-c", &driver, "complete"])
        .arg(script)
        .arg(line)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty())
        .collect()
}
