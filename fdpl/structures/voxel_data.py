"""A data element for channel-first 3D volumes."""
from typing import Any

import numpy as np
import torch
from mmengine.structures import BaseDataElement


class VoxelData(BaseDataElement):
    """Voxel-wise data of one volume, every field shaped ``(C, D, H, W)``.

    mmengine's ``PixelData`` accepts only 2D maps; this is its 3D
    counterpart. All data fields of one instance share the spatial shape
    ``(D, H, W)``; a 3D array is given a leading channel axis.

    Examples:
        >>> v = VoxelData(data=torch.zeros(4, 5, 6))
        >>> v.shape
        (4, 5, 6)
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ('_metainfo_fields', '_data_fields'):
            if not hasattr(self, name):
                super().__setattr__(name, value)
            else:
                raise AttributeError(f'{name} has been used as a private attribute, '
                                     'which is immutable.')
            return
        if isinstance(value, (torch.Tensor, np.ndarray)):
            if value.ndim == 3:
                value = value[None]
            if value.ndim != 4:
                raise ValueError(f'VoxelData field {name!r} must have 3 (D, H, W) or 4 '
                                 f'(C, D, H, W) dimensions, got shape {tuple(value.shape)}')
            if self._data_fields and tuple(value.shape[-3:]) != self.shape:
                raise ValueError(f'VoxelData field {name!r} has spatial shape '
                                 f'{tuple(value.shape[-3:])}, expected {self.shape}')
        super().__setattr__(name, value)

    @property
    def shape(self) -> tuple:
        """Spatial shape ``(D, H, W)`` shared by all data fields, or ``()``."""
        for v in self.values():
            if isinstance(v, (torch.Tensor, np.ndarray)):
                return tuple(v.shape[-3:])
        return ()
