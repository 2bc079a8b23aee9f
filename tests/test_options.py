"""Every option is declared once, and that declaration is what the CLI and ``cgseq config`` use.

Plain unit tests of ``config.OPTIONS`` and ``main.COMMANDS`` (issue 9, items 4 and 6), and two
real runs of ``cgseq`` that check the CLI reports exactly what is declared.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cgseq import config, main
from cgseq.errors import UsageError
from tests.support import run_cgseq, with_repo_on_path

OPTIONS = config.OPTIONS
NAMES = [option.name for option in OPTIONS]


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each command's parser by its ``COMMANDS`` name; a group's actions as "GROUP ACTION"."""
    found = {}
    for name, command in subparsers(parser).items():
        if any(isinstance(a, argparse._SubParsersAction) for a in command._actions):
            found |= {f"{name} {action}": p for action, p in subparsers(command).items()}
        else:
            found[name] = command
    return found


# what a command cannot parse without (its required positionals)
REQUIRED = {"run": ["--", "true"], "shims install": ["pytest"]}


def flags_of(parser: argparse.ArgumentParser) -> set[str]:
    flags = {name for action in parser._actions for name in action.option_strings}
    return flags - {"-h", "--help"}


# ------------------------------------------------------------------ the declarations


@pytest.mark.parametrize("what", ["name", "key", "env", "flag"])
def test_every_option_has_its_own_name_key_env_var_and_flag(what: str) -> None:
    spelled = [getattr(option, what) for option in OPTIONS]
    assert len(set(spelled)) == len(spelled), spelled


def test_keys_env_vars_and_flags_are_spelled_from_the_name() -> None:
    for option in OPTIONS:
        assert option.key == option.name and option.name.isidentifier()
        assert option.env == "CGSEQ_" + option.name.upper()
        if option.switch is None:
            assert option.flag == "--" + option.name.replace("_", "-")
    assert config.BY_NAME["record"].flag == "--no-record"


@pytest.mark.parametrize("option", OPTIONS, ids=NAMES)
def test_every_option_has_a_parser_help_and_a_default_that_parses(option: config.Option) -> None:
    assert callable(option.parse)
    assert option.help.strip() and "\n" not in option.help
    if option.default is not None:  # None: unlimited or not set, the state before any value
        assert config.value_of(option, option.default, "default") == option.default
    assert isinstance(option.show(option.default), str)
    for kind in option.form.types:
        assert kind is not str, "text is always taken; types lists the others"


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.switch], ids=lambda o: o.name)
def test_a_switch_stands_for_a_value_the_option_takes(option: config.Option) -> None:
    assert option.switch is not None
    value = config.value_of(option, option.switch.value, option.flag)
    assert value == option.switch.value and value != option.default
    assert option.switch.help.strip()


# ------------------------------------------------------------------ the command line


def test_the_subcommands_are_the_dispatch_table() -> None:
    assert list(command_parsers(main.build_parser())) == list(main.COMMANDS)


def test_run_flags_are_the_options_and_the_run_flags() -> None:
    run = subparsers(main.build_parser())["run"]
    declared = {option.flag for option in OPTIONS}
    declared |= {name for flag in main.RUN_FLAGS for name in flag.names}
    assert flags_of(run) == declared
    assert main.COMMANDS["run"].flags == main.RUN_FLAGS


@pytest.mark.parametrize("name", [n for n in main.COMMANDS if n != "run"])
def test_other_commands_take_exactly_their_declared_flags(name: str) -> None:
    parser = command_parsers(main.build_parser())[name]
    flags = main.COMMANDS[name].flags
    assert flags_of(parser) == {n for flag in flags for n in flag.names if n.startswith("-")}
    positionals = [action.dest for action in parser._actions if not action.option_strings]
    assert positionals == [flag.dest for flag in flags if not flag.names[0].startswith("-")]


@pytest.mark.parametrize("name", list(main.COMMANDS))
def test_each_command_gets_exactly_its_keyword_arguments(name: str) -> None:
    command = main.COMMANDS[name]
    argv = [*name.split(), *REQUIRED.get(name, [])]
    arguments = command.arguments(main.build_parser().parse_args(argv))
    function = getattr(__import__(command.module, fromlist=["_"]), command.function)
    parameters = inspect.signature(function).parameters
    assert set(arguments) == set(parameters)
    inspect.signature(function).bind(**arguments)  # raises if one is missing or unknown


