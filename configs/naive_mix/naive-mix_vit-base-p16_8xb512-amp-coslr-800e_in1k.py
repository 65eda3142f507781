# Naive mixing (the paper's negative result), ViT-B/16, 800 epochs: MixedAE's
# mixing and unmixing with plain attention, no segment embedding, no contrastive loss.
_base_ = '../mixedae/mixedae_vit-base-p16_8xb512-amp-coslr-800e_in1k.py'

model = dict(
    backbone=dict(homologous_layers=[], segment_embed=False),
    head=dict(contrastive_loss=None))
