"""systemd backend: each job runs in a transient scope ``cgseq-<project>-<job id>.scope``.

As root the scope belongs to the system manager, otherwise to the user's own manager
(``systemctl --user status`` shows it). systemd writes ``MemoryMax``/``MemorySwapMax``/
``TasksMax`` into the scope's cgroup v2 directory; cgseq reads those files back, because a
controller that is not delegated to a user manager makes systemd accept a limit it then
silently does not enforce.

pystemd is an optional extra (``cgseq[systemd]``, compiled against libsystemd): it is only
imported inside methods, so this module imports — and ``probe()`` explains the fix — without it.

Why the counters are sampled: systemd removes the scope's cgroup as soon as the last process
exits, taking ``memory.events``/``pids.events``/``memory.peak`` with it. ``sample()`` caches
them while the job runs; the OOM verdict also survives as the unit's ``Result=oom-kill``,
kept readable by ``AddRef`` (the unit stays loaded while cgseq's bus connection lives, and
is garbage-collected by ``CollectMode=inactive-or-failed`` once it closes, even if cgseq
was SIGKILLed).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal as signals
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from cgseq.backends import cgroupfs
from cgseq.backends.base import MEMORY, PIDS, SWAP, TRACKING, Availability, Capabilities
from cgseq.backends.cgroupfs import controllers, read_int, read_keyed, write
from cgseq.backends.pressure import read as read_pressure
from cgseq.errors import BackendUnavailable
from cgseq.model import Breach, JobSpec, TerminationReason, Usage
from cgseq.units import format_size

NAME = "systemd"
SLICE = "cgseq.slice"
UNIT_PREFIX = "cgseq-"
CGROUP_ROOT = Path("/sys/fs/cgroup")
START_TIMEOUT = 30.0  # seconds for systemd to run the scope's start job (slow VMs)

_DEST = b"org.freedesktop.systemd1"
_PATH = b"/org/freedesktop/systemd1"
_MANAGER = b"org.freedesktop.systemd1.Manager"
_SCOPE = b"org.freedesktop.systemd1.Scope"
_INFINITY = (1 << 64) - 1  # systemd's "infinity" for uint64 limits
_UNIT_CHARS = re.compile(r"[^A-Za-z0-9_]+")

INSTALL_FIX = (
    "pip install 'cgseq[systemd]' (pystemd builds against libsystemd: "
    "apt-get install libsystemd-dev pkg-config gcc python3-dev)"
)
DELEGATE_FIX = (
    "delegate the controllers to user managers: install packaging/systemd/user@.service.d/"
    "cgseq-delegate.conf to /etc/systemd/system/user@.service.d/, then "
    "`systemctl daemon-reload` and log in again (or run as root)"
)
USER_BUS_FIX = (
    "log in through a systemd session (pam_systemd), or `loginctl enable-linger $USER`, "
    "so that $XDG_RUNTIME_DIR/bus exists"
)


# ---------------------------------------------------------------- pystemd at the edge


def _pystemd() -> Any:
    """Import pystemd and register the unit properties 0.15.3 does not know."""
    import pystemd.dbuslib
    from pystemd.systemd1 import unit_signatures

    # pystemd <= 0.15.3 lacks these in its signature table (KeyError: b'PIDs' otherwise)
    unit_signatures.KNOWN_UNIT_SIGNATURES.setdefault(b"PIDs", b"au")
    unit_signatures.KNOWN_UNIT_SIGNATURES.setdefault(b"AddRef", b"b")  # systemd >= 236
    return pystemd


def _bus_errors() -> tuple[type[BaseException], ...]:
    from pystemd.dbusexc import DBusBaseError

    return (DBusBaseError, OSError)


def _user_mode() -> bool:
    """Root talks to the system manager; everyone else to their own user manager."""
    return os.geteuid() != 0


def _open_bus() -> Any:
    pystemd = _pystemd()
    bus = pystemd.dbuslib.DBus(user_mode=_user_mode())
    try:
        bus.open()
    except _bus_errors() as exc:
        where = "user bus" if _user_mode() else "system bus"
        raise BackendUnavailable(
            NAME,
            f"cannot connect to the systemd {where}: {exc}",
            hint=USER_BUS_FIX if _user_mode() else "is systemd PID 1 and dbus running?",
        ) from exc
    return bus


def _call(bus: Any, method: bytes, signature: bytes, args: list[Any]) -> Any:
    from pystemd.dbuslib import apply_signature

    return bus.call_method(_DEST, _PATH, _MANAGER, method, apply_signature(signature, args)).body


def _manager_property(bus: Any, name: bytes, rtype: bytes) -> Any:
    return bus.get_property(_DEST, _PATH, _MANAGER, name, rtype)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# ---------------------------------------------------------------- names and properties


def unit_name(spec: JobSpec, job_id: str) -> str:
    """``cgseq-<project>-<job id>.scope``: recognisable in ``systemctl status``, always valid."""
    project = Path(spec.cwd or os.getcwd()).name
    slug = _UNIT_CHARS.sub("_", project).strip("_")[:40]
    return f"{UNIT_PREFIX}{slug + '-' if slug else ''}{job_id}.scope"


def is_our_unit(name: str) -> bool:
    return name.startswith(UNIT_PREFIX) and name.endswith(".scope") and "/" not in name


def unit_job_ids(name: str) -> list[str]:
    """The job ids ``cgseq-<project>-<job id>.scope`` can carry (a slug may look like a pid).

    The slug has no ``-``; without one the job id is the whole middle. Both readings that
    parse as a job id are returned, so a caller can spare the unit if either is alive.
    """
    from cgseq import jobids

    middle = name[len(UNIT_PREFIX) : -len(".scope")]
    readings = [middle, middle.partition("-")[2]]
    return [job_id for job_id in dict.fromkeys(readings) if jobids.parse(job_id) is not None]


def scope_properties(spec: JobSpec, pid: int) -> dict[bytes, Any]:
    limits = spec.limits
    description = f"cgseq: {' '.join(spec.argv)}"[:200]
    props: dict[bytes, Any] = {
        b"Description": description,
        b"Slice": SLICE,
        b"PIDs": [pid],
        b"MemoryAccounting": True,  # memory.peak/current even without a limit
        b"TasksAccounting": True,
        b"CollectMode": "inactive-or-failed",  # no failed units pile up
        b"AddRef": True,  # ...but keep it loaded while we read its Result
    }
    if limits.memory is not None:
        props[b"MemoryMax"] = limits.memory
        # swap is "on top of memory": only meaningful next to a memory limit
        props[b"MemorySwapMax"] = _INFINITY if limits.swap is None else limits.swap
    if limits.pids is not None:
        props[b"TasksMax"] = limits.pids
    return props


# ---------------------------------------------------------------- the backend


class SystemdBackend:
    """Transient scopes of the system manager (root) or the user's manager."""

    name: ClassVar[str] = NAME
    capabilities: ClassVar[Capabilities] = Capabilities(opens_group_at_turn=True)

    def may_run_here(self) -> bool:
        return may_be_available()

    def probe(self) -> Availability:
        problem = _host_problem()  # file checks first: no import cost where systemd is absent
        if problem is not None:
            return Availability(NAME, False, problem[0], fix=problem[1])
        try:
            _pystemd()
        except ImportError as exc:
            return Availability(NAME, False, f"pystemd is not installed ({exc})", fix=INSTALL_FIX)
        try:
            return _probe_manager()
        except BackendUnavailable as exc:
            return Availability(NAME, False, exc.reason, fix=exc.hint)

    def open_group(self, spec: JobSpec, job_id: str) -> ScopeGroup:
        # a scope cannot exist without a process: it is started in place()
        return ScopeGroup(spec, unit_name(spec, job_id), _open_bus())

    def reap(self, record: Mapping[str, Any]) -> list[str]:
        """Stop a dead job's scope; the record is untrusted, so the unit is verified first.

        Only a unit named like ours whose job id's supervisor is dead, and (once systemd
        answers) whose cgroup lies in our slice, is touched.
        """
        from cgseq import jobids

        name = record.get("unit")
        if not isinstance(name, str) or not is_our_unit(name):
            return []  # never touch a unit cgseq did not create
        ids = unit_job_ids(name)
        if not ids or any(jobids.supervisor_alive(job_id) for job_id in ids):
            return []  # not ours to judge, or a live supervisor still owns it
        bus = _open_bus()
        try:
            return _reap_unit(bus, name)
        finally:
            bus.close()


