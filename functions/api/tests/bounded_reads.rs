//! Every read costs a bounded number of calls whatever the account holds: a listing at most
//! MAX_SCAN_PAGES registry pages, a record one GetItem, one DescribeExecution and at most
//! MAX_HISTORY_PAGES history pages (read newest first, stopping at the rollback). SDK mocks stand
//! in for a registry and a history without end, which no emulator can hold, and for a run that
//! timed out, which the local world would take hours to produce.

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
use aws_sdk_sfn::types::{
    ExecutionStatus, HistoryEvent, HistoryEventType, StateEnteredEventDetails,
};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::DateTime;
use mec_shared::environments::{
    Environments, Machines, Outcome, MAX_HISTORY_PAGES, MAX_SCAN_PAGES,
};
use mec_shared::record::Status;
use mec_shared::registry::Registry;

const PROVISION: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:mec-provision";
const TEARDOWN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:mec-teardown";
const RUN: &str = "arn:aws:states:us-east-1:123456789012:execution:mec-provision:lab-1--c-1";

fn machines() -> Machines {
    Machines {
        provision: PROVISION.into(),
        teardown: TEARDOWN.into(),
    }
}

fn item(name: &str, status: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("name".to_string(), AttributeValue::S(name.into())),
        ("status".to_string(), AttributeValue::S(status.into())),
        ("execution".to_string(), AttributeValue::S(RUN.into())),
        (
            "updated_at".to_string(),
            AttributeValue::S("2026-12-01T10:00:00Z".into()),
        ),
        (
            "error".to_string(),
            AttributeValue::S("CommandFailed".into()),
        ),
        ("cause".to_string(), AttributeValue::S("boom".into())),
    ])
}

fn entered(id: i64, kind: HistoryEventType, name: &str) -> HistoryEvent {
    HistoryEvent::builder()
        .id(id)
        .timestamp(DateTime::from_secs(1_700_000_000 + id))
        .r#type(kind)
        .state_entered_event_details(
            StateEnteredEventDetails::builder()
                .name(name)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn described(status: ExecutionStatus, error: Option<&str>) -> DescribeExecutionOutput {
    DescribeExecutionOutput::builder()
        .execution_arn(RUN)
        .state_machine_arn(PROVISION)
        .status(status)
        .start_date(DateTime::from_secs(1_700_000_000))
        .set_error(error.map(str::to_string))
        .build()
        .unwrap()
}

/// Pages the "endless" answers have: far more than any bounded read takes.
const ENDLESS_PAGES: usize = 100;

#[tokio::test]
async fn a_listing_reads_at_most_max_scan_pages() {
    // Every page holds environments and says there is more, for ENDLESS_PAGES: a read without
    // the bound fails the count below instead of running for ever.
    let page = AtomicUsize::new(0);
    let endless = mock!(aws_sdk_dynamodb::Client::scan).then_output(move || {
        let n = page.fetch_add(1, Ordering::Relaxed);
        let items = (0..100)
            .map(|i| item(&format!("env-{n}-{i}"), "READY"))
            .collect();
        ScanOutput::builder()
            .set_items(Some(items))
            .set_last_evaluated_key((n < ENDLESS_PAGES).then(|| {
                HashMap::from([("name".to_string(), AttributeValue::S(format!("env-{n}")))])
            }))
            .build()
    });
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&endless]);
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[]);
    let environments =
        Environments::new(sfn, Registry::new(dynamodb, "mec-environments"), machines());
    let rows = environments.list().await.unwrap();
    assert_eq!(endless.num_calls(), MAX_SCAN_PAGES);
    assert_eq!(rows.len(), 100 * MAX_SCAN_PAGES);
}

