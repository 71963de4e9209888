# Fine-tune GPT-2 Medium (355M) on Tiny Shakespeare (GPT-2 tokens), every weight.
#   python data/shakespeare/prepare.py
#   python train.py config/finetune_shakespeare.py
#   python sample.py --out_dir=out-shakespeare --start="ROMEO:"
# Memory: about 11 GB of GPU memory in bf16; --init_from=gpt2-xl needs ~39 GB (or add LoRA: --lora_rank=16).
out_dir = 'out-shakespeare'  # where checkpoints and logs go
init_from = 'gpt2-medium'  # OpenAI's GPT-2 Medium (downloaded once into the Hugging Face cache)
dataset = 'shakespeare'  # data/shakespeare: ~300k GPT-2 tokens of training text
block_size = 1024  # GPT-2's full context
batch_size = 4  # sequences per micro-step
gradient_accumulation_steps = 8  # 4 x 1024 x 8 = ~33k tokens per step: ~9 steps per epoch
dropout = 0.1  # GPT-2's own dropout
learning_rate = 3e-5  # small: nudge the pretrained weights
lr_schedule = 'constant'  # a handful of epochs; early stopping decides
warmup_iters = 5  # a short warmup
max_iters = 60  # ~6 epochs at most; it overfits after 2-3
beta2 = 0.99  # few steps: a longer second-moment memory
eval_interval = 5  # evaluate every 5 steps
eval_iters = 20  # batches per evaluation
patience = 3  # stop after 3 evaluations without a better val loss
always_save_checkpoint = False  # write ckpt.pt only when val loss improves
log_interval = 1  # a console line every step
