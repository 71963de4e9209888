# A character-level lyrics model from scratch (about 10M parameters; CPU-trainable at small max_iters).
#   python data/lyrics/prepare.py --tokenizer=char --artist_tags
#   python train.py config/train_lyrics_char.py
out_dir = 'out-lyrics-char'  # where checkpoints and logs go
dataset = 'lyrics'  # data/lyrics
eval_interval = 250  # evaluate every 250 steps
eval_iters = 100  # batches per evaluation
log_interval = 10  # a console line every 10 steps
always_save_checkpoint = False  # keep the best checkpoint only
patience = 6  # a few hundred songs overfit fast: stop when val loss stalls
gradient_accumulation_steps = 1  # one micro-batch per step
batch_size = 32  # sequences per step
block_size = 256  # about four lines of a verse
n_layer = 6  # 6 layers, 6 heads, 384 wide (~10.7M parameters)
n_head = 6  # attention heads
n_embd = 384  # width
dropout = 0.2  # regularise: lyric corpora are small
learning_rate = 1e-3  # small models tolerate a higher rate
max_iters = 5000  # upper bound; patience usually stops earlier
lr_decay_iters = 5000  # decay over the whole run
min_lr = 1e-4  # learning_rate / 10
beta2 = 0.99  # few tokens per step: a longer second-moment memory
warmup_iters = 100  # short warmup
