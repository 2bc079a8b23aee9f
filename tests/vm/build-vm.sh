#!/bin/bash
# build-vm.sh — build a minimal Debian bookworm VM (systemd as PID 1, pure cgroup v2)
# for cgseq's kernel tests.  Uses only Debian packages (apt) + PyPI (pip), so CI can
# build it from scratch on a fresh machine.  Adapted from ../../../shared/testenv/.
#
# Usage:  sudo bash tests/vm/build-vm.sh [--force] [VM_DIR]   (default VM_DIR=$VM_DIR or /tmp/cgseq-vm)
#
# Cached: the image is rebuilt only when it is missing or when this script (or PIP_PKGS)
# changed since it was built — VM_DIR/build.sha256 holds the hash of what built it.
# Env:    MIRROR=<url>                             Debian mirror for debootstrap
#                                                  (default: the first URI in this machine's apt sources)
#         IMG_SIZE=3G                              ext4 image size (sparse)
#         PIP_PKGS="psutil pystemd fasteners structlog pytest pytest-timeout hypothesis"  in /opt/venv
#
# Produces in VM_DIR:  vmlinuz  initrd.img  rootfs.img (ext4, raw, sparse, ~750 MB used)
#                      build.sha256  wheelhouse/ (host-built wheels)  debootstrap.log
# The guest finds the project on the 9p share: /opt/venv has a .pth entry for /mnt/host
# (import cgseq works for root and for tester, whatever sudo strips from the environment)
# and /usr/local/bin/cgseq runs `/opt/venv/bin/python -m cgseq`.
# Timing on a 2-vCPU Firecracker VM: 108-124 s (debootstrap ~93 s).
# The rootfs directory is deleted afterwards (only rootfs.img is kept).
#
# NOTE: on these 2-core build machines /dev/kvm is a PVM ("pagetable-based VM")
# hypervisor that cannot run a stock Debian kernel, so run-in-vm.sh defaults to
# QEMU TCG (software emulation). See README.md beside this file.
set -euo pipefail

FORCE=0
[ "${1:-}" = "--force" ] && { FORCE=1; shift; }
VM_DIR=${1:-${VM_DIR:-/tmp/cgseq-vm}}
apt_mirror() {
  # the first Debian archive URI this machine's apt already uses (deb822 or one-line format)
  { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'
  } | grep -v -- '-security' | head -n 1 || true   # pipefail: a missing sources file is fine
}
MIRROR=${MIRROR:-$(apt_mirror)}
[ -n "$MIRROR" ] || { echo "no Debian mirror found in apt sources; set MIRROR=" >&2; exit 1; }
IMG_SIZE=${IMG_SIZE:-3G}
PIP_PKGS=${PIP_PKGS:-"psutil pystemd fasteners structlog pytest pytest-timeout hypothesis"}
ROOT=$VM_DIR/rootfs
T0=$(date +%s)
ts() { echo "[build-vm +$(( $(date +%s) - T0 ))s] $*"; }

[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }
mkdir -p "$VM_DIR"
# one build at a time per VM_DIR (two CI jobs or a make -j must not debootstrap twice)
exec 9>"$VM_DIR/.build.lock"
flock 9
HASH=$( { cat "${BASH_SOURCE[0]}"; echo "$PIP_PKGS"; } | sha256sum | cut -d' ' -f1)
if [ "$FORCE" = 0 ] && [ "$(cat "$VM_DIR/build.sha256" 2>/dev/null)" = "$HASH" ] \
   && [ -s "$VM_DIR/vmlinuz" ] && [ -s "$VM_DIR/initrd.img" ] && [ -s "$VM_DIR/rootfs.img" ]; then
  echo "build-vm: $VM_DIR is up to date (build.sha256 matches); --force rebuilds"
  exit 0
fi
rm -f "$VM_DIR/build.sha256"   # written last: a half-built image is never taken as cached

ts "apt: installing host tools"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    debootstrap qemu-system-x86 qemu-utils e2fsprogs \
    libsystemd-dev pkg-config gcc python3-dev python3-venv >/dev/null

# ---- 1. wheelhouse built on the host (bookworm python3.11 == guest python3.11) ----
ts "pip: building wheelhouse ($PIP_PKGS)"
WH=$VM_DIR/wheelhouse
rm -rf "$WH" "$VM_DIR/hostvenv"
/usr/bin/python3 -m venv "$VM_DIR/hostvenv"
"$VM_DIR/hostvenv/bin/pip" -q wheel -w "$WH" $PIP_PKGS
rm -rf "$VM_DIR/hostvenv"
ls "$WH"

# ---- 2. debootstrap the rootfs ----
ts "debootstrap bookworm -> $ROOT"
rm -rf "$ROOT"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,dbus-user-session,udev,kmod,libpam-systemd,linux-image-amd64,initramfs-tools,python3,python3-venv,libsystemd0,sudo,procps,psmisc,iproute2,git \
  bookworm "$ROOT" "$MIRROR" > "$VM_DIR/debootstrap.log" 2>&1 \
  || { tail -30 "$VM_DIR/debootstrap.log"; exit 1; }

# run commands in the chroot with a clean environment (host PIP_* etc. must not leak in)
inchroot() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

