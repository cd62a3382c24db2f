# mec pipeline: the step functions, their roles, the SSM documents, the state machines and the
# schedules. Files are split by concern: lambda.tf, iam.tf, nodes.tf, documents.tf,
# statemachine.tf, scheduler.tf, kms.tf.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id

  # One entry per Lambda: what it does, and its timeout (below its Task's TimeoutSeconds).
  functions = {
    validate  = { description = "mec: validate a spec and fill in its defaults", timeout = 10 }
    network   = { description = "mec: VPC, subnet, gateway, routes and security group of an environment", timeout = 60 }
    master    = { description = "mec: launch an environment's control-plane nodes", timeout = 90 }
    workers   = { description = "mec: launch an environment's workers in batches", timeout = 240 }
    install   = { description = "mec: wait for nodes, install MicroK8s through SSM", timeout = 50 }
    join      = { description = "mec: join token, worker joins and Ready check through SSM", timeout = 50 }
    teardown  = { description = "mec: delete everything tagged for an environment", timeout = 100 }
    lifecycle = { description = "mec: tag an environment with its run and expiry, schedule the expiry", timeout = 30 }
    reaper    = { description = "mec: tear down environments whose TTL passed or whose teardown or rollback never finished", timeout = 120 }
  }

  # Built from names, not resource references: the functions' settings name the state machines,
  # which name the functions.
  state_machine_arns = {
    for kind in ["provision", "teardown"] : kind => "arn:${local.partition}:states:${local.region}:${local.account}:stateMachine:${var.name_prefix}-${kind}"
  }

  function_names = { for key in keys(local.functions) : key => "${var.name_prefix}-${key}" }

  # Settings every function reads at cold start (mec_shared::Settings); nulls are left out.
  function_settings = { for k, v in {
    RUST_LOG                        = "info"
    MEC_NODE_INSTANCE_PROFILE       = aws_iam_instance_profile.node.name
    MEC_AMI_ID                      = var.ami_id
    MEC_AMI_PARAMETER_ARM64         = var.ami_parameters.arm64
    MEC_AMI_PARAMETER_X86_64        = var.ami_parameters.x86_64
    MEC_INSTALL_DOCUMENT            = aws_ssm_document.install.name
    MEC_JOIN_DOCUMENT               = aws_ssm_document.join.name
    MEC_PARAMETER_KMS_KEY           = aws_kms_key.mec.arn
    MEC_JOIN_TOKEN_TTL_SECONDS      = tostring(var.join_token_ttl_seconds)
    MEC_SCHEDULE_GROUP              = aws_scheduler_schedule_group.mec.name
    MEC_SCHEDULER_ROLE_ARN          = aws_iam_role.scheduler.arn
    MEC_PROVISION_STATE_MACHINE_ARN = local.state_machine_arns.provision
    MEC_TEARDOWN_STATE_MACHINE_ARN  = local.state_machine_arns.teardown
    MEC_NODE_WAIT_SECONDS           = tostring(var.node_wait_seconds)
    MEC_TEARDOWN_WAIT_SECONDS       = tostring(var.teardown_wait_seconds)
    MEC_COMMANDS_BUDGET_SECONDS     = tostring(local.commands_budget_seconds)
  } : k => v if v != null }

  tags = merge(var.tags, { "mec:component" = "pipeline" })
}
