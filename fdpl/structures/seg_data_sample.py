"""Data sample of one 3D segmentation case."""
from mmengine.structures import BaseDataElement

from .voxel_data import VoxelData


class VolSegDataSample(BaseDataElement):
    """Annotations and predictions of one volume.

    Data fields (all optional, each a :class:`VoxelData`):

    - ``gt_sem_seg``: ground truth, ``data`` of shape ``(1, D, H, W)`` int64.
    - ``pred_sem_seg``: predicted labels ``(1, D, H, W)`` int64.
    - ``seg_logits``: class probabilities ``(K, D, H, W)`` float.
    - ``context_mask``: for an unlabeled context region, 1 where the voxel
      holds real image content, 0 where it is padding, ``(1, D', H', W')``.
    - ``pseudo_labels``: a :class:`VoxelData` whose fields are the
      pseudo-labels attached by :class:`~fdpl.engine.PseudoLabelHook`
      (``fix_1``, ``dyn_1``, ``fix_2``, ``dyn_2`` and optional weights).

    Metainfo keys written by the pipeline: ``case_id``, ``img_path``,
    ``spacing`` (d, h, w), ``affine``, ``ori_shape`` (D, H, W of the source),
    ``transforms`` (list of applied spatial operations), ``labeled`` (bool),
    and for context regions ``fixed_origin`` / ``fixed_size``.
    """

    def _field(name: str):  # noqa: N805 - small property factory
        private = f'_{name}'

        def getter(self):
            return getattr(self, private)

        def setter(self, value: VoxelData) -> None:
            self.set_field(value, private, dtype=VoxelData)

        def deleter(self) -> None:
            delattr(self, private)

        return property(getter, setter, deleter)

    gt_sem_seg = _field('gt_sem_seg')
    pred_sem_seg = _field('pred_sem_seg')
    seg_logits = _field('seg_logits')
    context_mask = _field('context_mask')
    pseudo_labels = _field('pseudo_labels')
    del _field
