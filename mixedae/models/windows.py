"""Non-overlapping window partitioning of a token grid (ViTDet-style windowed attention)."""
from typing import Tuple

import torch
import torch.nn.functional as F


def window_partition(x: torch.Tensor, hw: Tuple[int, int],
                     window_size: int) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """(B, H*W, C) tokens -> (B * nW, ws*ws, C) windows; the grid is zero-padded.

    Returns the windows and the padded grid size (Hp, Wp).
    """
    B, _, C = x.shape
    H, W = hw
    x = x.view(B, H, W, C)
    pad_h, pad_w = (-H) % window_size, (-W) % window_size
    x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))                             # (B, Hp, Wp, C)
    Hp, Wp = H + pad_h, W + pad_w
    x = x.view(B, Hp // window_size, window_size, Wp // window_size, window_size, C)
    windows = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size * window_size, C)
    return windows, (Hp, Wp)


def window_unpartition(windows: torch.Tensor, window_size: int, padded_hw: Tuple[int, int],
                       hw: Tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nW, ws*ws, C) -> (B, H*W, C)."""
    Hp, Wp = padded_hw
    H, W = hw
    C = windows.shape[-1]
    x = windows.view(-1, Hp // window_size, Wp // window_size, window_size, window_size, C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(-1, Hp, Wp, C)
    return x[:, :H, :W].reshape(-1, H * W, C)
