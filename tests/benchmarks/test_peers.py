"""The peers in the benchmark report: same-run figures, results.md's rescaled by the floor, the
unreachable flag, and how ``run.py`` finds and schedules the peers. Synthetic rows only: no timings.
"""

from __future__ import annotations

import importlib.util
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))

from _peers_ref import PeerFigures  # noqa: E402
from _peers_venv import PEER_METRICS, ExternalPeer, PeerUnavailable, find_peer, parse_peer_names  # noqa: E402
from _report import Runs, TargetCheck, check_targets, ideal_rate, peer_figure  # noqa: E402
from _tables import peer_sources, render  # noqa: E402

# results.md as a table of figures (numbers as in the real file, so the texts read familiar)
REFS = {
    "plain-asyncio": PeerFigures(
        name="plain-asyncio",
        latency_ratio_warm=1.008,
        us_per_call=18.0,
        exec_per_s=702.0,
        fanout_s={1000: 0.029},
        import_s=0.107,
    ),
    "langgraph": PeerFigures(
        name="langgraph",
        latency_ratio_warm=1.034,
        us_per_call=624.0,
        exec_per_s=87.15,
        fanout_s={1000: 0.444},
        import_s=1.435,
    ),
    "langgraph-sqlite": PeerFigures(name="langgraph-sqlite", us_per_call=2277.0, exec_per_s=22.0),
    "dbos": PeerFigures(name="dbos", us_per_call=6817.0, exec_per_s=8.11),
}

OVERHEAD_LG = "b. overhead in-memory ≥ 10× below langgraph"
THROUGHPUT_LG = "c. 200 concurrent, in-memory ≥ 4× langgraph"
THROUGHPUT_LGS = "c. 200 concurrent, SQLite history ≥ 9× langgraph-sqlite"


def _row(peer: str, metric: str, **fields: Any) -> dict[str, Any]:
    return {"peer": peer, "metric": metric, "ok": True, **fields}


def _overhead(peer: str, us: float) -> dict[str, Any]:
    return _row(peer, "overhead", us_per_call_steady=us)


def _throughput(peer: str, rate: float, *, ideal_wall_s: float = 0.24) -> dict[str, Any]:
    return _row(peer, "throughput", n=200, L=ideal_wall_s / 12, exec_per_s=rate, ideal_wall_s=ideal_wall_s)


def _checks(rows: list[dict[str, Any]], refs: dict[str, PeerFigures] = REFS) -> dict[str, TargetCheck]:
    return {c.target: c for c in check_targets(Runs(rows), refs)}


# --- the basis of a peer figure -------------------------------------------------------------------


def test_a_peer_measured_in_the_run_is_compared_on_its_own_median() -> None:
    # results.md's langgraph (624 µs, 12.5× quorum's 50) would pass; the same-run median (181) misses
    rows = [_overhead("plain-asyncio", 4.3), _overhead("quorum", 50.0)]
    rows += [_overhead("langgraph", us) for us in (181.0, 196.0, 167.0)]
    check = _checks(rows)[OVERHEAD_LG]
    assert check.passed is False
    assert check.peers.startswith("langgraph 181 µs, same run (n=3, 42.1× floor; ours 3.6× below)")
    assert "624" not in check.peers


def test_a_peer_not_measured_is_results_md_rescaled_by_this_runs_floor() -> None:
    # rescaled: 624 / 18 × 4.3 = 149 µs, 2.98× quorum's 50 -> miss (the raw 624 µs would pass)
    rows = [_overhead("plain-asyncio", 4.3), _overhead("quorum", 50.0)]
    figure = peer_figure(Runs(rows), REFS, "langgraph", "overhead")
    assert not figure.same_run
    assert figure.value == pytest.approx(624.0 / 18.0 * 4.3)
    check = _checks(rows)[OVERHEAD_LG]
    assert check.passed is False
    assert check.peers == ("langgraph 149 µs, results.md rescaled by floor (624/18 × 4.3; ours 3.0× below)")


def test_rescaling_follows_this_runs_floor_both_ways() -> None:
    # the same quorum figure passes against a slow floor: the peer is rescaled with it
    rows = [_overhead("plain-asyncio", 18.0), _overhead("quorum", 50.0)]
    check = _checks(rows)[OVERHEAD_LG]
    assert check.passed is True
    assert check.peers == "langgraph 624 µs, results.md rescaled by floor (624/18 × 18; ours 12.5× below)"


