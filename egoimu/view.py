"""egoimu view: one self-contained HTML page for a clip or a video of a build.

    egoimu view OUT CLIP_ID --out clip.html       a written clip: frames, IMU, spectrogram, ids, label, times
    egoimu view OUT --video VIDEO_ID --out v.html  a video: image motion against the gyroscope, its sync
    egoimu view OUT --list                         the written clips (id, video, split, label, window)

The clip page shows the clip's ids, label (class key, raw verb, noun class), split and times, its frames as a
strip and as an animation (play/pause, slider, ¼ speed; a cursor follows it over the IMU plot), the six IMU
channels and the six spectrograms as written in its shard. The video page shows, over the video's written clips,
the frame-to-frame image motion (px/s) against the paired gyro axis, the correlation against lag with the
measured lag marked (the arithmetic of egoimu audit --sync), and the build's sync model (recordings.csv
sync_*: assumed, or the estimate --sync auto measured and applied).

The page has no external URL: images are data: URIs, the animation a few lines of inline script. The same
build gives the same bytes. Needs matplotlib and Pillow (the train extra); jpeg shards also simplejpeg.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from egoimu.audit_cmd import _jpeg_decoder
from egoimu.manifests.clihelp import OneLineParser, examples
from egoimu.manifests.paths import PathEscapeError, resolve_inside
from egoimu.manifests.schema import SUMMARY_FILENAME, Manifest, ManifestError
from egoimu.manifests.shardfmt import IMU_CHANNELS, ShardFormatError, read_clip, validate_shard_attrs
from egoimu.manifests.sync_check import GYRO, ClipMotion, lag_problem, lag_scores, source_fps_by_video, video_sync

PROG = "egoimu view"
NEEDS = ("matplotlib", "PIL")  # the extra `train` brings both (Pillow is matplotlib's dependency)


class ViewError(Exception):
    """A user mistake: printed as one line, exit status 2."""


def _list_hint(out: Path) -> str:
    return f"list them with: egoimu view {out} --list"


def _load(out: Path) -> Manifest:
    if not out.exists():
        raise ViewError(f"{out}: no such folder (give a build output folder: egoimu build ROOT OUT)")
    if not out.is_dir():
        raise ViewError(f"{out}: not a folder (give a build output folder: egoimu build ROOT OUT)")
    if not (out / SUMMARY_FILENAME).is_file():
        raise ViewError(f"{out}: not an egoimu build (no {SUMMARY_FILENAME}; egoimu build ROOT OUT makes one)")
    try:
        return Manifest.load(out)
    except ManifestError as exc:
        raise ViewError(f"{out}: not a readable build: {exc} (egoimu audit OUT tells more)") from None


def _written(m: Manifest) -> Any:
    return m.clips[m.clips.status == "written"].sort_values(["video_id", "start_s", "clip_id"], kind="stable")


def _class_key(m: Manifest, verb_class: int) -> str:
    names = (m.summary.get("source") or {}).get("class_names") or {}
    return str(names.get(str(verb_class), "")) if verb_class >= 0 else "unlabelled"


def _frames(clip: dict[str, Any], where: str) -> tuple[np.ndarray, list[bytes] | None]:
    """(uint8 frames (T, H, W, 3), the stored JPEG files or None)."""
    if "video" in clip:
        return np.asarray(clip["video"]), None
    decode = _jpeg_decoder()
    if decode is None:
        raise ViewError(f"{where}: jpeg-encoded video needs simplejpeg: pip install 'egoimu[train]'")
    off, data = clip["video_jpeg_offsets"], clip["video_jpeg"]
    files = [data[off[k]:off[k + 1]].tobytes() for k in range(len(off) - 1)]
    return np.stack([decode(f) for f in files]), files


def _read(m: Manifest, row: Any) -> tuple[dict[str, Any], Any]:
    """The clip's shard row (checked against clips.csv) and the shard's layout."""
    where = f"{row.shard} row {row.row}"
    try:
        path = resolve_inside(m.root, row.shard)
        with h5py.File(path, "r") as f:
            layout = validate_shard_attrs(f, path)
            clip = read_clip(f, int(row.row), layout)
    except (OSError, ShardFormatError, PathEscapeError, IndexError) as exc:
        raise ViewError(f"cannot read clip {row.clip_id} from {where}: {exc} (egoimu audit OUT tells more)") from None
    if clip["clip_id"] != row.clip_id:
        raise ViewError(f"{where} holds clip {clip['clip_id']!r}, but clips.csv says {row.clip_id!r} "
                        "(egoimu audit OUT tells more)")
    return clip, layout


def clip_page(m: Manifest, clip_id: str) -> str:
    """The page of one written clip."""
    from egoimu import view_page as vp
    from egoimu.view_plots import imu_plot, spec_plot

    hits = m.clips[m.clips.clip_id == clip_id]
    if hits.empty:
        raise ViewError(f"unknown clip id {clip_id!r} in {m.root / 'clips.csv'}; {_list_hint(m.root)}")
    row = next(hits.itertuples())
    if row.status != "written":
        raise ViewError(f"clip {clip_id!r} was rejected ({row.reason}): it has no frames in the shards; "
                        f"{_list_hint(m.root)}")
    clip, layout = _read(m, row)
    g = layout.geometry
    frames, files = _frames(clip, f"{row.shard} row {row.row}")
    key = _class_key(m, int(row.verb_class))
    label = f'<span class="label">{vp.esc(key or f"class {row.verb_class}")}</span>'
    segment = (f"{row.seg_start_s:.2f} – {row.seg_stop_s:.2f} s" if np.isfinite(row.seg_start_s)
               else "— (a window, not a segment)")
    facts = vp.facts([
        ("clip", vp.esc(row.clip_id)), ("narration", vp.esc(row.narration_id or "—")),
        ("participant", vp.esc(row.participant_id)), ("video", vp.esc(row.video_id)),
        ("split", vp.esc(row.split)), ("kind", vp.esc(row.kind)),
        ("label", f"{label} verb class {row.verb_class}, raw verb <code>{vp.esc(row.verb or '—')}</code>, "
                  f"noun class {row.noun_class}"),
        ("window", f"{row.start_s:.3f} – {row.end_s:.3f} s on the video timeline"),
        ("segment", segment), ("shard", f"{vp.esc(row.shard)} row {row.row} ({vp.esc(layout.encoding)})"),
        ("geometry", vp.esc(g.describe())),
    ])
    signal = ((m.summary.get("source") or {}).get("signals") or {}).get(key)
    if signal:
        facts += (f'<p class="note">Synthetic source: the generator gave <b>{vp.esc(key)}</b> this head motion: '
                  f'{vp.esc(signal.get("head", ""))}; and this picture: {vp.esc(signal.get("video", ""))}.</p>')
    jpegs = files if files is not None else [vp.jpeg(f) for f in frames]
    imu, spec = np.asarray(clip["imu"], dtype=np.float64), np.asarray(clip["spec"], dtype=np.float64)
    sections = [
        vp.section("Clip", facts),
        vp.section(f"Frames ({g.frames} at {g.fps} fps)", '<div class="row">' + vp.animation(jpegs, g.fps)
                   + vp.plot_html(imu_plot(imu, g.imu_rate_hz, IMU_CHANNELS), "the six IMU channels") + "</div>"
                   + '<p class="note">The grey cursor on the IMU plot follows the animation.</p>'),
        vp.section("Frame strip", vp.strip(frames, g.fps)),
        vp.section("Spectrograms (as stored in the shard)",
                   vp.plot_html(spec_plot(spec, g.imu_rate_hz, g.nfft, g.hop, IMU_CHANNELS), "the six spectrograms")),
    ]
    subtitle = f"{label} &nbsp;{vp.esc(row.video_id)} · {vp.esc(row.split)} · {row.start_s:.2f}–{row.end_s:.2f} s"
    return vp.page(f"clip {clip_id}", subtitle, sections, script=True)


def _sync_model(rec: Any) -> str:
    """The build's sync model of one recording, in words (recordings.csv ``sync_*``)."""
    mode = rec.sync_mode or "—"
    if mode == "auto" and not rec.sync_fallback and np.isfinite(rec.sync_offset_ms):
        return (f"auto: measured offset {rec.sync_offset_ms:+.1f} ms, scale {rec.sync_scale:.5f} (peak r "
                f"{rec.sync_peak_r:.3f}, confidence {rec.sync_confidence:.2f}), applied")
    if mode == "auto":
        return f"auto, fell back to the assumed model ({rec.sync_fallback or 'no estimate'})"
    if mode == "assumed":
        return (f"assumed: IMU offset {1000 * rec.imu_offset_s:+.1f} ms, clock scale {rec.imu_rate_correction:.5f} "
                "(not measured)")
    return f"{mode}: IMU offset {1000 * rec.imu_offset_s:+.1f} ms, clock scale {rec.imu_rate_correction:.5f}"