BACKEND = SystemdBackend


def _host_problem() -> tuple[str, str] | None:
    """Cheap checks before any D-Bus: systemd is PID 1 and cgroup v2 is unified."""
    if not os.path.isdir("/run/systemd/system"):  # sd_booted()
        return "systemd is not the init system here", "use the cgroup2/cgroup1/poll backend"
    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        return (
            "cgroups are not unified v2 (hybrid or v1 layout)",
            "boot with systemd.unified_cgroup_hierarchy=1",
        )
    if _user_mode() and not (
        os.environ.get("DBUS_SESSION_BUS_ADDRESS") or os.environ.get("XDG_RUNTIME_DIR")
    ):
        return "no user bus: XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS are unset", USER_BUS_FIX
    return None


def _probe_manager() -> Availability:
    bus = _open_bus()
    try:
        version = _text(_manager_property(bus, b"Version", b"s"))
        root = _text(_manager_property(bus, b"ControlGroup", b"s")) or "/"
    except _bus_errors() as exc:
        raise BackendUnavailable(NAME, f"systemd manager did not answer: {exc}") from exc
    finally:
        bus.close()
    found = controllers(CGROUP_ROOT / root.lstrip("/"))
    who = "user manager" if _user_mode() else "system manager"
    missing = [c for c in ("memory", "pids") if c not in found]
    if missing:
        return Availability(
            NAME,
            False,
            f"the {who} ({root}) lacks the {' and '.join(missing)} controller(s): "
            "limits would be accepted but not enforced",
            fix=DELEGATE_FIX if _user_mode() else "enable the controllers on the cgroup root",
        )
    enforces = {
        MEMORY: "kernel: scope MemoryMax (memory.max)",
        SWAP: "kernel: scope MemorySwapMax (memory.swap.max)",
        PIDS: "kernel: scope TasksMax (pids.max)",
        TRACKING: "kernel: scope cgroup",
    }
    reason = f"transient scopes in {SLICE} of the {who} (systemd {version})"
    root_jobs = cgroupfs.root_jobs_v2(cgroupfs.find_mounts())  # a scope is a v2 group
    return Availability(NAME, True, reason, enforces=enforces, kernel=True, root_jobs=root_jobs)


