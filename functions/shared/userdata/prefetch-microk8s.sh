#!/bin/bash
# mec node user data (cloud-init runs it once, at the first boot): download the MicroK8s snap
# while the SSM agent registers, so that the install step finds it on disk instead of spending
# ~20 s of the critical path on the download (issue #6); then install the AWS CLI, which the
# Ubuntu AMI lacks and the mec-join document needs (the node reads its join token and stores the
# kubeconfig with it), long before the join step runs.
#
# The mec-install document waits for this script (it holds the lock below while it runs),
# acknowledges and installs the download if it is complete and of the requested channel, and
# otherwise installs from the store: nothing depends on this script succeeding. These are the
# steps of MicroK8s' offline install (microk8s.io/docs/install-offline): `snap download` here,
# `snap ack` and `snap install <file>` in the document.
set -u

# Filled in by mec (functions/shared/src/user_data.rs) from the validated spec.
CHANNEL='@CHANNEL@'
# MEC_ROOT is the local node simulator's file-system root; unset on EC2.
DIR="${MEC_ROOT:-}/var/lib/mec/prefetch"

mkdir -p "$DIR" && chmod 700 "$DIR" || exit 0
# Both locks are taken first, so that neither step can find its tool half-way: mec-install waits
# on `lock` (the MicroK8s download), mec-join on `aws-cli.lock` (the AWS CLI install).
exec 8>"$DIR/aws-cli.lock"
flock 8 || exit 0
exec 9>"$DIR/lock"
flock 9 || exit 0

prefetch_microk8s() {
  # Already installed (the install step got here first, or a re-run): nothing to fetch.
  if snap list microk8s >/dev/null 2>&1; then
    return 0
  fi
  rm -f "$DIR/microk8s.snap" "$DIR/microk8s.assert" "$DIR/channel"
  # `snap download` needs a seeded snapd; neither wait may hold the install step for long.
  timeout 300 snap wait system seed.loaded || return 0
  if timeout 600 snap download microk8s --channel="$CHANNEL" --target-directory="$DIR" --basename=microk8s; then
    # Written last: the install step trusts a download only when this names its channel.
    printf '%s\n' "$CHANNEL" >"$DIR/channel"
  fi
}

prefetch_microk8s
# The download is done: the install step may have it while the AWS CLI installs.
flock -u 9
if ! snap list aws-cli >/dev/null 2>&1; then
  timeout 600 snap install aws-cli --classic
fi
