"""Readers of raw datasets (EPIC-KITCHENS-100/55 annotations, GoPro IMU files, DogCentric folders)."""
