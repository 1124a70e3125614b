"""``egoimu view``: the clip and video pages of the shared small build, checked two ways — structurally (the page
parses, has no external URL or script, every embedded image decodes) and in a real headless browser (Debian's
chromium: every <img> loaded, the animation's script runs, the screenshot is not blank) — and its one-line errors."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import h5py
import pandas as pd
import pytest
import simplejpeg
from PIL import Image

from egoimu.cli import main as egoimu_main
from egoimu.manifests.shardfmt import (
    CALLER_ATTRS,
    ShardLayout,
    create_shard,
    new_shard_file,
    read_clip,
    validate_shard_attrs,
    write_clip,
)

#: The flags of a headless chromium here (root, no GPU, no network: no background connections).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--mute-audio")
INSTALL_LOG = "/tmp/egoimu-chromium-install.log"  # where `make test` logs its chromium install


class _Page(HTMLParser):
    """Every start tag with its attributes, the text, and the inline scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.inline: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        (self.inline if self._in else self.text).append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def _decode(uri: str) -> Image.Image:
    """A data: URI's image, fully decoded."""
    m = re.fullmatch(r"data:(image/(?:png|jpeg));base64,([A-Za-z0-9+/=]+)", uri)
    assert m, uri[:60]
    img = Image.open(io.BytesIO(base64.b64decode(m.group(2), validate=True)))
    img.load()
    assert img.format == {"image/png": "PNG", "image/jpeg": "JPEG"}[m.group(1)]
    return img


def _check_self_contained(path: Path) -> _Page:
    """The page parses, names no external resource, and every <img> is a data: URI that decodes."""
    page = _parse(path)
    assert page.tags[0][0] == "html" and any(t == "body" for t, _ in page.tags)
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not re.match(r"\s*(https?:)?//", value), (tag, name, value[:80])
        assert not (tag == "script" and "src" in attrs), attrs
        assert not (tag == "link" and attrs.get("rel") == "stylesheet"), attrs
        if tag == "img":
            img = _decode(attrs["src"])
            assert img.width > 0 and img.height > 0
    assert not re.search(r"https?://|url\(|@import", "".join(page.inline))
    return page


def _imgs(page: _Page) -> list[dict[str, str]]:
    return [a for t, a in page.tags if t == "img"]


@pytest.fixture(scope="module")
def pages(built_epic, tmp_path_factory) -> dict:
    """The pages of the build's first written clip and of its video, with the rows they show."""
    _, out = built_epic
    clips = pd.read_csv(out / "clips.csv", keep_default_na=False)
    written = clips[clips.status == "written"]
    row = written.iloc[0]
    folder = tmp_path_factory.mktemp("view")
    clip_html, video_html = folder / "clip.html", folder / "video.html"
    assert egoimu_main(["view", str(out), row.clip_id, "--out", str(clip_html)]) == 0
    assert egoimu_main(["view", str(out), "--video", row.video_id, "--out", str(video_html)]) == 0
    n_video = int((written.video_id == row.video_id).sum())
    return {"out": out, "row": row, "clip": clip_html, "video": video_html, "n_video": n_video, "clips": clips}


def test_clip_page_is_self_contained_and_shows_the_clip(pages, tmp_path) -> None:
    page = _check_self_contained(pages["clip"])
    imgs = _imgs(page)
    frames = [a for a in imgs if a.get("alt", "").startswith("frame ")]
    assert len(frames) == 48 + 12  # the animation's 48 frames, the strip's 12
    assert {_decode(a["src"]).size for a in frames} == {(256, 256), (144, 144)}
    plots = [_decode(a["src"]) for a in imgs if not a.get("alt", "").startswith("frame ")]
    assert len(plots) == 2 and all(p.format == "PNG" and p.width >= 500 for p in plots)  # IMU, spectrograms
    text = " ".join(page.text)
    row = pages["row"]
    key = json.loads((pages["out"] / "manifest.json").read_text())["source"]["class_names"][str(row.verb_class)]
    for shown in (row.clip_id, row.video_id, row.participant_id, row.split, key, f"{float(row.start_s):.3f}",
                  f"{float(row.end_s):.3f}", f"verb class {row.verb_class}", row.verb):
        assert shown in text, shown
    # deterministic: the same input gives the same bytes
    again = tmp_path / "again.html"
    assert egoimu_main(["view", str(pages["out"]), row.clip_id, "--out", str(again)]) == 0
    assert again.read_bytes() == pages["clip"].read_bytes()


