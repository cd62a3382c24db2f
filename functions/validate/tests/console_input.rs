//! The validate step as the console, a schedule or the API calls it: a bare spec in, the full spec
//! (or an InvalidSpec naming the field) out.

// A panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mec_shared::Settings;
use serde_json::json;

#[test]
fn a_console_input_becomes_a_complete_spec() {
    let spec =
        mec_validate::handle(&Settings::default(), json!({"name": "x-lab", "workers": 0})).unwrap();
    let value = serde_json::to_value(&spec).unwrap();
    assert_eq!(value["workers"], 0);
    assert_eq!(value["masters"], 1);
    assert_eq!(value["instance_type"], "t4g.medium");
    assert_eq!(value["addons"], json!(["dns", "hostpath-storage"]));
}

#[test]
fn a_bad_console_input_names_the_field() {
    for (input, field) in [
        (
            json!({"name": "x-lab", "vpc_cidr": "8.8.8.0/24"}),
            "vpc_cidr",
        ),
        (json!({"nme": "x-lab"}), "nme"),
        (
            json!({"name": "x-lab", "addons": ["kubeflow"]}),
            "addons[0]",
        ),
    ] {
        let err = mec_validate::handle(&Settings::default(), input.clone()).unwrap_err();
        assert_eq!(err.error_type(), "InvalidSpec");
        assert!(
            err.to_string().contains(&format!("`{field}`")),
            "{input}: {err}"
        );
    }
}
