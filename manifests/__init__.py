"""egoimu.manifests: the contract between pipeline/ (writer) and train/ (reader).

Versioned manifest schemas, the HDF5 shard layout, path resolution inside the dataset root, the
subject-disjoint split planner and the audit. Imports neither pipeline nor train, nor torch/dask.
"""