def _reap_unit(bus: Any, name: str) -> list[str]:
    errors = _bus_errors()
    try:
        state = _unit_state(bus, name)
    except errors:
        return []
    if state in ("", "inactive"):
        _reset(bus, name)
        return []
    if not _in_our_slice(bus, name):
        raise BackendUnavailable(NAME, f"scope {name} is not in {SLICE}: untouched")
    with contextlib.suppress(*errors):
        _call(bus, b"KillUnit", b"ssi", [name, "all", signals.SIGKILL])
    _stop_and_reset(bus, name)
    return [f"killed leftover scope {name} ({state})"]


def _unit_state(bus: Any, name: str) -> str:
    """ActiveState of a loaded unit; "" when systemd does not know it (already collected)."""
    errors = _bus_errors()
    try:
        path = _call(bus, b"GetUnit", b"s", [name])
    except errors:
        return ""
    return _text(
        bus.get_property(_DEST, path, b"org.freedesktop.systemd1.Unit", b"ActiveState", b"s")
    )


def _in_our_slice(bus: Any, name: str) -> bool:
    """Its ControlGroup (systemd's word) is ``.../cgseq.slice/<name>``, as we start scopes."""
    try:
        path = _call(bus, b"GetUnit", b"s", [name])
        group = _text(bus.get_property(_DEST, path, _SCOPE, b"ControlGroup", b"s"))
    except _bus_errors():
        return False
    return group.rstrip("/").endswith(f"/{SLICE}/{name}")


def _reset(bus: Any, name: str) -> None:
    try:
        _call(bus, b"ResetFailedUnit", b"s", [name])
    except _bus_errors():
        pass  # not failed, or already collected


def _stop_and_reset(bus: Any, name: str) -> None:
    try:
        _call(bus, b"StopUnit", b"ss", [name, "replace"])
    except _bus_errors():
        pass  # already gone
    _reset(bus, name)


# ---------------------------------------------------------------- one job's scope


