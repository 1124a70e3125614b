"""The HTML of ``egoimu view``: one self-contained page (inline CSS, a few lines of inline JavaScript for the
animation, every image a ``data:`` URI; no external URL), the same bytes for the same input.

Frames are JPEG (Pillow, quality 88; a ``jpeg`` shard's stored files are embedded as they are), plots PNG
(:mod:`egoimu.view_plots`).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import numpy as np

from egoimu.view_plots import Plot

JPEG_QUALITY = 88
STRIP_FRAMES = 12  # frames shown in the strip (every n/12-th)
STRIP_SIZE = 144  # px, the strip's thumbnails (two rows of six)

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px;font-weight:600;letter-spacing:.2px}
header p{margin:4px 0 0;color:#b9c2d3}
.label{display:inline-block;background:#ffb000;color:#1d2330;border-radius:4px;padding:1px 8px;font-weight:600}
main{max-width:1040px;margin:0 auto;padding:20px 24px 40px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:16px 20px;margin:0 0 18px}
h2{font-size:16px;margin:0 0 10px;color:#34405a}
table.facts{border-collapse:collapse;font-size:14px}
table.facts th{text-align:left;color:#5b6780;font-weight:500;padding:2px 18px 2px 0;vertical-align:top}
table.facts td{padding:2px 0;font-family:ui-monospace,Menlo,Consolas,monospace}
.row{display:flex;gap:20px;flex-wrap:wrap;align-items:flex-start}
.anim{position:relative;width:256px;height:256px;background:#000;border-radius:4px;overflow:hidden}
.anim img{position:absolute;left:0;top:0;width:256px;height:256px;visibility:hidden}
.anim img.on{visibility:visible}
.player{width:256px;flex:none}
.controls{margin-top:8px;display:flex;flex-wrap:wrap;gap:6px 8px;align-items:center;font-size:13px}
.controls input{width:150px}
#anim-t{color:#5b6780;font-variant-numeric:tabular-nums}
.controls button{font:inherit;padding:2px 10px;border:1px solid #9aa4b8;border-radius:4px;background:#fff;
cursor:pointer}
.strip{display:grid;grid-template-columns:repeat(6,1fr);gap:6px}
.strip figure{margin:0;text-align:center;font-size:11px;color:#5b6780}
.strip img{display:block;width:100%;border-radius:3px}
.plot{position:relative;display:inline-block;max-width:100%}
.plot img{display:block;max-width:100%}
.cursor{position:absolute;width:2px;margin-left:-1px;background:rgba(29,35,48,.55);pointer-events:none}
.note{color:#5b6780;font-size:13px;margin:8px 0 0}
.ok{color:#1a7f37;font-weight:600}.bad{color:#c62828;font-weight:600}
table.clips{border-collapse:collapse;font-size:13px}
table.clips td,table.clips th{padding:4px 8px;border-top:1px solid #e3e6ec;text-align:left;vertical-align:middle}
table.clips img{width:64px;height:64px;border-radius:3px;display:block}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;background:#eef0f4;padding:0 4px;
border-radius:3px}
"""

#: Cycles the animation's frames, moves the cursors over the time-axis plots; play/pause, slider, speed.
SCRIPT = """
(function(){
var box=document.getElementById('anim');if(!box)return;
var frames=box.getElementsByTagName('img'),n=frames.length,fps=+box.dataset.fps,k=0,playing=true,slow=1;
var slider=document.getElementById('anim-pos'),label=document.getElementById('anim-t');
var cursors=document.querySelectorAll('.cursor');
function show(i){frames[k].className='';k=(i+n)%n;frames[k].className='on';slider.value=k;
var t=k/fps;label.textContent='frame '+(k+1)+'/'+n+' \\u00b7 '+t.toFixed(3)+' s';
for(var j=0;j<cursors.length;j++){var c=cursors[j].dataset,f=(t-c.t0)/(c.t1-c.t0);
cursors[j].style.left=(100*(+c.x0+f*(c.x1-c.x0)))+'%';}}
document.getElementById('anim-play').onclick=function(){playing=!playing;this.textContent=playing?'pause':'play';};
document.getElementById('anim-speed').onclick=function(){slow=slow===1?4:1;this.textContent=slow===1?'1\\u00d7':'\\u00bc\\u00d7';};
slider.oninput=function(){playing=false;document.getElementById('anim-play').textContent='play';show(+this.value);};
var tick=0;setInterval(function(){if(playing&&(++tick%slow===0))show(k+1);},1000/fps);show(0);
})();
"""


