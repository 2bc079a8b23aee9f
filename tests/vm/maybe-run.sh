#!/bin/bash
# maybe-run.sh — the VM part of `make test`: run it wherever the systemd and pure cgroup v2
# paths cannot be tested natively but the test VM can be built; otherwise say why not.
#   CGSEQ_VM=1  always run it (CI sets this);  CGSEQ_VM=0  never;  default: decide here.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
skip() { echo "VM suite skipped: $* (CGSEQ_VM=1 forces it)"; exit 0; }
case "${CGSEQ_VM:-auto}" in
  0) skip "CGSEQ_VM=0" ;;
  1) exec bash "$HERE/test-vm.sh" ;;
esac
[ "$(uname -s)" = Linux ] || skip "the test VM needs a Linux host (use the Vagrantfile)"
if [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ] && [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  skip "this host has systemd and pure cgroup v2: the host suite already tested them"
fi
[ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null || skip "building the VM needs root or passwordless sudo"
command -v qemu-system-x86_64 >/dev/null || command -v apt-get >/dev/null \
  || skip "no qemu-system-x86_64 and no apt-get to install it"
exec bash "$HERE/test-vm.sh"
