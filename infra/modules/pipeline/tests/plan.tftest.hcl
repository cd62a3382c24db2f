# Plan-mode tests of the pipeline module with a mocked AWS provider: no endpoint, no account.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

override_resource {
  target          = aws_lambda_function.step["validate"]
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mec-validate" }
}

override_resource {
  target          = aws_lambda_function.step["network"]
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mec-network" }
}

override_resource {
  target          = aws_lambda_function.step["master"]
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mec-master" }
}

override_resource {
  target          = aws_lambda_function.step["workers"]
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mec-workers" }
}

override_resource {
  target          = aws_lambda_function.step["install"]
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mec-install" }
}

override_resource {
  target          = aws_lambda_function.step["join"]
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mec-join" }
}

override_resource {
  target          = aws_lambda_function.step["teardown"]
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mec-teardown" }
}

override_resource {
  target          = aws_lambda_function.step["lifecycle"]
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mec-lifecycle" }
}

override_resource {
  target          = aws_lambda_function.step["reaper"]
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mec-reaper" }
}

override_resource {
  target          = aws_lambda_function.api
  override_during = plan
  values          = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mec-api", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:mec-api/invocations" }
}

override_resource {
  target          = aws_dynamodb_table.environments
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/mec-environments" }
}

variables {
  lambda_dir       = "./tests/fixtures/lambdas"
  api_auth         = "jwt"
  api_jwt_issuer   = "https://issuer.example.com/"
  api_jwt_audience = ["mec-portal"]
  api_cors_origins = ["https://portal.example.com"]
  scheduled_environments = {
    lab-1 = {
      spec         = { name = "lab-1", workers = 2 }
      create_cron  = "cron(0 8 ? * MON-FRI *)"
      destroy_cron = "cron(0 20 ? * MON-FRI *)"
    }
  }
}

run "every_function_logs_to_a_group_with_retention" {
  command = plan

  assert {
    condition     = length(aws_lambda_function.step) == 9
    error_message = "Expected the nine functions: seven steps, lifecycle and reaper."
  }
  assert {
    condition = alltrue([
      for key, f in aws_lambda_function.step :
      aws_cloudwatch_log_group.function[key].name == "/aws/lambda/${f.function_name}" && aws_cloudwatch_log_group.function[key].retention_in_days >= 1
    ])
    error_message = "Every function must log to its own log group, with a retention."
  }
  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.state_machine : g.retention_in_days >= 1])
    error_message = "The state machines' log groups need a retention."
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.step : f.tracing_config[0].mode == "Active" && f.runtime == "provided.al2023" && f.architectures[0] == "arm64"])
    error_message = "Functions run on provided.al2023, arm64 by default, with X-Ray tracing."
  }
}

run "no_policy_allows_wildcard_actions" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for p in aws_iam_role_policy.function : [
        for s in jsondecode(p.policy).Statement : [for a in s.Action : a != "*" && !endswith(a, ":*")]
      ]
    ]))
    error_message = "No function policy may allow \"*\" or \"service:*\" actions."
  }
  assert {
    condition = alltrue(flatten([
      for p in aws_iam_role_policy.function : [for s in jsondecode(p.policy).Statement : s.Effect == "Allow"]
    ]))
    error_message = "Function policies only allow."
  }
}

run "policies_match_the_action_lists_beside_the_functions" {
  command = plan

  assert {
    condition = alltrue([
      for key, p in aws_iam_role_policy.function : (
        length(setsubtract(
          toset(flatten([for s in jsondecode(p.policy).Statement : s.Action if !contains(["WriteOwnLogs", "SendTraces"], s.Sid)])),
          toset(compact([for l in split("\n", file("${path.module}/../../../functions/${key}/iam-actions.txt")) : trimspace(split("#", l)[0])]))
        )) == 0
        && length(setsubtract(
          toset(compact([for l in split("\n", file("${path.module}/../../../functions/${key}/iam-actions.txt")) : trimspace(split("#", l)[0])])),
          toset(flatten([for s in jsondecode(p.policy).Statement : s.Action if !contains(["WriteOwnLogs", "SendTraces"], s.Sid)]))
        )) == 0
      )
    ])
    error_message = "Each function's policy must allow exactly the actions of functions/<name>/iam-actions.txt."
  }
}

