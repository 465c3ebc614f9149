"""Data structures of fdpl.

Axis convention (used everywhere in fdpl):

* a batch of volumes is ``(B, C, D, H, W)``; one sample ``(C, D, H, W)``;
  a label map ``(D, H, W)`` of int64 class indices;
* coordinates, shifts, boxes, patch sizes, strides and spacing are given in
  ``(d, h, w)`` order;
* LA h5 files store arrays as ``(W, H, D)`` and nibabel returns ``(x, y, z)``:
  the loading transforms transpose once to ``(D, H, W)``; nothing else does.
* in-plane operations (rot90, the field's flips, in-plane shifts and CUT
  boxes) act on the last two axes ``(H, W)``.
"""
from .seg_data_sample import VolSegDataSample
from .spatial_record import invert_record
from .voxel_data import VoxelData

__all__ = ['VoxelData', 'VolSegDataSample', 'invert_record']
