# Model-evolution ablation, rung 6: the full transformer: residual blocks with pre-LayerNorm (before
# attention, before the MLP and before the output head) and dropout.
# Runs on top of config/ablation.py (the shared budget).
out_dir = 'out-ablation/6_full'  # where this rung trains
n_layer = 4  # transformer blocks
n_head = 4  # attention heads
mlp = 'gelu'  # MLP in each block
residual = True  # residual connections
layernorm = True  # LayerNorm
dropout = 0.1  # dropout
