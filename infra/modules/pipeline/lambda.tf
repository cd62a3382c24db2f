# The step functions: Rust binaries on the provided.al2023 runtime, zipped by cargo-lambda.

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.mec.arn
  tags              = local.tags
}

resource "aws_lambda_function" "step" {
  for_each = local.functions

  # checkov:skip=CKV_AWS_116:Invoked synchronously by Step Functions, which retries and catches; a DLQ only serves async invocations.
  # checkov:skip=CKV_AWS_117:The steps call only AWS APIs; a VPC would add NAT cost and cold-start time for no isolation gain.
  # checkov:skip=CKV_AWS_173:The environment holds settings, never secrets (those live in SecureString parameters).
  # checkov:skip=CKV_AWS_272:Code signing needs a signing profile the operator owns; the zips are built from this repository.
  # checkov:skip=CKV_AWS_115:Reserved concurrency would take from the account's pool; one environment uses a handful of invocations.
  function_name = local.function_names[each.key]
  description   = each.value.description
  role          = aws_iam_role.function[each.key].arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [var.lambda_architecture]
  memory_size   = var.lambda_memory_mb
  timeout       = each.value.timeout

  filename         = "${var.lambda_dir}/mec-${each.key}/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_dir}/mec-${each.key}/bootstrap.zip")

  environment {
    variables = local.function_settings
  }

  tracing_config {
    mode = "Active"
  }

  tags = local.tags

  # The log group (/aws/lambda/<name>, Lambda's default) exists before the function writes to it,
  # so it has our retention and key. The functions log JSON themselves (tracing).
  depends_on = [aws_iam_role_policy.function, aws_cloudwatch_log_group.function]
}
