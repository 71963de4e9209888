# Model-evolution ablation, rung 2: one self-attention head (head size = n_embd) on top of token + position
# embeddings; no MLP, no residual connection, no LayerNorm.
# Runs on top of config/ablation.py (the shared budget).
out_dir = 'out-ablation/2_one_head'  # where this rung trains
n_layer = 1  # transformer blocks
n_head = 1  # attention heads
mlp = 'none'  # MLP in each block
residual = False  # residual connections
layernorm = False  # LayerNorm
