# Fine-tune GPT-2 XL (1.5B) on the lyrics corpus with LoRA: rank-16 adapters on every attention and MLP
# projection train (~20M parameters), the 1.5B base weights stay frozen. Checkpoints hold only the adapters
# and the base model's name; export.py merges them into a full model.
# Prepare with GPT-2's tokenizer first: python data/lyrics/prepare.py --tokenizer=gpt2 --block_size=512
#   python train.py config/finetune_lyrics_lora.py
#   python sample.py --out_dir=out-lyrics-lora --start="[Verse 1]"
# Memory: about 15 GB of GPU memory in bf16 with batch_size 4 (a full fine-tune of gpt2-xl: ~32 GB).
out_dir = 'out-lyrics-lora'  # where checkpoints and logs go
init_from = 'gpt2-xl'  # OpenAI's GPT-2 XL (downloaded once into the Hugging Face cache, 6.4 GB)
dataset = 'lyrics'  # data/lyrics, tokenized with gpt2
block_size = 512  # most songs fit in 512 GPT-2 tokens; cropped from GPT-2's 1024
batch_size = 4  # sequences per micro-step
gradient_accumulation_steps = 8  # 4 x 512 x 8 = ~16k tokens per step
dropout = 0.0  # the frozen base runs as pretrained; the adapters have their own dropout
lora_rank = 16  # rank of the adapters
lora_alpha = 32.0  # adapter scale alpha / rank = 2
lora_dropout = 0.05  # dropout on the adapters' input
lora_targets = 'c_attn,c_proj,c_fc'  # attention and MLP projections of every block
learning_rate = 2e-4  # adapters start at zero and take a much higher rate than full fine-tuning
lr_schedule = 'constant'  # early stopping decides the length
warmup_iters = 20  # short warmup
max_iters = 3000  # upper bound; patience usually stops far earlier
weight_decay = 0.0  # no decay on the adapters (the usual LoRA choice)
beta2 = 0.99  # few tokens per step: a longer second-moment memory
eval_interval = 50  # evaluate every 50 steps (~800k tokens)
eval_iters = 40  # batches per evaluation
patience = 5  # stop after 5 evaluations without a better val loss
always_save_checkpoint = False  # write ckpt.pt only when val loss improves
log_interval = 10  # a console line every 10 steps
