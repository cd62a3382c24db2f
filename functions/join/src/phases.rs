//! Each phase's commands: `mint` (a token on the first master), `join` (the other nodes), `verify`
//! (every node Ready, and the master's kubeconfig published) and `addons`. Each returns what it
//! sent; nothing when there is nothing to do.

use super::*;

/// Stores a new token (a new one per attempt: a failed join may consume a token) and has the
/// first master accept it for `join_token_ttl_seconds`. A lone master has no node to join: no
/// token, no command.
pub(crate) async fn mint(
    aws: &Aws,
    settings: &Settings,
    input: &JoinInput,
) -> Result<JoinSent, MecError> {
    if input.masters.len() == 1 && input.workers.is_empty() {
        return Ok(JoinSent::new(JoinPhase::Mint, Vec::new(), 0));
    }
    let environment = &input.spec.name;
    let name = naming::join_token_parameter(environment);
    let secret = EnvironmentSecret {
        name: &name,
        environment,
        vpc_id: vpc_of(input, "mint")?,
        tier: Tier::Standard,
        description: format!("mec join token of {environment} (deleted after verify)"),
    };
    parameters::put(aws, settings, &secret, &new_token(), IfExists::Overwrite).await?;

    let mut parameters = base_parameters(aws, settings, JoinPhase::Mint.as_str());
    parameters.insert("tokenParameter", name);
    let commands = send(
        aws,
        settings,
        &input.spec,
        JoinPhase::Mint.as_str(),
        parameters,
        std::slice::from_ref(first_master(input)),
    )
    .await?;
    info!(
        ttl_seconds = settings.join_token_ttl_seconds,
        "join token minted"
    );
    Ok(JoinSent::new(
        JoinPhase::Mint,
        commands,
        deadline::join_phase_seconds(),
    ))
}

/// Joins the workers (`--worker`) and the other masters (control plane) to the first master's
/// private address. Control-plane joins run one at a time: each changes the dqlite membership,
/// and dqlite takes one configuration change at a time. Workers (no dqlite) join all at once;
/// the token has a TTL, so it serves every join.
pub(crate) async fn join(
    aws: &Aws,
    settings: &Settings,
    input: &JoinInput,
) -> Result<JoinSent, MecError> {
    let master = first_master(input);
    let address = master
        .private_ip
        .clone()
        .ok_or_else(|| MecError::NodesNotReady(format!("{} has no private IP yet", master.name)))?;
    let mut commands = Vec::new();
    let groups = [(&input.masters[1..], false), (&input.workers[..], true)];
    for (nodes, as_worker) in groups {
        if nodes.is_empty() {
            continue;
        }
        let mut parameters = base_parameters(aws, settings, JoinPhase::Join.as_str());
        parameters.insert(
            "tokenParameter",
            naming::join_token_parameter(&input.spec.name),
        );
        parameters.insert("masterAddress", address.clone());
        parameters.insert("asWorker", as_worker.to_string());
        let mut request =
            command_request(settings, &input.spec, JoinPhase::Join.as_str(), parameters);
        let sent = if as_worker {
            commands::send(aws, settings, &request, nodes).await?
        } else {
            // The last control-plane node starts once the others have joined: SSM must still
            // deliver it then.
            request.delivery_timeout_seconds =
                deadline::sequential_delivery_seconds(nodes.len() as u32) as i32;
            commands::send_one_at_a_time(aws, settings, &request, nodes).await?
        };
        commands.extend(sent);
    }
    info!(
        master = master.name,
        joining = input.masters.len() - 1 + input.workers.len(),
        "join sent"
    );
    Ok(JoinSent::new(
        JoinPhase::Join,
        commands,
        deadline::join_seconds(input.masters.len() as u32),
    ))
}

/// Asks the first master to wait until every node is Ready and, beside it, to publish its
/// kubeconfig; deletes the token, no longer needed. The verify command comes first in the list:
/// its output is the one `status` reads.
pub(crate) async fn verify(
    aws: &Aws,
    settings: &Settings,
    input: &JoinInput,
) -> Result<JoinSent, MecError> {
    parameters::delete(aws, &naming::join_token_parameter(&input.spec.name)).await?;
    let mut parameters = base_parameters(aws, settings, JoinPhase::Verify.as_str());
    parameters.insert("expectedNodes", expected_names(input).join(","));
    if input.masters.len() > 1 {
        parameters.insert("controlPlane", control_plane_addresses(input)?.join(","));
    }
    parameters.insert("verifyTimeout", VERIFY_TIMEOUT_SECONDS.to_string());
    let mut commands = send(
        aws,
        settings,
        &input.spec,
        JoinPhase::Verify.as_str(),
        parameters,
        std::slice::from_ref(first_master(input)),
    )
    .await?;
    let published = publish(aws, settings, input).await?;
    commands.extend(published.commands);
    Ok(JoinSent {
        kubeconfig_parameter: Some(published.parameter),
        api_endpoint: Some(published.api_endpoint),
        ..JoinSent::new(JoinPhase::Verify, commands, deadline::join_phase_seconds())
    })
}

