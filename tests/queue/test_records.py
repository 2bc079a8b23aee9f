"""Ticket and holder records: JSON round-trips, older and newer formats, forged fields."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cgseq.model import Limits
from cgseq.queue.records import FORMAT, HolderRecord, TicketRecord

HOLDER = HolderRecord(
    pid=10,
    job_pid=11,
    job_id="10-1f-1",
    argv=("python3", "-c", "pass"),
    cwd="/work/project",
    since=1700000000.5,
    backend="cgroup1",
    record={"paths": {"memory": "/sys/fs/cgroup/memory/cgseq/10-1f-1"}},
    limits=Limits(memory=1 << 30, swap=0, pids=64, timeout=30.0, kill_grace=2.0),
    peak_memory=5 << 20,
    memory_now=4 << 20,
    peak_pids=3,
)


def test_a_holder_record_round_trips() -> None:
    assert HolderRecord.from_json(HOLDER.to_json()) == HOLDER


def test_a_ticket_record_round_trips_and_keeps_its_key_out_of_the_json() -> None:
    ticket = TicketRecord(pid=7, argv=("make", "-j4"), cwd="/p", since=12.0, key="0001-0002")
    raw = ticket.to_json()
    assert "key" not in json.loads(raw)
    assert TicketRecord.from_json(raw, key="0001-0002") == ticket


def test_records_carry_their_format() -> None:
    assert json.loads(HOLDER.to_json())["v"] == FORMAT
    assert json.loads(TicketRecord(pid=1).to_json())["v"] == FORMAT


def test_a_record_from_before_formats_were_numbered_reads_as_format_1() -> None:
    """What cgseq 0.1 wrote: the same fields, no "v"."""
    old = {k: v for k, v in json.loads(HOLDER.to_json()).items() if k != "v"}
    read = HolderRecord.from_json(json.dumps(old).encode())
    assert read == HOLDER and read.format == 1 and read.problem is None and not read.newer


def test_a_newer_format_is_refused_clearly_not_guessed_at() -> None:
    newer = json.loads(HOLDER.to_json()) | {"v": FORMAT + 1}
    read = HolderRecord.from_json(json.dumps(newer).encode())
    assert read.newer and read.format == FORMAT + 1
    assert read.problem == (
        f"written by a newer cgseq (record format {FORMAT + 1}; this one reads up to {FORMAT})"
    )
    assert read.pid is None and read.record is None  # nothing in it is acted on


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[1, 2]", b"42", b'{"v": "one"}', b'{"v": true}']
)
def test_what_is_not_a_record_reads_as_a_problem_never_an_exception(raw: bytes) -> None:
    for read in (HolderRecord.from_json(raw), TicketRecord.from_json(raw)):
        assert read.problem is not None and read.problem.startswith("not a cgseq record")
        assert read.pid is None and not getattr(read, "newer", False)


def test_a_mistyped_field_reads_as_unknown_and_the_rest_stays() -> None:
    forged = json.loads(HOLDER.to_json()) | {
        "pid": "10",
        "job_pid": True,
        "argv": ["ok", 3],
        "since": "yesterday",
        "record": [1],
        "limits": {"memory": "1G", "timeout": 30, "kill_grace": None},
    }
    read = HolderRecord.from_json(json.dumps(forged).encode())
    assert read.problem is None
    assert (read.pid, read.job_pid, read.argv, read.since, read.record) == (None,) * 5
    assert read.limits == Limits(memory=None, swap=None, pids=None, timeout=30.0)
    assert read.job_id == HOLDER.job_id and read.backend == HOLDER.backend


_text = st.text(max_size=20)
_maybe_int = st.none() | st.integers(min_value=-(2**63), max_value=2**63)
_maybe_float = st.none() | st.floats(allow_nan=False, allow_infinity=False)


@given(
    pid=_maybe_int,
    argv=st.none() | st.lists(_text, max_size=4).map(tuple),
    cwd=st.none() | _text,
    since=_maybe_float,
    backend=st.none() | _text,
    peak=_maybe_int,
)
def test_any_record_cgseq_writes_reads_back_the_same(pid, argv, cwd, since, backend, peak) -> None:
    holder = HolderRecord(
        pid=pid, argv=argv, cwd=cwd, since=since, backend=backend, peak_memory=peak
    )
    assert HolderRecord.from_json(holder.to_json()) == holder
    ticket = TicketRecord(pid=pid, argv=argv, cwd=cwd, since=since)
    assert TicketRecord.from_json(ticket.to_json()) == ticket


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    )
)
def test_any_json_at_all_reads_without_raising(value: object) -> None:
    raw = json.dumps(value).encode()
    HolderRecord.from_json(raw)
    TicketRecord.from_json(raw)
