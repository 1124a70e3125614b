"""``egoimu report``: the paper's Tables 1-5, its claims and plots from evaluation results and training runs.

Modules: :mod:`~egoimu.train.report.collect` (read results and runs), :mod:`~egoimu.train.report.cells` (cells,
condition groups, seed aggregation), :mod:`~egoimu.train.report.tables` (the run's numbers beside
:mod:`~egoimu.train.report.paper`'s), :mod:`~egoimu.train.report.claims`, :mod:`~egoimu.train.report.plots`
(matplotlib, Agg), :mod:`~egoimu.train.report.source` (synthetic-data box), :mod:`~egoimu.train.report.layout` and
:mod:`~egoimu.train.report.render` (Markdown and HTML), :mod:`~egoimu.train.report.build` (writes everything) and
:mod:`~egoimu.train.report.cli` (the command)."""
