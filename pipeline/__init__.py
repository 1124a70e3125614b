"""egoimu.pipeline: the offline preprocessing side (writes the manifests contract).

Imports without torch. Transforms are plain functions on numpy/pandas; only ``graph.py`` knows Dask.
"""
