# How long an execution may run, derived from its bounded parts, so that every wait's own
# deadline fires before the execution times out: an execution that times out (TIMED_OUT) skips
# its Catch, hence its rollback, and leaves the environment to the reaper.
#
# - A Task runs at most (1 + its retries) x its TimeoutSeconds, plus the Retry intervals:
#   read from the templates themselves, so that the bound follows every edit of a Task.
# - Each wait loop ends at the first poll after its deadline (functions/shared/src/deadline.rs):
#   the deadline's budget, plus one more Wait and one more poll Task.
# - The command phases' budgets are deadline.rs' (delivery + the documents' own limits) for the
#   largest spec: three masters and every add-on of the catalogue, as the Rust code publishes
#   them (functions/shared/schema/budgets.json, kept current by a test). The validate step refuses
#   a spec that needs more than that (MEC_COMMANDS_BUDGET_SECONDS).

locals {
  commands_budget_seconds = jsondecode(file("${path.module}/../../../functions/shared/schema/budgets.json")).commands_seconds

  # The templates with placeholder timeout and functions (known at plan time), to read their
  # Tasks from.
  state_machine_drafts = {
    for kind in ["provision", "teardown"] : kind => jsondecode(templatefile(
      "${path.module}/../../../statemachine/${kind}.asl.json",
      merge(local.state_machine_template_settings, {
        execution_timeout_seconds = 1
        functions                 = { for key in keys(local.functions) : key => "draft" }
      })
    ))
  }
  draft_states = {
    for kind, machine in local.state_machine_drafts : kind => merge(
      machine.States,
      merge(concat([{}], flatten([for s in values(machine.States) : [for b in try(s.Branches, []) : b.States]]))...)
    )
  }
  task_bound_seconds = {
    for kind, states in local.draft_states : kind => {
      for name, s in states : name => (
        s.TimeoutSeconds * (1 + sum(concat([0], [for r in try(s.Retry, []) : r.MaxAttempts])))
        + sum(concat([0], flatten([for r in try(s.Retry, []) : [for k in range(r.MaxAttempts) : r.IntervalSeconds * pow(try(r.BackoffRate, 2), k)]])))
      ) if s.Type == "Task"
    }
  }

  # The Tasks that poll a wait (run again and again); every other Task runs at most once.
  poll_tasks = {
    provision = ["CheckNodes", "InstallStatus", "JoinStatus", "Rollback"]
    teardown  = ["Teardown"]
  }
  once_seconds = {
    for kind, bounds in local.task_bound_seconds : kind => sum(concat([0], [for name, b in bounds : b if !contains(local.poll_tasks[kind], name)]))
  }
  command_poll_bound = max(local.task_bound_seconds.provision["InstallStatus"], local.task_bound_seconds.provision["JoinStatus"])

  derived_execution_timeout_seconds = {
    provision = ceil(
      local.once_seconds.provision
      + var.node_wait_seconds + var.node_poll_seconds + local.task_bound_seconds.provision["CheckNodes"]
      + local.commands_budget_seconds + 5 * (var.command_poll_seconds + local.command_poll_bound)
      + var.consistency_settle_seconds
      + var.teardown_wait_seconds + var.node_poll_seconds + local.task_bound_seconds.provision["Rollback"]
      + 60
    )
    teardown = ceil(
      local.once_seconds.teardown
      + var.teardown_wait_seconds + var.node_poll_seconds + local.task_bound_seconds.teardown["Teardown"]
      + 60
    )
  }

  execution_timeout_seconds = {
    provision = coalesce(var.execution_timeout_seconds, local.derived_execution_timeout_seconds.provision)
    teardown  = local.derived_execution_timeout_seconds.teardown
  }
}
