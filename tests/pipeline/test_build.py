"""`egoimu build` end to end on real Dask clusters, real MP4s and real HDF5 shards."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import psutil
import pytest
from PIL import Image

from egoimu.manifests.audit import main as audit_main
from egoimu.manifests.files import is_temp_name
from egoimu.manifests.schema import Manifest
from egoimu.pipeline.build import main as build_main

EGOIMU = str(Path(sys.executable).with_name("egoimu"))


def _shas(out: Path) -> dict[str, str]:
    return dict(pd.read_csv(out / "shards.csv")[["shard", "sha256"]].itertuples(index=False, name=None))


def _content(out: Path) -> dict[str, dict]:
    """Every shard's datasets and attributes (to name what differs when the bytes do)."""
    shards = {}
    for rel in pd.read_csv(out / "shards.csv").shard:
        with h5py.File(out / rel, "r") as h5:
            shards[rel] = {"attrs": {k: str(v) for k, v in h5.attrs.items()},
                           **{k: h5[k][:].tobytes() for k in h5}}
    return shards


def test_shapes_dtypes_and_manifest(built_epic):
    root, out = built_epic
    m = Manifest.load(out)  # validates every table and the cross-table rules
    written = m.clips[m.clips.status == "written"]
    assert len(written) > 20
    for rel in m.shards.shard:
        with h5py.File(out / rel, "r") as h5:
            n = h5["imu"].shape[0]
            assert h5["video"].shape == (n, 48, 256, 256, 3) and h5["video"].dtype == np.uint8
            assert h5["video"].chunks == (1, 48, 256, 256, 3) and h5["video"].fletcher32
            assert h5["imu"].shape == (n, 396, 6) and h5["imu"].dtype == np.float32
            assert h5["spec"].shape == (n, 6, 33, 50) and h5["spec"].dtype == np.float32
            assert np.isfinite(h5["imu"][:]).all() and np.isfinite(h5["spec"][:]).all()
            assert h5.attrs["nfft"] == 64 and h5.attrs["imu_rate_hz"] == 198 and h5.attrs["out_fps"] == 24
            for key, value in h5.attrs.items():
                assert not (isinstance(value, str) and value.startswith("/")), f"absolute path in attr {key}"
            # gravity mostly on AcclX (GoPro order), gyro near zero mean
            assert h5["imu"][:, :, 0].mean() > 7.0
    assert {s.split("/")[1] for s in m.shards.shard} == {"train", "validation", "test"}


def test_subject_disjoint_and_accounting(built_epic):
    root, out = built_epic
    m = Manifest.load(out)
    per = m.clips[m.clips.split != ""].groupby("participant_id").split.nunique()
    assert (per == 1).all()
    assert sorted(m.splits.split.unique()) == ["test", "train", "validation"]
    n_rows = sum(len(pd.read_csv(root / f)) for f in ("EPIC_100_train.csv", "EPIC_100_validation.csv"))
    acc = m.summary["accounting"]
    assert acc["input"] == n_rows == len(m.clips)
    assert acc["written"] + sum(acc["rejected_by_reason"].values()) == acc["input"]
    # the EPIC-55-style video has no IMU: its validation segments are rejected as such, not lost
    assert acc["rejected_by_reason"].get("no_imu", 0) == len(pd.read_csv(root / "EPIC_100_validation.csv"))


def test_frames_and_labels_match_the_source(built_epic):
    """A written clip's frame 0 equals the source frame floor(S·fps), decoded independently."""
    import decord

    root, out = built_epic
    m = Manifest.load(out)
    row = m.clips[m.clips.status == "written"].iloc[3]
    with h5py.File(out / row.shard, "r") as h5:
        frames = h5["video"][row.row]
        assert h5["clip_id"][row.row].decode() == row.clip_id
        assert int(h5["verb_class"][row.row]) == row.verb_class
    rec = m.recordings.set_index("video_id").loc[row.video_id]
    vr = decord.VideoReader(str(root / rec.video_path))
    src = vr[int(row.start_s * rec.fps_num / rec.fps_den)].asnumpy()  # 456x256 source
    h, w = src.shape[:2]
    x0 = (round(w * 256 / h) - 256) // 2
    resized = np.asarray(Image.fromarray(src).resize((round(w * 256 / h), 256), Image.BILINEAR))[:, x0:x0 + 256]
    assert np.abs(resized.astype(int) - frames[0].astype(int)).mean() < 6


