# Speedrun: tiny Shakespeare (characters) to val loss 1.88 as fast as possible on a 2-core CPU.
#   python bench.py --mode=time_to_loss --train_config=config/speedrun_shakespeare_char_cpu.py --target=1.88
# What changed from the nanoGPT CPU command (config/train_shakespeare_char_cpu.py), each measured in
# BENCHMARKS.md: Muon for the hidden matrices, rotary positions, QK-norm, bigger batches (AMX bfloat16
# matmuls want them), a high learning rate with a short warmup-stable-decay schedule, no dropout.
out_dir = 'out-speedrun-char'  # where checkpoints and logs go
dataset = 'shakespeare_char'  # data/shakespeare_char
device = 'cpu'  # the CPU recipe
dtype = 'auto'  # bfloat16 on CPUs with AMX, else float32
compile = False  # compiling costs more than it saves in a run this short
eval_interval = 130  # evaluate at the start and the end (each whole-val evaluation costs ~1 s)
eval_iters = 5  # random train batches per evaluation (val is exact, below)
eval_full_val = True  # val loss over the whole val split (exact), as the target is judged
target_loss = 1.88  # stop as soon as val loss reaches this
log_interval = 25  # a console line every 25 steps
always_save_checkpoint = False  # checkpoints only when val improves
gradient_accumulation_steps = 1  # one micro-batch per step
batch_size = 64  # 64 x 64 = 4096 tokens per step
block_size = 64  # 64 characters of context
n_layer = 4  # a 0.8M-parameter model, as the nanoGPT CPU command
n_head = 4  # attention heads
n_embd = 128  # width
pos_emb = 'rope'  # rotary positions
qk_norm = True  # normalised queries and keys: stable at the high learning rate
dropout = 0.0  # no regularisation needed in a few hundred steps
optimizer = 'muon'  # Muon (orthogonalised momentum) for the block matrices, AdamW for the rest
muon_lr = 0.04  # Muon's peak learning rate
learning_rate = 4e-3  # AdamW's peak learning rate (embeddings, head, gains)
max_iters = 130  # the schedule is fitted to this length; target_loss ends the run earlier
lr_decay_iters = 130  # the schedule's length
lr_schedule = 'wsd'  # flat, then a linear cooldown over the last cooldown_frac
cooldown_frac = 0.4  # share of the run spent cooling down
min_lr = 4e-4  # learning_rate / 10 (Muon's floor scales the same way)
beta2 = 0.99  # AdamW second-moment memory
warmup_iters = 30  # short warmup
