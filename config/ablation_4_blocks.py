# Model-evolution ablation, rung 4: stacked blocks, each multi-head attention then an MLP (4x wide, GELU);
# no residual connections and no LayerNorm yet, so the deep stack is hard to optimise.
# Runs on top of config/ablation.py (the shared budget).
out_dir = 'out-ablation/4_blocks'  # where this rung trains
n_layer = 4  # transformer blocks
n_head = 4  # attention heads
mlp = 'gelu'  # MLP in each block
residual = False  # residual connections
layernorm = False  # LayerNorm
