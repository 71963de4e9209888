# The character-level Shakespeare model at laptop-CPU size: about 45 s on 2 cores, val loss ~1.9.
# The same settings as the CPU command nanoGPT's README gives, so results compare directly.
# Prepare first: python data/shakespeare_char/prepare.py
out_dir = 'out-shakespeare-char'  # where checkpoints and logs go
dataset = 'shakespeare_char'  # data/shakespeare_char
device = 'cpu'  # no GPU needed
compile = False  # compiling does not pay off for a 2000-step CPU run
eval_interval = 250  # evaluate every 250 steps
eval_iters = 20  # cheap evaluations
log_interval = 10  # a console line every 10 steps
always_save_checkpoint = False  # keep the best checkpoint only
gradient_accumulation_steps = 1  # one micro-batch per step
batch_size = 12  # sequences per step
block_size = 64  # 64 characters of context
n_layer = 4  # a 0.8M-parameter model
n_head = 4  # attention heads
n_embd = 128  # width
dropout = 0.0  # too small to overfit in 2000 steps
learning_rate = 1e-3  # small models tolerate a higher rate
max_iters = 2000  # total steps
lr_decay_iters = 2000  # decay over the whole run
min_lr = 1e-4  # learning_rate / 10
beta2 = 0.99  # few tokens per step: a longer second-moment memory
warmup_iters = 100  # short warmup
