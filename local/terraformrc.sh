#!/usr/bin/env bash
# Writes a Terraform CLI configuration that installs the AWS provider from the machine's
# filesystem mirror (/opt/tf-plugins) when it exists, and prints its path. Without the mirror,
# nothing is written and Terraform uses the public registry as usual.
set -euo pipefail
mirror="${MEC_TF_MIRROR:-/opt/tf-plugins}"
out="${1:-$(cd "$(dirname "$0")/.." && pwd)/.build/terraformrc}"
if [[ ! -d "$mirror" ]]; then
  exit 0
fi
mkdir -p "$(dirname "$out")"
cat > "$out" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
RC
echo "$out"
