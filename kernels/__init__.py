"""Attention kernels (CUDA, built just in time with nvcc) and their pure-PyTorch references.

  reference.py   definitions and the kernels' algorithms in PyTorch (CPU or GPU)
  ops.py         the PyTorch-facing wrappers (flash_attn, flash_attn_varlen, paged_decode, attention_fp32)
  build.py       nvcc build of csrc/*.cu into one shared library, loaded with ctypes; --check, --resources
  csrc/          the CUDA sources (no torch headers)

See docs/dev/kernels.md for the kernels, their resources, floors and measured numbers.
"""
