"""egoimu.train: the trainer side (reads prebuilt HDF5 shards through the manifests contract).

Imports without dask, decord or ffmpeg.
"""
