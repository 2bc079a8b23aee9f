#!/bin/bash
# suite.sh — the VM part of cgseq's test suite; runs INSIDE the test VM as root, cwd /mnt/host
# (tests/vm/test-vm.sh boots the VM and calls it). Extra arguments go to every pytest run.
#
# Two passes, each with CGSEQ_TEST_REQUIRE so that a missing capability fails instead of skipping:
#   1. root: systemd backend on the system manager, raw cgroup v2 backends in the runner
#      unit's delegated subtree (Delegate=yes);
#   2. tester (uid 1000): systemd backend on tester's own user manager.
# Selection: tests marked `vm` (pytest.mark.vm) — the kernel/systemd paths only the VM can
# show — plus the shared contract table (tests/test_contract.py) for the kernel backends the
# VM has. Python runs 5-8x slower under TCG, so everything else stays on the host.
# Then the scope-creation overhead is measured (informational, never a failure).
set -uo pipefail
cd /mnt/host
PY=/opt/venv/bin/python
export PYTHONUNBUFFERED=1 PYTHONPYCACHEPREFIX=/tmp/pycache   # never write into the host tree
SELECT=${VM_SELECT:-vm}
PYTEST=(-m pytest -q -p no:cacheprovider -o timeout=900 --durations=5)
VM_TESTS=(-m "$SELECT" tests "$@")
CONTRACT=tests/test_contract.py
RUNTIME=/run/user/1000
T0=$(date +%s)
ts() { echo "== suite +$(( $(date +%s) - T0 ))s: $*"; }
rc=0

ts "system: $(systemctl --version | head -1), kernel $(uname -r), $(systemctl is-system-running)"
ts "pass 1: root (system manager, raw cgroup2 in $(cut -d: -f3 /proc/self/cgroup))"
export CGSEQ_TEST_REQUIRE=root,cgroup2,systemd,systemd-user
"$PY" "${PYTEST[@]}" "${VM_TESTS[@]}" || rc=1
ts "pass 1: root, contract table (systemd, cgroup2)"
"$PY" "${PYTEST[@]}" "$CONTRACT" -k "systemd or cgroup2" "$@" || rc=1
unset CGSEQ_TEST_REQUIRE

ts "pass 2: tester (user manager $(cat /sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers 2>/dev/null))"
for _ in $(seq 60); do [ -S $RUNTIME/bus ] && break; sleep 1; done
as_tester() {
  sudo -u tester env HOME=/home/tester XDG_RUNTIME_DIR=$RUNTIME \
      DBUS_SESSION_BUS_ADDRESS=unix:path=$RUNTIME/bus PYTHONUNBUFFERED=1 \
      PYTHONPYCACHEPREFIX=/tmp/pycache-tester CGSEQ_TEST_REQUIRE=systemd-user "$@"
}
as_tester "$PY" "${PYTEST[@]}" "${VM_TESTS[@]}" || rc=1
ts "pass 2: tester, contract table (systemd)"
as_tester "$PY" "${PYTEST[@]}" "$CONTRACT" -k systemd "$@" || rc=1

if [ "${VM_MEASURE:-1}" = 1 ]; then
  ts "scope-creation overhead (median of 20)"
  "$PY" tests/vm/measure_overhead.py 20 || true
  as_tester "$PY" tests/vm/measure_overhead.py 20 || true
fi
ts "failed units left: $(systemctl list-units --failed --no-legend 'cgseq-*.scope' | wc -l)"
ts "done rc=$rc"
exit $rc
