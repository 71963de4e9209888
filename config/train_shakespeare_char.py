# A small character-level model on tiny Shakespeare: the classic baby GPT (10.7M parameters).
# Prepare first: python data/shakespeare_char/prepare.py
out_dir = 'out-shakespeare-char'  # where checkpoints and logs go
eval_interval = 250  # small data: evaluate often
eval_iters = 200  # batches per evaluation
log_interval = 10  # a console line every 10 iterations
always_save_checkpoint = False  # it overfits: keep only checkpoints that improve val loss

wandb_project = 'shakespeare-char'  # used with --wandb_log=True
wandb_run_name = 'mini-gpt'  # wandb run name

dataset = 'shakespeare_char'  # data/shakespeare_char
gradient_accumulation_steps = 1  # one micro-batch per step
batch_size = 64  # sequences per step
block_size = 256  # 256 characters of context

n_layer = 6  # the baby GPT: 6 layers, 6 heads, 384 wide
n_head = 6  # attention heads
n_embd = 384  # width
dropout = 0.2  # a small model on 1 MB of text needs regularisation

learning_rate = 1e-3  # small models tolerate a higher rate
max_iters = 5000  # total steps
lr_decay_iters = 5000  # decay over the whole run
min_lr = 1e-4  # learning_rate / 10
beta2 = 0.99  # few tokens per step: a longer second-moment memory
warmup_iters = 100  # short warmup
