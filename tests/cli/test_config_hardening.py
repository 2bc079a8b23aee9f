"""Settings are honoured or refused, never dropped; bad input is one line and exit 2.

Issue 8, items 4, 5, 6 (``--report`` checked before the job), 10 (``--poll-interval``
floor) and 11 (``cgseq run -- ""``). Every case runs the real ``cgseq``; a job that would
run writes a marker file, so "nothing ran" is checked, not assumed.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from cli_support import cgseq_env, job, parse_result

NINES = "9" * 400
ROOT = os.geteuid() == 0


def marker_job(work: Path) -> tuple[Path, list[str]]:
    marker = work / "ran"
    return marker, ["touch", str(marker)]


def assert_usage_error(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2 with exactly one line on stderr, cgseq's own, naming what is wrong."""
    lines = done.stderr.splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert len(lines) == 1, f"expected one line, got: {done.stderr!r}"
    line = lines[0]
    assert line.startswith("cgseq: "), line
    assert "internal error" not in line and "Traceback" not in done.stderr, line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def own_lines(stderr: str) -> list[str]:
    """stderr without the lines of a run reaping what other tests' dead supervisors left."""
    return [line for line in stderr.splitlines() if "of a dead supervisor" not in line]


def config_json(cgseq, **env: str) -> dict[str, dict[str, object]]:
    done = cgseq("config", "--json", env=cgseq_env(env))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["settings"]  # type: ignore[no-any-return]


# ------------------------------------------------------------- item 4: every TOML spelling

SPELLINGS = {
    "space before ]": '[tool.cgseq ]\nmemory = "100M"\n',
    "spaces everywhere": '[ tool . cgseq ]\nmemory = "100M"\n',
    "tabs": '[\ttool.cgseq\t]\nmemory = "100M"\n',
    "quoted key": '[tool."cgseq"]\nmemory = "100M"\n',
    "literal-quoted key": "[tool.'cgseq']\nmemory = \"100M\"\n",
    "unicode escape": '[tool."\\u0063gseq"]\nmemory = "100M"\n',
    "inline table": '[tool]\ncgseq = {memory = "100M"}\n',
    "dotted key in [tool]": '[tool]\ncgseq.memory = "100M"\n',
    "dotted key at top": 'tool.cgseq.memory = "100M"\n',
    "after a comment": '[project]\nname = "x"\n# [tool.cgseq] is below\n[tool.cgseq]  # ok\n'
    'memory = "100M"\n',
}


