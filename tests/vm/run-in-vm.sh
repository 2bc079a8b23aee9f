#!/bin/bash
# run-in-vm.sh — boot the cgseq test VM (built by tests/vm/build-vm.sh), run a command inside
# it as root with systemd as PID 1 and pure cgroup v2, stream its output, power off,
# and exit with the command's exit status.
#
# Usage:  run-in-vm.sh [-d SHARE_DIR] [-t TIMEOUT_S] -- COMMAND...
#   SHARE_DIR (default: $PWD) is mounted read-write at /mnt/host in the guest and
#   COMMAND runs there (cwd=/mnt/host) via bash.  Example:
#     run-in-vm.sh -d ~/cgseq -- '/opt/venv/bin/python -m pytest -v tests/backends'
#   (the guest's /opt/venv imports cgseq from /mnt/host; tests/vm/suite.sh is the VM suite)
# Env:  VM_DIR=/tmp/cgseq-vm   MEM=2G   SMP=2   ACCEL=tcg|kvm   QEMU_EXTRA=...
#
# The root image is attached with snapshot=on, so every run starts from the
# pristine image and nothing is written back to rootfs.img.
set -euo pipefail

VM_DIR=${VM_DIR:-/tmp/cgseq-vm}
SHARE=$PWD
TIMEOUT=${TIMEOUT:-1800}
MEM=${MEM:-2G}
SMP=${SMP:-$(nproc)}
ACCEL=${ACCEL:-tcg}     # kvm does NOT work with stock kernels on PVM hosts (see README.md)
while getopts "d:t:" o; do
  case $o in d) SHARE=$(realpath "$OPTARG");; t) TIMEOUT=$OPTARG;; *) exit 2;; esac
done
shift $((OPTIND-1))
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: $0 [-d dir] [-t timeout] -- command..." >&2; exit 2; }

for f in vmlinuz initrd.img rootfs.img; do
  [ -f "$VM_DIR/$f" ] || { echo "missing $VM_DIR/$f — run build-vm.sh first" >&2; exit 2; }
done

S=$SHARE/.cgseq-vm
rm -rf "$S"; mkdir -p "$S"
printf '%s\n' "set -o pipefail" "$*" > "$S/cmd"

case $ACCEL in
  tcg) ACC=(-accel tcg,thread=multi,tb-size=512 -cpu max);;
  kvm) ACC=(-enable-kvm -cpu host,-arch-capabilities);;
esac

T0=$(date +%s.%N)
set +e
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 "${ACC[@]}" \
  -smp "$SMP" -m "$MEM" -machine q35 -nodefaults -no-user-config \
  -display none -serial stdio -monitor none -no-reboot \
  -kernel "$VM_DIR/vmlinuz" -initrd "$VM_DIR/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 quiet loglevel=3 systemd.show_status=0 systemd.mask=serial-getty@ttyS0.service panic=-1 systemd.unified_cgroup_hierarchy=1 cgseq.run=1" \
  -drive "file=$VM_DIR/rootfs.img,format=raw,if=virtio,snapshot=on,cache=unsafe" \
  -virtfs "local,path=$SHARE,mount_tag=host0,security_model=none,id=host0" \
  -device virtio-rng-pci \
  ${QEMU_EXTRA:-} < /dev/null | stdbuf -oL tr -d '\r' | tee "$S/serial.log"
qrc=${PIPESTATUS[0]}
set -e
T1=$(date +%s.%N)
echo "run-in-vm: qemu exited rc=$qrc after $(awk "BEGIN{printf \"%.1f\", $T1-$T0}")s" >&2
if [ -f "$S/rc" ]; then exit "$(cat "$S/rc")"; fi
echo "run-in-vm: no result file — VM failed to boot or timed out (see $S/serial.log)" >&2
exit 125
