//! EC2's eventual consistency: an ID that a `Create*` or `RunInstances` call has just returned
//! can be unknown to the next call for a short while, which then fails with
//! `Invalid<Type>.NotFound` ("Eventual consistency in the Amazon EC2 API", EC2 API reference:
//! "use an exponential backoff strategy"). Calls that name an ID mec created moments before go
//! through [`retry_not_found`]; everything else keeps treating `NotFound` as final.

use std::future::Future;
use std::time::Duration;

use tracing::debug;

use crate::error::MecError;

/// Sends an EC2 request (a fluent builder) that names an ID created moments before, retrying
/// while EC2 answers `Invalid*.NotFound` ([`retry_not_found`]); other errors map through
/// [`MecError::from_sdk`](crate::MecError::from_sdk) under the operation's name.
///
/// `send_after_create!("CreateTags", aws.ec2.create_tags().resources(id).tags(tag))`
#[macro_export]
macro_rules! send_after_create {
    ($operation:literal, $call:expr) => {{
        let call = $call;
        $crate::consistency::retry_not_found($operation, || {
            let call = call.clone();
            async move {
                call.send()
                    .await
                    .map_err(|e| $crate::MecError::from_sdk($operation, e))
            }
        })
        .await
    }};
}

/// Sends an EC2 create request that has no idempotency token (CreateVpc, CreateSubnet,
/// CreateInternetGateway, CreateSecurityGroup) without the SDK's blind retries: a call whose
/// answer was lost (a 5xx, a cut connection) may have been applied, and its retry would create a
/// second resource; that error fails the step instead (AwsUnavailable: retryable), and the state
/// machine's retry of the step finds the first one by its tags. A throttled call was refused
/// before anything happened (EC2 API reference, "Request throttling"): it is tried again here,
/// after [`THROTTLE_DELAYS_MS`].
#[macro_export]
macro_rules! send_once {
    ($operation:literal, $call:expr) => {{
        let call = $call;
        let mut pauses = $crate::consistency::THROTTLE_DELAYS_MS.iter();
        loop {
            let sent = call
                .clone()
                .customize()
                .config_override(
                    aws_sdk_ec2::config::Config::builder()
                        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled()),
                )
                .send()
                .await
                .map_err(|e| $crate::MecError::from_sdk($operation, e));
            match (sent, pauses.next()) {
                (Err($crate::MecError::Throttled { .. }), Some(ms)) => {
                    tokio::time::sleep(std::time::Duration::from_millis(*ms)).await;
                }
                (sent, _) => break sent,
            }
        }
    }};
}

/// Pauses before a throttled create is sent again (never applied, so safe to resend).
pub const THROTTLE_DELAYS_MS: [u64; 3] = [500, 1_000, 2_000];

/// [`send_once!`] for a create that also names an ID created moments before (a subnet or a
/// security group in a new VPC): retried while EC2 answers `Invalid*.NotFound`, which means
/// nothing was created, never after any other error.
#[macro_export]
macro_rules! send_once_after_create {
    ($operation:literal, $call:expr) => {{
        let call = $call;
        $crate::consistency::retry_not_found($operation, || {
            let call = call.clone();
            async move { $crate::send_once!($operation, call) }
        })
        .await
    }};
}

/// Pauses between attempts: 0.25 s doubling, 7.75 s in all, well inside every step's Lambda
/// timeout and longer than EC2 typically takes to agree with itself (a second or two).
pub const DELAYS_MS: [u64; 5] = [250, 500, 1_000, 2_000, 4_000];

/// True for EC2's `Invalid<Type>.NotFound` codes (`InvalidVpcID.NotFound`,
/// `InvalidGroup.NotFound`, `InvalidInstanceID.NotFound`, ...).
pub fn is_not_found(err: &MecError) -> bool {
    matches!(err, MecError::AwsError { code, .. }
        if code.starts_with("Invalid") && code.ends_with(".NotFound"))
}

/// Runs `call` (which sends one EC2 request naming a just-created ID) until it succeeds, fails
/// with something else than `Invalid*.NotFound`, or the [`DELAYS_MS`] are used up.
pub async fn retry_not_found<T, F, Fut>(operation: &str, call: F) -> Result<T, MecError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, MecError>>,
{
    retry_with(operation, &DELAYS_MS, call).await
}

/// Runs `describe` until it finds what an earlier, applied call created (`Some`), waiting
/// [`DELAYS_MS`] between tries: EC2's describes are eventually consistent. Still nothing after
/// that: `AwsUnavailable` (retryable: the step's retry looks again).
pub async fn retry_until_visible<T, F, Fut>(operation: &str, mut describe: F) -> Result<T, MecError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, MecError>>,
{
    let mut pauses = DELAYS_MS.iter();
    loop {
        if let Some(found) = describe().await? {
            return Ok(found);
        }
        match pauses.next() {
            Some(ms) => tokio::time::sleep(Duration::from_millis(*ms)).await,
            None => {
                return Err(MecError::AwsUnavailable {
                    operation: operation.to_string(),
                    message: "what an earlier attempt created is not visible yet".into(),
                })
            }
        }
    }
}

async fn retry_with<T, F, Fut>(operation: &str, delays: &[u64], mut call: F) -> Result<T, MecError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, MecError>>,
{
    let mut pauses = delays.iter();
    loop {
        match call().await {
            Err(err) if is_not_found(&err) => match pauses.next() {
                Some(ms) => {
                    debug!(
                        operation,
                        retry_in_ms = ms,
                        "not visible yet (EC2 eventual consistency)"
                    );
                    tokio::time::sleep(Duration::from_millis(*ms)).await;
                }
                None => return Err(err),
            },
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn not_found() -> MecError {
        MecError::AwsError {
            operation: "CreateTags".into(),
            code: "InvalidInstanceID.NotFound".into(),
            message: "The instance ID 'i-1' does not exist".into(),
        }
    }

    #[test]
    fn only_the_invalid_id_not_found_codes_count() {
        assert!(is_not_found(&not_found()));
        let other = |code: &str| MecError::AwsError {
            operation: "x".into(),
            code: code.into(),
            message: String::new(),
        };
        assert!(is_not_found(&other("InvalidGroup.NotFound")));
        assert!(!is_not_found(&other("ParameterNotFound")));
        assert!(!is_not_found(&other("InvalidParameterValue")));
        assert!(!is_not_found(&MecError::NodesNotReady("x".into())));
    }

    #[tokio::test]
    async fn retries_until_visible_and_stops_at_other_errors() {
        let calls = Cell::new(0);
        let found = retry_with("CreateTags", &[1, 1, 1], || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(not_found())
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(found, Ok(3));

        calls.set(0);
        let gone = retry_with("CreateTags", &[1, 1], || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(not_found()) }
        })
        .await;
        assert!(is_not_found(&gone.unwrap_err()));
        assert_eq!(calls.get(), 3, "one try and two retries");

        calls.set(0);
        let refused = retry_with("CreateTags", &[1, 1], || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(MecError::Configuration("x".into())) }
        })
        .await;
        assert!(refused.is_err());
        assert_eq!(calls.get(), 1);
    }
}
