//! deploy/k8s: the Indexed Job that run.sh renders is checked offline, as no cluster runs
//! here: against the Kubernetes schema (`kubernetes-validate --strict`, which .ci/run
//! installs), and its flood-client arguments against the real binary. A missing validator
//! fails the test under CI=true and skips it elsewhere.

use std::process::{Command, Output};

use test_support::all_text;
use test_support::{bin, repo_root};

fn run_sh(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repo_root().join("deploy/k8s/run.sh"))
        .args(args)
        .output()
        .expect("run deploy/k8s/run.sh")
}

/// `kubernetes-validate --strict` of `manifest`; `None` when the validator is missing here.
fn validate(manifest: &str, name: &str) -> Option<Output> {
    let path = std::env::temp_dir().join(format!("flood-k8s-{}-{name}.yaml", std::process::id()));
    std::fs::write(&path, manifest).expect("write manifest");
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--kubernetes-version", "1.30.0"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    match out {
        Ok(out) => Some(out),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install kubernetes-validate (see .ci/run): {e}"
            );
            eprintln!("SKIPPED the Kubernetes schema check: kubernetes-validate unavailable ({e})");
            None
        }
    }
}

/// The container arguments of the rendered Job (YAML read by the validator's own PyYAML).
fn container_args(manifest: &str) -> Vec<String> {
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; job = yaml.safe_load(sys.stdin); \
             print(json.dumps(job['spec']['template']['spec']['containers'][0]['args']))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write;
    py.stdin
        .take()
        .expect("stdin")
        .write_all(manifest.as_bytes())
        .expect("feed YAML");
    let out = py.wait_with_output().expect("python3 output");
    assert!(out.status.success(), "{}", all_text(&out));
    serde_json::from_slice(&out.stdout).expect("args JSON")
}

#[test]
fn the_indexed_job_is_valid_kubernetes_and_its_arguments_are_a_shard_run() {
    let out = run_sh(&["--render", "10.77.0.1:7000", "3", "6000", "512KiB"]);
    assert!(out.status.success(), "{}", all_text(&out));
    let manifest = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(!manifest.contains('@'), "an unfilled parameter: {manifest}");
    let Some(checked) = validate(&manifest, "job") else {
        return;
    };
    assert!(checked.status.success(), "{}", all_text(&checked));
    assert!(
        all_text(&checked).contains("passed"),
        "{}",
        all_text(&checked)
    );

    // The schema check can fail: a field Kubernetes does not know is refused.
    let broken = manifest.replace(
        "completionMode: Indexed",
        "completionMode: Indexed\n  shardCount: 3",
    );
    let refused = validate(&broken, "broken").expect("validator");
    assert!(!refused.status.success(), "{}", all_text(&refused));

    let args = container_args(&manifest);
    assert!(
        args.contains(&"$(JOB_COMPLETION_INDEX)/3".to_string()),
        "{args:?}"
    );
    assert!(manifest.contains("completionMode: Indexed") && manifest.contains("completions: 3"));
    // Pod K's arguments are a shard run flood-client accepts: with the start moved into the
    // past, it gets as far as refusing that (exit 2) and connects nowhere.
    let at = args
        .iter()
        .position(|a| a == "--start-at")
        .expect("--start-at")
        + 1;
    for k in 0..3 {
        let pod: Vec<String> = args
            .iter()
            .enumerate()
            .map(|(i, a)| match i {
                _ if i == at => "1700000000".to_string(),
                _ => a.replace("$(JOB_COMPLETION_INDEX)", &k.to_string()),
            })
            .collect();
        let out = Command::new(bin("flood-client"))
            .args(&pod)
            .output()
            .expect("flood-client");
        assert_eq!(out.status.code(), Some(2), "{pod:?}: {}", all_text(&out));
        assert!(
            all_text(&out).contains("in the past"),
            "{pod:?}: {}",
            all_text(&out)
        );
    }
}

#[test]
fn run_sh_refuses_bad_usage_with_exit_2() {
    for bad in [
        &["10.77.0.1:7000", "3"][..],
        &["10.77.0.1", "3", "6000"],
        &["10.77.0.1:7000", "0", "6000"],
        &["10.77.0.1:7000", "3", "many"],
        &["10.77.0.1:7000", "3", "6000", "lots"],
    ] {
        let mut args = vec!["--render"];
        args.extend(bad);
        let out = run_sh(&args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", all_text(&out));
        assert!(
            all_text(&out).contains("run.sh [--render] SERVER:PORT"),
            "{bad:?}"
        );
    }
}

#[test]
fn run_sh_is_shellcheck_clean() {
    match Command::new("shellcheck")
        .arg(repo_root().join("deploy/k8s/run.sh"))
        .output()
    {
        Ok(out) => assert!(out.status.success(), "{}", all_text(&out)),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install shellcheck: {e}"
            );
            eprintln!("SKIPPED run_sh_is_shellcheck_clean: shellcheck not installed ({e})");
        }
    }
}