ts "configuring rootfs"
echo cgseq-vm > "$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 cgseq-vm\n' > "$ROOT/etc/hosts"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$ROOT/etc/fstab"
inchroot passwd -d root >/dev/null
# unprivileged test user with a lingering systemd --user instance (for --user scopes)
inchroot useradd -m -u 1000 -s /bin/bash tester
mkdir -p "$ROOT/var/lib/systemd/linger" && touch "$ROOT/var/lib/systemd/linger/tester"
echo 'tester ALL=(ALL) NOPASSWD:ALL' > "$ROOT/etc/sudoers.d/tester"
# 9p for the host share; load eagerly so the mount never races module autoload
printf '9p\n9pnet_virtio\n' > "$ROOT/etc/modules-load.d/9p.conf"
# quiet, fast boot: no getty on the serial line unless asked, no timers
inchroot systemctl mask -q apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
    fstrim.timer man-db.timer systemd-tmpfiles-clean.timer 2>/dev/null || true
# autologin root on the serial console (only used for interactive debugging boots)
mkdir -p "$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d"
cat > "$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 %I $TERM
EOF

# ---- 3. the test runner: mounts the 9p share, runs .cgseq-vm/cmd, powers off ----
cat > "$ROOT/usr/local/sbin/cgseq-vm-runner" <<'EOF'
#!/bin/bash
# Started by cgseq-vm-runner.service when the kernel cmdline (or, in a container,
# PID 1's argv) has cgseq.run=1.  /mnt/host is the 9p share (VM) or a bind mount
# (run-in-ns.sh).  Output goes to /dev/console (= ttyS0 in the VM) and output.log.
mkdir -p /mnt/host
mountpoint -q /mnt/host || mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none host0 /mnt/host || {
    echo "CGSEQ-VM: cannot mount 9p share" > /dev/console; systemctl poweroff --no-block; exit 1; }
S=/mnt/host/.cgseq-vm
cd /mnt/host
echo "CGSEQ-VM: booted in $(cut -d' ' -f1 /proc/uptime)s; running $S/cmd" > /dev/console
# stream to the console and keep a copy on the share
bash "$S/cmd" 2>&1 | tee "$S/output.log" > /dev/console
rc=${PIPESTATUS[0]}
echo "$rc" > "$S/rc"
sync
echo "CGSEQ-VM: command exited rc=$rc at $(cut -d' ' -f1 /proc/uptime)s" > /dev/console
systemctl poweroff --no-block
EOF
chmod +x "$ROOT/usr/local/sbin/cgseq-vm-runner"
cat > "$ROOT/etc/systemd/system/cgseq-vm-runner.service" <<'EOF'
[Unit]
Description=cgseq VM test runner (runs /mnt/host/.cgseq-vm/cmd)
ConditionKernelCommandLine=cgseq.run=1
Wants=network.target systemd-logind.service user@1000.service
After=multi-user.target systemd-logind.service user@1000.service
[Service]
# simple (not oneshot): boot completes first, so `systemctl is-system-running` says "running"
Type=simple
# Delegate=yes: the test command owns its cgroup subtree (memory/pids/cpu/io enabled),
# so the raw-cgroup-v2 backend can be tested without fighting systemd.
Delegate=yes
Environment=HOME=/root LANG=C.UTF-8 PYTHONUNBUFFERED=1
ExecStart=/usr/local/sbin/cgseq-vm-runner
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
[Install]
WantedBy=multi-user.target
EOF
inchroot systemctl enable -q cgseq-vm-runner.service

# ---- 4. python venv with the project deps (offline, from the host wheelhouse) ----
ts "creating /opt/venv in the guest"
cp -r "$WH" "$ROOT/tmp/wheelhouse"
inchroot python3 -m venv /opt/venv
inchroot /opt/venv/bin/pip -q install --no-index --find-links /tmp/wheelhouse $PIP_PKGS
rm -rf "$ROOT/tmp/wheelhouse"
inchroot /opt/venv/bin/python -c 'import pystemd, psutil, fasteners, structlog, pytest_timeout, hypothesis; print("guest venv ok")'
# the project itself comes from the 9p share at boot: a .pth line puts /mnt/host on
# sys.path of /opt/venv (no build backend needed offline; survives sudo's env reset)
SITE=$(inchroot /opt/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo /mnt/host > "$ROOT$SITE/cgseq-host.pth"
printf '#!/bin/sh\nexec /opt/venv/bin/python -m cgseq "$@"\n' > "$ROOT/usr/local/bin/cgseq"
chmod +x "$ROOT/usr/local/bin/cgseq"

# ---- 5. kernel + initrd out, slim down, make the ext4 image ----
ts "extracting kernel/initrd and building ext4 image"
cp "$(ls "$ROOT"/boot/vmlinuz-* | sort -V | tail -1)" "$VM_DIR/vmlinuz"
cp "$(ls "$ROOT"/boot/initrd.img-* | sort -V | tail -1)" "$VM_DIR/initrd.img"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* \
       "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/locale/* 
rm -f "$VM_DIR/rootfs.img"
mkfs.ext4 -q -L cgseq-root -d "$ROOT" "$VM_DIR/rootfs.img" "$IMG_SIZE"
rm -rf "$ROOT"
echo "$HASH" > "$VM_DIR/build.sha256"
ts "done: $(du -sh --apparent-size "$VM_DIR/rootfs.img" | cut -f1) apparent, $(du -sh "$VM_DIR/rootfs.img" | cut -f1) on disk"
ls -la "$VM_DIR"
