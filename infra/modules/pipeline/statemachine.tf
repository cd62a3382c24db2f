# The provisioning and teardown state machines, from the templates in statemachine/.

locals {
  state_machine_template_settings = {
    functions                  = { for key in keys(local.functions) : key => aws_lambda_function.step[key].arn }
    node_poll_seconds          = var.node_poll_seconds
    command_poll_seconds       = var.command_poll_seconds
    retry_interval_seconds     = var.retry_interval_seconds
    consistency_settle_seconds = var.consistency_settle_seconds
    registry_table             = aws_dynamodb_table.environments.name
  }

  # Each machine with its execution timeout (budget.tf).
  state_machines = {
    for kind in ["provision", "teardown"] : kind => templatefile(
      "${path.module}/../../../statemachine/${kind}.asl.json",
      merge(local.state_machine_template_settings, { execution_timeout_seconds = local.execution_timeout_seconds[kind] })
    )
  }
}

resource "aws_cloudwatch_log_group" "state_machine" {
  for_each = local.state_machines

  name              = "/aws/vendedlogs/states/${var.name_prefix}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.mec.arn
  tags              = local.tags
}

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "state_machine" {
  statement {
    sid       = "InvokeSteps"
    actions   = ["lambda:InvokeFunction"]
    resources = flatten([for f in aws_lambda_function.step : [f.arn, "${f.arn}:*"]])
  }

  # The registry's item of each environment, written at each status change (registry.tf).
  statement {
    sid       = "WriteRegistry"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [local.registry_arn]
  }

  # A teardown takes over a name whose owning execution ended without saying so (timed out,
  # aborted): it reads that execution's status first. Names, not references: no cycle.
  statement {
    sid       = "ReadRegistryOwners"
    actions   = ["states:DescribeExecution"]
    resources = [for kind in ["provision", "teardown"] : "${local.execution_arn_prefix}:${var.name_prefix}-${kind}:*"]
  }

  # Step Functions log delivery and X-Ray accept no narrower resource than "*".
  statement {
    sid = "DeliverLogs"
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    ]
    resources = ["*"] #tfsec:ignore:aws-iam-no-policy-wildcards
  }

  statement {
    sid       = "SendTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${var.name_prefix}-state-machine"
  description        = "Runs the mec state machines: invokes the step functions, writes the environment registry"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "invoke-steps"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

resource "aws_sfn_state_machine" "pipeline" {
  for_each = local.state_machines

  lifecycle {
    precondition {
      condition     = local.execution_timeout_seconds.provision >= local.derived_execution_timeout_seconds.provision
      error_message = "execution_timeout_seconds is below the sum of the provisioning machine's bounded waits and Tasks (${local.derived_execution_timeout_seconds.provision} s, budget.tf): the execution would time out before a wait's own deadline, skipping the rollback. Leave it null."
    }
  }

  name       = "${var.name_prefix}-${each.key}"
  role_arn   = aws_iam_role.state_machine.arn
  definition = each.value
  type       = "STANDARD"

  logging_configuration {
    log_destination = "${aws_cloudwatch_log_group.state_machine[each.key].arn}:*"
    # Step inputs and outputs hold no secrets by design (tokens and kubeconfigs stay in SSM).
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  tags = local.tags
}
