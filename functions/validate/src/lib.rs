//! The validate step: the first state of every provisioning run. It checks the spec against
//! every rule and returns it with the defaults filled in, so that a console input like
//! `{"name": "lab-1"}` becomes a complete spec before anything is created.

use mec_shared::{EnvironmentSpec, MecError};
use tracing::info;

pub fn handle(event: serde_json::Value) -> Result<EnvironmentSpec, MecError> {
    let spec = EnvironmentSpec::from_value(event)?;
    let _span = tracing::info_span!("step", environment = %spec.name, step = "validate").entered();
    info!(masters = spec.masters, workers = spec.workers, "spec valid");
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn console_input_gets_defaults() {
        let spec = handle(json!({"name": "x-lab"})).unwrap();
        assert_eq!(spec.workers, 2);
        let round_trip = serde_json::to_value(&spec).unwrap();
        assert_eq!(round_trip["microk8s_channel"], "1.32/stable");
    }

    #[test]
    fn bad_input_is_invalid_spec_naming_the_field() {
        let err = handle(json!({"name": "x-lab", "workers": 1000})).unwrap_err();
        assert_eq!(err.error_type(), "InvalidSpec");
        assert!(err.to_string().contains("`workers`"));
        let err = handle(json!("not an object")).unwrap_err();
        assert_eq!(err.error_type(), "InvalidSpec");
    }
}
