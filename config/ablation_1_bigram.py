# Model-evolution ablation, rung 1: the bigram model. No blocks (n_layer=0), no positions, no LayerNorm:
# logits = lm_head(wte[token]), a next-token table of rank n_embd (n_embd >= 64 covers a 65-char vocabulary).
# Every rung trains the same budget: python ablation.py runs them all (or: python train.py this_file).
out_dir = 'out-ablation/1_bigram'
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
tie_weights = False  # a lookup table: the input and output tables are separate
n_embd = 64
n_head = 4
# the rung
n_layer = 0
pos_emb = 'none'
layernorm = False
