# The provisioning and teardown state machines, from the templates in statemachine/.

locals {
  state_machine_settings = {
    functions                 = { for key in keys(local.functions) : key => aws_lambda_function.step[key].arn }
    node_poll_seconds         = var.node_poll_seconds
    command_poll_seconds      = var.command_poll_seconds
    node_poll_max_attempts    = var.node_poll_max_attempts
    command_poll_max_attempts = var.command_poll_max_attempts
    retry_interval_seconds    = var.retry_interval_seconds
    execution_timeout_seconds = var.execution_timeout_seconds
  }

  state_machines = {
    provision = templatefile("${path.module}/../../../statemachine/provision.asl.json", local.state_machine_settings)
    teardown  = templatefile("${path.module}/../../../statemachine/teardown.asl.json", local.state_machine_settings)
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
  description        = "Runs the mec state machines: invokes the step functions"
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