def test_video_page_shows_motion_against_gyro_and_the_sync(pages, tmp_path) -> None:
    page = _check_self_contained(pages["video"])
    imgs = _imgs(page)
    assert len(imgs) == 2 + pages["n_video"]  # motion plot, lag plot, a thumbnail per clip
    text = " ".join(page.text)
    assert "assumed: IMU offset" in text  # the shared build's sync model (recordings.csv sync_mode)
    m = re.search(r"([+-]\d+\.\d) ms \(([+-]\d+\.\d\d) output frames\), r (\d\.\d+)", text)
    assert m, text[:400]
    assert abs(float(m.group(2))) <= 1.0 and float(m.group(3)) >= 0.8  # the shared build is in sync
    assert "dx ~ +GyroX" in text and "dy ~ +GyroY" in text
    again = tmp_path / "again.html"
    assert egoimu_main(["view", str(pages["out"]), "--video", pages["row"].video_id, "--out", str(again)]) == 0
    assert again.read_bytes() == pages["video"].read_bytes()


def test_jpeg_shard_frames_are_embedded_as_stored(pages, tmp_path) -> None:
    """A copy of the build whose clip's shard is re-written with the jpeg encoding: the page embeds the stored JPEG
    files byte for byte (the animation) and decodes them (strip)."""
    out, row = pages["out"], pages["row"]
    copy = tmp_path / "out"
    copy.mkdir()
    for name in ("manifest.json", "clips.csv", "shards.csv", "recordings.csv", "splits.csv"):
        shutil.copy(out / name, copy / name)
    (copy / row.shard).parent.mkdir(parents=True)
    with h5py.File(out / row.shard, "r") as src:
        layout = validate_shard_attrs(src, row.shard)
        clips = [read_clip(src, r, layout) for r in range(int(row.row) + 1)]  # the rows up to the clip's
        attrs = {name: src.attrs[name] for name in CALLER_ATTRS}
    files = [[simplejpeg.encode_jpeg(f, quality=90, colorspace="RGB") for f in c.pop("video")] for c in clips]
    jpeg = ShardLayout("jpeg", layout.geometry, jpeg_len=max(sum(map(len, f)) for f in files))
    with new_shard_file(copy / row.shard) as dst:
        create_shard(dst, jpeg, len(clips), attrs)
        for r, (clip, f) in enumerate(zip(clips, files)):
            write_clip(dst, r, {**clip, "video_jpeg_frames": f}, jpeg)
    html_file = tmp_path / "clip.html"
    assert egoimu_main(["view", str(copy), row.clip_id, "--out", str(html_file)]) == 0
    page = _check_self_contained(html_file)
    anim = [a["src"] for a in _imgs(page) if a.get("alt", "").startswith("frame ")][:48]
    assert [base64.b64decode(u.split(",", 1)[1]) for u in anim] == files[int(row.row)]
    assert "(jpeg)" in " ".join(page.text)


