# MixedAE ViT-L/16, 800 epochs, with FSDP (mmengine FlexibleRunner): parameters, gradients
# and AdamW states are sharded over the GPUs, one FSDP unit per transformer block; fp16
# AMP as in the DDP config (AmpOptimWrapper gets FSDP's sharded grad scaler). Checkpoints
# are full state dicts gathered on rank 0 (CPU), so resume, the transfer converters and
# mixedae's safe loader read them like the DDP ones. Launch with tools/dist_train.sh.
_base_ = './mixedae_vit-large-p16_8xb512-amp-coslr-800e_in1k.py'

runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    model_wrapper=dict(auto_wrap_policy=dict(type='vit_block_wrap_policy')),
    state_dict_cfg=dict(
        state_dict_type='FULL_STATE_DICT',
        state_dict_config=dict(type='FullStateDictConfig', offload_to_cpu=True,
                               rank0_only=True),
        optim_state_dict_config=dict(type='FullOptimStateDictConfig', offload_to_cpu=True,
                                     rank0_only=True)))