def data_uri(mime: str, data: bytes) -> str:
    """``data:<mime>;base64,...``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def jpeg(frame: np.ndarray, size: int | None = None) -> bytes:
    """A uint8 RGB frame (H, W, 3) as JPEG bytes, resized to ``size``² (Lanczos) when given."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8), "RGB")
    if size is not None and img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def esc(value: object) -> str:
    """HTML-escaped text of a value."""
    return html.escape(str(value), quote=True)


def facts(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of (name, HTML value) rows."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="facts">{body}</table>'


def section(title: str, body: str) -> str:
    """A titled card."""
    return f"<section><h2>{esc(title)}</h2>{body}</section>"


def img(uri: str, alt: str, extra: str = "") -> str:
    """An <img> with alt text."""
    return f'<img src="{uri}" alt="{esc(alt)}"{extra}>'


def plot_html(plot: Plot, alt: str) -> str:
    """A PNG plot; with a time axis, a cursor the animation moves (``data-*``: the axes' place and times)."""
    cursor = ""
    if plot.axis is not None:
        x0, x1, y0, y1 = plot.axis
        cursor = (f'<div class="cursor" data-x0="{x0:.5f}" data-x1="{x1:.5f}" data-t0="{plot.t0:.6f}" '
                  f'data-t1="{plot.t1:.6f}" style="left:{100 * x0:.3f}%;top:{100 * (1 - y1):.3f}%;'
                  f'height:{100 * (y1 - y0):.3f}%"></div>')
    return f'<div class="plot">{img(data_uri("image/png", plot.png), alt)}{cursor}</div>'


def animation(frames_jpeg: Sequence[bytes], fps: int) -> str:
    """Every frame stacked, the first shown; the inline script cycles them at ``fps`` (play/pause, slider, ¼×)."""
    imgs = "".join(img(data_uri("image/jpeg", f), f"frame {k + 1}", ' class="on"' if k == 0 else "")
                   for k, f in enumerate(frames_jpeg))
    n = len(frames_jpeg)
    return (f'<div class="player"><div class="anim" id="anim" data-fps="{fps}">{imgs}</div><div class="controls">'
            f'<button id="anim-play" type="button">pause</button><button id="anim-speed" type="button">1×</button>'
            f'<input id="anim-pos" type="range" min="0" max="{n - 1}" value="0">'
            f'<span id="anim-t">frame 1/{n} · 0.000 s</span></div></div>')


def strip(frames: np.ndarray, fps: int) -> str:
    """Every (n / STRIP_FRAMES)-th frame as a thumbnail, captioned with its clip time."""
    step = max(1, frames.shape[0] // STRIP_FRAMES)
    figs = "".join(f'<figure>{img(data_uri("image/jpeg", jpeg(frames[k], STRIP_SIZE)), f"frame {k + 1}")}'
                   f"<figcaption>{k / fps:.2f} s</figcaption></figure>"
                   for k in range(0, frames.shape[0], step))
    return f'<div class="strip">{figs}</div>'


def page(title: str, subtitle: str, sections: Sequence[str], script: bool = False) -> str:
    """The whole document."""
    js = f"<script>{SCRIPT}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n"
            f"<body><header><h1>{esc(title)}</h1><p>{subtitle}</p></header>\n<main>\n"
            + "\n".join(sections) + f"\n</main>{js}</body></html>\n")
