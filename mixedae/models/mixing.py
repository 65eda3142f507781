"""Step 1 of MixedAE: group the batch and build one mixed token sequence per group.

Every group of ``r`` consecutive images becomes one mixed sequence of ``N`` tokens; the
token at position ``p`` is image ``src[g, p]``'s patch ``p`` (positions are kept, so the
positional embedding of ``p`` stays correct).
"""
import torch


def check_mix_config(num_patches: int, mix_ratio: int, balanced: bool) -> None:
    """Raise a ``ValueError`` naming the value if images of N patches cannot be mixed."""
    if mix_ratio < 2:
        raise ValueError(f'mix_ratio must be >= 2 to mix images, got {mix_ratio}')
    if balanced and num_patches % mix_ratio:
        raise ValueError(
            f'a balanced mixing mask needs mix_ratio={mix_ratio} to divide the number '
            f'of patches N={num_patches}')


def check_batch_size(batch_size: int, mix_ratio: int) -> None:
    """Raise a ``ValueError`` if the per-device batch cannot be cut into groups of r."""
    if batch_size % mix_ratio:
        raise ValueError(
            f'mix_ratio={mix_ratio} must divide the per-device batch size, got '
            f'batch_size={batch_size}; mixing groups are formed inside each device\'s '
            'batch (set train_dataloader.batch_size to a multiple of mix_ratio and '
            'drop_last=True)')


def mixing_sources(num_groups: int, num_patches: int, mix_ratio: int,
                   balanced: bool = True,
                   device: torch.device | None = None) -> torch.Tensor:
    """Draw the source-image index of every position of every mixed sequence.

    Balanced: a random permutation of the N positions cut into r equal chunks, so each
    image owns exactly N/r positions. I.i.d.: each position picks its source uniformly.

    Returns:
        ``src`` (G, N) int64 in ``[0, r)``.
    """
    if not balanced:
        return torch.randint(mix_ratio, (num_groups, num_patches), device=device)
    perm = torch.rand(num_groups, num_patches, device=device).argsort(dim=1)  # (G, N)
    chunk = torch.arange(num_patches, device=device) // (num_patches // mix_ratio)
    src = torch.empty_like(perm)
    return src.scatter_(1, perm, chunk.expand(num_groups, -1))             # (G, N)


def mix_tokens(tokens: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """Take, at each position, the token of the image that owns it.

    Args:
        tokens: (B, N, D) patch tokens, images of a group consecutive (B = G * r).
        src: (G, N) source index per position.

    Returns:
        (G, N, D) mixed sequences.
    """
    num_groups, num_patches = src.shape
    dim = tokens.shape[-1]
    grouped = tokens.view(num_groups, -1, num_patches, dim)               # (G, r, N, D)
    index = src[:, None, :, None].expand(-1, 1, -1, dim)                  # (G, 1, N, D)
    return grouped.gather(1, index).squeeze(1)                            # (G, N, D)


def same_source(src: torch.Tensor) -> torch.Tensor:
    """(G, N) source map -> (G, N, N) bool, True where two positions share a source."""
    return src[:, :, None] == src[:, None, :]
