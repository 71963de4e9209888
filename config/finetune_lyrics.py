# Fine-tune GPT-2 (124M) on the lyrics corpus, every weight, stopping once val loss stops improving.
# Prepare with GPT-2's tokenizer first: python data/lyrics/prepare.py --tokenizer=gpt2 --block_size=512
#   python train.py config/finetune_lyrics.py
#   python sample.py --out_dir=out-lyrics --start="[Verse 1]"
# Memory: about 5 GB of GPU memory in bf16 (see the README's fine-tuning table); --init_from=gpt2-medium ~11 GB.
out_dir = 'out-lyrics'  # where checkpoints and logs go
init_from = 'gpt2'  # start from OpenAI's GPT-2 124M (downloaded once into the Hugging Face cache)
dataset = 'lyrics'  # data/lyrics, tokenized with gpt2
block_size = 512  # most songs fit in 512 GPT-2 tokens; cropped from GPT-2's 1024
batch_size = 8  # sequences per micro-step
gradient_accumulation_steps = 4  # 8 x 512 x 4 = ~16k tokens per step
dropout = 0.1  # GPT-2's own dropout: a small corpus overfits quickly
learning_rate = 3e-5  # small: nudge the pretrained weights, do not overwrite them
lr_schedule = 'constant'  # early stopping decides the length, so no schedule to fit
warmup_iters = 20  # a short warmup protects the pretrained weights from the first noisy steps
max_iters = 3000  # upper bound; patience usually stops far earlier
weight_decay = 1e-1  # AdamW weight decay
beta2 = 0.99  # few tokens per step: a longer second-moment memory
eval_interval = 50  # evaluate every 50 steps (~800k tokens)
eval_iters = 40  # batches per evaluation
patience = 5  # stop after 5 evaluations without a better val loss; best.pt keeps the best model
always_save_checkpoint = False  # write ckpt.pt only when val loss improves
log_interval = 10  # a console line every 10 steps
