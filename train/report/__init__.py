"""``egoimu report``: the paper's Tables 1-5, its claims and plots from evaluation results and training runs.

Modules: :mod:`~train.report.collect` (read results and runs), :mod:`~train.report.cells` (cells, condition
groups, seed aggregation), :mod:`~train.report.tables` (the run's numbers beside :mod:`~train.report.paper`'s),
:mod:`~train.report.claims`, :mod:`~train.report.plots` (matplotlib, Agg), :mod:`~train.report.source`
(synthetic-data box), :mod:`~train.report.layout` and :mod:`~train.report.render` (Markdown and HTML),
:mod:`~train.report.build` (writes everything) and :mod:`~train.report.cli` (the command).
"""

from __future__ import annotations

from train.report.cli import main

__all__ = ["main"]
