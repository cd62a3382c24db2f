//! Deadlines and budgets of the state machines' waits.
//!
//! Every wait loop (nodes coming up, each SSM command phase, the rollback's teardown passes) is
//! bounded by time, not by a count of polls: the step that starts the wait returns a deadline
//! (RFC 3339, UTC), and the step that polls reports `expired` once it has passed, which the
//! loop's Choice turns into a failure and a rollback. A count of polls would bound nothing: each
//! poll's own Task may take up to its timeout and retries. The phases' budgets are defined here
//! once; Terraform derives the execution timeouts from the same figures
//! (infra/modules/pipeline/budget.tf), so that a state-level bound always fires before the
//! execution times out — an execution that times out skips its rollback.

use aws_smithy_types::date_time::{DateTime, Format};

use crate::catalogue::{self, Planned};
use crate::error::MecError;

/// Seconds SSM waits for a node to pick up the install command (SendCommand `TimeoutSeconds`).
pub const INSTALL_DELIVERY_SECONDS: u32 = 600;
/// Seconds the install may run on a node (the document's `executionTimeout`): snap download
/// included.
pub const INSTALL_EXECUTION_SECONDS: u32 = 1800;
/// Seconds SSM waits for a node to pick up a join-document command.
pub const JOIN_DELIVERY_SECONDS: u32 = 300;
/// Seconds one mint, join, verify or publish may run on a node (the document's
/// `executionTimeout`).
pub const JOIN_EXECUTION_SECONDS: u32 = 900;
/// The most control-plane nodes a spec may have (spec.rs: 1 or 3).
pub const MAX_MASTERS: u32 = 3;

/// The time `seconds` from now, as the deadline of a wait.
pub fn after(seconds: u32) -> String {
    at(now_seconds() + i64::from(seconds))
}

/// Now, as a deadline: a wait with nothing to wait for.
pub fn now() -> String {
    at(now_seconds())
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn at(seconds: i64) -> String {
    DateTime::from_secs(seconds)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// True once `deadline` (RFC 3339) has passed; a malformed one is the input's error, named
/// `field`.
pub fn passed(deadline: &str, field: &str) -> Result<bool, MecError> {
    let at = DateTime::from_str(deadline, Format::DateTime).map_err(|_| {
        MecError::invalid_input(
            field,
            "must be an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)",
        )
    })?;
    Ok(now_seconds() > at.secs())
}

/// The install phase: delivery, then the document's own limit.
pub fn install_seconds() -> u32 {
    INSTALL_DELIVERY_SECONDS + INSTALL_EXECUTION_SECONDS
}

/// Delivery timeout of a join-document command that `nodes` nodes run one at a time
/// (MaxConcurrency 1): the last one starts only when the others have ended, and SSM drops an
/// invocation that has not started within the delivery timeout.
pub fn sequential_delivery_seconds(nodes: u32) -> u32 {
    JOIN_DELIVERY_SECONDS + JOIN_EXECUTION_SECONDS * nodes.saturating_sub(1)
}

/// One join-document phase on one node, or on nodes that run it at once (mint, verify and
/// publish, workers' joins).
pub fn join_phase_seconds() -> u32 {
    JOIN_DELIVERY_SECONDS + JOIN_EXECUTION_SECONDS
}

/// The join phase: control-plane joins one at a time (the last one starts at the latest when its
/// sequential delivery timeout ends, then runs), workers' joins at once beside them.
pub fn join_seconds(masters: u32) -> u32 {
    JOIN_DELIVERY_SECONDS + JOIN_EXECUTION_SECONDS * masters.saturating_sub(1).max(1)
}

/// The add-on phase for this plan: its document limit plus delivery.
pub fn addons_seconds(plan: &[Planned]) -> Result<u32, MecError> {
    Ok(JOIN_DELIVERY_SECONDS + catalogue::execution_timeout_seconds(plan)?)
}

/// Every command phase of a provisioning, one after the other: install, mint, join, verify (with
/// the kubeconfig's publish beside it), add-ons.
pub fn commands_seconds(masters: u32, plan: &[Planned]) -> Result<u32, MecError> {
    Ok(install_seconds()
        + join_phase_seconds()
        + join_seconds(masters)
        + join_phase_seconds()
        + addons_seconds(plan)?)
}

/// The phases' budgets for the largest spec (three masters, every add-on of the catalogue), as
/// published to Terraform in `functions/shared/schema/budgets.json` (infra/modules/pipeline/
/// budget.tf reads it; a test fails when it is stale: `make schema`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Budgets {
    pub install_seconds: u32,
    pub mint_seconds: u32,
    pub join_seconds: u32,
    pub verify_seconds: u32,
    pub addons_seconds: u32,
    /// Every phase of the largest spec, one after the other.
    pub commands_seconds: u32,
}

pub fn largest_spec_budgets() -> Result<Budgets, MecError> {
    let every_addon: Vec<Planned> = catalogue::catalogue()?
        .names()
        .into_iter()
        .map(|name| Planned {
            name: name.to_string(),
            optional: false,
        })
        .collect();
    Ok(Budgets {
        install_seconds: install_seconds(),
        mint_seconds: join_phase_seconds(),
        join_seconds: join_seconds(MAX_MASTERS),
        verify_seconds: join_phase_seconds(),
        addons_seconds: addons_seconds(&every_addon)?,
        commands_seconds: commands_seconds(MAX_MASTERS, &every_addon)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_rfc3339_and_pass() {
        let later = after(3600);
        assert!(later.ends_with('Z') && later.contains('T'), "{later}");
        assert_eq!(passed(&later, "deadline"), Ok(false));
        assert_eq!(passed("2020-01-01T00:00:00Z", "deadline"), Ok(true));
        assert!(matches!(
            passed("soon", "deadline"),
            Err(MecError::InvalidInput { field, .. }) if field == "deadline"
        ));
    }

    #[test]
    fn join_budgets_cover_one_at_a_time_control_plane_joins() {
        // One master: workers join at once.
        assert_eq!(
            join_seconds(1),
            JOIN_DELIVERY_SECONDS + JOIN_EXECUTION_SECONDS
        );
        // Three masters: two control-plane joins one after the other, the second delivered
        // after the first has run.
        assert_eq!(
            join_seconds(3),
            JOIN_DELIVERY_SECONDS + 2 * JOIN_EXECUTION_SECONDS
        );
        assert_eq!(
            sequential_delivery_seconds(2),
            JOIN_DELIVERY_SECONDS + JOIN_EXECUTION_SECONDS
        );
    }
}