def test_run_arguments_carry_each_flag_by_option_name() -> None:
    argv = ["run", "--memory", "2G", "--kill-grace", "1s", "--no-record", "--json", "--", "x"]
    arguments = main.COMMANDS["run"].arguments(main.build_parser().parse_args(argv))
    assert arguments["argv"] == ["x"]
    assert arguments["json_out"] is True and arguments["report"] is None
    settings = arguments["settings"]
    assert isinstance(settings, dict) and list(settings) == NAMES
    assert {n: v for n, v in settings.items() if v is not None} == {
        "memory": "2G",
        "kill_grace": "1s",
        "record": False,
    }


def test_doctor_no_canary_is_canary_false() -> None:
    parse = main.build_parser().parse_args
    arguments = main.COMMANDS["doctor"].arguments
    assert arguments(parse(["doctor"])) == {"as_json": False, "clean": False, "canary": True}
    assert arguments(parse(["doctor", "--no-canary", "--clean"]))["canary"] is False


def test_main_imports_no_command_until_one_runs() -> None:
    code = "import sys, cgseq.main; print([m for m in sys.modules if 'commands.' in m])"
    argv = [sys.executable, "-c", code]
    done = subprocess.run(argv, env=with_repo_on_path(), capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


# ------------------------------------------------------------------ resolve() and the CLI


def test_config_json_lists_exactly_the_declared_options_with_their_sources(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.cgseq]\nmemory = "300M"\nrecord = false\n')
    env = with_repo_on_path()
    env["CGSEQ_PIDS"] = "30"
    done = run_cgseq("config", "--json", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    settings = json.loads(done.stdout)["settings"]
    assert list(settings) == NAMES
    pyproject = f"{tmp_path}/pyproject.toml [tool.cgseq]"
    expected = {name: "default" for name in NAMES}
    expected |= {"memory": pyproject, "record": pyproject, "pids": "env CGSEQ_PIDS"}
    assert {name: s["source"] for name, s in settings.items()} == expected
    assert settings["memory"]["value"] == 300 << 20 and settings["record"]["value"] is False


def test_text_and_typed_values_resolve_alike(tmp_path: Path) -> None:
    as_text = config.resolve(str(tmp_path), {"memory": "2G", "timeout": "10m", "record": "no"})
    typed = config.resolve(str(tmp_path), {"memory": 2 << 30, "timeout": 600, "record": False})
    assert as_text == typed
    assert typed["timeout"] == config.Setting("timeout", 600.0, "--timeout")


def test_explicit_values_override_env_and_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.cgseq]\npids = 10\nretry = 1\n")
    monkeypatch.setenv("CGSEQ_PIDS", "20")
    monkeypatch.setenv("CGSEQ_RETRY", "2")
    settings = config.resolve(str(tmp_path), {"pids": 30, "retry": None})
    assert settings["pids"] == config.Setting("pids", 30, "--pids")
    assert settings["retry"] == config.Setting("retry", 2, "env CGSEQ_RETRY")


def test_a_bad_value_has_the_cli_message(tmp_path: Path) -> None:
    done = run_cgseq("run", "--memory", "2X", "--", "true", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    with pytest.raises(UsageError) as raised:
        config.resolve(str(tmp_path), {"memory": "2X"})
    assert done.stderr.strip() == f"cgseq: {raised.value}"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("memory", 1.5, "invalid memory '1.5': must be a string or an integer, not a float"),
        ("memory", True, "invalid memory 'true': must be a string or an integer, not a boolean"),
        ("lock", 5, "invalid lock '5': must be a string, not an integer"),
        ("timeout", b"1s", "must be a string, an integer or a float, not a Python bytes"),
        ("poll_interval", 0.001, "invalid poll-interval '0.001': must be at least 10ms"),
    ],
)
def test_a_typed_value_of_the_wrong_type_or_range_is_refused(
    tmp_path: Path, name: str, value: object, message: str
) -> None:
    with pytest.raises(UsageError, match=f"{re.escape(message)}.*from argument {name}"):
        config.resolve(str(tmp_path), {name: value}, given_as="argument {name}")


def test_an_unknown_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown option 'memroy'; known options: memory, "):
        config.resolve(str(tmp_path), {"memroy": "2G"})


@pytest.mark.parametrize("words", sorted(main.COMMANDS), ids=lambda name: name.replace(" ", "-"))
def test_every_command_prints_its_help(words: str) -> None:
    """``cgseq run --help`` was a traceback: a help text with a literal '%' (80%)."""
    done = run_cgseq(*words.split(" "), "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: cgseq {words}"), done.stdout
    assert "Traceback" not in done.stderr