@pytest.mark.parametrize("body", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_of_tool_cgseq_is_honoured(cgseq, project: Path, body: str) -> None:
    (project / "pyproject.toml").write_text(body)
    memory = config_json(cgseq)["memory"]
    assert memory == {
        "value": 100 << 20,
        "source": f"{project}/pyproject.toml [tool.cgseq]",
    }, body


def test_a_spaced_header_limits_the_job(cgseq, project: Path) -> None:
    """Not only `cgseq config`: the job itself runs under the limit from `[tool.cgseq ]`."""
    (project / "pyproject.toml").write_text('[tool.cgseq ]\nmemory = "100M"\npids = 64\n')
    done = cgseq("run", "--json", "--", "true")
    assert done.returncode == 0, done.stderr
    limits = parse_result(done.stdout)["limits"]
    assert isinstance(limits, dict)
    assert (limits["memory"], limits["pids"]) == (100 << 20, 64)


BROKEN = {
    "unclosed header": '[tool.cgseq\nmemory = "100M"\n',
    "unquoted value": "[tool.cgseq]\nmemory = 100M\n",
    "duplicate key": '[tool.cgseq]\nmemory = "1G"\nmemory = "2G"\n',
    "broken elsewhere": '[project\nname = "x"\n[tool.cgseq]\nmemory = "100M"\n',
    "duplicate table": '[tool.cgseq]\nmemory = "1G"\n[tool.cgseq]\npids = 5\n',
}


@pytest.mark.parametrize("body", BROKEN.values(), ids=BROKEN.keys())
def test_invalid_toml_is_refused_naming_the_file(cgseq, project: Path, work: Path, body: str):
    (project / "pyproject.toml").write_text(body)
    marker, argv = marker_job(work)
    assert_usage_error(cgseq("run", "--", *argv), str(project / "pyproject.toml"))
    assert not marker.exists(), "the job ran despite a broken pyproject.toml"
    assert_usage_error(cgseq("config"), "pyproject.toml")


WRONG = {
    "array": ("memory = [1]", "memory"),
    "bool for a count": ("pids = true", "pids"),
    "float for a count": ("pids = 1.5", "pids"),
    "bad flag": ('record = "maybe"', "record"),
    "int for a flag": ("record = 1", "record"),
    "table": ("timeout = {a = 1}", "timeout"),
    "int for a name": ("backend = 3", "backend"),
    "array for a lock": ('lock = ["a"]', "lock"),
    "int for a lock": ("lock = 5", "lock"),
    "date": ("memory = 2024-01-01", "memory"),
    "negative retry": ("retry = -1", "retry"),
    "inf": ("timeout = inf", "timeout"),
    "nan": ("kill_grace = nan", "kill_grace"),
    "unknown key": ('memroy = "1G"', "memroy"),
    "dashed key": ('poll-interval = "1s"', "poll-interval"),
    "sub-table": ('[tool.cgseq.x]\nmemory = "1G"', "x"),
}


@pytest.mark.parametrize(("body", "key"), WRONG.values(), ids=WRONG.keys())
def test_wrong_types_and_unknown_keys_name_the_key_and_the_file(
    cgseq, project: Path, work: Path, body: str, key: str
) -> None:
    (project / "pyproject.toml").write_text(f"[tool.cgseq]\n{body}\n")
    marker, argv = marker_job(work)
    assert_usage_error(cgseq("run", "--", *argv), key, str(project / "pyproject.toml"))
    assert not marker.exists()


NOT_A_TABLE = {
    "array of tables": '[[tool.cgseq]]\nmemory = "100M"\n',
    "scalar": "tool.cgseq = 5\n",
    "string": 'tool.cgseq = "memory=100M"\n',
    "tool a scalar": "tool = 5\n",
    "tool an array of tables": '[[tool]]\ncgseq = {memory = "100M"}\n',
}


@pytest.mark.parametrize("body", NOT_A_TABLE.values(), ids=NOT_A_TABLE.keys())
def test_tool_cgseq_that_is_not_a_table_is_refused(cgseq, project: Path, work: Path, body: str):
    (project / "pyproject.toml").write_text(body)
    marker, argv = marker_job(work)
    assert_usage_error(cgseq("run", "--", *argv), str(project / "pyproject.toml"))
    assert not marker.exists()


def test_a_pyproject_that_cannot_be_read_is_refused(cgseq, project: Path, work: Path) -> None:
    path = project / "pyproject.toml"
    marker, argv = marker_job(work)
    path.mkdir()
    assert_usage_error(cgseq("run", "--", *argv), str(path), "directory")
    path.rmdir()
    path.symlink_to(path.name)  # a link to itself: ELOOP
    assert_usage_error(cgseq("run", "--", *argv), str(path))
    path.unlink()
    path.write_bytes(b'[tool.cgseq]\nmemory = "100M"\nlock = "\xff\xfe"\n')
    assert_usage_error(cgseq("run", "--", *argv), str(path), "UTF-8")
    assert not marker.exists()


def test_a_fifo_pyproject_is_refused_without_hanging(cgseq, project: Path, work: Path) -> None:
    path = project / "pyproject.toml"
    os.mkfifo(path)
    marker, argv = marker_job(work)
    assert_usage_error(cgseq("run", "--", *argv, timeout=15), str(path), "not a regular file")
    assert not marker.exists()


def test_an_empty_pyproject_means_defaults(cgseq, project: Path) -> None:
    (project / "pyproject.toml").write_text("\n  \n")
    assert {s["source"] for s in config_json(cgseq).values()} == {"default"}


# ------------------------------------------------------ item 5: bad input is a usage error

# (option, value, what the message must name): flags, env vars and keys alike
NASTY = [
    ("pids", "²", "pids"),
    ("pids", "١٠", "pids"),
    ("retry", "²", "retry"),
    ("retry", "10" + "0" * 30, "at most 1000"),
    ("retry", "9" * 5000, "at most 1000"),
    ("pids", "9" * 5000, "at most 4194304"),
    ("pids", "4194305", "at most 4194304"),
    ("pids", "0", "at least 1"),
    ("memory", NINES, "at most"),
    ("memory", NINES + "." + NINES + "K", "at most"),
    ("memory", "8192P", "at most"),
    ("memory", "1.5", "at least 1M"),
    ("memory", "1023K", "at least 1M"),
    ("memory", "١٠٠M", "memory"),
    ("memory", "inf", "memory"),
    ("memory", "nan", "memory"),
    ("memory", "1e3", "memory"),
    ("swap", NINES, "at most"),
    ("timeout", NINES, "at most 3650d"),
    ("timeout", "1e300", "timeout"),
    ("timeout", "inf", "timeout"),
    ("timeout", "nan", "timeout"),
    ("timeout", "0.0001", "at least 1ms"),
    ("timeout", "3651d", "at most 3650d"),
    ("wait_timeout", "1e300", "wait-timeout"),
    ("wait_timeout", NINES, "at most 3650d"),
    ("wait_timeout", "0", "at least 1ms"),
    ("kill_grace", "none", "kill-grace"),
    ("kill_grace", NINES + "s", "at most 3650d"),
    ("poll_interval", "1e-7", "poll-interval"),
    ("poll_interval", "0.0000001", "at least 10ms"),
    ("poll_interval", "9ms", "at least 10ms"),
    ("poll_interval", "none", "poll-interval"),
    ("backend", "", "backend"),
    ("backend", "cgroup3", "backend"),
    ("leftovers", "KILL", "leftovers"),
    ("lock", "", "lock"),
    ("lock", " ", "lock"),
    ("lock", "a\nb", "lock"),
    ("lock", "a\tb", "lock"),
    ("lock", "x" * 5000, "at most 128"),
    ("record", "maybe", "record"),
]


def nasty_id(case: tuple[str, str, str]) -> str:
    return f"{case[0]}={case[1][:12]!r}"


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@pytest.mark.parametrize(("name", "value", "needle"), NASTY, ids=map(nasty_id, NASTY))
def test_bad_flag_values_are_one_line_usage_errors(cgseq, work: Path, name, value, needle):
    marker, argv = marker_job(work)
    option = ["--no-record"] if name == "record" else [flag(name), value]
    if name == "record":  # --no-record takes no value: the env var is the way in
        done = cgseq("run", "--", *argv, env=cgseq_env({"CGSEQ_RECORD": value}))
    else:
        done = cgseq("run", *option, "--", *argv)
    assert_usage_error(done, needle)
    assert not marker.exists(), "the job ran despite a bad value"


ENV_CASES = [case for case in NASTY if case[1].strip() and "\n" not in case[1]]


@pytest.mark.parametrize(("name", "value", "needle"), ENV_CASES, ids=map(nasty_id, ENV_CASES))
def test_bad_env_values_are_one_line_usage_errors(cgseq, work: Path, name, value, needle):
    marker, argv = marker_job(work)
    env = cgseq_env({"CGSEQ_" + name.upper(): value})
    assert_usage_error(cgseq("run", "--", *argv, env=env), needle, "CGSEQ_" + name.upper())
    assert not marker.exists()


@pytest.mark.parametrize(("name", "value", "needle"), NASTY, ids=map(nasty_id, NASTY))
def test_bad_pyproject_values_are_one_line_usage_errors(
    cgseq, project: Path, work: Path, name, value, needle
) -> None:
    (project / "pyproject.toml").write_text(f"[tool.cgseq]\n{name} = {json.dumps(value)}\n")
    marker, argv = marker_job(work)
    key = name if needle == flag(name)[2:] else needle  # the message names the key as written
    assert_usage_error(cgseq("run", "--", *argv), key, "pyproject.toml")
    assert not marker.exists()


def test_a_lock_with_a_nul_or_an_undecodable_byte_is_refused(cgseq, project: Path, work: Path):
    marker, argv = marker_job(work)
    (project / "pyproject.toml").write_text('[tool.cgseq]\nlock = "a\\u0000b"\n')
    assert_usage_error(cgseq("run", "--", *argv), "lock")
    (project / "pyproject.toml").unlink()
    raw = [os.fsencode(a) for a in ("run", "--lock")] + [b"a\xffb", b"--", *map(os.fsencode, argv)]
    done = subprocess.run(
        [os.fsencode(a) for a in cgseq_cmd()] + raw,
        cwd=project,
        env=cgseq_env(),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=30,
    )
    assert_usage_error(done, "lock")
    assert not marker.exists()


def cgseq_cmd() -> list[str]:
    import sys

    return [sys.executable, "-m", "cgseq"]


def test_bad_input_to_the_parser_itself_stays_one_line(cgseq, work: Path) -> None:
    marker, argv = marker_job(work)
    for args in (
        ["run", "--memory"],
        ["run", "--bogus\nsecond", "--", *argv],
        ["run", "--memory", "1G\nsecond line", "--", *argv],
        ["nosuch\ncommand"],
        ["run", "--retry", "-1", "--", *argv],
    ):
        assert_usage_error(cgseq(*args))
    assert not marker.exists()


def test_a_command_name_with_a_newline_is_reported_on_one_line(cgseq) -> None:
    done = cgseq("run", "--", "no such\ncommand")
    assert done.returncode == 127, done.stderr
    assert own_lines(done.stderr) == [
        "cgseq: command not found: no such\\ncommand (No such file or directory)"
    ]


# ------------------------------------------------------ item 5: one rule for accepted forms

ACCEPTED = [
    ("memory", "10 M", 10 << 20),
    ("memory", " 1.5 GiB ", 3 << 29),
    ("memory", "1M", 1 << 20),
    ("memory", "9223372036854775807", (1 << 63) - 1),
    ("memory", "max", None),
    ("swap", "0", 0),
    ("swap", "none", None),
    ("pids", " 5 ", 5),
    ("pids", "4194304", 4194304),
    ("pids", "max", None),
    ("timeout", "10 m", 600.0),
    ("timeout", "1h 30m", 5400.0),
    ("timeout", "1 h 30 m 5 s", 5405.0),
    ("timeout", "3650d", 3650 * 86400.0),
    ("timeout", "1ms", 0.001),
    ("timeout", "unlimited", None),
    ("kill_grace", "0", 0.0),
    ("kill_grace", "250 ms", 0.25),
    ("wait_timeout", "none", None),
    ("poll_interval", "10ms", 0.01),
    ("retry", "0", 0),
    ("retry", "1000", 1000),
]


@pytest.mark.parametrize(("name", "value", "expected"), ACCEPTED, ids=map(nasty_id, ACCEPTED))
def test_one_rule_for_spaces_units_and_bounds(cgseq, name: str, value: str, expected) -> None:
    setting = config_json(cgseq, **{"CGSEQ_" + name.upper(): value})[name]
    assert setting == {"value": expected, "source": f"env CGSEQ_{name.upper()}"}


def test_accepted_flag_forms_reach_the_job(cgseq) -> None:
    done = cgseq(
        "run", "--json", "--timeout", "10 m", "--memory", "10 M", "--swap", "0", "--", "true"
    )
    assert done.returncode == 0, done.stderr
    limits = parse_result(done.stdout)["limits"]
    assert isinstance(limits, dict)
    assert (limits["timeout"], limits["memory"], limits["swap"]) == (600.0, 10 << 20, 0)


# ----------------------------------------------------- item 6: --report checked before the job


def report_targets(work: Path) -> dict[str, Path]:
    (work / "a-file").write_text("")
    return {
        "missing directory": work / "no" / "such" / "report.json",
        "a directory": work,
        "below a file": work / "a-file" / "report.json",
        "name too long": work / ("x" * 300),
        "empty": Path(""),
    }


@pytest.mark.parametrize(
    "target", ["missing directory", "a directory", "below a file", "name too long", "empty"]
)
def test_an_unusable_report_path_is_refused_before_the_job(cgseq, work: Path, target: str):
    path = report_targets(work)[target]
    marker, argv = marker_job(work)
    assert_usage_error(cgseq("run", "--report", str(path), "--", *argv), "report")
    assert not marker.exists(), f"the job ran although --report {target} cannot be written"


def test_a_report_that_fails_after_the_job_keeps_its_exit_code(cgseq, work: Path) -> None:
    """/dev/full opens fine and fails on write (ENOSPC): the job ran, its code stands."""
    out = work / "mark.json"
    done = cgseq("run", "--report", "/dev/full", "--", *job("mark", out, "--code", "3"))
    assert out.exists(), "the job did not run"
    assert done.returncode == 3, done.stderr
    lines = [line for line in own_lines(done.stderr) if line.startswith("cgseq:")]
    assert len(lines) == 1 and lines[0].startswith("cgseq: warning: "), done.stderr
    assert "/dev/full" in lines[0] and "internal error" not in done.stderr


def test_a_json_result_that_cannot_be_written_keeps_the_exit_code(project: Path) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*cgseq_cmd(), "run", "--json", "--", "sh", "-c", "exit 4"],
            cwd=project,
            env=cgseq_env(),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert done.stderr.count("cgseq: warning:") == 1, done.stderr


