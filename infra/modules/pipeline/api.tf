# The HTTP API for portals: an API Gateway HTTP API whose routes are read from the OpenAPI
# document (functions/api/openapi.json, checked against the function's router by a Rust test),
# a Lambda proxy integration (payload 2.0) to the api function, JWT or IAM authorization, CORS
# for the portals' origins, stage throttling and access logs.

locals {
  api_name = "${var.name_prefix}-api"

  # "POST /environments", "GET /environments/{name}", ...: exactly the document's operations.
  api_routes = toset(flatten([
    for path, item in jsondecode(file("${path.module}/../../../functions/api/openapi.json")).paths : [
      for method, _ in item : "${upper(method)} ${path}" if method != "parameters"
    ]
  ]))

  execution_arn_prefix = "arn:${local.partition}:states:${local.region}:${local.account}:execution"

  api_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "StartPipelines"
        Effect   = "Allow"
        Action   = ["states:StartExecution"]
        Resource = [for m in aws_sfn_state_machine.pipeline : m.arn]
      },
      {
        # Read every environment; UpdateItem only marks FAILED a record whose owning execution
        # ended without saying so (mec_shared::environments).
        Sid      = "ReadRegistry"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:UpdateItem"]
        Resource = [local.registry_arn]
      },
      {
        # A spec's edge zone is checked before a run starts (no resource-level permissions).
        Sid      = "CheckEdgeZones"
        Effect   = "Allow"
        Action   = ["ec2:DescribeAvailabilityZones"]
        Resource = ["*"]
      },
      {
        Sid      = "ReadPipelineExecutions"
        Effect   = "Allow"
        Action   = ["states:DescribeExecution", "states:GetExecutionHistory"]
        Resource = [for m in aws_sfn_state_machine.pipeline : "${local.execution_arn_prefix}:${m.name}:*"]
      },
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.api_function.arn}:*"]
      },
      {
        Sid      = "SendTraces"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = ["*"]
      },
    ]
  }
}

resource "aws_cloudwatch_log_group" "api_function" {
  name              = "/aws/lambda/${local.api_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.mec.arn
  tags              = local.tags
}

resource "aws_iam_role" "api" {
  name               = "${local.api_name}-function"
  description        = "Role of the ${local.api_name} Lambda: start the pipeline's executions, read the environment registry"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "api" {
  name   = "least-privilege"
  role   = aws_iam_role.api.id
  policy = jsonencode(local.api_policy)
}

resource "aws_lambda_function" "api" {
  # checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway, which returns the error to the caller; a DLQ only serves async invocations.
  # checkov:skip=CKV_AWS_117:The function calls only the Step Functions and DynamoDB APIs; a VPC would add NAT cost and cold-start time for no isolation gain.
  # checkov:skip=CKV_AWS_173:The environment holds two state machine ARNs and a table name, never secrets.
  # checkov:skip=CKV_AWS_272:Code signing needs a signing profile the operator owns; the zips are built from this repository.
  # checkov:skip=CKV_AWS_115:The stage's throttling (api_throttling_rate_limit) bounds the function's concurrency instead.
  function_name = local.api_name
  description   = "mec: HTTP API for portals (create, list, read, delete environments)"
  role          = aws_iam_role.api.arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [var.lambda_architecture]
  memory_size   = var.lambda_memory_mb
  # Below API Gateway's 30 s integration limit.
  timeout = 25

  filename         = "${var.lambda_dir}/mec-api/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_dir}/mec-api/bootstrap.zip")

  environment {
    variables = {
      RUST_LOG                        = "info"
      MEC_PROVISION_STATE_MACHINE_ARN = aws_sfn_state_machine.pipeline["provision"].arn
      MEC_TEARDOWN_STATE_MACHINE_ARN  = aws_sfn_state_machine.pipeline["teardown"].arn
      MEC_REGISTRY_TABLE              = aws_dynamodb_table.environments.name
    }
  }

  tracing_config {
    mode = "Active"
  }

  tags       = local.tags
  depends_on = [aws_iam_role_policy.api, aws_cloudwatch_log_group.api_function]
}

resource "aws_apigatewayv2_api" "http" {
  name          = local.api_name
  description   = "mec: environments for portals (functions/api/openapi.json)"
  protocol_type = "HTTP"
  tags          = local.tags

  dynamic "cors_configuration" {
    for_each = length(var.api_cors_origins) > 0 ? [1] : []
    content {
      allow_origins  = var.api_cors_origins
      allow_methods  = ["GET", "POST", "DELETE", "OPTIONS"]
      allow_headers  = ["authorization", "content-type", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]
      expose_headers = ["location"]
      max_age        = 3600
    }
  }
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  count = var.api_auth == "jwt" ? 1 : 0

  api_id           = aws_apigatewayv2_api.http.id
  name             = "${local.api_name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.api_jwt_issuer
    audience = var.api_jwt_audience
  }
}

resource "aws_apigatewayv2_integration" "api" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.api.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_route" "api" {
  for_each = local.api_routes

  api_id             = aws_apigatewayv2_api.http.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = var.api_auth == "jwt" ? "JWT" : "AWS_IAM"
  authorizer_id      = var.api_auth == "jwt" ? aws_apigatewayv2_authorizer.jwt[0].id : null
}

resource "aws_cloudwatch_log_group" "api_access" {
  name              = "/aws/apigateway/${local.api_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.mec.arn
  tags              = local.tags
}

resource "aws_apigatewayv2_stage" "api" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
  tags        = local.tags

  default_route_settings {
    throttling_burst_limit = var.api_throttling_burst_limit
    throttling_rate_limit  = var.api_throttling_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      sourceIp       = "$context.identity.sourceIp"
      caller         = "$context.authorizer.claims.sub"
      iamCaller      = "$context.identity.userArn"
      requestTime    = "$context.requestTime"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      responseLength = "$context.responseLength"
      latencyMs      = "$context.integrationLatency"
      error          = "$context.error.message"
      authorizer     = "$context.authorizer.error"
    })
  }
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}
