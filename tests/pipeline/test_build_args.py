"""``egoimu build``'s arguments: every bad one stops the command before any work (no Dask cluster, no OUT), with
one line on stderr naming the option, the bad value and what is allowed, and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from egoimu.pipeline.build_args import make_config, parse_args, read_inputs
from egoimu.pipeline.config import BuildConfig
from egoimu.pipeline.imu import SyncParams

EGOIMU = str(Path(sys.executable).with_name("egoimu"))

#: Runs egoimu.pipeline.build.main on each argument list in one fresh interpreter and reports, per list, the exit
#: status, stderr, whether Dask's ``distributed`` was imported (dask_client imports it when it starts a cluster, and
#: nothing before it does) and whether OUT exists afterwards.
HARNESS = r"""
import contextlib, io, json, sys, traceback
from pathlib import Path
from egoimu.pipeline.build import main
report = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
        except BaseException:
            rc = "raised"
            traceback.print_exc(file=err)
    report.append({"rc": rc, "err": err.getvalue(), "dask": "distributed" in sys.modules,
                   "out": Path(argv[1]).exists()})
print(json.dumps(report))
"""


def _cases(tmp_path: Path) -> list[tuple[list[str], list[str]]]:
    """(options, what the one-line message must contain: the option, the bad value, the allowed values)."""
    bad_sync = tmp_path / "sync.csv"
    bad_sync.write_text("video_id,offset_s,scale\nP01_101,0.0,1.0\nP01_102,zero,1.0\n")
    bad_split = tmp_path / "split.csv"
    bad_split.write_text("participant_id,split\nP01,train\nP02,holdout\n")
    cfg = tmp_path / "build.yaml"
    cfg.write_text("shard: {clips_per_shard: 0}\n")
    cfg_ssl = tmp_path / "ssl.yaml"
    cfg_ssl.write_text("clip: {ssl_stride_s: -1}\n")
    cfg_ssl_word = tmp_path / "ssl-word.yaml"
    cfg_ssl_word.write_text("clip: {ssl_stride_s: sometimes}\n")
    return [
        (["--workers", "-2"], ["--workers", "'-2'", "integer >= 1"]),
        (["--workers", "0"], ["--workers", "'0'", "integer >= 1"]),
        (["--ssl-windows", "-1"], ["--ssl-windows", "-1", ">= 1/24"]),
        (["--ssl-windows", "0"], ["--ssl-windows", "0", ">= 1/24"]),
        (["--ssl-windows", "nan"], ["--ssl-windows", "nan", "finite"]),
        (["--ssl-windows", "often"], ["--ssl-windows", "'often'", "auto, off or a stride in seconds"]),
        (["--ssl-windows", "Auto"], ["--ssl-windows", "'Auto'", "auto, off or a stride in seconds"]),
        (["--clips-per-shard", "0"], ["--clips-per-shard", "0", "integer >= 1"]),
        (["--clips-per-shard", "-8"], ["--clips-per-shard", "-8", "integer >= 1"]),
        (["--split", "planed"], ["--split: 'planed' is neither planned, canonical nor a file"]),
        (["--split", str(bad_split)], ["--split", str(bad_split), "line 3", "holdout", "train, validation, test"]),
        (["--ratio", "1:2"], ["--ratio", "'1:2'", "three", ">= 0", "positive sum"]),
        (["--ratio", "a:b:c"], ["--ratio", "'a:b:c'", "three integers"]),
        (["--ratio", "0:0:0"], ["--ratio", "'0:0:0'", "positive sum"]),
        (["--sync", str(bad_sync)], ["--sync", str(bad_sync), "line 3", "'zero'"]),
        (["--sync-table", str(bad_sync)], ["--sync", str(bad_sync), "line 3"]),
        (["--sync", str(tmp_path / "none.csv")], ["--sync", "none.csv", "file not found"]),
        (["--sync", "bogus"], ["--sync", "'bogus'", "assumed, auto", "file not found"]),
        (["--dashboard", "everywhere"], ["--dashboard", "'everywhere'", "HOST:PORT"]),
        (["--encoding", "webp"], ["--encoding", "'webp'", "'raw', 'lossless', 'jpeg'"]),
        (["--config", str(cfg)], [str(cfg), "shard.clips_per_shard", "integer >= 1", "got 0"]),
        (["--config", str(cfg_ssl)], [str(cfg_ssl), "clip.ssl_stride_s", "got -1"]),
        (["--config", str(cfg_ssl_word)], [str(cfg_ssl_word), "clip.ssl_stride_s", "'auto', null", "'sometimes'"]),
        (["--narration-pass", "2"], ["--narration-pass is for --source ego4d"]),
        (["--source", "ego4d", "--narration-pass", "3"], ["--narration-pass", "invalid choice: 3"]),
        (["--source", "ego4d", "--split", "canonical"], ["--split canonical", "--source ego4d"]),
        (["--source", "ego4d", "--annotations", "a.json", "b.json"], ["--annotations", "one narration.json", "2"]),
    ]


def test_bad_arguments_stop_before_any_work(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    cases = _cases(tmp_path)
    argvs = [[str(root), str(tmp_path / f"out{i}"), *options] for i, (options, _) in enumerate(cases)]
    proc = subprocess.run([sys.executable, "-c", HARNESS, json.dumps(argvs)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for (options, expected), got in zip(cases, json.loads(proc.stdout)):
        lines = got["err"].splitlines()
        assert got["rc"] == 2, (options, got)
        assert len(lines) == 1 and "Traceback" not in got["err"], (options, got["err"])
        assert all(e in lines[0] for e in expected), (options, lines[0], expected)
        assert not got["dask"], f"{options}: a Dask cluster was started"
        assert not got["out"], f"{options}: OUT was created"


def test_workers_minus_two_exits_at_once_from_the_command(tmp_path):
    """It hung forever at 'probe 0%' (a LocalCluster of -2 workers)."""
    proc = subprocess.run([EGOIMU, "build", str(tmp_path), str(tmp_path / "out"), "--workers", "-2"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["egoimu build: error: argument --workers: expected an integer >= 1, got "
                                        "'-2' (see egoimu build --help)"]
    assert not (tmp_path / "out").exists()


def test_sync_table_is_read_once_by_the_driver_under_either_spelling(tmp_path):
    table = tmp_path / "sync.csv"
    table.write_text("\ufeffvideo_id,offset_s,scale\nP01_101,0.25,1.002\n", encoding="utf-8")  # BOM is fine
    for option in ("--sync", "--sync-table"):
        args = parse_args([str(tmp_path), str(tmp_path / "out"), option, str(table)])
        cfg = make_config(args)
        assert cfg.sync_table == str(table)  # the path is recorded in the config (manifest.json) ...
        assert read_inputs(args, cfg) == {"P01_101": SyncParams(0.25, 1.002)}  # ... the parsed table goes on
    args = parse_args([str(tmp_path), str(tmp_path / "out")])
    assert read_inputs(args, make_config(args)) == {}


def test_sync_modes_and_the_config_hash(tmp_path):
    """``--sync assumed`` is the default and leaves the config (and so every shard's config_sha256) as it was before
    the option existed; ``--sync auto`` is recorded in the config, changing its hash."""
    def cfg_of(*options: str):
        return make_config(parse_args([str(tmp_path), str(tmp_path / "out"), *options]))

    default, assumed, auto = cfg_of(), cfg_of("--sync", "assumed"), cfg_of("--sync", "auto")
    assert default == assumed and assumed.sync_mode == "assumed" and "sync_mode" not in assumed.to_dict()
    assert auto.sync_mode == "auto" and auto.sync_table is None and auto.to_dict()["sync_mode"] == "auto"
    assert auto.sha256() != assumed.sha256()
    assert BuildConfig.from_dict(auto.to_dict()) == auto and BuildConfig.from_dict(assumed.to_dict()) == assumed


def test_sync_default_per_source(tmp_path):
    """Each source's default mode, stated once (sync_defaults); an explicit --sync or a config's sync_mode wins.
    The EPIC default is the config of every earlier build: same hash."""
    from egoimu.pipeline.build_args import sync_origin
    from egoimu.pipeline.sources.sync_defaults import SYNC_DEFAULTS

    def of(*options: str):
        args = parse_args([str(tmp_path), str(tmp_path / "out"), *options])
        return make_config(args), sync_origin(args)

    (epic, who), (gopro, gwho) = of(), of("--source", "gopro")
    assert (epic.sync_mode, who) == (SYNC_DEFAULTS["epic"].mode, "default") == ("assumed", "default")
    assert epic.sha256() == BuildConfig().sha256()
    assert (gopro.sync_mode, gwho) == (SYNC_DEFAULTS["gopro"].mode, "default") == ("auto", "default")
    assert of("--source", "gopro", "--sync", "assumed") == (gopro.replace(sync_mode="assumed"), "--sync")
    (tmp_path / "c.yaml").write_text("sync_mode: assumed\n")
    assert of("--source", "gopro", "--config", str(tmp_path / "c.yaml"))[0].sync_mode == "assumed"
    assert of("--source", "gopro", "--config", str(tmp_path / "c.yaml"))[1] == str(tmp_path / "c.yaml")
    assert "gopro auto (prior container-timeline)" in " ".join(
        subprocess.run([EGOIMU, "build", "--help"], capture_output=True, text=True, check=True).stdout.split())


def test_latin1_byte_in_the_sync_table_names_the_line(tmp_path):
    table = tmp_path / "sync.csv"
    table.write_bytes(b"video_id,offset_s,scale\nP01_101,0,1\nP01_10\xe9,0,1\n")
    args = parse_args([str(tmp_path), str(tmp_path / "out"), "--sync", str(table)])
    with pytest.raises(ValueError, match=r"--sync: .*sync\.csv: not UTF-8 \(byte 0xe9\) \(line 3\)"):
        read_inputs(args, make_config(args))


@pytest.mark.parametrize("options, dashboard", [([], "127.0.0.1:0"), (["--dashboard", "0.0.0.0:8787"], "0.0.0.0:8787"),
                                                (["--no-dashboard"], None), (["--quiet"], None),
                                                (["--quiet", "--dashboard", "127.0.0.1:8787"], "127.0.0.1:8787")])
def test_dashboard_address(tmp_path, options, dashboard):
    from egoimu.pipeline.build_args import dashboard_of

    assert dashboard_of(parse_args([str(tmp_path), str(tmp_path / "out"), *options])) == dashboard


def _printed_build_config(capsys, *argv: str) -> str:
    from egoimu.pipeline.build import main

    assert main(["--print-config", *argv]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["--encoding", "jpeg", "--ssl-windows", "1.0", "--clips-per-shard", "8",
                                       "--sync", "auto", "--ratio", "3:1:1"]])
def test_print_config_round_trips_without_root_or_out(tmp_path, capsys, argv):
    text = _printed_build_config(capsys, *argv)
    path = tmp_path / "build.yaml"
    path.write_text(text)
    assert _printed_build_config(capsys, "--config", str(path)) == text
    cfg = make_config(parse_args(["R", "O", *argv]))
    assert BuildConfig.load(path) == cfg and f"config {cfg.sha256()[:12]}" in text.splitlines()[0]


def test_root_and_out_are_needed_to_build(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["ROOT"])
    assert exc.value.code == 2
    assert "required: out" in capsys.readouterr().err


def test_the_example_build_config_loads_as_it_is(capsys):
    path = Path(__file__).resolve().parents[2] / "configs" / "build.yaml"
    assert BuildConfig.load(path) == make_config(parse_args(["R", "O"]))
    printed = _printed_build_config(capsys)
    assert path.read_text().endswith(printed)  # the file is --print-config's output under its comment