class ScopeGroup:
    """One job's transient scope; its cgroup directory is read directly."""

    def __init__(self, spec: JobSpec, unit: str, bus: Any) -> None:
        self.spec = spec
        self.unit = unit
        self.poll_interval: float | None = max(spec.poll_interval, 0.05)
        self.cgroup_namespace = True  # a scope is a cgroup v2 group (pure v2 hosts)
        self._bus = bus
        self._cgroup: Path | None = None
        self._enforced: dict[str, str] = {TRACKING: f"kernel: systemd scope {unit}"}
        self._counters: dict[str, int] = {}  # last seen oom_kill / pids max / peaks
        self._pressure: dict[str, int] | None = None  # PSI totals, cached like the counters
        self._closed = False

    # -- placement

    def place(self, pid: int) -> None:
        """Start the scope around the held child and wait until systemd has moved it."""
        try:
            result = _start_scope(self._bus, self.unit, scope_properties(self.spec, pid))
        except _bus_errors() as exc:
            raise BackendUnavailable(NAME, f"cannot start scope {self.unit}: {exc}") from exc
        if result != "done":
            raise BackendUnavailable(NAME, f"scope {self.unit} start job ended with {result!r}")
        self._cgroup = _wait_in_scope(pid, self.unit)
        self._verify_limits()
        _enable_oom_group(self._cgroup)

    def _verify_limits(self) -> None:
        assert self._cgroup is not None
        limits = self.spec.limits
        if limits.memory is not None:
            self._check("memory.max", limits.memory, MEMORY, "MemoryMax")
            swap = limits.swap
            if swap is not None and (self._cgroup / "memory.swap.max").exists():
                self._check("memory.swap.max", swap, SWAP, "MemorySwapMax")
            elif swap is not None and swap > 0:
                raise self._not_in_force("memory.swap.max", "swap accounting is off")
        if limits.pids is not None:
            self._check("pids.max", limits.pids, PIDS, "TasksMax")

    def _check(self, filename: str, wanted: int, limit: str, prop: str) -> None:
        assert self._cgroup is not None
        path = self._cgroup / filename
        if not path.exists():
            raise self._not_in_force(filename, "the controller is not delegated here")
        got = read_int(path)
        if got is None or not cgroupfs.limit_matches(wanted, str(got)):  # whole pages
            raise self._not_in_force(filename, f"reads {got} instead of {wanted}")
        self._enforced[limit] = f"kernel: {prop}={wanted} ({filename})"

    def _not_in_force(self, filename: str, why: str) -> BackendUnavailable:
        return BackendUnavailable(
            NAME,
            f"{filename} of {self._cgroup} is not in force: {why}",
            hint=DELEGATE_FIX if _user_mode() else None,
        )

    def enforced(self) -> dict[str, str]:
        return dict(self._enforced)

    # -- while it runs

    def sample(self) -> Breach | None:
        """The kernel enforces; sampling only keeps the counters the scope's removal loses."""
        self._refresh()
        return None

    def _refresh(self) -> None:
        if self._cgroup is None:
            return
        memory = read_keyed(self._cgroup / "memory.events")
        pids = read_keyed(self._cgroup / "pids.events")
        fresh = {
            "oom_kill": memory.get("oom_kill"),
            "pids_max": pids.get("max"),
            "memory_peak": read_int(self._cgroup / "memory.peak"),  # Linux >= 5.19
            "pids_peak": read_int(self._cgroup / "pids.peak")
            or read_int(self._cgroup / "pids.current"),
        }
        for key, value in fresh.items():
            if value is not None:
                self._counters[key] = max(value, self._counters.get(key, 0))
        self._pressure = read_pressure(self._cgroup) or self._pressure  # gone with the scope

    def usage(self) -> Usage:
        self._refresh()
        now = read_int(self._cgroup / "memory.current") if self._cgroup else None
        tasks = read_int(self._cgroup / "pids.current") if self._cgroup else None
        return Usage(
            peak_memory=self._counters.get("memory_peak"),
            peak_pids=self._counters.get("pids_peak"),
            memory_now=now,
            pids_now=tasks,
        )

    def pressure(self) -> dict[str, int] | None:
        self._refresh()
        return self._pressure

    def pids(self) -> list[int]:
        if self._cgroup is None:
            return []
        return cgroupfs.procs(self._cgroup)  # [] once the scope is gone

    # -- ending it

    def signal(self, signum: int) -> None:
        self._refresh()
        try:
            _call(self._bus, b"KillUnit", b"ssi", [self.unit, "all", signum])
        except _bus_errors():
            cgroupfs.signal_procs(self.pids(), signum)  # the unit may already be stopping

    def kill(self) -> None:
        self._refresh()
        if self._cgroup is not None:
            try:
                write(self._cgroup / "cgroup.kill", "1")  # Linux >= 5.14: atomic, whole tree
                return
            except FileNotFoundError:
                return  # the scope is gone already
            except OSError:
                pass
        self.signal(signals.SIGKILL)

    def is_empty(self) -> bool:
        if self._cgroup is None:
            return True
        self._refresh()
        events = read_keyed(self._cgroup / "cgroup.events")
        return events.get("populated", 0) == 0  # a removed scope reads as {} -> empty

    def termination(self) -> Breach | None:
        self._refresh()
        result = self._result()
        if result == "oom-kill" or self._counters.get("oom_kill", 0) > 0:
            return Breach(TerminationReason.MEMORY, self._memory_detail(result))
        refused = self._counters.get("pids_max", 0)
        if refused > 0:
            limit = self.spec.limits.pids
            detail = f"pids reached limit {limit}: TasksMax refused {refused} fork(s)"
            return Breach(TerminationReason.PIDS, detail)
        return None

    def _memory_detail(self, result: str) -> str:
        peak = self._counters.get("memory_peak")
        how = (
            f"oom_kill {self._counters['oom_kill']}"
            if "oom_kill" in self._counters
            else (f"Result={result}")
        )
        return (
            f"memory reached limit {format_size(self.spec.limits.memory)}: kernel OOM killer in "
            f"scope {self.unit} ({how}, peak {format_size(peak)})"
        )

    def _result(self) -> str:
        """The scope's Result (``oom-kill``); AddRef keeps the unit loaded to read it."""
        try:
            path = _call(self._bus, b"GetUnit", b"s", [self.unit])
            return _text(self._bus.get_property(_DEST, path, _SCOPE, b"Result", b"s"))
        except _bus_errors():
            return ""

    def record(self) -> dict[str, Any]:
        cgroup = str(self._cgroup) if self._cgroup else None
        return {"unit": self.unit, "user": _user_mode(), "cgroup": cgroup}

    def detach(self) -> None:
        """``--leftovers keep``: the scope runs on under its limits, owned by systemd alone.

        Closing the bus drops AddRef; once the kept processes exit, systemd stops the scope
        and CollectMode unloads it. Nothing names it as an orphan: ``reap`` only acts on a
        dead supervisor's record, and this supervisor exits normally.
        """
        if self._closed:
            return
        self._closed = True
        self._refresh()
        self._bus.close()

    def close(self) -> None:
        """Reset the (empty) scope and drop our reference, so systemd collects it.

        systemd stops an empty scope by itself; ResetFailedUnit clears an OOM-failed one,
        and closing the bus releases AddRef, which lets CollectMode unload the unit.
        """
        if self._closed:
            return
        self._closed = True
        try:
            _reset(self._bus, self.unit)
        finally:
            self._bus.close()


