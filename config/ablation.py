# The model-evolution ladder's shared budget: every config/ablation_<rung>.py trains on top of this file.
#   python ablation.py                                            # every rung, then the comparison
#   python train.py config/ablation.py config/ablation_3_multi_head.py   # one rung alone
dataset = 'shakespeare_char'  # data/shakespeare_char
eval_interval = 100  # evaluate every 100 steps
eval_iters = 20  # batches per evaluation
log_interval = 100  # a console line every 100 steps
always_save_checkpoint = False  # keep the best checkpoint only
gradient_accumulation_steps = 1  # one micro-batch per step
batch_size = 16  # 16 x 64 = 1024 characters per step
block_size = 64  # 64 characters of context
max_iters = 1500  # the same budget for every rung
lr_decay_iters = 1500  # cosine decay over the whole run
warmup_iters = 50  # short warmup
learning_rate = 3e-3  # tiny models tolerate a high rate
min_lr = 3e-4  # learning_rate / 10
bias = False  # no biases
dtype = 'float32'  # exact arithmetic for the comparison (bfloat16 is ~15% faster on an AMX CPU)
tie_weights = False  # separate input and output tables on every rung (the bigram is a lookup table)
n_embd = 64  # width
n_head = 4  # attention heads (rung 2 uses one)
dropout = 0.0  # only the full transformer (rung 6) adds dropout