#[tokio::test]
async fn the_failed_step_is_read_newest_first_and_stops_at_the_rollback() {
    let get = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .set_item(Some(item("lab-1", "FAILED")))
            .build()
    });
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .then_output(|| described(ExecutionStatus::Failed, Some("CommandFailed")));
    // Newest first: the registry write, the rollback's passes, its start, then the step that
    // failed; an endless history behind it.
    let history = mock!(aws_sdk_sfn::Client::get_execution_history)
        .match_requests(|r| r.reverse_order() == Some(true))
        .then_output(|| {
            GetExecutionHistoryOutput::builder()
                .events(entered(
                    901,
                    HistoryEventType::TaskStateEntered,
                    "RecordFailure",
                ))
                .events(entered(900, HistoryEventType::TaskStateEntered, "Rollback"))
                .events(entered(
                    899,
                    HistoryEventType::WaitStateEntered,
                    "SettleBeforeRollback",
                ))
                .events(entered(
                    898,
                    HistoryEventType::PassStateEntered,
                    "StartRollback",
                ))
                .events(entered(
                    897,
                    HistoryEventType::ChoiceStateEntered,
                    "Installed?",
                ))
                .events(entered(
                    896,
                    HistoryEventType::TaskStateEntered,
                    "InstallStatus",
                ))
                .next_token("more")
                .build()
                .unwrap()
        });
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&get]);
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&describe, &history]);
    let environments =
        Environments::new(sfn, Registry::new(dynamodb, "mec-environments"), machines());
    let Outcome::Found(record) = environments.get("lab-1").await.unwrap() else {
        panic!("lab-1 is in the registry");
    };
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.step.as_deref(), Some("InstallStatus"));
    assert_eq!(record.error.unwrap().error_type, "CommandFailed");
    assert_eq!(get.num_calls(), 1);
    assert_eq!(describe.num_calls(), 1);
    assert_eq!(history.num_calls(), 1, "one page of history, newest first");
    assert!(history.num_calls() <= MAX_HISTORY_PAGES);
}

#[tokio::test]
async fn a_run_that_timed_out_without_recording_it_reads_as_failed_and_is_repaired() {
    let get = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .set_item(Some(item("lab-1", "CREATING")))
            .build()
    });
    // The repair is conditional on the run that timed out still owning the name.
    let repair = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| {
            r.condition_expression() == Some("#execution = :owner AND #status = :seen")
                && r.expression_attribute_values()
                    .and_then(|v| v.get(":owner"))
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|owner| owner == RUN)
        })
        .then_output(|| UpdateItemOutput::builder().build());
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .then_output(|| described(ExecutionStatus::TimedOut, None));
    let history = mock!(aws_sdk_sfn::Client::get_execution_history).then_output(|| {
        GetExecutionHistoryOutput::builder()
            .set_events(Some(vec![]))
            .build()
            .unwrap()
    });
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&get, &repair]);
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&describe, &history]);
    let environments =
        Environments::new(sfn, Registry::new(dynamodb, "mec-environments"), machines());
    let Outcome::Found(record) = environments.get("lab-1").await.unwrap() else {
        panic!("lab-1 is in the registry");
    };
    assert_eq!(record.status, Status::Failed);
    assert_eq!(record.error.unwrap().error_type, "ExecutionTimedOut");
    assert_eq!(repair.num_calls(), 1);
    // A failed environment may be deleted: the same service, the same rule as every door.
    assert!(!record.status.in_flight());
}

#[tokio::test]
async fn a_run_that_records_its_end_while_we_look_is_read_as_it_recorded() {
    // Read CREATING; the run then writes READY and ends; its DescribeExecution says SUCCEEDED.
    // The repair's condition (still CREATING under that run) fails: the fresh READY item wins.
    let creating = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .set_item(Some(item("lab-1", "CREATING")))
            .build()
    });
    let refused = mock!(aws_sdk_dynamodb::Client::update_item).then_error(|| {
        UpdateItemError::ConditionalCheckFailedException(
            ConditionalCheckFailedException::builder()
                .message("The conditional request failed")
                .build(),
        )
    });
    let ready = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        let mut ready = item("lab-1", "READY");
        ready.insert(
            "record".to_string(),
            AttributeValue::S(
                r#"{"name":"lab-1","status":"READY","vpc_id":"vpc-1","kubeconfig_parameter":"/mec/lab-1/kubeconfig","api_endpoint":"https://198.51.100.1:16443","addons":[],"expires_at":null,"masters":[],"workers":[]}"#.into(),
            ),
        );
        GetItemOutput::builder().set_item(Some(ready)).build()
    });
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .then_output(|| described(ExecutionStatus::Succeeded, None));
    let dynamodb = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::Sequential,
        &[&creating, &refused, &ready]
    );
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::Sequential, &[&describe]);
    let environments =
        Environments::new(sfn, Registry::new(dynamodb, "mec-environments"), machines());
    let Outcome::Found(record) = environments.get("lab-1").await.unwrap() else {
        panic!("lab-1 is in the registry");
    };
    assert_eq!(record.status, Status::Ready);
    assert!(record.error.is_none());
    assert_eq!(record.vpc_id.as_deref(), Some("vpc-1"));
    assert_eq!((refused.num_calls(), ready.num_calls()), (1, 1));
}
