output "provision_state_machine_arn" {
  description = "Start an execution with an environment spec, e.g. {\"name\": \"lab-1\"}."
  value       = module.mec.provision_state_machine_arn
}

output "teardown_state_machine_arn" {
  description = "Start an execution with {\"name\": \"lab-1\"} to delete an environment."
  value       = module.mec.teardown_state_machine_arn
}

output "function_names" {
  description = "The step functions."
  value       = module.mec.function_names
}

output "node_role_arn" {
  description = "Role of the cluster nodes."
  value       = module.mec.node_role_arn
}

output "api_url" {
  description = "Base URL of the HTTP API for portals."
  value       = module.mec.api_url
}

output "registry_table_name" {
  description = "The environment registry (DynamoDB) every door reads."
  value       = module.mec.registry_table_name
}
