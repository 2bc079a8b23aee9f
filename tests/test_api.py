"""``cgseq.run(argv, ...)`` gives what ``cgseq run`` gives: each case runs both, for real.

The library call runs in the test process (its own private state dir, from the autouse
fixture, and a cgroup parent of these tests' own); the CLI runs as ``python -m cgseq run
--json`` in the same directory, so both queue on the same slot under the same settings.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cgseq
from cgseq import backends
from tests.cli.cli_support import parse_result, remove_test_cgroups
from tests.conftest import require
from tests.support import REPO, WAITING, run_cgseq, wait_until, with_repo_on_path

pytestmark = pytest.mark.timeout(90)

CGROUP_PARENT = "cgseq-test-api"
HOG = [sys.executable, str(REPO / "tests" / "helpers" / "hog.py"), "16", "0.02"]
HOG += ["--max", "400", "--quiet"]  # over 64M within a second; at most 400M if never killed
MISSING = "cgseq-no-such-command-5b1e"


@pytest.fixture(autouse=True)
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project dir of its own, the current dir of both the call and the CLI."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("CGSEQ_CGROUP_PARENT", CGROUP_PARENT)
    yield project
    remove_test_cgroups(CGROUP_PARENT)


def cli(*args: object, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], Any]:
    """``cgseq run --json ARGS`` in the current dir: the process and its JSON result."""
    done = run_cgseq("run", "--json", *args, cwd=os.getcwd(), timeout=timeout)
    return done, parse_result(done.stdout) if done.stdout.strip() else None


def test_the_exit_code_is_the_jobs():
    result = cgseq.run(["sh", "-c", "exit 3"])
    done, reported = cli("--", "sh", "-c", "exit 3")
    assert result.exit_code == result.returncode == done.returncode == 3
    assert result.reason is cgseq.TerminationReason.EXITED
    assert reported["reason"] == result.reason.value
    assert cgseq.run(["true"]).returncode == 0


@pytest.mark.parametrize("timeout", ["0.5s", 0.5])
def test_a_timeout_is_124_with_the_reason(timeout: str | float) -> None:
    result = cgseq.run(["sleep", "30"], timeout=timeout)
    done, reported = cli("--timeout", "0.5s", "--", "sleep", "30")
    assert result.exit_code == done.returncode == 124
    assert result.reason.value == reported["reason"] == "timeout"
    assert result.detail == reported["detail"]


@pytest.mark.parametrize("backend", ["poll", "cgroup1"])
def test_a_memory_kill_is_137_with_the_reason(backend: str):
    if backend != "poll":
        require("root", os.geteuid() == 0, f"the {backend} backend creates groups as root")
        found = backends.load(backend).probe()
        require(backend, found.available, f"{found.reason} (fix: {found.fix})")
    result = cgseq.run(HOG, memory="64M", backend=backend, timeout=30)
    done, reported = cli("--memory", "64M", "--backend", backend, "--timeout", "30", "--", *HOG)
    assert result.exit_code == done.returncode == 137, (result, done.stderr)
    assert result.reason.value == reported["reason"] == "memory"
    assert result.backend == reported["backend"] == backend
    assert result.detail and "64M" in result.detail, result.detail
    assert reported["detail"] and "64M" in reported["detail"]
    assert cgseq.run(HOG, memory=64 << 20, backend=backend, timeout=30).exit_code == 137


def test_a_missing_command_is_127():
    result = cgseq.run([MISSING, "arg"])
    done, reported = cli("--", MISSING, "arg")
    assert result.exit_code == done.returncode == 127
    assert result.reason.value == reported["reason"] == "not-found"
    assert result.detail and MISSING in result.detail


def test_captured_output_is_stdout_and_stderr_apart():
    script = "echo to-out; echo to-err >&2; exit 3"
    result = cgseq.run(["sh", "-c", script], capture_output=True)
    done = run_cgseq("run", "--", "sh", "-c", script)
    assert (result.stdout, result.stderr) == (b"to-out\n", b"to-err\n")
    assert done.stdout == result.stdout.decode()
    assert done.stderr == result.stderr.decode()
    assert result.returncode == done.returncode == 3
    text = cgseq.run(["sh", "-c", script], capture_output=True, text=True)
    assert (text.stdout, text.stderr) == ("to-out\n", "to-err\n")


def test_large_output_is_captured_without_a_deadlock():
    size = 5 << 20
    code = f"import os; os.write(1, b'o' * {size}); os.write(2, b'e' * {size}); os.write(1, b'end')"
    result = cgseq.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.returncode == 0, result
    assert result.stdout == b"o" * size + b"end"
    assert result.stderr == b"e" * size


def test_output_is_not_captured_unless_asked(capfd: pytest.CaptureFixture[str]):
    result = cgseq.run(["sh", "-c", "echo to-out; echo to-err >&2"])
    assert result.stdout is None and result.stderr is None
    assert capfd.readouterr() == ("to-out\n", "to-err\n")


def test_check_raises_a_called_process_error_with_the_result():
    with pytest.raises(cgseq.JobFailed) as raised:
        cgseq.run(["sh", "-c", "echo why >&2; exit 5"], capture_output=True, check=True)
    failed = raised.value
    assert isinstance(failed, subprocess.CalledProcessError)
    assert isinstance(failed, cgseq.CgseqError)
    assert failed.returncode == failed.result.exit_code == 5
    assert failed.cmd == ["sh", "-c", "echo why >&2; exit 5"]
    assert failed.stderr == b"why\n" and failed.stdout == b""
    assert cgseq.run(["true"], check=True).returncode == 0


def test_a_timeout_with_check_says_why():
    with pytest.raises(subprocess.CalledProcessError) as raised:
        cgseq.run(["sleep", "30"], timeout=0.2, check=True)
    assert raised.value.returncode == 124
    assert "timeout" in str(raised.value)


NESTED = """
import json, sys, cgseq
result = cgseq.run(["sh", "-c", "echo $CGSEQ_JOB_ID"], capture_output=True, text=True,
                   wait_timeout=5)
