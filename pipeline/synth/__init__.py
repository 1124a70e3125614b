"""Synthetic datasets in the exact layout of EPIC-KITCHENS-100 (with GoPro IMU) and DogCentric.

Head motion is physically tied to the pixels: one head trajectory drives both the rendered frames
and the IMU samples. The demo, the tests and the benchmarks run on these.
"""
