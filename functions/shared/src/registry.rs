//! The environment registry: one DynamoDB item per environment, written by the state machines
//! at each status change (statemachine/*.asl.json, states `Register`, `Claim`, `Record*`) and
//! read here by every door (the HTTP API, the CLI).
//!
//! Item attributes, all strings: `name` (the key), `status` (CREATING, READY, FAILED, DELETING,
//! DELETED), `execution` (the ARN of the run that owns the name), `spec` and `record` (JSON),
//! `created_at`, `updated_at` (RFC 3339), `error`, `cause`, and `removed` (JSON: what a rollback
//! or teardown deleted).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;

use crate::error::MecError;
use crate::record::Status;
use crate::resource::Resource;
use crate::EnvironmentSpec;

/// Scan pages read for a listing, at most (1 MB each: thousands of environments).
pub const MAX_SCAN_PAGES: usize = 10;

/// One environment's item, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub status: Status,
    /// The execution that owns the name (the last to claim it).
    pub execution: Option<String>,
    /// The spec of the run that created it (absent for a name only a teardown claimed).
    pub spec: Option<EnvironmentSpec>,
    /// The READY record (the provisioning machine's output).
    pub record: Option<crate::record::ReadyOutput>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub removed: Vec<Resource>,
}

/// The registry table, read and (for one repair) written.
#[derive(Debug, Clone)]
pub struct Registry {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
}

impl Registry {
    pub fn new(dynamodb: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            dynamodb,
            table: table.into(),
        }
    }

    /// The registry of a pipeline: the table Terraform names `<prefix>-environments`.
    pub fn table_of(prefix: &str) -> String {
        format!("{prefix}-environments")
    }

    /// One environment's item (a strongly consistent read: a status just written is seen).
    pub async fn get(&self, name: &str) -> Result<Option<Entry>, MecError> {
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key("name", AttributeValue::S(name.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| MecError::from_sdk("GetItem", e))?;
        out.item().map(entry).transpose()
    }

    /// Every environment, in at most [`MAX_SCAN_PAGES`] calls.
    pub async fn list(&self) -> Result<Vec<Entry>, MecError> {
        let mut pages = self
            .dynamodb
            .scan()
            .table_name(&self.table)
            .into_paginator()
            .send();
        let mut entries = Vec::new();
        let mut read = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| MecError::from_sdk("Scan", e))?;
            for item in page.items() {
                entries.push(entry(item)?);
            }
            read += 1;
            if read >= MAX_SCAN_PAGES {
                break;
            }
        }
        Ok(entries)
    }

    /// Claims the name for a create about to start as `execution`: CREATING, with its spec,
    /// unless a live run owns it (the provisioning machine's own `Register` then passes: it is
    /// the owner). `false` when another door claimed it first (nothing written).
    pub async fn claim_for_create(
        &self,
        spec: &EnvironmentSpec,
        execution: &str,
        at: &str,
    ) -> Result<bool, MecError> {
        let spec_json = serde_json::to_string(spec)
            .map_err(|e| MecError::invalid_spec("spec", &format!("cannot be serialized: {e}")))?;
        let claimed = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key("name", AttributeValue::S(spec.name.clone()))
            .update_expression(
                "SET #status = :creating, #execution = :me, spec = :spec, created_at = :now, \
                 updated_at = :now REMOVE #record, #error, #cause, removed",
            )
            .condition_expression("attribute_not_exists(#name) OR #status IN (:failed, :deleted)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#execution", "execution")
            .expression_attribute_names("#record", "record")
            .expression_attribute_names("#error", "error")
            .expression_attribute_names("#cause", "cause")
            .expression_attribute_values(":creating", AttributeValue::S("CREATING".into()))
            .expression_attribute_values(":failed", AttributeValue::S("FAILED".into()))
            .expression_attribute_values(":deleted", AttributeValue::S("DELETED".into()))
            .expression_attribute_values(":me", AttributeValue::S(execution.to_string()))
            .expression_attribute_values(":spec", AttributeValue::S(spec_json))
            .expression_attribute_values(":now", AttributeValue::S(at.to_string()))
            .send()
            .await;
        conditional(claimed)
    }

    /// Claims the name for a teardown about to start as `execution`: DELETING, only while the
    /// item is still as read (`seen`: its status and owner). `false` when it changed meanwhile.
    pub async fn claim_for_delete(
        &self,
        seen: &Entry,
        execution: &str,
        at: &str,
    ) -> Result<bool, MecError> {
        let claimed = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key("name", AttributeValue::S(seen.name.clone()))
            .update_expression("SET #status = :deleting, #execution = :me, updated_at = :now")
            .condition_expression("#status = :seen_status AND #execution = :seen_owner")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#execution", "execution")
            .expression_attribute_values(":deleting", AttributeValue::S("DELETING".into()))
            .expression_attribute_values(":me", AttributeValue::S(execution.to_string()))
            .expression_attribute_values(":now", AttributeValue::S(at.to_string()))
            .expression_attribute_values(
                ":seen_status",
                AttributeValue::S(seen.status.as_str().to_string()),
            )
            .expression_attribute_values(
                ":seen_owner",
                AttributeValue::S(seen.execution.clone().unwrap_or_default()),
            )
            .send()
            .await;
        conditional(claimed)
    }

    /// Marks FAILED an environment whose owning run ended without recording it (timed out,
    /// aborted, or stopped before its own registry write). Only while the item is still as read
    /// (`seen`: that run owns the name, in that status): `false` when the run recorded its end
    /// meanwhile (it may end between our read and our look at it) or another run took the name.
    pub async fn mark_failed(
        &self,
        name: &str,
        seen: Status,
        owner: &str,
        error: &str,
        cause: &str,
        at: &str,
    ) -> Result<bool, MecError> {
        let written = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key("name", AttributeValue::S(name.to_string()))
            .update_expression(
                "SET #status = :failed, #error = :error, #cause = :cause, updated_at = :now",
            )
            .condition_expression("#execution = :owner AND #status = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_names("#cause", "cause")
            .expression_attribute_names("#execution", "execution")
            .expression_attribute_values(":failed", AttributeValue::S("FAILED".into()))
            .expression_attribute_values(":error", AttributeValue::S(error.to_string()))
            .expression_attribute_values(":cause", AttributeValue::S(cause.to_string()))
            .expression_attribute_values(":now", AttributeValue::S(at.to_string()))
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_string()))
            .expression_attribute_values(":seen", AttributeValue::S(seen.as_str().to_string()))
            .send()
            .await;
        conditional(written)
    }
}