def test_list_and_one_line_errors(pages, tmp_path, capsys) -> None:
    out, clips = pages["out"], pages["clips"]
    capsys.readouterr()
    assert egoimu_main(["view", str(out), "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert sorted(line.split("\t")[0] for line in listed) == sorted(clips.clip_id[clips.status == "written"])
    rejected = clips[clips.status == "rejected"].iloc[0]
    (tmp_path / "notabuild").mkdir()
    (tmp_path / "file.txt").write_text("x")
    page = str(tmp_path / "p.html")
    cases = [
        (["view", str(out), "P99_999_0", "--out", page], ["unknown clip id 'P99_999_0'", f"egoimu view {out} --list"]),
        (["view", str(out), rejected.clip_id, "--out", page], ["was rejected", rejected.reason]),
        (["view", str(out), "--video", "P99_999", "--out", page], ["unknown video id 'P99_999'", "--list"]),
        (["view", str(tmp_path / "notabuild"), "x", "--out", page], ["not an egoimu build", "egoimu build ROOT OUT"]),
        (["view", str(tmp_path / "nowhere"), "x", "--out", page], ["no such folder"]),
        (["view", str(tmp_path / "file.txt"), "x", "--out", page], ["not a folder"]),
        (["view", str(out), pages["row"].clip_id, "--out", str(tmp_path / "no" / "p.html")], ["does not exist"]),
    ]
    for argv, needles in cases:
        assert egoimu_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("egoimu view: "), err
        assert all(n in err for n in needles), (argv, err)
    assert not Path(page).exists()


def test_missing_extra_refuses_in_one_line(pages, tmp_path) -> None:
    """matplotlib made unimportable (a meta-path finder refusing it): one line naming the extra, exit 2."""
    block = ("import sys, importlib.abc\n"
             "class Block(importlib.abc.MetaPathFinder):\n"
             "    def find_spec(self, name, path, target=None):\n"
             "        if name.split('.')[0] == 'matplotlib':\n"
             "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
             "sys.meta_path.insert(0, Block())\n"
             "from egoimu.cli import main\n"
             "sys.exit(main(sys.argv[1:]))\n")
    argv = ["view", str(pages["out"]), pages["row"].clip_id, "--out", str(tmp_path / "p.html")]
    proc = subprocess.run([sys.executable, "-c", block, *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "egoimu view: needs the 'train' extra" in proc.stderr
    assert "matplotlib" in proc.stderr and "pip install" in proc.stderr
    assert not (tmp_path / "p.html").exists()


# -- in a real browser ------------------------------------------------------------------------------------------

#: Appended to a test copy of a page: after load, every <img>'s (complete, naturalWidth, naturalHeight) and the
#: animation's state, written into the DOM that --dump-dom prints.
PROBE = """<script>window.addEventListener('load',function(){setTimeout(function(){
var r=[],im=document.images;for(var i=0;i<im.length;i++)r.push([im[i].complete,im[i].naturalWidth,im[i].naturalHeight]);
var t=document.getElementById('anim-t'),c=document.querySelector('.cursor');
var p=document.createElement('pre');p.id='probe';p.textContent=JSON.stringify({imgs:r,
label:t?t.textContent:null,cursor:c?c.style.left:null});document.body.appendChild(p);},700);});</script>"""


def _chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        why = Path(INSTALL_LOG).read_text(errors="replace")[-300:] if Path(INSTALL_LOG).is_file() else ""
        pytest.skip("the browser test did not run: chromium is not installed (make test installs it when run as "
                    "root with apt-get install chromium" + (f"; its install failed: {why}" if why else "") + ")")
    return exe


def _run_chromium(exe: str, *args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=90, env={**os.environ, "HOME": profile})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.parametrize("kind", ["clip", "video"])
def test_page_renders_in_headless_chromium(pages, kind, tmp_path) -> None:
    exe = _chromium()
    source = pages[kind]
    probe = tmp_path / f"{kind}-probe.html"
    probe.write_text(source.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _run_chromium(exe, "--virtual-time-budget=2000", "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-1000:]
    state = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    n_imgs = len(_imgs(_parse(source)))
    assert len(state["imgs"]) == n_imgs > 0
    assert all(done and w > 0 and h > 0 for done, w, h in state["imgs"]), state["imgs"]
    if kind == "clip":  # the inline script ran: the animation moved on from frame 1, and the cursor with it
        assert state["label"].startswith("frame ") and not state["label"].startswith("frame 1/"), state["label"]
        assert state["cursor"] and state["cursor"].endswith("%"), state
    shot = tmp_path / f"{kind}.png"
    _run_chromium(exe, "--window-size=1100,1600", f"--screenshot={shot}", source.as_uri())
    img = Image.open(shot).convert("RGB")
    assert img.size == (1100, 1600)
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 500, "the screenshot is (nearly) uniform"
    # not just the header: the lower half of the window shows content (plots, frames) too
    lower = img.crop((0, 800, 1100, 1600)).getcolors(maxcolors=1 << 20)
    assert lower is not None and len(lower) > 100
