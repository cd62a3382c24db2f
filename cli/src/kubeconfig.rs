//! `mec kubeconfig`: the environment's kubeconfig, read from its SecureString parameter with the
//! caller's own credentials (their IAM identity needs ssm:GetParameter on it and kms:Decrypt).

use std::io::Write;
use std::path::Path;

use mec_shared::{naming, MecError};
use serde_json::json;

use crate::CliError;

pub async fn fetch(
    ssm: &aws_sdk_ssm::Client,
    name: &str,
    output: Option<&Path>,
    json_out: bool,
) -> Result<(), CliError> {
    mec_shared::spec::validate_name(name)?;
    let parameter = naming::kubeconfig_parameter(name);
    let found = ssm
        .get_parameter()
        .name(&parameter)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| MecError::from_sdk("GetParameter", e));
    let kubeconfig = match found {
        Ok(out) => out
            .parameter()
            .and_then(|p| p.value())
            .unwrap_or_default()
            .to_string(),
        Err(MecError::AwsError { code, .. }) if code == "ParameterNotFound" => {
            return Err(CliError::Failed(format!(
                "{name} has no kubeconfig ({parameter} does not exist): it is not READY — see `mec status {name}`"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    match output {
        Some(path) => {
            write_private(path, &kubeconfig)?;
            if json_out {
                println!(
                    "{}",
                    json!({"name": name, "parameter": parameter, "written_to": path})
                );
            } else {
                eprintln!(
                    "{name}: kubeconfig written to {} (mode 600)",
                    path.display()
                );
            }
        }
        None if json_out => println!(
            "{}",
            json!({"name": name, "parameter": parameter, "kubeconfig": kubeconfig})
        ),
        None => print!("{kubeconfig}"),
    }
    Ok(())
}

/// Writes a secret file readable by its owner only (created so, never widened afterwards).
fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let cannot =
        |e: std::io::Error| CliError::Usage(format!("cannot write {}: {e}", path.display()));
    let mut file = options.open(path).map_err(cannot)?;
    file.write_all(text.as_bytes()).map_err(cannot)
}
