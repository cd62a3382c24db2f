# Environments created and destroyed on a schedule (e.g. a lab every weekday 08:00-20:00).

locals {
  # EventBridge Scheduler's universal target for Step Functions' StartExecution.
  scheduled_start_target = "arn:${local.partition}:scheduler:::aws-sdk:sfn:startExecution"
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "StartPipelines"
    actions   = ["states:StartExecution"]
    resources = [for m in aws_sfn_state_machine.pipeline : m.arn]
  }
  statement {
    sid       = "RunTheReaper"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.step["reaper"].arn]
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name_prefix}-scheduler"
  description        = "Lets EventBridge Scheduler start mec's state machines"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "start-pipelines"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule_group" "mec" {
  name = var.name_prefix
  tags = local.tags
}

resource "aws_scheduler_schedule" "create" {
  # checkov:skip=CKV_AWS_297:The schedule's input is an environment spec or name, never a secret; AWS-owned encryption suffices.
  for_each = var.scheduled_environments

  name                         = "${each.key}-create"
  group_name                   = aws_scheduler_schedule_group.mec.name
  schedule_expression          = each.value.create_cron
  schedule_expression_timezone = each.value.timezone

  flexible_time_window {
    mode = "OFF"
  }

  # The universal StartExecution target names the execution <env>--c-<scheduler's id>, as the
  # CLI and the API name theirs (for people reading the console; the registry, not the name,
  # ties a run to its environment). jsonencode writes < and > as
  # \u003c and \u003e; Scheduler finds its context attributes in the raw text, so undo that.
  target {
    arn      = local.scheduled_start_target
    role_arn = aws_iam_role.scheduler.arn
    input = replace(replace(jsonencode({
      StateMachineArn = aws_sfn_state_machine.pipeline["provision"].arn
      Name            = "${each.key}--c-<aws.scheduler.execution-id>"
      Input           = jsonencode(each.value.spec)
    }), "\\u003c", "<"), "\\u003e", ">")
  }
}

resource "aws_scheduler_schedule" "destroy" {
  # checkov:skip=CKV_AWS_297:The schedule's input is an environment spec or name, never a secret; AWS-owned encryption suffices.
  for_each = var.scheduled_environments

  name                         = "${each.key}-destroy"
  group_name                   = aws_scheduler_schedule_group.mec.name
  schedule_expression          = each.value.destroy_cron
  schedule_expression_timezone = each.value.timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = local.scheduled_start_target
    role_arn = aws_iam_role.scheduler.arn
    input = replace(replace(jsonencode({
      StateMachineArn = aws_sfn_state_machine.pipeline["teardown"].arn
      Name            = "${each.key}--d-<aws.scheduler.execution-id>"
      Input           = jsonencode({ name = each.key })
    }), "\\u003c", "<"), "\\u003e", ">")
  }
}

# Environments that should not exist any more (TTL passed, a teardown or rollback that never
# finished) are torn down by the reaper. Expiry schedules are one-time schedules in the same group,
# created by the lifecycle step at run time (not by Terraform).
resource "aws_scheduler_schedule" "reaper" {
  # checkov:skip=CKV_AWS_297:The schedule's input is an empty object; AWS-owned encryption suffices.
  name                         = "reaper"
  group_name                   = aws_scheduler_schedule_group.mec.name
  description                  = "mec: tear down environments whose TTL passed or whose teardown or rollback never finished"
  schedule_expression          = var.reaper_schedule
  schedule_expression_timezone = "UTC"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.step["reaper"].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({})
  }
}
