"""The report's PNG plots (matplotlib, Agg canvas, imported only when plotting).

- ``run-<name>.png`` per training run: training loss and validation ROC-AUC / top-1 against step;
- ``train-loss.png`` and ``val-<metric>.png``: the runs overlaid (when there is more than one point);
- ``roc.png``: the correspondence ROC curves of the corr results (``roc_curve``);
- ``confusion-<cell>.png``: a confusion matrix per probe / supervised / DogCentric condition group (its first
  result by seed), rows true, columns predicted, coloured by row fraction.

Each plot is described by a dict ``{"file", "kind", "title", "source"}`` (report.json's ``plots``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from egoimu.train.report.cells import Cells
from egoimu.train.report.collect import RunLog

VAL_NAMES = {"val_roc_auc": "validation ROC-AUC (overlaps excluded)",
             "val_roc_auc_all_pairs": "validation ROC-AUC (all pairs)", "val_top1": "validation top-1"}


def _figure(width: float = 6.4, height: float = 4.2) -> Any:
    """A matplotlib Figure on an Agg canvas (no pyplot: no global state, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, format="png", metadata={"Software": None})
    return name


def _colour(i: int) -> Any:
    """The i-th line colour (tab20: 20 distinct colours before they repeat)."""
    from matplotlib import colormaps

    return colormaps["tab20"](i % 20)


def slug(text: str) -> str:
    """Lower-case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _unique(name: str, used: set[str]) -> str:
    stem, i = name, 2
    while name in used:
        name = f"{stem}-{i}"
        i += 1
    used.add(name)
    return name


def run_plots(runs: list[RunLog], out: Path) -> list[dict[str, Any]]:
    """One figure per run (loss; validation metric) and the overlays across runs."""
    plots, used = [], set()
    for run in runs:
        keys = run.val_keys()
        fig = _figure(4.2 * (1 + len(keys)), 3.6)
        panels = [("loss", "training loss"), *((k, VAL_NAMES[k]) for k in keys)]
        for i, (key, title) in enumerate(panels):
            ax = fig.add_subplot(1, len(panels), i + 1)
            steps, values = run.curve(key)
            ax.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3)
            ax.set(xlabel="step", ylabel=key, title=title)
            ax.grid(alpha=0.3)
        fig.suptitle(f"{run.name} ({run.objective}, {run.config.get('model')}, seed {run.config.get('seed')})")
        name = _save(fig, out, f"run-{_unique(slug(run.name), used)}.png")
        plots.append({"file": name, "kind": "run", "title": f"training run {run.name}", "source": str(run.path)})
    for key, title in [("loss", "training loss"), *VAL_NAMES.items()]:
        curves = [(run.name, *run.curve(key)) for run in runs]
        curves = [c for c in curves if len(c[1]) > 1]
        if not curves:
            continue
        fig = _figure(9.5, 4.5)
        ax = fig.add_subplot(1, 1, 1)
        for i, (label, steps, values) in enumerate(curves):
            ax.plot(steps, values, label=label, color=_colour(i), linestyle=("-", "--", ":")[i // 20 % 3])
        ax.set(xlabel="step", ylabel=key, title=f"{title}, all runs")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        name = _save(fig, out, "train-loss.png" if key == "loss" else f"{slug(key)}.png")
        plots.append({"file": name, "kind": "curves", "title": f"{title}, all runs",
                      "source": ", ".join(c[0] for c in curves)})
    return plots


def roc_plot(cells: Cells, out: Path) -> list[dict[str, Any]]:
    """The ROC curves of every corr result holding ``roc_curve`` in one figure (none: no plot)."""
    curves = []
    for (table, cell), groups in cells.items():
        for g in groups:
            for e in g.entries:
                rc = e.result.get("roc_curve") or {}
                if table == 3 and rc.get("fpr") and rc.get("tpr"):
                    auc = (e.result["metrics"].get("roc_auc") or {}).get("value")
                    auc_text = "n/a" if auc is None else f"{auc:.3f}"
                    curves.append((f"{cell} seed {e.conditions.get('seed')} (AUC {auc_text})", rc, str(e.path)))
    if not curves:
        return []
    fig = _figure(5.5, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    for label, rc, _ in curves:
        ax.plot(rc["fpr"], rc["tpr"], label=label)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1),
           title="correspondence ROC (video vs head motion)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    name = _save(fig, out, "roc.png")
    return [{"file": name, "kind": "roc", "title": "correspondence ROC curves",
             "source": ", ".join(c[2] for c in curves)}]


def confusion_plots(cells: Cells, out: Path) -> list[dict[str, Any]]:
    """A confusion matrix per condition group whose first result holds ``confusion``."""
    import numpy as np

    plots, used = [], set()
    for (table, cell), groups in cells.items():
        for g in groups:
            entry = g.entries[0]
            conf = entry.result.get("confusion") or {}
            matrix = np.asarray(conf.get("matrix") or [], dtype=float)
            labels = [str(x) for x in conf.get("labels") or []]
            if matrix.ndim != 2 or matrix.size == 0 or matrix.shape[0] != matrix.shape[1]:
                continue
            k = matrix.shape[0]
            rows = matrix.sum(axis=1, keepdims=True)
            frac = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
            size = min(12.0, 3.5 + 0.25 * k)
            fig = _figure(size + 1.2, size)
            ax = fig.add_subplot(1, 1, 1)
            im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
            if k <= 40 and len(labels) == k:
                ax.set_xticks(range(k), labels, rotation=90, fontsize=max(5, 10 - k // 6))
                ax.set_yticks(range(k), labels, fontsize=max(5, 10 - k // 6))
            if k <= 12:
                for i in range(k):
                    for j in range(k):
                        ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8,
                                color="white" if frac[i, j] > 0.5 else "black")
            what = f"Table {table} {cell}, {entry.result['label']}, seed {entry.conditions.get('seed')}"
            ax.set(xlabel="predicted", ylabel="true", title=f"confusion: {what}")
            ax.title.set_fontsize(9)
            name = _save(fig, out, f"confusion-{_unique(slug(f'table{table}-{cell}'), used)}.png")
            plots.append({"file": name, "kind": "confusion", "title": f"confusion matrix, {what}",
                          "source": str(entry.path)})
    return plots


def all_plots(runs: list[RunLog], cells: Cells, out: Path) -> list[dict[str, Any]]:
    """Write every plot into ``out``; their descriptions, in a fixed order."""
    return run_plots(runs, out) + roc_plot(cells, out) + confusion_plots(cells, out)
