"""Encoders: SlowFast-R50 (video), VGG16 (IMU spectrograms), projection heads."""
