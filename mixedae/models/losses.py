"""Step 5 of MixedAE, second loss: homologous contrastive loss on encoder tokens."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from .mixing import same_source


@MODELS.register_module()
class HomologousContrastiveLoss(BaseModule):
    """Supervised-contrastive loss whose classes are the source images of a mix.

    Within each mixed sequence, z_p is the L2-normalised token at position p; the
    positives of p are the other tokens from the same image, the denominator runs over
    all other tokens of the sequence.

    Args:
        temperature: tau of the cosine-similarity logits.
        loss_weight: lambda, the weight of this loss in the total.
    """

    def __init__(self, temperature: float = 0.2, loss_weight: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, features: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        """features (G, N, C), src (G, N) -> weighted scalar loss."""
        z = F.normalize(features.float(), dim=-1)
        logits = z @ z.transpose(1, 2) / self.temperature                 # (G, N, N)
        self_pair = torch.eye(src.shape[1], dtype=torch.bool, device=src.device)
        logits = logits.masked_fill(self_pair, float('-inf'))
        log_prob = logits.log_softmax(dim=-1).masked_fill(self_pair, 0.)
        positive = same_source(src) & ~self_pair                          # (G, N, N)
        num_pos = positive.sum(-1)
        loss = -(log_prob * positive).sum(-1) / num_pos.clamp(min=1)      # (G, N)
        # mean over the anchors that have a positive; a masked sum rather than boolean
        # indexing, whose data-dependent shape would break a torch.compile graph
        has_pos = num_pos > 0
        loss = (loss * has_pos).sum() / has_pos.sum()
        return self.loss_weight * loss
