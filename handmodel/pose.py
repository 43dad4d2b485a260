"""Absolute vs mean-relative MANO poses.

The toolkit stores absolute poses (smplx `flat_hand_mean=True`). InterHand2.6M's NeuralAnnot poses are relative to
the model's `hands_mean` (`flat_hand_mean=False`): absolute = relative + hands_mean on the 45 finger values.
"""

import numpy as np


def relative_to_absolute(pose48: np.ndarray, hands_mean: np.ndarray) -> np.ndarray:
    out = np.array(pose48, dtype=np.float64, copy=True)
    out[..., 3:] += hands_mean
    return out


def absolute_to_relative(pose48: np.ndarray, hands_mean: np.ndarray) -> np.ndarray:
    out = np.array(pose48, dtype=np.float64, copy=True)
    out[..., 3:] -= hands_mean
    return out
