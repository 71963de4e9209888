# The demo (bash demo.sh): a character-level verse model trained on the CPU in about four minutes.
# Uses the speedrun's recipe (Muon, rotary positions, QK-norm, warmup-stable-decay) at a size that learns
# real words and line breaks from the Gutenberg poetry subset in data/poetry.
out_dir = 'out-demo'  # where checkpoints, logs, samples and scores go
dataset = 'poetry'  # data/poetry (python data/poetry/prepare.py)
device = 'cpu'  # the demo runs anywhere
dtype = 'auto'  # bfloat16 on CPUs with AMX, else float32
compile = False  # not worth its start-up time for a few minutes of training
eval_interval = 100  # evaluate (and keep the best checkpoint) every 100 steps
eval_iters = 10  # batches per evaluation: cheap
log_interval = 10  # progress every 10 steps
always_save_checkpoint = False  # best.pt follows val loss; ckpt.pt too
gradient_accumulation_steps = 1  # one micro-batch per step
batch_size = 32  # 32 x 128 = 4096 characters per step
block_size = 128  # two or three lines of context
n_layer = 6  # 6 layers, 4 heads, 256 wide (4.7M parameters)
n_head = 4  # attention heads
n_embd = 256  # width
pos_emb = 'rope'  # rotary positions
qk_norm = True  # normalised queries and keys: stable at a high learning rate
dropout = 0.0  # a few minutes of training does not overfit 2.7M characters
optimizer = 'muon'  # Muon for the block matrices, AdamW for the rest
muon_lr = 0.03  # Muon's peak learning rate
learning_rate = 3e-3  # AdamW's peak learning rate
max_iters = 1000  # about four minutes on 2 cores
lr_decay_iters = 1000  # the schedule's length
lr_schedule = 'wsd'  # flat, then a linear cooldown
cooldown_frac = 0.4  # share of the run spent cooling down
min_lr = 3e-4  # learning_rate / 10
beta2 = 0.99  # AdamW second-moment memory
warmup_iters = 50  # short warmup
