//! The CLI's refusals, run as a process: bad usage exits 2 before any AWS call (the endpoint
//! points at a closed port, so a call would exit 3 instead). Building this test also builds the
//! `mec` binary that the local-world tests drive.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

fn mec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mec"))
        .args(args)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap()
}

#[test]
fn bad_names_and_specs_exit_2_naming_the_field() {
    for args in [
        &["create", "--name", "Bad"][..],
        &["create", "--name", "lab-1", "--workers", "101"],
        &["kubeconfig", "Bad_name"],
        &["status", "x"],
        &["delete", "x"],
        &["audit", "UPPER"],
        &["create", "--name", "lab-1", "--tag", "no-equals"],
        &["create", "--workers", "1"],
        &["create", "-f", "/nonexistent/lab.yaml"],
        &["list", "-o", "xml"],
    ] {
        let out = mec(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // mec's own refusals, or clap's for a flag's value.
        assert!(
            stderr.starts_with("mec: ") || stderr.starts_with("error: "),
            "{args:?}: {stderr}"
        );
    }
    let out = mec(&["create", "--name", "lab-1", "--workers", "101"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("`workers`"));
}

#[test]
fn help_shows_examples_and_exit_codes_and_completions_print() {
    let out = mec(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("Exit codes:"),
        "{help}"
    );
    for sub in [
        "create",
        "status",
        "list",
        "delete",
        "audit",
        "kubeconfig",
        "sweep",
    ] {
        let out = mec(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Examples:"),
            "{sub}"
        );
    }
    let out = mec(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("mec"));
}

#[test]
fn an_unreachable_aws_exits_3() {
    let out = mec(&["kubeconfig", "lab-1"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

#[test]
fn fire_schedule_refuses_a_non_local_endpoint_for_functions() {
    // The schedule lookup itself fails first here (nothing listens): AWS unreachable.
    let out = mec(&["local", "fire-schedule", "reaper"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}