/// A conditional UpdateItem's result: written, or refused by its condition (DynamoDB's modeled
/// `ConditionalCheckFailedException`).
fn conditional<T>(
    result: Result<
        T,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
            aws_smithy_runtime_api::http::Response,
        >,
    >,
) -> Result<bool, MecError> {
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(MecError::from_sdk("UpdateItem", e)),
    }
}

/// An item as an [`Entry`]; an item that breaks the format is an error, never skipped.
fn entry(item: &HashMap<String, AttributeValue>) -> Result<Entry, MecError> {
    let text = |key: &str| item.get(key).and_then(|v| v.as_s().ok()).cloned();
    let name = text("name").ok_or_else(|| corrupt("?", "name", "missing"))?;
    let status_text = text("status").ok_or_else(|| corrupt(&name, "status", "missing"))?;
    let status: Status = serde_json::from_value(serde_json::Value::String(status_text.clone()))
        .map_err(|_| corrupt(&name, "status", &format!("unknown status {status_text}")))?;
    let spec = json_of::<serde_json::Value>(&name, "spec", text("spec"))?
        .map(EnvironmentSpec::from_value)
        .transpose()
        .map_err(|e| corrupt(&name, "spec", &e.to_string()))?;
    Ok(Entry {
        status,
        execution: text("execution"),
        spec,
        record: json_of(&name, "record", text("record"))?,
        created_at: text("created_at"),
        updated_at: text("updated_at"),
        error: text("error"),
        cause: text("cause"),
        removed: json_of(&name, "removed", text("removed"))?.unwrap_or_default(),
        name,
    })
}

fn json_of<T: DeserializeOwned>(
    name: &str,
    field: &str,
    text: Option<String>,
) -> Result<Option<T>, MecError> {
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| corrupt(name, field, &e.to_string()))
}

fn corrupt(name: &str, field: &str, why: &str) -> MecError {
    MecError::AwsError {
        operation: "GetItem".into(),
        code: "CorruptRegistryItem".into(),
        message: format!("the registry item of {name} has a bad `{field}`: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    #[test]
    fn an_item_reads_as_a_typed_entry() {
        let item = HashMap::from([
            ("name".to_string(), s("lab-1")),
            ("status".to_string(), s("FAILED")),
            (
                "execution".to_string(),
                s("arn:aws:states:us-east-1:123456789012:execution:mec-provision:x"),
            ),
            ("spec".to_string(), s(r#"{"name":"lab-1","workers":1}"#)),
            ("error".to_string(), s("CommandFailed")),
            ("removed".to_string(), s(r#"[{"kind":"vpc","id":"vpc-1"}]"#)),
        ]);
        let e = entry(&item).unwrap();
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.spec.unwrap().workers, 1);
        assert_eq!(e.removed.len(), 1);
        assert_eq!(e.error.as_deref(), Some("CommandFailed"));
    }

    #[test]
    fn a_bad_item_is_an_error_naming_the_field() {
        let item = HashMap::from([
            ("name".to_string(), s("lab-1")),
            ("status".to_string(), s("SLEEPING")),
        ]);
        let err = entry(&item).unwrap_err().to_string();
        assert!(err.contains("`status`") && err.contains("lab-1"), "{err}");
        let item = HashMap::from([
            ("name".to_string(), s("lab-1")),
            ("status".to_string(), s("READY")),
            ("record".to_string(), s("{\"name\": 1}")),
        ]);
        assert!(entry(&item).unwrap_err().to_string().contains("`record`"));
    }
}
