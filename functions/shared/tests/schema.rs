//! The committed JSON Schema of the spec, and the published time budgets, must match the Rust.
//! Regenerate with `MEC_UPDATE_SCHEMA=1 cargo test -p mec-shared --test schema` (or `make schema`).

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

/// The file under schema/ must hold `value` as pretty JSON; `MEC_UPDATE_SCHEMA` rewrites it.
fn assert_committed(file: &str, value: &impl serde::Serialize) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(file);
    let generated = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var_os("MEC_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `make schema` and commit the result",
        path.display()
    );
}

#[test]
fn committed_spec_schema_is_up_to_date() {
    assert_committed(
        "environment-spec.schema.json",
        &mec_shared::spec::json_schema(),
    );
}

#[test]
fn schema_requires_only_the_name_and_forbids_unknown_fields() {
    let schema = mec_shared::spec::json_schema();
    assert_eq!(schema["required"], serde_json::json!(["name"]));
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
}

/// Terraform derives the execution timeouts from the command phases' budgets (deadline.rs): it
/// reads them from this generated file, so that the two never disagree.
#[test]
fn committed_budgets_are_up_to_date() {
    assert_committed(
        "budgets.json",
        &mec_shared::deadline::largest_spec_budgets().unwrap(),
    );
}