def test_a_report_is_written_whole_and_replaces_an_older_one(cgseq, work: Path) -> None:
    report = work / "report.json"
    report.write_text("x" * 100_000)  # longer than a report: nothing of it may remain
    done = cgseq("run", "--report", str(report), "--", "sh", "-c", "exit 5")
    assert done.returncode == 5, done.stderr
    assert json.loads(report.read_text())["exit_code"] == 5


def test_a_report_to_a_pipe_still_works(cgseq, work: Path) -> None:
    done = cgseq("run", "--report", "/dev/stdout", "--", "true")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["exit_code"] == 0


# ------------------------------------------------------------- item 11: an empty command name


def test_an_empty_command_name_says_so(cgseq) -> None:
    done = cgseq("run", "--json", "--", "")
    assert done.returncode == 127, done.stderr
    lines = own_lines(done.stderr)
    assert lines == ["cgseq: command not found: '' (empty command name)"], done.stderr
    assert parse_result(done.stdout)["reason"] == "not-found"


def test_no_report_is_left_behind_when_the_job_never_ran(cgseq, hold, work: Path) -> None:
    """The report file is opened before the turn; a run that gives up waiting removes it."""
    holder = hold("holder")
    report = work / "report.json"
    done = cgseq("run", "--report", str(report), "--wait-timeout", "300ms", "--", "true")
    assert done.returncode == 125, done.stderr
    assert not report.exists(), "an empty report outlived a job that never ran"
    holder.release()
