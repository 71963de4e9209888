# Model-evolution ablation, rung 1: the bigram model. No blocks (n_layer=0), no positions, no LayerNorm:
# logits = lm_head(wte[token]), a next-token table of rank n_embd (n_embd >= 64 covers a 65-char vocabulary).
# Runs on top of config/ablation.py (the shared budget).
out_dir = 'out-ablation/1_bigram'  # where this rung trains
n_layer = 0  # transformer blocks
pos_emb = 'none'  # position embeddings
layernorm = False  # LayerNorm