def video_page(m: Manifest, video_id: str) -> str:
    """The page of one video: image motion against the gyroscope over its written clips, and the sync."""
    from egoimu import view_page as vp
    from egoimu.view_plots import lag_plot, motion_plot

    recs = m.recordings[m.recordings.video_id == video_id]
    if recs.empty:
        raise ViewError(f"unknown video id {video_id!r} in {m.root / 'recordings.csv'}; {_list_hint(m.root)}")
    rec = next(recs.itertuples())
    rows = [r for r in _written(m).itertuples() if r.video_id == video_id]
    if not rows:
        why = f"{rec.status}: {rec.reason}" if rec.reason else rec.status
        raise ViewError(f"video {video_id!r} has no written clip ({why}); {_list_hint(m.root)}")
    from egoimu.manifests.motion import frame_motion
    from egoimu.manifests.sync_check import source_frame_times

    src = source_fps_by_video(m.root).get(video_id)
    clips, thumbs = [], []
    for row in rows:
        clip, layout = _read(m, row)
        g = layout.geometry
        frames, _ = _frames(clip, f"{row.shard} row {row.row}")
        frame_t = None if src is None else source_frame_times(clip["start_s"], g.frames, g.fps, src)
        clips.append(ClipMotion(video_id, frame_motion(frames), np.asarray(clip["imu"], dtype=np.float64)[:, GYRO],
                                float(g.fps), float(g.imu_rate_hz), frame_t))
        thumbs.append(vp.jpeg(frames[g.frames // 2], 64))
    res = video_sync(video_id, clips)
    velocity, rates_at, lags = lag_problem(clips)
    scores, _, _ = lag_scores(velocity, rates_at, lags)
    rates = rates_at(0.0)
    axes = [GYRO.index(IMU_CHANNELS.index(res.pairing[a][1:])) for a in ("dx", "dy")]
    signs = np.array([1.0 if res.pairing[a][0] == "+" else -1.0 for a in ("dx", "dy")])
    times = [row.start_s + 0.5 * (c.frame_times()[:-1] + c.frame_times()[1:]) for row, c in zip(rows, clips)]
    gyro = [r[:, axes] * signs for r in rates]
    fps = clips[0].fps
    aligned = abs(res.lag_frames) <= 1.0
    verdict = ('<span class="ok">within one output frame of 0</span>' if aligned
               else '<span class="bad">more than one output frame off</span>')
    facts = vp.facts([
        ("video", vp.esc(video_id)), ("participant", vp.esc(rec.participant_id)), ("split", vp.esc(rec.split)),
        ("source", f"{rec.fps_num}/{rec.fps_den} fps, {rec.n_frames} frames, {rec.duration_s:.2f} s"),
        ("written clips", str(len(rows))),
        ("build's sync", vp.esc(_sync_model(rec))),
        ("measured lag", f"{1000 * res.lag_s:+.1f} ms ({res.lag_frames:+.2f} output frames), r {res.r:.3f}: {verdict}"),
        ("axis pairing", vp.esc(", ".join(f"{a} ~ {p} (r {res.r_by_axis[a]:.3f})" for a, p in res.pairing.items()))),
    ])
    note = ('<p class="note">Measured from the written shards as <code>egoimu audit --sync</code> does: each frame '
            "pair's image motion (phase correlation) over the interval between its frames' instants "
            f"({vp.esc(res.timing)} frame instants), against the gyroscope's mean rate over the same interval, "
            f"pooled over {res.clips} clips / {res.pairs} frame pairs.</p>")
    table = "".join(
        f"<tr><td>{vp.img(vp.data_uri('image/jpeg', t), 'middle frame of ' + r.clip_id)}</td>"
        f"<td><code>{vp.esc(r.clip_id)}</code></td><td>{vp.esc(_class_key(m, int(r.verb_class)) or r.verb_class)}"
        f"</td><td>{r.start_s:.2f} – {r.end_s:.2f} s</td><td>{vp.esc(r.split)}</td></tr>"
        for r, t in zip(rows, thumbs))
    sections = [
        vp.section("Video", facts + note),
        vp.section("Image motion against the gyroscope (as written)",
                   vp.plot_html(motion_plot(times, velocity, gyro, res.pairing,
                                            [(r.start_s, r.end_s) for r in rows]), "image motion and gyroscope")),
        vp.section("Correlation against lag", vp.plot_html(lag_plot(lags, scores / 2.0, res.lag_s, 1.0 / fps),
                                                           "correlation against lag")),
        vp.section("Clips", '<table class="clips"><tr><th></th><th>clip</th><th>label</th><th>window</th>'
                   f"<th>split</th></tr>{table}</table>"
                   f'<p class="note">One clip\'s page: <code>egoimu view OUT CLIP_ID --out clip.html</code></p>'),
    ]
    subtitle = (f"{vp.esc(rec.participant_id)} · {vp.esc(rec.split)} · measured sync lag {1000 * res.lag_s:+.1f} ms, "
                f"r {res.r:.3f}")
    return vp.page(f"video {video_id}", subtitle, sections)


def list_clips(m: Manifest) -> list[str]:
    """One line per written clip: id, video, split, label, window."""
    return [f"{r.clip_id}\t{r.video_id}\t{r.split}\t{_class_key(m, int(r.verb_class)) or r.verb_class}\t"
            f"{r.start_s:.2f}-{r.end_s:.2f} s" for r in _written(m).itertuples()]


def _missing_extra() -> str | None:
    """The first package of :data:`NEEDS` that cannot be imported, or None."""
    import importlib

    for name in NEEDS:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            return name
    return None


def main(argv: list[str] | None = None) -> int:
    """``egoimu view OUT (CLIP_ID | --video VIDEO_ID) --out PAGE.html`` or ``egoimu view OUT --list``."""
    p = OneLineParser(prog=PROG, description=__doc__, epilog=examples(
        "egoimu view runs/shards --list | head", "egoimu view runs/shards P01_101_w0000048 --out clip.html",
        "egoimu view runs/shards --video P01_101 --out video.html"))
    p.add_argument("out_dir", type=Path, metavar="OUT", help="a build output folder")
    p.add_argument("clip_id", nargs="?", metavar="CLIP_ID", help="a written clip's id (clips.csv clip_id)")
    p.add_argument("--video", metavar="VIDEO_ID", help="a video's page instead of a clip's")
    p.add_argument("--list", action="store_true", help="print the written clips (id, video, split, label, window)")
    p.add_argument("--out", type=Path, metavar="PAGE", help="the HTML file to write")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.list and (args.clip_id is None) == (args.video is None):
        p.error("give a CLIP_ID or --video VIDEO_ID (one of them); " + _list_hint(args.out_dir))
    if not args.list and args.out is None:
        p.error("--out PAGE.html is required")
    try:
        m = _load(args.out_dir)
        if args.list:
            print("\n".join(list_clips(m)))
            return 0
        missing = _missing_extra()
        if missing:
            raise ViewError(f"needs the python package {missing!r} (matplotlib, Pillow): pip install 'egoimu[train]'")
        if not args.out.parent.is_dir():
            raise ViewError(f"{args.out}: its folder {args.out.parent} does not exist")
        text = clip_page(m, args.clip_id) if args.video is None else video_page(m, args.video)
        args.out.write_text(text, encoding="utf-8")
    except ViewError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(text) / 1e6:.1f} MB)")
    return 0
