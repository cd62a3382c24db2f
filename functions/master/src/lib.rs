//! The master step: launches the environment's control-plane nodes (1, or 3 for HA),
//! finding by tag what an earlier attempt launched. The launch logic is shared with the
//! workers step (`mec_shared::launch`).

use mec_shared::launch::{handle_launch, LaunchOutput};
use mec_shared::tags::Role;
use mec_shared::{Aws, MecError, Settings};

pub async fn handle(
    aws: &Aws,
    settings: &Settings,
    event: serde_json::Value,
) -> Result<LaunchOutput, MecError> {
    handle_launch(aws, settings, Role::Master, event).await
}
