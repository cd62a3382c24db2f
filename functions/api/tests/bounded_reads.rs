//! A GET reads a bounded number of pages whatever the history holds (issue #8, defect 12): the
//! executions newest first with an early stop, the failed step from the history read newest
//! first. SDK mocks stand in for a Step Functions account with an endless history, which no
//! emulator can hold.

// Helpers outside #[test] functions may unwrap too: a panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
use aws_sdk_sfn::types::{
    ExecutionListItem, ExecutionStatus, HistoryEvent, HistoryEventType, StateEnteredEventDetails,
};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::DateTime;
use mec_shared::status::{Environments, Machines, MAX_HISTORY_PAGES, MAX_LIST_PAGES};

const PROVISION: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:mec-provision";
const TEARDOWN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:mec-teardown";

fn execution(name: &str) -> ExecutionListItem {
    ExecutionListItem::builder()
        .execution_arn(format!("{PROVISION}:{name}"))
        .state_machine_arn(PROVISION)
        .name(name)
        .status(ExecutionStatus::Failed)
        .start_date(DateTime::from_secs(1_700_000_000))
        .build()
        .unwrap()
}

fn machines() -> Machines {
    Machines {
        provision: PROVISION.into(),
        teardown: TEARDOWN.into(),
    }
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

/// Pages the "endless" listing has: far more than the four bounded reads below take.
const ENDLESS_PAGES: usize = 100;

#[tokio::test]
async fn an_unknown_environment_costs_a_bounded_number_of_pages() {
    // Every page holds other environments' runs and says there is more (a new token each time:
    // the SDK's paginator stops on a repeated one) for ENDLESS_PAGES, so that a read
    // without the bound fails the count below instead of running for ever.
    let page = AtomicUsize::new(0);
    let endless = mock!(aws_sdk_sfn::Client::list_executions).then_output(move || {
        let others: Vec<ExecutionListItem> = (0..1000)
            .map(|i| execution(&format!("other-{i}--c-1")))
            .collect();
        let n = page.fetch_add(1, Ordering::Relaxed);
        ListExecutionsOutput::builder()
            .set_executions(Some(others))
            .set_next_token((n < ENDLESS_PAGES).then(|| format!("page-{n}")))
            .build()
            .unwrap()
    });
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&endless]);
    let environments = Environments::new(sfn, machines());
    assert!(environments.latest("lab-1").await.unwrap().is_none());
    assert_eq!(
        endless.num_calls(),
        2 * MAX_LIST_PAGES,
        "at most MAX_LIST_PAGES per machine"
    );
    environments.list().await.unwrap();
    assert_eq!(endless.num_calls(), 4 * MAX_LIST_PAGES);
}

#[tokio::test]
async fn the_failed_step_is_read_newest_first_and_stops_at_the_rollback() {
    let list = mock!(aws_sdk_sfn::Client::list_executions).then_output(|| {
        ListExecutionsOutput::builder()
            .executions(execution("lab-1--c-1"))
            .next_token("more")
            .build()
            .unwrap()
    });
    let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_output(|| {
        DescribeExecutionOutput::builder()
            .execution_arn(format!("{PROVISION}:lab-1--c-1"))
            .state_machine_arn(PROVISION)
            .status(ExecutionStatus::Failed)
            .start_date(DateTime::from_secs(1_700_000_000))
            .input("{}")
            .error("CommandFailed")
            .cause("boom")
            .build()
            .unwrap()
    });
    // Newest first: the rollback's passes, its start, then the step that failed; an endless
    // history behind it.
    let history = mock!(aws_sdk_sfn::Client::get_execution_history)
        .match_requests(|r| r.reverse_order() == Some(true))
        .then_output(|| {
            GetExecutionHistoryOutput::builder()
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
    let sfn = mock_client!(
        aws_sdk_sfn,
        RuleMode::MatchAny,
        &[&list, &describe, &history]
    );
    let latest = Environments::new(sfn, machines())
        .latest("lab-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.record.step.as_deref(), Some("InstallStatus"));
    assert_eq!(history.num_calls(), 1, "one page of history, newest first");
    assert!(history.num_calls() <= MAX_HISTORY_PAGES);
    // The provision machine's first page held the run: no more pages of it.
    assert!(
        list.num_calls() <= 1 + MAX_LIST_PAGES,
        "{}",
        list.num_calls()
    );
}
