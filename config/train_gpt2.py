# GPT-2 124M from scratch on OpenWebText, one node of 8 GPUs:
#   python data/openwebtext/prepare.py
#   torchrun --standalone --nproc_per_node=8 train.py config/train_gpt2.py
# 12 sequences x 1024 tokens x 40 micro-steps = ~491k tokens per step; 600k steps = ~300B tokens.
out_dir = 'out-gpt2'  # where checkpoints and logs go
dataset = 'openwebtext'  # data/openwebtext
wandb_log = True  # follow the multi-day run on Weights & Biases
wandb_project = 'owt'  # wandb project
wandb_run_name = 'gpt2-124M'  # wandb run name
batch_size = 12  # sequences per micro-step per GPU
block_size = 1024  # GPT-2's context
gradient_accumulation_steps = 5 * 8  # split across the 8 ranks: 5 micro-steps each
n_layer = 12  # GPT-2 small
n_head = 12  # attention heads
n_embd = 768  # width
dropout = 0.0  # no dropout for pretraining
max_iters = 600000  # total steps
lr_decay_iters = 600000  # decay over the whole run
learning_rate = 6e-4  # GPT-3 paper's rate for this size
min_lr = 6e-5  # learning_rate / 10
warmup_iters = 2000  # warmup steps
weight_decay = 1e-1  # AdamW weight decay
eval_interval = 1000  # evaluate every 1000 steps
eval_iters = 200  # batches per evaluation
log_interval = 10  # a console line every 10 steps
compile = True  # worth it on GPUs for a long run