run "state_machines_name_only_existing_functions" {
  command = plan

  assert {
    condition = length(setsubtract(
      toset(flatten([for m in aws_sfn_state_machine.pipeline : [for match in regexall("\"FunctionName\": \"([^\"]+)\"", m.definition) : match[0]]])),
      toset([for f in aws_lambda_function.step : f.arn])
    )) == 0
    error_message = "Every function a state machine invokes must be one of the module's functions."
  }
  assert {
    condition = length(setsubtract(
      toset([for key, f in aws_lambda_function.step : f.arn if key != "reaper"]),
      toset([for match in regexall("\"FunctionName\": \"([^\"]+)\"", aws_sfn_state_machine.pipeline["provision"].definition) : match[0]])
    )) == 0
    error_message = "The provisioning machine must use every step function (the reaper runs on its own schedule)."
  }
  assert {
    condition     = alltrue([for m in aws_sfn_state_machine.pipeline : m.tracing_configuration[0].enabled && m.logging_configuration[0].level == "ALL"])
    error_message = "State machines trace and log."
  }
}

run "launch_steps_get_the_node_settings" {
  command = plan

  assert {
    condition = alltrue([
      for key in ["master", "workers"] :
      aws_lambda_function.step[key].environment[0].variables["MEC_NODE_INSTANCE_PROFILE"] == aws_iam_instance_profile.node.name
      && aws_lambda_function.step[key].environment[0].variables["MEC_PARAMETER_KMS_KEY"] == aws_kms_key.mec.arn
    ])
    error_message = "The launch steps must know the node instance profile and the KMS key."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.node_ssm.policy_arn == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    error_message = "Nodes must be SSM-managed."
  }
  assert {
    condition     = aws_kms_key.mec.enable_key_rotation
    error_message = "The KMS key rotates."
  }
}

run "schedules_start_the_machines_with_the_spec" {
  command = plan

  assert {
    condition     = jsondecode(jsondecode(aws_scheduler_schedule.create["lab-1"].target[0].input).Input).name == "lab-1" && strcontains(aws_scheduler_schedule.create["lab-1"].target[0].input, "\"lab-1--c-<aws.scheduler.execution-id>\"")
    error_message = "The create schedule passes the spec and names the execution <env>--c-<id>, the context attribute written raw (not \\u003c-escaped)."
  }
  assert {
    condition     = jsondecode(jsondecode(aws_scheduler_schedule.destroy["lab-1"].target[0].input).Input) == { name = "lab-1" } && aws_scheduler_schedule.destroy["lab-1"].target[0].arn == "arn:aws:scheduler:::aws-sdk:sfn:startExecution"
    error_message = "The destroy schedule passes the name through the universal StartExecution target."
  }
  assert {
    condition     = aws_scheduler_schedule.reaper.target[0].arn == aws_lambda_function.step["reaper"].arn && aws_scheduler_schedule.reaper.schedule_expression == "rate(15 minutes)"
    error_message = "The reaper runs on its own schedule."
  }
  assert {
    condition = alltrue([
      for key in ["lifecycle", "reaper", "teardown"] :
      aws_lambda_function.step[key].environment[0].variables["MEC_SCHEDULE_GROUP"] == "mec"
      && aws_lambda_function.step[key].environment[0].variables["MEC_TEARDOWN_STATE_MACHINE_ARN"] == "arn:aws:states:eu-west-1:123456789012:stateMachine:mec-teardown"
      && aws_lambda_function.step[key].environment[0].variables["MEC_PROVISION_STATE_MACHINE_ARN"] == "arn:aws:states:eu-west-1:123456789012:stateMachine:mec-provision"
    ])
    error_message = "Lifecycle, reaper and teardown know the schedule group and the state machines."
  }
}

run "execution_timeouts_cover_every_bounded_wait" {
  command = plan

  assert {
    condition     = jsondecode(aws_sfn_state_machine.pipeline["provision"].definition).TimeoutSeconds == local.derived_execution_timeout_seconds.provision
    error_message = "By default the provisioning machine's execution timeout is the derived bound (budget.tf)."
  }
  assert {
    # Node wait, the command phases and the rollback's passes alone exceed the former fixed hour.
    condition     = local.derived_execution_timeout_seconds.provision > var.node_wait_seconds + local.commands_budget_seconds + var.teardown_wait_seconds
    error_message = "The provisioning bound covers the node wait, every command phase and the rollback."
  }
  assert {
    condition     = jsondecode(aws_sfn_state_machine.pipeline["teardown"].definition).TimeoutSeconds > var.teardown_wait_seconds
    error_message = "The teardown machine's execution timeout covers its own wait."
  }
  assert {
    condition     = aws_lambda_function.step["validate"].environment[0].variables["MEC_COMMANDS_BUDGET_SECONDS"] == tostring(local.commands_budget_seconds)
    error_message = "The validate step knows the command phases' budget, to refuse a spec that needs more."
  }
}

run "an_execution_timeout_below_the_bound_is_refused" {
  command = plan

  variables {
    execution_timeout_seconds = 3600
  }

  expect_failures = [aws_sfn_state_machine.pipeline]
}

