# Model-evolution ablation, rung 5: the same stacked blocks with residual connections
# (x = x + attn(x), x = x + mlp(x)); still no LayerNorm.
# Runs on top of config/ablation.py (the shared budget).
out_dir = 'out-ablation/5_residual'  # where this rung trains
n_layer = 4  # transformer blocks
n_head = 4  # attention heads
mlp = 'gelu'  # MLP in each block
residual = True  # residual connections
layernorm = False  # LayerNorm
