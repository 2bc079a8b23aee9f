#!/bin/bash
# test-vm.sh — the VM suite from the host: build the test VM if needed (cached in
# $VM_DIR, default /tmp/cgseq-vm; rebuilt when build-vm.sh changed), boot it, run
# tests/vm/suite.sh inside, exit with its status (125: the VM itself failed).
#
# Usage:  tests/vm/test-vm.sh [PYTEST ARGS...]       (needs root or sudo for the build)
# Env:    VM_DIR  VM_TIMEOUT=2400 (seconds for the whole boot+suite)  MEM  SMP  MIRROR
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT=$(cd "$HERE/../.." && pwd)
export VM_DIR=${VM_DIR:-/tmp/cgseq-vm}
SUDO=(); [ "$(id -u)" = 0 ] || SUDO=(sudo --preserve-env=VM_DIR,MIRROR)

ARGS=""; [ $# -eq 0 ] || ARGS=$(printf " %q" "$@")   # printf with no args would yield ''
T0=$(date +%s)
"${SUDO[@]}" bash "$HERE/build-vm.sh" "$VM_DIR"
T1=$(date +%s)
set +e
bash "$HERE/run-in-vm.sh" -d "$PROJECT" -t "${VM_TIMEOUT:-2400}" -- "bash tests/vm/suite.sh$ARGS"
rc=$?
set -e
T2=$(date +%s)
echo "test-vm: build/check $((T1 - T0))s, boot+suite $((T2 - T1))s, rc=$rc" >&2
exit $rc