def test_imu_alignment_against_truth(built_epic):
    _, out = built_epic
    align = json.loads((out / "manifest.json").read_text())["imu_alignment_vs_truth_ms"]
    assert len(align["videos"]) == 4
    assert align["median_of_medians"] < 4.0 and align["max"] < 12.0, align


def test_deterministic_with_one_worker(built_epic, tmp_path):
    """Same input + config → identical shard bytes, whether 1 or 2 workers ran the graph."""
    root, out = built_epic
    again = tmp_path / "again"
    assert build_main([str(root), str(again), "--workers", "1", "--clips-per-shard", "8", "--quiet",
                       "--ssl-windows", "off"]) == 0
    assert _content(again) == _content(out)
    assert _shas(again) == _shas(out)
    assert (again / "clips.csv").read_bytes() == (out / "clips.csv").read_bytes()
    assert (again / "README.md").read_bytes() == (out / "README.md").read_bytes()  # the card: no date, no path


def _link_tree(src: Path, dst: Path, linked_dirs: tuple[str, ...]) -> None:
    """``dst``: ``src`` as a tree of symbolic links to its files (folders made, files linked), except that each
    folder of ``linked_dirs`` is one link to its original."""
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if rel.parts[0] in linked_dirs:
            if len(rel.parts) == 1:
                (dst / rel).symlink_to(path, target_is_directory=True)
        elif path.is_dir():
            (dst / rel).mkdir(parents=True)
        else:
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            (dst / rel).symlink_to(path)


def test_a_tree_of_links_builds_the_same_manifests(built_epic, tmp_path, capfd):
    """Real datasets are often trees of links to other disks: the shared build's source as links (every file a
    link out of the root, P02 one linked folder) builds byte-identical manifests and shards, each path the link's
    own, each sha256 the content's; where the links lead goes to the log (stderr) only."""
    root, out = built_epic
    links = tmp_path / "links"
    _link_tree(root, links, ("P02",))
    target = tmp_path / "out"
    capfd.readouterr()
    assert build_main([str(links), str(target), "--workers", "2", "--clips-per-shard", "8", "--quiet",
                       "--ssl-windows", "off"]) == 0
    err = capfd.readouterr().err
    for name in ("manifest.json", "clips.csv", "shards.csv", "recordings.csv", "splits.csv", "README.md"):
        assert (target / name).read_bytes() == (out / name).read_bytes(), name
    recs = pd.read_csv(target / "recordings.csv", keep_default_na=False)
    ok = recs[recs.status == "ok"]
    assert len(ok) == 4 and (ok.accl_path != "").all()
    for rel, sha in zip([*ok.video_path, *ok.accl_path, *ok.gyro_path],
                        [*ok.video_sha256, *ok.accl_sha256, *ok.gyro_sha256]):
        assert (links / rel).resolve() == (root / rel).resolve() and not (links / rel).resolve().is_relative_to(links)
        assert f"[probe] {rel}: a symbolic link to {(root / rel).resolve()} (followed" in err
        assert hashlib.sha256((root / rel).read_bytes()).hexdigest() == sha
    assert str(root) not in "".join((target / n).read_text() for n in ("manifest.json", "recordings.csv"))