def test_without_a_floor_results_md_is_not_used_as_it_stands() -> None:
    rows = [_overhead("quorum", 50.0), _row("quorum", "throughput", n=200, exec_per_s=600.0)]
    checks = _checks(rows)
    for target in (OVERHEAD_LG, THROUGHPUT_LG):
        assert checks[target].passed is None  # no basis -> NO DATA (counted as a miss), never a pass
        assert "not rescaled: no matching floor in this run" in checks[target].peers
    assert peer_figure(Runs(rows), REFS, "langgraph", "overhead").value is None


def test_a_peer_whose_processes_failed_falls_back_to_the_rescaled_figure_and_says_so() -> None:
    rows = [_overhead("plain-asyncio", 4.3), _overhead("quorum-sqlite", 110.0)]
    rows.append({"peer": "dbos", "metric": "overhead", "ok": False, "error": "boom"})
    figure = peer_figure(Runs(rows), REFS, "dbos", "overhead")
    assert figure.basis == "results.md rescaled by floor"
    assert figure.value == pytest.approx(6817.0 / 18.0 * 4.3)
    assert (
        "1 process(es) in this run failed"
        in _checks(rows)["b. overhead SQLite history ≥ 40× below dbos"].peers
    )


@pytest.mark.parametrize(
    ("metric", "size", "field", "floor", "peer", "rescaled"),
    [
        ("fanout", 1000, "wall_s", 0.0154, 0.19, 0.444 / 0.029 * 0.0154),
        ("import", None, "import_s", 0.03, 0.4, 1.435 / 0.107 * 0.03),
        ("latency", None, "ratio_warm", 1.01, 1.03, 1.034 / 1.008 * 1.01),
        ("throughput", 200, "exec_per_s", 747.0, 226.0, 87.15 / 702.0 * 747.0),
    ],
)
def test_every_compared_metric_has_both_bases(
    metric: str, size: int | None, field: str, floor: float, peer: float, rescaled: float
) -> None:
    extra = {} if size is None else {"N" if metric == "fanout" else "n": size}
    floor_row = _row("plain-asyncio", metric, **extra, **{field: floor})
    alone = peer_figure(Runs([floor_row]), REFS, "langgraph", metric, size)
    assert alone.basis == "results.md rescaled by floor"
    assert alone.value == pytest.approx(rescaled)
    both = peer_figure(
        Runs([floor_row, _row("langgraph", metric, **extra, **{field: peer})]),
        REFS,
        "langgraph",
        metric,
        size,
    )
    assert (both.basis, both.value, both.processes) == ("same run", peer, 1)


def test_fan_out_and_import_rows_show_the_peer_with_its_basis() -> None:
    rows = [
        _row("plain-asyncio", "fanout", N=1000, L=0.01, wall_s=0.0154),
        _row("quorum", "fanout", N=1000, L=0.01, wall_s=0.0257),
        _row("langgraph", "fanout", N=1000, L=0.01, wall_s=0.19),
        _row("plain-asyncio", "import", import_s=0.03),
    ]
    checks = _checks(rows)
    assert (
        checks["d. fan-out N=1,000 wall ≤ 2× floor"].peers == "langgraph 0.19 s, same run (n=1, 12.3× floor)"
    )
    assert checks["f. `import quorum` ≤ 0.25 s (wall, fresh interpreter)"].peers.startswith(
        "langgraph 0.402 s, results.md rescaled by floor (1.44/0.107 × 0.03"
    )
    assert checks["d. fan-out N=10,000 wall ≤ 3× floor"].peers == ""  # nobody has a figure there


# --- the unreachable flag -----------------------------------------------------------------------------


def test_a_throughput_target_above_the_ideal_bound_is_flagged_unreachable() -> None:
    rows = [
        _throughput("plain-asyncio", 747.0),
        _throughput("quorum", 600.0),
        _throughput("langgraph", 226.0),
    ]
    assert ideal_rate(Runs(rows), 200) == pytest.approx(200 / 0.24)
    check = _checks(rows)[THROUGHPUT_LG]
    assert check.passed is False
    assert check.unreachable == "4 × 226/s = 904/s > ideal 833/s"
    assert check.verdict == "**MISS** (unreachable: 4 × 226/s = 904/s > ideal 833/s)"


def test_a_reachable_throughput_target_is_a_plain_miss() -> None:
    rows = [
        _throughput("plain-asyncio", 747.0),
        _throughput("quorum", 600.0),
        _throughput("langgraph", 160.0),
    ]
    check = _checks(rows)[THROUGHPUT_LG]  # 4 × 160 = 640/s, under 833/s: quorum's 600 just misses
    assert (check.passed, check.unreachable, check.verdict) == (False, "", "**MISS**")


