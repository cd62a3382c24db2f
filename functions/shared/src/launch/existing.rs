//! The environment's instances as they are: found by tag, live ones only, each with the node
//! index it carries (an instance a died launch left without one gets the lowest free index).

use super::*;

/// States in which an instance still counts as a node of the environment.
pub(crate) const LIVE_STATES: &[&str] = &["pending", "running", "stopping", "stopped"];

/// An instance and the node index it carries (or was just given).
#[derive(Debug, Clone)]
pub struct IndexedInstance {
    pub index: u32,
    pub instance: Instance,
}

/// Live instances of the environment (of one role, or all), with the index from their tags
/// (`u32::MAX` when a launch died before tagging it).
pub async fn find_instances(
    aws: &Aws,
    environment: &str,
    role: Option<Role>,
) -> Result<Vec<IndexedInstance>, MecError> {
    let mut filters = vec![
        tags::environment_filter(environment),
        Filter::builder()
            .name("instance-state-name")
            .set_values(Some(LIVE_STATES.iter().map(|s| s.to_string()).collect()))
            .build(),
    ];
    if let Some(role) = role {
        filters.push(tags::filter(tags::ROLE, role.as_str()));
    }
    let mut found = Vec::new();
    let mut pages = aws
        .ec2
        .describe_instances()
        .set_filters(Some(filters))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| MecError::from_sdk("DescribeInstances", e))?;
        for instance in page.reservations().iter().flat_map(|r| r.instances()) {
            let index = tags::value_of(instance.tags(), tags::INDEX)
                .and_then(|v| v.parse().ok())
                .unwrap_or(u32::MAX);
            found.push(IndexedInstance {
                index,
                instance: instance.clone(),
            });
        }
    }
    Ok(found)
}

/// Gives instances that a died launch left without an index the lowest free indexes of
/// `indexes` (the launch's own range).
pub(crate) async fn index_untagged(
    aws: &Aws,
    environment: &str,
    role: Role,
    instances: &mut [IndexedInstance],
    indexes: &std::ops::Range<u32>,
) -> Result<(), MecError> {
    let total = indexes.start..indexes.start + instances.len() as u32;
    let mut free = free_indexes(instances, &total).into_iter();
    for entry in instances.iter_mut().filter(|i| i.index == u32::MAX) {
        if let Some(index) = free.next() {
            tag_index(aws, environment, role, &entry.instance, index).await?;
            entry.index = index;
        }
    }
    Ok(())
}

/// Indexes of `indexes` that no instance carries yet, lowest first.
pub(crate) fn free_indexes(
    instances: &[IndexedInstance],
    indexes: &std::ops::Range<u32>,
) -> Vec<u32> {
    indexes
        .clone()
        .filter(|i| !instances.iter().any(|e| e.index == *i))
        .collect()
}

pub(crate) async fn tag_index(
    aws: &Aws,
    environment: &str,
    role: Role,
    instance: &Instance,
    index: u32,
) -> Result<(), MecError> {
    let id = instance.instance_id().unwrap_or_default();
    // Right after RunInstances, EC2 may not know the instance yet (eventual consistency).
    send_after_create!(
        "CreateTags",
        aws.ec2
            .create_tags()
            .resources(id)
            .tags(tags::tag(tags::INDEX, &index.to_string()))
            .tags(tags::tag(
                tags::NAME,
                &naming::node_name(environment, role, index),
            ))
    )?;
    Ok(())
}
