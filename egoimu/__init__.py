"""egoimu: egocentric video + head-motion (IMU) self-supervision, as real software.

Implements Tsutsui, Desai & Ridgeway, "How You Move Your Head Tells What You Do: Self-supervised
Video Representation Learning with Egocentric Cameras and IMU Sensors" (arXiv 2110.01680).

Packages: ``manifests`` (the contract), ``pipeline`` (writes it), ``train`` (reads it); this package
holds only the ``egoimu`` console-script dispatcher and what spans both sides (demo, bench).
"""

__version__ = "0.1.0"  # the one source of the version (pyproject.toml reads it)