# ---------------------------------------------------------------- starting a scope


def _start_scope(bus: Any, name: str, props: dict[bytes, Any]) -> str:
    """StartTransientUnit, then wait for its job's JobRemoved signal; returns its result."""
    from pystemd.systemd1.unit_signatures import signature_array

    done: dict[str, str] = {}

    def on_job_removed(msg: Any, error: Any = None, userdata: Any = None) -> None:
        msg.process_reply(False)
        _id, job, unit, result = msg.body
        done[_text(job)] = _text(result)
        done.setdefault("unit:" + _text(unit), _text(result))

    bus.match_signal(_DEST, _PATH, _MANAGER, b"JobRemoved", on_job_removed)
    _call(bus, b"Subscribe", b"", [])  # systemd only emits job signals to subscribers
    from pystemd.dbuslib import apply_signature

    args = apply_signature(b"ss", [name, "fail"]) + signature_array(props)
    args += [(ord(b"a"), b"(sa(sv))"), (-1, None)]  # no auxiliary units
    job = _text(bus.call_method(_DEST, _PATH, _MANAGER, b"StartTransientUnit", args).body)
    return _wait_for(lambda: done.get(job) or done.get("unit:" + name), bus, name)


def _wait_for(result: Callable[[], str | None], bus: Any, name: str) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while (found := result()) is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BackendUnavailable(NAME, f"scope {name} did not start in {START_TIMEOUT:.0f}s")
        bus.process()  # dispatches queued signals to on_job_removed
        if result() is None:
            bus.wait(int(min(remaining, 0.2) * 1_000_000))  # microseconds
    return found


def _wait_in_scope(pid: int, unit: str, timeout: float = 5.0) -> Path:
    """The scope's cgroup dir, once /proc says ``pid`` is really in it (the kernel's word)."""
    deadline = time.monotonic() + timeout
    while True:
        path = cgroupfs.cgroup_of(pid, CGROUP_ROOT)
        if path is not None and path.name == unit:
            return path
        if time.monotonic() > deadline:
            raise BackendUnavailable(NAME, f"pid {pid} is in {path}, not in scope {unit}")
        time.sleep(0.002)


def _enable_oom_group(cgroup: Path) -> None:
    """OOM kills the whole job, not one process of it (systemd 252 cannot set this on scopes)."""
    with contextlib.suppress(OSError):  # no memory controller here: nothing to group
        write(cgroup / "memory.oom.group", "1")  # Linux >= 4.19


def may_be_available() -> bool:
    """File checks only, no pystemd import: could this backend be the one ``auto`` picks?

    A waiter ahead of its turn asks this instead of ``probe()``, which imports pystemd.
    """
    import importlib.util

    return _host_problem() is None and importlib.util.find_spec("pystemd") is not None
