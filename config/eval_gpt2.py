# The loss of OpenAI's gpt2 (124M) as it is, no training: a baseline for the fine-tuned models.
# Needs a dataset tokenized with gpt2 (python data/lyrics/prepare.py --tokenizer=gpt2):
#   python train.py config/eval_gpt2.py                      # lyrics
#   python train.py config/eval_gpt2.py --dataset=shakespeare  # or any other gpt2 dataset
# Prints the train and val loss over eval_iters random 1024-token windows; writes nothing.
init_from = 'gpt2'  # the pretrained model (downloaded once into the Hugging Face cache)
eval_only = True  # evaluate once and exit
dataset = 'lyrics'  # data/lyrics
block_size = 1024  # GPT-2's full context
batch_size = 8  # sequences per evaluation batch
gradient_accumulation_steps = 1  # no training steps
eval_iters = 100  # batches per split: 8 x 1024 x 100 tokens
dropout = 0.0  # evaluation: no dropout
wandb_log = False  # nothing to follow