/// Installs the spec's add-ons and their dependencies from the first master, in dependency
/// order (nothing to send when the spec names none). Only catalogue names travel: the commands
/// are the document's own cases.
pub(crate) async fn addons(
    aws: &Aws,
    settings: &Settings,
    input: &JoinInput,
) -> Result<JoinSent, MecError> {
    let plan = catalogue::plan(&input.spec)?;
    if plan.is_empty() {
        return Ok(JoinSent::new(JoinPhase::Addons, Vec::new(), 0));
    }
    let names = |optional_only: bool| {
        plan.iter()
            .filter(|p| !optional_only || p.optional)
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut parameters = base_parameters(aws, settings, JoinPhase::Addons.as_str());
    parameters.insert("addons", names(false));
    parameters.insert("optionalAddons", names(true));
    parameters.insert(
        "executionTimeout",
        catalogue::execution_timeout_seconds(&plan)?.to_string(),
    );
    let master = std::slice::from_ref(first_master(input));
    let commands = send(
        aws,
        settings,
        &input.spec,
        JoinPhase::Addons.as_str(),
        parameters,
        master,
    )
    .await?;
    info!(addons = plan.len(), "add-ons sent");
    Ok(JoinSent::new(
        JoinPhase::Addons,
        commands,
        deadline::addons_seconds(&plan)?,
    ))
}

/// The kubeconfig's publish command and where it goes.
pub(crate) struct Published {
    commands: Vec<CommandRef>,
    parameter: String,
    api_endpoint: String,
}

/// What the kubeconfig parameter holds until the master stores the real one.
pub const KUBECONFIG_PLACEHOLDER: &str = "# mec: the master has not stored its kubeconfig yet";

/// Has the first master store its kubeconfig as a SecureString, server rewritten to the master's
/// public address (its private one when it has none). mec creates the parameter first, tagged
/// with the environment's VPC: the master may only overwrite it.
pub(crate) async fn publish(
    aws: &Aws,
    settings: &Settings,
    input: &JoinInput,
) -> Result<Published, MecError> {
    let master = first_master(input);
    let address = master
        .public_ip
        .clone()
        .or_else(|| master.private_ip.clone())
        .ok_or_else(|| MecError::NodesNotReady(format!("{} has no address yet", master.name)))?;
    let environment = &input.spec.name;
    let parameter = naming::kubeconfig_parameter(environment);
    let secret = EnvironmentSecret {
        name: &parameter,
        environment,
        vpc_id: vpc_of(input, "verify")?,
        tier: Tier::Advanced,
        description: format!("mec admin kubeconfig of {environment}"),
    };
    parameters::put(
        aws,
        settings,
        &secret,
        KUBECONFIG_PLACEHOLDER,
        IfExists::Keep,
    )
    .await?;
    let mut parameters = base_parameters(aws, settings, "publish");
    parameters.insert("kubeconfigParameter", parameter.clone());
    parameters.insert("apiAddress", address.clone());
    parameters.insert(
        "kmsKeyId",
        settings.parameter_kms_key.clone().unwrap_or_default(),
    );
    let commands = send(
        aws,
        settings,
        &input.spec,
        "publish",
        parameters,
        std::slice::from_ref(master),
    )
    .await?;
    info!(parameter, "kubeconfig publish sent");
    Ok(Published {
        commands,
        parameter,
        api_endpoint: format!("https://{address}:16443"),
    })
}

/// The private addresses every master must have in the dqlite datastore (HA verify).
pub(crate) fn control_plane_addresses(input: &JoinInput) -> Result<Vec<String>, MecError> {
    input
        .masters
        .iter()
        .map(|m| {
            m.private_ip
                .clone()
                .ok_or_else(|| MecError::NodesNotReady(format!("{} has no private IP yet", m.name)))
        })
        .collect()
}
