"""Stage train: the training loops of the feature network (contrastive, in 3D: ``rtgs2 train
features``) and of the fusion network (semantic, in 2D: ``rtgs2 train fusion``, ``rtgs2
finetune``), in one process or under torchrun (DDP), with their configs and weight cards.
Inference never imports this package.

Import the modules themselves (``from rtgs2.train.fusion import train_fusion``): this package
imports nothing, so the configs the CLI reads stay light.
"""
