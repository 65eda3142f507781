# ViT-L/16 variant of the ViT-B recipe (ViTDet-L, detectron2 "mask_rcnn_vitdet_l_100ep"):
# 24 blocks with global attention in 5, 11, 17, 23 and 14x14 windows elsewhere, drop path
# 0.4, layer decay 0.8; relative position bias, position grid and neck as in ViT-B's.
_base_ = './mask-rcnn_mixedae-vit-base-p16_simplefpn_lsj-100e_coco.py'

embed_dims = 1024
global_blocks = (5, 11, 17, 23)
model = dict(
    backbone=dict(
        arch='l',
        drop_path_rate=0.4,
        window_block_indexes=[i for i in range(24) if i not in global_blocks],
        init_cfg=dict(checkpoint='checkpoints/mixedae_vit-large-p16.pth')),
    neck=dict(backbone_channel=embed_dims))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