def test_the_ideal_bound_comes_from_the_rows() -> None:
    # with L = 10 ms the ideal is 200 / 0.12 s = 1,667/s, so 4 × 226/s is within reach
    rows = [_throughput(p, r, ideal_wall_s=0.12) for p, r in (("quorum", 600.0), ("langgraph", 226.0))]
    assert ideal_rate(Runs(rows), 200) == pytest.approx(200 / 0.12)
    assert _checks(rows)[THROUGHPUT_LG].unreachable == ""
    assert ideal_rate(Runs([]), 200) is None


def test_the_rescaled_figure_is_checked_against_the_bound_too() -> None:
    # langgraph-sqlite not measured: 22 / 702 × 747 = 23.4/s; 9 × 23.4 = 211/s is reachable
    rows = [_throughput("plain-asyncio", 747.0), _throughput("quorum-sqlite", 409.0)]
    check = _checks(rows)[THROUGHPUT_LGS]
    assert check.passed is True
    assert check.unreachable == ""
    assert check.peers.startswith("langgraph-sqlite 23.4/s, results.md rescaled by floor (22/702 × 747")
    # a fast peer (same run) makes the same target unreachable
    rows.append(_throughput("langgraph-sqlite", 100.0))
    assert _checks(rows)[THROUGHPUT_LGS].unreachable == "9 × 100/s = 900/s > ideal 833/s"


# --- the report -----------------------------------------------------------------------------------


def _sample_rows() -> list[dict[str, Any]]:
    return [
        _overhead("plain-asyncio", 4.3),
        _overhead("quorum", 50.0),
        _overhead("langgraph", 181.0),
        _overhead("langgraph", 190.0),
        _throughput("plain-asyncio", 747.0),
        _throughput("quorum", 600.0),
        _throughput("langgraph", 226.0),
    ]


def test_the_line_above_the_targets_names_the_basis_of_each_peer() -> None:
    line = peer_sources(Runs(_sample_rows()))
    assert "Peers measured in this run" in line
    assert "langgraph — overhead 2, throughput 1" in line
    assert "Not run, so results.md's figures rescaled by the floor" in line
    assert line.index("Not run") < line.index("langgraph-sqlite, dbos")
    nothing_run = peer_sources(Runs([_overhead("plain-asyncio", 4.3)]))
    assert "Peers measured" not in nothing_run
    assert "langgraph, langgraph-sqlite, dbos." in nothing_run


def test_the_report_never_compares_with_a_bare_results_md_figure() -> None:
    report = render(Runs(_sample_rows()), REFS, "Machine: test")
    targets = report.split("### a–b.")[0]
    assert "Peers measured in this run" in targets
    assert "langgraph 186 µs, same run" in targets
    assert "langgraph-sqlite 544 µs, results.md rescaled by floor (2,277/18 × 4.3" in targets
    assert "dbos 1,629 µs, results.md rescaled by floor (6,817/18 × 4.3" in targets
    assert "2,277 µs" not in targets
    assert "1 of the misses cannot be met in this run" in targets
    assert "| langgraph | 200 |" in report  # the same-run peer gets its row in the detail tables
    # results.md's figures stay available, raw, under a heading that says they are no basis
    raw = report.split("### results.md as it stands")[1]
    assert "| plain-asyncio | 1.008 | 18 | 702 |" in raw
    assert "| langgraph | 1.034 | 624 |" in raw


# --- run.py: which peers, and where in the rounds ------------------------------------------------------


def _driver() -> Any:
    """``benchmarks/run.py``, under the name test_short.py gives it (loaded once per session)."""
    name = "quorum_benchmarks_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH_DIR / "run.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _peer(name: str) -> ExternalPeer:
    return ExternalPeer(
        name=name, python=Path("/x/python"), script=Path(f"/x/peer_{name}.py"), metrics=PEER_METRICS[name]
    )