def test_refuses_to_overwrite_without_resume(built_epic, capsys):
    root, out = built_epic
    assert build_main([str(root), str(out), "--workers", "1", "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_resume_after_sigkill(built_epic, tmp_path):
    """Kill the whole build (driver and Dask workers) with SIGKILL mid-run; --resume completes it."""
    root, out = built_epic
    target = tmp_path / "killed"
    args = [EGOIMU, "build", str(root), str(target), "--workers", "1", "--clips-per-shard", "8", "--quiet",
            "--ssl-windows", "off"]
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and not list((target / "shards").rglob("*.h5.json")):
            assert proc.poll() is None, "the build finished before it could be killed"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = len(list((target / "shards").rglob("*.h5.json")))
    assert 1 <= done_before < len(_shas(out)), "kill landed outside the shard stage"
    assert not (target / "manifest.json").exists()
    rerun = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"[resume] {done_before} of" in rerun.stderr
    assert _content(target) == _content(out)
    assert _shas(target) == _shas(out)
    assert not list(target.rglob("*.tmp"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_build_on_scheduler_and_two_workers(built_epic, tmp_path):
    """The same command on a `dask scheduler` + two `dask worker` processes on loopback."""
    root, out = built_epic
    dask = str(Path(sys.executable).with_name("dask"))
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", "127.0.0.1:0"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                           "--no-dashboard"], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        target = tmp_path / "cluster"
        assert build_main([str(root), str(target), "--scheduler", address, "--clips-per-shard", "8",
                           "--ssl-windows", "off", "--quiet"]) == 0
        assert _content(target) == _content(out)
        assert _shas(target) == _shas(out)
    finally:
        for p in reversed(procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


@pytest.mark.parametrize("encoding", ["jpeg", "lossless"])
def test_encodings_round_trip(built_epic, tmp_path, encoding):
    import simplejpeg

    from egoimu.manifests.shardfmt import read_clip, split_jpeg_frames

    root, out = built_epic
    target = tmp_path / encoding
    assert build_main([str(root), str(target), "--workers", "2", "--clips-per-shard", "8", "--quiet",
                       "--ssl-windows", "off", "--encoding", encoding]) == 0
    rel = pd.read_csv(target / "shards.csv").shard.iloc[0]
    with h5py.File(out / rel, "r") as raw, h5py.File(target / rel, "r") as enc:
        ref = read_clip(raw, 0)["video"]
        rec = read_clip(enc, 0)
        if encoding == "lossless":
            assert np.array_equal(rec["video"], ref)
        else:
            frames = split_jpeg_frames(rec["video_jpeg"], rec["video_jpeg_offsets"])
            dec = np.stack([simplejpeg.decode_jpeg(f, colorspace="RGB") for f in frames])
            mse = np.mean((dec.astype(np.float64) - ref) ** 2)
            assert 10 * np.log10(255 ** 2 / mse) > 35


def test_dogcentric_video_only_build(tmp_path):
    """DogCentric: video only; label and dog from the file names; glitch files accounted for."""
    from egoimu.pipeline.sources.dogcentric import ACTIVITIES
    from egoimu.pipeline.synth.dogcentric import SynthDogConfig, generate_dogcentric

    root = tmp_path / "dogs"
    generate_dogcentric(root, SynthDogConfig(clips_per_activity=1, seed=5, glitches=True, width=160, height=120,
                                             min_seconds=2.0, max_seconds=3.0), workers=2)  # small: ~3x faster
    out = tmp_path / "out"
    assert build_main([str(root), str(out), "--source", "dogcentric", "--workers", "2", "--quiet"]) == 0
    m = Manifest.load(out)
    written = m.clips[m.clips.status == "written"]
    truth = json.loads((root / "synth_truth.json").read_text())
    assert len(written) == len(truth["clips"])
    assert set(written.split) == {"test"} and set(written.participant_id) <= {"Hime", "Ku", "Ringo", "Ryu"}
    assert all(ACTIVITIES[c] == v for c, v in zip(written.verb_class, written.verb))
    assert {"duplicate_clip", "not_a_clip"} <= set(m.clips.reason)  # Turn_Right copies, Thumbs.db, info.txt
    with h5py.File(out / m.shards.shard.iloc[0], "r") as h5:
        assert h5["video"].shape[1:] == (48, 256, 256, 3) and not h5["imu"][:].any()


def test_video_only_keeps_videos_without_imu(epic_clean, tmp_path):
    """--video-only: the EPIC-55-style video (no IMU files) goes through the same path, IMU zeroed."""
    root, _ = epic_clean
    out = tmp_path / "vo"
    assert build_main([str(root), str(out), "--video-only", "--workers", "1", "--quiet"]) == 0
    m = Manifest.load(out)
    assert "no_imu" not in set(m.clips.reason)
    legacy = m.clips[m.clips.video_id.str.fullmatch(r"P\d\d_\d\d")]
    assert len(legacy) and (legacy.status == "written").all()
    assert m.summary["normalisation"]["note"].startswith("video-only")
    rec = m.recordings.set_index("video_id").loc[legacy.video_id.iloc[0]]
    assert (rec.fps_num, rec.fps_den) == (60000, 1001) and rec.accl_path == ""


def test_workers_pin_the_shared_mmap_threshold():
    from egoimu.manifests.memory import MMAP_THRESHOLD_BYTES
    from egoimu.pipeline.graph import WORKER_ENV

    assert WORKER_ENV["MALLOC_MMAP_THRESHOLD_"] == str(MMAP_THRESHOLD_BYTES) == str(1 << 20)


def test_a_local_cluster_leaves_this_process_environment_as_it_was(monkeypatch):
    """dask's nannies (in this process) set OMP_NUM_THREADS=1 etc. here; a torch imported after a build in the
    same process (egoimu demo) would run on one thread. dask_client gives the environment back."""
    from egoimu.pipeline.graph import dask_client

    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(key, raising=False)
    before = dict(os.environ)
    with dask_client(1, quiet=True) as client:
        assert client.submit(os.getenv, "OMP_NUM_THREADS").result() == "1"  # the worker keeps its settings
    assert dict(os.environ) == before


def test_empty_outcomes_write_every_rejection_and_the_corrected_build_reruns(epic_clean, tmp_path, capsys):
    """Nothing survives planning, then no clip for train (which crashed computing the normalisation): each writes
    clips.csv and manifest.json with every rejection, no shard, exits 2 naming what to do; the corrected build then
    runs into the same folder without --resume."""
    root, _ = epic_clean
    out = tmp_path / "out"
    text = (root / "EPIC_100_train.csv").read_text().replace("P01", "P77").replace("P02", "P78")  # no such videos
    header, first = text.splitlines()[:2]
    bad = first.split(",")
    bad[0], bad[4] = "P77_101_late", "later"  # and one row with a broken timestamp: its file and line
    annotations = tmp_path / "ann.csv"
    annotations.write_text(text + ",".join(bad) + "\n")
    n_rows = len(text.splitlines())  # header + rows, and the bad row

    assert build_main([str(root), str(out), "--annotations", str(annotations), "--quiet"]) == 2
    report = capsys.readouterr()
    assert report.err.splitlines()[-1].startswith(f"egoimu build: no clip was written: no clip survived planning: "
                                                  f"all {n_rows} input rows were rejected")
    assert "no --resume needed" in report.err and "Traceback" not in report.err
    assert f"P77_101_late: ann.csv line {n_rows + 1}: " in report.out and "rejected no_video_file: " in report.out
    m = Manifest.load(out)
    acc = m.summary["accounting"]
    assert acc["written"] == 0 and acc["input"] == n_rows == sum(acc["rejected_by_reason"].values()) == len(m.clips)
    assert set(m.clips.reason) == {"no_video_file", "bad_timestamp"} and "no clip survived" in m.summary["failed"]
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "clips.csv", "manifest.json", "recordings.csv",
                                                     "shards.csv", "splits.csv"]
    assert "- FAILED build (no clip written): no clip survived planning" in (out / "README.md").read_text()

    no_train = tmp_path / "split.csv"
    no_train.write_text("participant_id,split\nP01,validation\nP02,test\n")
    assert build_main([str(root), str(out), "--split", str(no_train), "--workers", "1", "--quiet"]) == 2
    assert "no clip is planned for the train split" in capsys.readouterr().err
    m = Manifest.load(out)
    assert m.summary["accounting"]["written"] == 0 and (m.clips.reason == "no_train_clip").sum() > 0
    assert m.summary["accounting"]["input"] == len(m.clips) and not (out / "shards").exists()

    assert build_main([str(root), str(out), "--workers", "1", "--ssl-windows", "off", "--quiet"]) == 0
    m = Manifest.load(out)
    assert m.summary["counts"]["train"]["clips"] > 0 and "failed" not in m.summary

    # a --resume whose plan writes nothing, over that build: the earlier build stays whole (it overwrote its
    # manifests), the failed attempt's manifests go to OUT/failed/, the audit passes, and the next build tidies up
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert build_main([str(root), str(out), "--split", str(no_train), "--workers", "1", "--quiet", "--resume"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert "no clip is planned for the train split" in err and str(out / "failed" / "clips.csv") in err
    assert "(its shards and manifests) was left as it was" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    failed = Manifest.load(out / "failed")
    assert "no clip is planned for the train split" in failed.summary["failed"]
    assert failed.summary["accounting"]["input"] == len(failed.clips) == len(m.clips)
    assert audit_main([str(out)]) == 0, capsys.readouterr().out
    capsys.readouterr()
    assert build_main([str(root), str(out), "--workers", "1", "--ssl-windows", "off", "--quiet", "--resume"]) == 0
    assert "removed 6 manifest file(s) of an earlier --resume that wrote nothing" in capsys.readouterr().err
    assert not (out / "failed").exists() and Manifest.load(out).summary["accounting"] == m.summary["accounting"]


def test_resume_moves_aside_what_it_did_not_write_and_removes_leftovers(built_epic, tmp_path, capsys):
    """--resume deleted any *.h5 under OUT/shards outside the plan: now a file this build did not write is moved to
    OUT/orphaned/ (a planned name included), this build's stale shard is removed, temporary files are removed, other
    files stay, and each action is one stderr line."""
    root, out = built_epic
    target = tmp_path / "copy"
    shutil.copytree(out, target, copy_function=os.link)  # new files are written beside, never into, these links
    shards = target / "shards"
    temps = [shards / "train" / ".train-00000.h5.4242-0123abcd.tmp", target / ".clips.csv.77-89abcdef.tmp",
             shards / "test" / ".test-00000.h5.0123456789ab.tmp.compact"]  # the shard writer's former naming
    for path in temps:
        path.write_bytes(b"\0" * 1000)
    (shards / "train" / "extra.h5").write_bytes(b"someone else's shard")
    (shards / "test" / "odd.h5.json").write_text("{}")
    (shards / "README.txt").write_text("mine")
    planned = shards / "validation" / "validation-00000.h5"
    planned.unlink()
    planned.write_bytes(b"replaced by hand")  # a planned name, but its sidecar describes another file
    stale = json.loads((shards / "train" / "train-00000.h5.json").read_text())
    stale["rel_path"] = "shards/train/train-00099.h5"  # a shard of this build that the plan no longer contains
    shutil.copyfile(shards / "train" / "train-00000.h5", shards / "train" / "train-00099.h5")
    (shards / "train" / "train-00099.h5.json").write_text(json.dumps(stale))
    capsys.readouterr()

    assert build_main([str(root), str(target), "--resume", "--workers", "1", "--clips-per-shard", "8",
                       "--ssl-windows", "off", "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    for line in [
        "egoimu build: removed 3 temporary file(s) left by an earlier run: .clips.csv.77-89abcdef.tmp, "
        "shards/test/.test-00000.h5.0123456789ab.tmp.compact, shards/train/.train-00000.h5.4242-0123abcd.tmp",
        "egoimu build: moved shards/test/odd.h5.json to orphaned/shards/test/odd.h5.json: not a sidecar of this "
        "build (nothing was deleted)",
        "egoimu build: moved shards/train/extra.h5 to orphaned/shards/train/extra.h5: no sidecar of this build "
        "describes it (nothing was deleted)",
        "egoimu build: removed shards/train/train-00099.h5 and its sidecar: a shard of this build that the plan no "
        "longer contains",
        "egoimu build: moved shards/validation/validation-00000.h5 to orphaned/shards/validation/validation-00000.h5:"
        " no sidecar of this build describes it (nothing was deleted)",
    ]:
        assert line in err, "\n".join(err)
    orphaned = target / "orphaned" / "shards"
    assert (orphaned / "train" / "extra.h5").read_bytes() == b"someone else's shard"
    assert (orphaned / "validation" / "validation-00000.h5").read_bytes() == b"replaced by hand"
    assert (orphaned / "test" / "odd.h5.json").read_text() == "{}" and (shards / "README.txt").read_text() == "mine"
    assert not (shards / "train" / "train-00099.h5").exists()
    assert not [p for p in target.rglob("*") if is_temp_name(p.name)]
    assert _content(target) == _content(out) and _shas(target) == _shas(out)  # the replaced shard was rebuilt


def _writer_of(pid: int, path: Path) -> psutil.Process | None:
    """The descendant of ``pid`` (a Dask worker) that has ``path`` open."""
    for child in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any(f.path == str(path) for f in child.open_files()):
                return child
    return None


@pytest.mark.slow
def test_a_killed_worker_leaves_no_temporary_file(epic_clean, tmp_path):
    """A worker killed while writing a shard left its temporary file (up to 9.5 MB) in a finished build."""
    root, _ = epic_clean
    out = tmp_path / "out"
    proc = subprocess.Popen([EGOIMU, "build", str(root), str(out), "--workers", "1", "--clips-per-shard", "2",
                             "--quiet"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    killed = None
    try:
        deadline = time.monotonic() + 240
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            for tmp in (out / "shards").rglob(".*.tmp") if (out / "shards").is_dir() else []:
                writer = _writer_of(proc.pid, tmp)
                if writer is not None:
                    writer.kill()
                    killed = tmp
                    break
            time.sleep(0.01)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert killed is not None, "no worker was caught writing a shard"
    assert proc.returncode == 0, err[-3000:]
    assert f"removed 1 temporary file(s) left by a killed worker: {killed.relative_to(out).as_posix()}" in err
    assert not [p for p in out.rglob("*") if is_temp_name(p.name)]
    acc = Manifest.load(out).summary["accounting"]
    assert acc["written"] > 0 and acc["written"] + sum(acc["rejected_by_reason"].values()) == acc["input"]
