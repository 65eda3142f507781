# Naive mixing on the embedded tiny dataset: the tiny MixedAE config with plain
# attention, no segment embedding and no contrastive loss.
_base_ = './mixedae_vit-tiny-p8_1xb32-300i_tiny.py'

model = dict(
    backbone=dict(homologous_layers=[], segment_embed=False),
    head=dict(contrastive_loss=None))
