"""Batches in the form the dataloaders give, with random content."""
from typing import Any, Dict, Sequence

import torch

from fdpl.structures import VolSegDataSample, VoxelData


def demo_two_stream_batch(num_labeled: int, num_unlabeled: int, patch: Sequence[int],
                          max_shift: Sequence[int] = (0, 0, 0),
                          fg_fraction: float = 0.3) -> Dict[str, Any]:
    """A collated (not preprocessed) batch of labeled crops and unlabeled context regions.

    Labeled samples carry a random binary ``gt_sem_seg``; unlabeled ones carry
    the metainfo and context mask that ``ContextCrop3D`` writes, with the
    fixed crop in the middle of a context region of ``patch + 2 * max_shift``.

    Args:
        num_labeled (int): Labeled crops, each input ``(1, D, H, W)`` = ``patch``.
        num_unlabeled (int): Unlabeled context regions, each input
            ``(1, D + 2 sd, H + 2 sh, W + 2 sw)``.
        patch (Sequence[int]): Crop size ``(D, H, W)``.
        max_shift (Sequence[int]): Context margin per axis.
        fg_fraction (float): Expected foreground fraction of the labels.

    Returns:
        dict: ``inputs`` (list of tensors) and ``data_samples`` (list of
        :class:`~fdpl.structures.VolSegDataSample`), labeled ones first.
    """
    patch = tuple(int(p) for p in patch)
    shift = tuple(int(s) for s in max_shift)
    inputs, samples = [], []
    for _ in range(num_labeled):
        sample = VolSegDataSample(metainfo=dict(case_id='labeled', labeled=True))
        sample.gt_sem_seg = VoxelData(data=(torch.rand(1, *patch) < fg_fraction).long())
        inputs.append(torch.randn(1, *patch))
        samples.append(sample)
    context = [p + 2 * s for p, s in zip(patch, shift)]
    for _ in range(num_unlabeled):
        sample = VolSegDataSample(metainfo=dict(case_id='unlabeled', labeled=False,
                                                fixed_origin=shift, fixed_size=patch,
                                                max_shift=shift))
        sample.context_mask = VoxelData(data=torch.ones(1, *context, dtype=torch.uint8))
        inputs.append(torch.randn(1, *context))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
