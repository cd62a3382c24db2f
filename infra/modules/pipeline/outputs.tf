output "provision_state_machine_arn" {
  description = "Start an execution of this machine with an environment spec to create an environment."
  value       = aws_sfn_state_machine.pipeline["provision"].arn
}

output "teardown_state_machine_arn" {
  description = "Start an execution of this machine with {\"name\": \"<environment>\"} to delete an environment."
  value       = aws_sfn_state_machine.pipeline["teardown"].arn
}

output "function_names" {
  description = "The step functions, by step."
  value       = { for key, f in aws_lambda_function.step : key => f.function_name }
}

output "function_role_arns" {
  description = "The role of each step function, by step."
  value       = { for key, r in aws_iam_role.function : key => r.arn }
}

output "node_role_arn" {
  description = "Role of every cluster node (SSM-managed)."
  value       = aws_iam_role.node.arn
}

output "node_instance_profile" {
  description = "Instance profile the nodes are launched with."
  value       = aws_iam_instance_profile.node.name
}

output "ssm_documents" {
  description = "The SSM Command documents, by purpose."
  value       = { install = aws_ssm_document.install.name, join = aws_ssm_document.join.name }
}

output "kms_key_arn" {
  description = "Key of the environments' SecureString parameters."
  value       = aws_kms_key.mec.arn
}

output "scheduler_role_arn" {
  description = "Role EventBridge Scheduler uses to start the state machines."
  value       = aws_iam_role.scheduler.arn
}

output "schedule_group" {
  description = "EventBridge Scheduler group of the pipeline: scheduled environments, expiry schedules (<environment>-expiry) and the reaper."
  value       = aws_scheduler_schedule_group.mec.name
}

output "api_url" {
  description = "Base URL of the HTTP API for portals (routes in functions/api/openapi.json)."
  value       = aws_apigatewayv2_stage.api.invoke_url
}

output "api_function_name" {
  description = "The HTTP API's Lambda function."
  value       = aws_lambda_function.api.function_name
}

output "api_role_arn" {
  description = "Role of the HTTP API's Lambda function."
  value       = aws_iam_role.api.arn
}

output "registry_table_name" {
  description = "The environment registry (DynamoDB table `<name_prefix>-environments`) that every door reads."
  value       = aws_dynamodb_table.environments.name
}
