"""Private checks of label maps read by the converters."""
import numpy as np


def integer_label(label: np.ndarray, path: str, round_labels: bool) -> np.ndarray:
    """Check that a label map is integer-valued, rounding it on request.

    A bool map becomes uint8; an integer map is returned as is; a float map
    must be finite and hold whole numbers, or, with ``round_labels``, is
    rounded to the nearest integer with negative values (interpolation
    undershoot) clipped to 0.

    Args:
        label (np.ndarray): Label map ``(X, Y, Z)`` as read from ``path``.
        path (str): Its file, named in error messages.
        round_labels (bool): Round a non-integer map instead of refusing it.

    Returns:
        np.ndarray: The map, same shape, with integer values (its dtype is
        the input's, uint8 for bool).

    Raises:
        ValueError: A non-numeric dtype, NaN/Inf values, or a non-integer
            map without ``round_labels``; the message names the file.
    """
    if label.dtype == bool:
        return label.astype(np.uint8)
    if not np.issubdtype(label.dtype, np.number):
        raise ValueError(f'label {path!r} has non-numeric dtype {label.dtype}.')
    if np.issubdtype(label.dtype, np.integer):
        return label
    if not np.isfinite(label).all():
        raise ValueError(f'label {path!r} contains NaN/Inf values.')
    rounded = np.rint(label)
    if not np.array_equal(rounded, label):
        if not round_labels:
            raise ValueError(
                f'label {path!r} is not integer-valued (range {float(label.min()):.4g}..'
                f'{float(label.max()):.4g}; e.g. an interpolated/resampled map). Pass '
                'round_labels=True (CLI: --round-labels) to round it to the nearest integer '
                'and clip negative values to 0.')
        rounded = np.maximum(rounded, 0)
    return rounded
