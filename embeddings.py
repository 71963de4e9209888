"""
Token embeddings beyond random init: word2vec vectors trained on the training split (train.py
--init_embeddings=word2vec) and a labelled t-SNE picture of a model's embeddings (evaluate.py
--plot_embeddings). Needs gensim for word2vec and scikit-learn + matplotlib for the picture.

Word2vec runs over the training split's token ids exactly as the model sees them (characters, words,
spaces, BPE pieces: any tokenizer), so every token that occurs in training gets a vector of n_embd numbers.
"""
import os

import numpy as np
import torch

INIT_STD = 0.02  # the std of GPT's random embedding init (model.py _init_weights)
SENTENCE_TOKENS = 1000  # gensim needs "sentences": cut the token stream into pieces this long
MAX_TOKENS = 10_000_000  # word2vec reads at most this many training tokens (time and memory)


def word2vec_vectors(train_ids, vocab_size, dim, seed=1337, window=5, epochs=5):
    """(vectors, seen): a (vocab_size, dim) float32 array of skip-gram word2vec vectors trained on the
    token ids, and a bool mask of the ids that occur in them (other rows are zero). One worker thread, so
    the same ids and seed give the same vectors."""
    try:
        from gensim.models import Word2Vec
    except ImportError:
        raise ImportError('word2vec embeddings need gensim: pip install gensim') from None
    ids = np.asarray(train_ids[:MAX_TOKENS], dtype=np.int64)
    if ids.size == 0:
        raise ValueError('no training tokens to train word2vec on')
    names = [str(i) for i in range(vocab_size)]  # gensim's vocabulary is strings: one shared str per id
    sentences = [[names[t] for t in ids[i:i + SENTENCE_TOKENS].tolist()] for i in range(0, len(ids), SENTENCE_TOKENS)]
    w2v = Word2Vec(sentences, vector_size=dim, window=window, min_count=1, sg=1, epochs=epochs,
                   workers=1, seed=seed)
    vectors = np.zeros((vocab_size, dim), dtype=np.float32)
    seen = np.zeros(vocab_size, dtype=bool)
    for name, row in w2v.wv.key_to_index.items():
        vectors[int(name)] = w2v.wv.vectors[row]
        seen[int(name)] = True
    return vectors, seen


def scale_like_init(vectors, std=INIT_STD):
    """Centre the vectors (word2vec vectors share a large common direction that carries no meaning) and
    scale them all by one factor so that their elements have the std of the model's random init: the
    geometry (angles, relative lengths) is kept, the magnitudes match what training expects."""
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    return centred * (std / max(float(centred.std()), 1e-12))


def init_word2vec(model, train_ids, seed=1337):
    """Overwrite the model's token embedding (and so the tied output head) with scaled word2vec vectors
    for every token id that occurs in train_ids; the other rows (unseen or padding ids) keep their random
    init. Returns the number of rows set."""
    weight = model.transformer.wte.weight
    vocab_size, dim = weight.shape
    vectors, seen = word2vec_vectors(train_ids, vocab_size, dim, seed=seed)
    scaled = scale_like_init(vectors[seen])
    with torch.no_grad():
        weight[torch.from_numpy(np.flatnonzero(seen))] = torch.from_numpy(scaled).to(weight.dtype).to(weight.device)
    return int(seen.sum())


def token_label(text):
    """A short printable label for a token's text (whitespace made visible)."""
    text = text.replace(' ', '\u2423').replace('\n', '\\n').replace('\t', '\\t').replace('\r', '\\r')
    return text if len(text) <= 12 else text[:11] + '\u2026'


def plot_tsne(vectors, labels, out_png, title='', seed=1337):
    """A 2-D t-SNE of the rows of vectors, each point labelled, saved atomically as out_png."""
    try:
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:
        raise ImportError('--plot_embeddings needs scikit-learn: pip install scikit-learn') from None
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('plots need matplotlib: pip install matplotlib') from None
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(vectors) < 3:
        raise ValueError('t-SNE needs at least 3 tokens')
    perplexity = min(30.0, (len(vectors) - 1) / 3)  # t-SNE requires perplexity < number of points
    with threadpool_limits(1):  # t-SNE's OpenMP threads slow to a crawl on a busy machine; one is plenty
        xy = TSNE(n_components=2, perplexity=perplexity, init='pca', metric='cosine',
                  random_state=seed).fit_transform(vectors)
    fig, ax = plt.subplots(figsize=(10, 10))
    ax.scatter(xy[:, 0], xy[:, 1], s=6, alpha=0.4)
    for (x, y), label in zip(xy, labels):
        ax.annotate(label, (x, y), fontsize=7, alpha=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    tmp = out_png + '.tmp.png'
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, out_png)
