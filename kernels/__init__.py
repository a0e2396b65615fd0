"""Attention kernels and their references."""