run "bad_variables_are_refused" {
  command = plan

  variables {
    lambda_architecture = "sparc"
    node_poll_seconds   = 0.5
    log_retention_days  = 10
    reaper_schedule     = "every 15 minutes"
    api_auth            = "basic"
    api_cors_origins    = ["https://portal.example.com/path"]
    scheduled_environments = {
      lab-2 = {
        spec         = { name = "other" }
        create_cron  = "every day"
        destroy_cron = "cron(0 20 * * ? *)"
      }
    }
  }

  expect_failures = [
    var.lambda_architecture,
    var.node_poll_seconds,
    var.log_retention_days,
    var.reaper_schedule,
    var.scheduled_environments,
    var.api_auth,
    var.api_cors_origins,
  ]
}

run "api_serves_the_documented_routes_through_the_api_function" {
  command = plan

  assert {
    condition = toset([for r in aws_apigatewayv2_route.api : r.route_key]) == toset([
      "POST /environments", "GET /environments", "GET /environments/{name}", "DELETE /environments/{name}"
    ])
    error_message = "The HTTP API's routes are exactly the OpenAPI document's operations."
  }
  assert {
    condition     = alltrue([for r in aws_apigatewayv2_route.api : r.authorization_type == "JWT"])
    error_message = "Every route is authorized with JWTs when api_auth is \"jwt\"."
  }
  assert {
    condition     = aws_apigatewayv2_authorizer.jwt[0].jwt_configuration[0].issuer == "https://issuer.example.com/" && aws_apigatewayv2_authorizer.jwt[0].jwt_configuration[0].audience == toset(["mec-portal"])
    error_message = "The JWT authorizer takes the issuer and audience variables."
  }
  assert {
    condition     = aws_apigatewayv2_integration.api.integration_type == "AWS_PROXY" && aws_apigatewayv2_integration.api.payload_format_version == "2.0"
    error_message = "Lambda proxy integration, payload format 2.0."
  }
  assert {
    condition     = aws_apigatewayv2_stage.api.default_route_settings[0].throttling_rate_limit == 10 && aws_apigatewayv2_stage.api.default_route_settings[0].throttling_burst_limit == 20
    error_message = "The stage throttles."
  }
  assert {
    condition     = length(aws_apigatewayv2_stage.api.access_log_settings) == 1 && aws_cloudwatch_log_group.api_access.kms_key_id == aws_kms_key.mec.arn
    error_message = "The stage writes access logs to an encrypted log group."
  }
  assert {
    condition     = aws_apigatewayv2_api.http.cors_configuration[0].allow_origins == toset(["https://portal.example.com"])
    error_message = "CORS admits the configured portal origins."
  }
  assert {
    condition     = aws_lambda_permission.api.principal == "apigateway.amazonaws.com"
    error_message = "API Gateway may invoke the api function."
  }
  assert {
    condition = (
      toset(flatten([for s in jsondecode(aws_iam_role_policy.api.policy).Statement : s.Action if !contains(["WriteOwnLogs", "SendTraces"], s.Sid)]))
      == toset(compact([for l in split("\n", file("${path.module}/../../../functions/api/iam-actions.txt")) : trimspace(split("#", l)[0])]))
    )
    error_message = "The api function's policy allows exactly the actions of functions/api/iam-actions.txt."
  }
}

run "api_can_use_iam_auth_instead" {
  command = plan

  variables {
    api_auth         = "iam"
    api_jwt_issuer   = null
    api_jwt_audience = []
    api_cors_origins = []
  }

  assert {
    condition     = alltrue([for r in aws_apigatewayv2_route.api : r.authorization_type == "AWS_IAM"]) && length(aws_apigatewayv2_authorizer.jwt) == 0
    error_message = "With api_auth = \"iam\" every route needs SigV4 and there is no JWT authorizer."
  }
  assert {
    condition     = length(aws_apigatewayv2_api.http.cors_configuration) == 0
    error_message = "No CORS without portal origins."
  }
}

run "the_registry_is_encrypted_recoverable_and_the_api_reaches_only_it" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.environments.server_side_encryption[0].enabled && aws_dynamodb_table.environments.point_in_time_recovery[0].enabled && aws_dynamodb_table.environments.billing_mode == "PAY_PER_REQUEST"
    error_message = "The registry is encrypted with the pipeline's key, has point-in-time recovery, and costs nothing idle."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.api.policy).Statement :
      s.Resource == ["arn:aws:dynamodb:eu-west-1:123456789012:table/mec-environments"] if anytrue([for a in s.Action : startswith(a, "dynamodb:")])
    ])
    error_message = "The api function reads (and repairs) the registry table only."
  }
}
