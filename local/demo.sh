#!/usr/bin/env bash
# The main job, end to end in the local world: start it and deploy the pipeline with Terraform,
# create a 1-master + 2-worker environment with live progress, show its nodes, delete it, prove
# nothing is left, stop the world. Run by `make demo`, which builds what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
mec="${CARGO_TARGET_DIR:-$PWD/target}/debug/mec"
name="${MEC_DEMO_NAME:-demo}"
started=$SECONDS

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

trap '"$mec" local down >/dev/null' EXIT

step "Starting the local AWS world and deploying the pipeline (Terraform)"
"$mec" local up
eval "$("$mec" local env)"

step "Creating $name: 1 master, 2 workers"
"$mec" create --name "$name" --workers 2 --wait

step "Its nodes, as the master's kubectl sees them"
"$mec" local kubectl "$name" get nodes

step "Deleting $name"
"$mec" delete "$name" --wait

step "Audit: anything still tagged for $name?"
"$mec" audit "$name"

step "Done in $((SECONDS - started)) s"