print(json.dumps({"code": result.returncode, "wait": result.queue_wait,
                  "inner": result.stdout.strip(), "backend": result.backend}))
"""


@pytest.mark.parametrize("outer", ["cli", "api"])
def test_a_call_inside_a_job_runs_inline(outer: str):
    """Queued behind its own enclosing job it would wait out --wait-timeout and fail."""
    inner = [sys.executable, "-c", NESTED]
    if outer == "cli":
        done = run_cgseq("run", "--backend", "poll", "--wait-timeout", "5", "--", *inner)
        assert done.returncode == 0, done.stderr
        assert WAITING not in done.stderr, done.stderr
        output = done.stdout
    else:
        result = cgseq.run(inner, backend="poll", env=with_repo_on_path(), capture_output=True)
        assert result.returncode == 0, result.stderr
        output = result.stdout.decode()
    seen = json.loads(output)
    assert seen["code"] == 0 and seen["wait"] == 0.0
    assert seen["backend"] == "poll"  # the enclosing job's, as `cgseq run` nested is
    assert seen["inner"], "the nested job got a job id of its own"


@pytest.mark.parametrize(
    ("given", "flag", "value"),
    [
        ({"memory": "1K"}, "--memory", "1K"),
        ({"timeout": "soon"}, "--timeout", "soon"),
        ({"backend": "nope"}, "--backend", "nope"),
        ({"retry": -1}, "--retry", "-1"),
    ],
)
def test_a_bad_value_is_a_usage_error_with_the_clis_message(
    given: dict[str, Any], flag: str, value: str
):
    with pytest.raises(cgseq.UsageError) as raised:
        cgseq.run(["true"], **given)
    done = run_cgseq("run", f"{flag}={value}", "--", "true")
    assert done.returncode == 2
    name = next(iter(given))
    said = str(raised.value)
    assert said.endswith(f"(from cgseq.run({name}=...))"), said
    assert said.removesuffix(f" (from cgseq.run({name}=...))") in done.stderr, done.stderr


def test_a_value_of_a_wrong_type_is_a_usage_error():
    with pytest.raises(cgseq.UsageError, match=r"must be a string or an integer, not a Python"):
        cgseq.run(["true"], memory=b"2G")  # type: ignore[arg-type]


def test_the_command_is_a_list_not_a_shell_line():
    with pytest.raises(cgseq.UsageError, match=r"as a list.*shlex.split"):
        cgseq.run("echo hi")
    with pytest.raises(cgseq.UsageError, match="no command given"):
        cgseq.run([])
    assert cgseq.run([Path("/bin/true")]).returncode == 0  # path-like arguments, as subprocess


def test_pyproject_settings_apply_and_an_argument_overrides_them(work: Path):
    (work / "pyproject.toml").write_text('[tool.cgseq]\nretry = 2\ntimeout = "20s"\n')
    result = cgseq.run(["sh", "-c", "exit 1"])
    _, reported = cli("--", "sh", "-c", "exit 1")
    assert result.attempts == reported["attempts"] == 3
    assert result.limits["timeout"] == reported["limits"]["timeout"] == 20.0
    overridden = cgseq.run(["sh", "-c", "exit 1"], retry=0, timeout="1m")
    _, reported = cli("--retry", "0", "--timeout", "1m", "--", "sh", "-c", "exit 1")
    assert overridden.attempts == reported["attempts"] == 1
    assert overridden.limits["timeout"] == reported["limits"]["timeout"] == 60.0


def test_the_project_is_the_one_of_cwd(work: Path, tmp_path: Path):
    (work / "pyproject.toml").write_text("[tool.cgseq]\nretry = 1\n")
    os.chdir(tmp_path)  # the fixture's monkeypatch.chdir puts the test's dir back
    assert cgseq.run(["false"]).attempts == 1
    result = cgseq.run(["false"], cwd=work)
    assert result.attempts == 2 and result.cwd == str(work)


def test_a_cwd_that_is_no_directory_is_a_usage_error(tmp_path: Path):
    with pytest.raises(cgseq.UsageError, match="not a directory"):
        cgseq.run(["true"], cwd=tmp_path / "gone")


def test_an_env_variable_applies_and_an_argument_overrides_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CGSEQ_RETRY", "1")
    assert cgseq.run(["false"]).attempts == 2
    assert cgseq.run(["false"], retry=0).attempts == 1


def test_notices_go_to_the_callback_or_into_the_warnings(capfd: pytest.CaptureFixture[str]):
    seen: list[str] = []
    result = cgseq.run(["true"], memory="512M", backend="poll", on_notice=seen.append)
    assert any("by sampling" in line for line in seen), seen
    assert all(line.startswith("warning: ") for line in seen), seen
    quiet = cgseq.run(["true"], memory="512M", backend="poll")
    assert quiet.warnings == result.warnings  # each notice once, without its prefix
    assert any("by sampling" in line for line in quiet.warnings), quiet.warnings
    assert capfd.readouterr() == ("", "")  # a library never prints


def test_the_job_gets_the_given_environment():
    result = cgseq.run(["sh", "-c", 'echo "$ONLY"'], env={"ONLY": "this"}, capture_output=True)
    assert result.stdout == b"this\n"


def test_import_cgseq_stays_cheap():
    code = "import cgseq, sys; print(sorted(m for m in sys.modules if m.startswith('cgseq')))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=with_repo_on_path(),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.strip() == "['cgseq']"


def test_the_package_says_it_is_typed():
    assert (Path(cgseq.__file__).parent / "py.typed").is_file()


INTERRUPTED = """
import sys, cgseq
try:
    cgseq.run(["sh", "-c", "touch ready; exec sleep 30"])
except KeyboardInterrupt:
    sys.exit(7)
sys.exit(0)
"""


def test_a_sigint_ends_the_job_then_reaches_the_caller(work: Path):
    script = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED],
        cwd=work,
        env=with_repo_on_path(),
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # no terminal of ours: only the test's SIGINT reaches it
    )
    try:
        wait_until(lambda: (work / "ready").exists(), 30, "the job to start")
        script.send_signal(signal.SIGINT)
        assert script.wait(30) == 7  # the job ended, then KeyboardInterrupt in the caller
    finally:
        if script.poll() is None:
            script.kill()
            script.wait(10)


def test_another_thread_gets_a_usage_error():
    raised: list[BaseException] = []

    def call() -> None:
        try:
            cgseq.run(["true"])
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(30)
    assert len(raised) == 1 and isinstance(raised[0], cgseq.UsageError), raised
    assert "main thread" in str(raised[0])


def test_the_caller_is_no_subreaper_after_the_call():
    """Else a test process would collect every orphan of every later test."""
    from cgseq.supervise import signals

    assert signals._is_subreaper() is False
    cgseq.run(["true"])
    assert signals._is_subreaper() is False
