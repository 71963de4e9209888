# A lyrics model from scratch on a BPE trained on the corpus (smaller vocabulary than GPT-2's, so a small
# model spends fewer parameters on embeddings).
#   python data/lyrics/prepare.py --tokenizer=bpe --vocab_size=8192 --artist_tags
#   python train.py config/train_lyrics_bpe.py
out_dir = 'out-lyrics-bpe'  # where checkpoints and logs go
dataset = 'lyrics'  # data/lyrics
eval_interval = 250  # evaluate every 250 steps
eval_iters = 100  # batches per evaluation
log_interval = 10  # a console line every 10 steps
always_save_checkpoint = False  # keep the best checkpoint only
patience = 6  # stop when val loss stalls
gradient_accumulation_steps = 1  # one micro-batch per step
batch_size = 32  # sequences per step
block_size = 128  # 128 BPE tokens: about a verse
n_layer = 6  # 6 layers, 6 heads, 384 wide
n_head = 6  # attention heads
n_embd = 384  # width
dropout = 0.2  # regularise: lyric corpora are small
learning_rate = 6e-4  # a little lower than char-level: larger vocabulary
max_iters = 5000  # upper bound; patience usually stops earlier
lr_decay_iters = 5000  # decay over the whole run
min_lr = 6e-5  # learning_rate / 10
beta2 = 0.99  # few tokens per step
warmup_iters = 100  # short warmup
