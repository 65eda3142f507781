"""Step 4 of MixedAE: unmix the encoder output and decode every image (MAE's decoder)."""
import torch
from mmpretrain.models.necks import MAEPretrainDecoder
from mmpretrain.registry import MODELS
from torch import nn

from .unmixing import unmix_tokens


@MODELS.register_module()
class MixedAEDecoder(MAEPretrainDecoder):
    """``MAEPretrainDecoder`` fed with unmixed sequences instead of MAE's unshuffle.

    Args (beyond ``MAEPretrainDecoder``'s):
        mix_ratio: images per mixed sequence, r.
        segment_embed: add a learnable source-slot embedding to the projected encoder
            tokens before unmixing (the "decoder" placement of the segment embedding).
    """

    def __init__(self, mix_ratio: int = 4, segment_embed: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mix_ratio = mix_ratio
        self.segment_embed = None
        if segment_embed:
            self.segment_embed = nn.Parameter(
                torch.zeros(mix_ratio, self.decoder_embed.out_features))

    def init_weights(self) -> None:
        super().init_weights()
        if self.segment_embed is not None:
            nn.init.normal_(self.segment_embed, std=.02)

    def forward(self, latent: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        """(G, 1 + N, D) encoder output + (G, N) sources -> (B, N, p*p*3) predictions."""
        x = self.decoder_embed(latent)                                    # (G, 1+N, Dd)
        if self.segment_embed is not None:
            x = torch.cat([x[:, :1], x[:, 1:] + self.segment_embed[src]], dim=1)
        x = unmix_tokens(x, src, self.mask_token, self.mix_ratio)         # (B, 1+N, Dd)
        x = x + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        x = self.decoder_pred(self.decoder_norm(x))                       # (B, 1+N, p*p*3)
        return x[:, 1:]
