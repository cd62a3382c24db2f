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
        .await;
    let kubeconfig = match found {
        Ok(out) => out
            .parameter()
            .and_then(|p| p.value())
            .unwrap_or_default()
            .to_string(),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => {
            return Err(CliError::Failed(format!(
                "{name} has no kubeconfig ({parameter} does not exist): it is not READY — see `mec status {name}`"
            )))
        }
        Err(e) => return Err(MecError::from_sdk("GetParameter", e).into()),
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

/// Writes a secret file readable by its owner only: created so, and an existing file's mode is
/// tightened to 600 before the secret is written into it.
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
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(cannot)?;
    }
    file.write_all(text.as_bytes()).map_err(cannot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn an_existing_file_is_tightened_to_600() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("mec-kubeconfig-{}", std::process::id()));
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "secret").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "secret");
        std::fs::remove_file(&path).unwrap();
    }
}
