# Model-evolution ablation, rung 2: one self-attention head (head size = n_embd) on top of token + position
# embeddings; no MLP, no residual connection, no LayerNorm.
out_dir = 'out-ablation/2_one_head'
dataset = 'shakespeare_char'
eval_interval = 100
eval_iters = 20
log_interval = 100
always_save_checkpoint = False
gradient_accumulation_steps = 1
batch_size = 16
block_size = 64
max_iters = 1500
lr_decay_iters = 1500
warmup_iters = 50
learning_rate = 3e-3
min_lr = 3e-4
dropout = 0.0
bias = False
dtype = 'float32'  # tiny models: float32 is faster than bfloat16 on CPU
tie_weights = False
n_embd = 64
# the rung
n_layer = 1
n_head = 1
mlp = 'none'
residual = False
layernorm = False
