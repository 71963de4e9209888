"""
OpenWebText (an open copy of GPT-2's WebText: ~8M web documents, ~9B GPT-2 tokens) -> train.bin, val.bin
and meta.json in this folder, for training a GPT-2-sized model from scratch or checking a GPT-2 checkpoint.
GPT-2 BPE, <|endoftext|> (50256) after every document, 0.05% of the documents (seeded) for val.

This is data/hf/prepare.py with other defaults: --name=Skylion007/openwebtext (the Hub's openwebtext),
--val_fraction=0.0005, --out_dir=data/openwebtext; all of its options work here too (--num_proc,
--max_docs, --data_files for local text files, ...). The full run needs tens of GB in Hugging Face's cache
(~/.cache/huggingface) and writes a ~17 GB train.bin; give tokenizing all the cores you have (--num_proc).

    pip install datasets
    python data/openwebtext/prepare.py --num_proc=8
    python data/openwebtext/prepare.py --max_docs=10000     # a quick look
"""
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULTS = {"name": "Skylion007/openwebtext", "val_fraction": 0.0005, "out_dir": HERE, "tokenizer": "gpt2"}

if __name__ == "__main__":
    # load data/hf/prepare.py as a module (it is a script, not an importable package) and run its main
    spec = importlib.util.spec_from_file_location("hf_prepare", os.path.join(HERE, "..", "hf", "prepare.py"))
    hf_prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hf_prepare)
    hf_prepare.main(defaults=DEFAULTS, description=__doc__)
