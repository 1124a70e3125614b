"""Evaluations of the paper's Tables 1-5."""