def test_the_peers_join_the_floors_rounds_with_as_many_processes() -> None:
    driver = _driver()
    mode = driver.MODES["full"]
    others = [_peer(n) for n in ("langgraph", "langgraph_sqlite", "dbos")]
    steps = list(driver.plan(mode, others))
    assert [s for s in steps if s[0] in ("plain-asyncio", "quorum", "quorum-sqlite")] == list(
        driver.plan(mode)
    )

    def count(peer: str, metric: str, size: str | None = None) -> int:
        return sum(
            1 for p, m, extra in steps if p == peer and m == metric and (size is None or size in extra)
        )

    for metric, size in (("latency", None), ("overhead", None), ("throughput", "200"), ("fanout", "1000")):
        assert count("langgraph", metric, size) == count("plain-asyncio", metric, size) > 0
    assert count("langgraph-sqlite", "overhead") == count("dbos", "overhead") == mode.reps
    assert count("langgraph-sqlite", "throughput", "200") == mode.reps
    assert count("langgraph", "import") == count("dbos", "import") == 1
    # not where no target compares them (and the cost would be large)
    assert count("langgraph", "throughput", "2000") == count("langgraph", "fanout", "10000") == 0
    assert count("dbos", "throughput") == count("langgraph-sqlite", "latency") == 0
    # interleaved: each overhead round is the floor, quorum, then the peers, before the next round
    overhead = [p for p, m, _ in steps if m == "overhead"]
    one_round = ["plain-asyncio", "quorum", "quorum-sqlite", "langgraph", "langgraph-sqlite", "dbos"]
    assert overhead == one_round * mode.reps


def test_short_mode_runs_peers_only_when_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    driver = _driver()
    peers_dir, root = _fake_peers(tmp_path)
    monkeypatch.setattr(driver, "peers_dir", lambda: peers_dir)
    monkeypatch.setenv("VENV_ROOT", str(root))
    short, full = driver.MODES["short"], driver.MODES["full"]
    assert driver.select_peers(None, mode=short) == []
    assert [p.name for p in driver.select_peers([], mode=short)] == ["langgraph", "langgraph_sqlite"]
    assert [p.name for p in driver.select_peers(None, mode=full)] == ["langgraph", "langgraph_sqlite"]
    assert [p.name for p in driver.select_peers(["langgraph-sqlite"], mode=full)] == ["langgraph_sqlite"]


def test_a_peer_without_its_venv_is_reported_and_left_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = _driver()
    peers_dir, root = _fake_peers(tmp_path)
    monkeypatch.setattr(driver, "peers_dir", lambda: peers_dir)
    monkeypatch.setenv("VENV_ROOT", str(root))
    chosen = driver.select_peers(["dbos,langgraph"], mode=driver.MODES["full"])
    assert [p.name for p in chosen] == ["langgraph"]
    err = capsys.readouterr().err
    assert "peer left out: dbos: no virtualenv at" in err
    assert "rescaled by the floor" in err


def _fake_peers(tmp_path: Path) -> tuple[Path, Path]:
    """A peers folder with three scripts, and a venv root where only the langgraph venv is set up."""
    peers_dir, root = tmp_path / "peers", tmp_path / "venvs"
    peers_dir.mkdir()
    for name, venv, pip in (
        ("langgraph", "langgraph", "langgraph aiosqlite"),
        ("langgraph_sqlite", "langgraph", "langgraph aiosqlite"),
        ("dbos", "dbos", "dbos"),
    ):
        (peers_dir / f"peer_{name}.py").write_text(f'"""doc"""\n# bench-venv: {venv}\n# bench-pip: {pip}\n')
    python = root / "langgraph" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    (root / "langgraph" / ".bench-ok").write_text("pkgs: langgraph aiosqlite\nlanggraph==1.2.24\n")
    return peers_dir, root


def test_find_peer_wants_the_venv_that_run_all_set_up(tmp_path: Path) -> None:
    peers_dir, root = _fake_peers(tmp_path)
    found = find_peer("langgraph_sqlite", peers_dir, root)
    assert (found.label, found.python, found.script) == (
        "langgraph-sqlite",
        root / "langgraph" / "bin" / "python",
        peers_dir / "peer_langgraph_sqlite.py",
    )
    with pytest.raises(PeerUnavailable, match="no virtualenv"):
        find_peer("dbos", peers_dir, root)
    with pytest.raises(PeerUnavailable, match=r"no \S*/peer_prefect\.py"):
        find_peer("prefect", peers_dir, root)
    (root / "langgraph" / ".bench-ok").write_text("pkgs: langgraph\n")
    with pytest.raises(PeerUnavailable, match="other packages"):
        find_peer("langgraph", peers_dir, root)
    (root / "langgraph" / ".bench-ok").unlink()
    with pytest.raises(PeerUnavailable, match=r"no \.bench-ok"):
        find_peer("langgraph", peers_dir, root)


def test_peer_names_are_read_from_spaces_commas_and_either_spelling() -> None:
    assert parse_peer_names(["langgraph,dbos", "langgraph-sqlite peer_langgraph.py"]) == [
        "langgraph",
        "dbos",
        "langgraph_sqlite",
    ]
    assert parse_peer_names([]) == []
    with pytest.raises(ValueError, match="unknown peer 'plain'"):
        parse_peer_names(["plain"])
