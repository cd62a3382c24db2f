//! The validate step: the first state of every provisioning run. It checks the spec against
//! every rule and returns it with the defaults filled in, so that a console input like
//! `{"name": "lab-1"}` becomes a complete spec before anything is created.
//!
//! It also checks that the pipeline's time budget holds the spec's command phases
//! (deadline.rs): the provisioning machine's execution timeout is derived from the largest spec
//! Terraform knows of, and a spec that needs more would time out without its rollback.

use mec_shared::{catalogue, deadline, EnvironmentSpec, MecError, Settings};
use tracing::info;

pub fn handle(settings: &Settings, event: serde_json::Value) -> Result<EnvironmentSpec, MecError> {
    let spec = EnvironmentSpec::from_value(event)?;
    let _span = tracing::info_span!("step", environment = %spec.name, step = "validate").entered();
    if let Some(budget) = settings.commands_budget_seconds {
        let needed = deadline::commands_seconds(spec.masters, &catalogue::plan(&spec)?)?;
        if needed > budget {
            return Err(MecError::Configuration(format!(
                "the spec's command phases may take {needed} s, more than the {budget} s the \
                 pipeline's execution timeout leaves them (MEC_COMMANDS_BUDGET_SECONDS): \
                 redeploy the pipeline module"
            )));
        }
    }
    info!(masters = spec.masters, workers = spec.workers, "spec valid");
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn console_input_gets_defaults() {
        let spec = handle(&Settings::default(), json!({"name": "x-lab"})).unwrap();
        assert_eq!(spec.workers, 2);
        let round_trip = serde_json::to_value(&spec).unwrap();
        assert_eq!(round_trip["microk8s_channel"], "1.32/stable");
    }

    #[test]
    fn bad_input_is_invalid_spec_naming_the_field() {
        let err = handle(
            &Settings::default(),
            json!({"name": "x-lab", "workers": 1000}),
        )
        .unwrap_err();
        assert_eq!(err.error_type(), "InvalidSpec");
        assert!(err.to_string().contains("`workers`"));
        let err = handle(&Settings::default(), json!("not an object")).unwrap_err();
        assert_eq!(err.error_type(), "InvalidSpec");
    }

    #[test]
    fn a_spec_beyond_the_pipelines_budget_is_refused() {
        let tight = Settings {
            commands_budget_seconds: Some(600),
            ..Settings::default()
        };
        let err = handle(&tight, json!({"name": "x-lab"})).unwrap_err();
        assert_eq!(err.error_type(), "Configuration");
        let roomy = Settings {
            commands_budget_seconds: Some(1_000_000),
            ..Settings::default()
        };
        assert!(handle(&roomy, json!({"name": "x-lab"})).is_ok());
    }
}
