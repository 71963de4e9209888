# Model-evolution ablation, rung 3: multi-head attention (4 heads of size 16 instead of one of 64);
# still one attention layer, no MLP, no residual connection, no LayerNorm.
# Runs on top of config/ablation.py (the shared budget).
out_dir = 'out-ablation/3_multi_head'  # where this rung trains
n_layer = 1  # transformer blocks
n_head = 4  # attention heads
mlp = 'none'  # MLP in each block
residual = False  # residual connections
layernorm = False  # LayerNorm
