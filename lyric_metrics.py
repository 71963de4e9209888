"""
Lyric metrics for NanoRapGPT: rhyme, variety and originality of lyrics text.

Plain functions that take text (str) or token id lists and return dicts of floats, so that
evaluate.py can score generated samples and real val text side by side:

    index = build_ngram_index(train_ids, n=8)        # token-level originality
    lines = build_line_set(train_text)               # verbatim-line originality
    score_texts(samples, train_line_set=lines, ngram_index=index, encode=enc.encode)

Text conventions: section headers such as "[Chorus]" and lines without any word are ignored;
blank lines (and headers) separate verses. Words are lowercased runs of letters/apostrophes.
Rhyme uses the CMU pronouncing dictionary (`pip install pronouncing`) when it is installed,
else a spelling-based fallback; unknown words always use the spelling fallback.
Run as a script to score text files: python lyric_metrics.py FILE [FILE ...] [--train-text T]
"""
import re
import sys
import unicodedata
import warnings
from functools import lru_cache
from statistics import mean, median

import numpy as np

RHYME_WINDOW = 2        # a line is compared with the lines at most this far away in its verse
MIN_COPY_WORDS = 4      # shorter lines are too common to count as copied verbatim
HEADER_RE = re.compile(r"^\s*\[[^\]]*\]\s*$")
WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*'?")

# -----------------------------------------------------------------------------
# text -> verses -> lines -> words

def split_verses(text):
    """List of verses, each a list of lines (lists of lowercase words)."""
    verses, verse = [], []
    for raw in text.replace("\u2019", "'").splitlines():
        if not raw.strip() or HEADER_RE.match(raw):
            if verse:
                verses.append(verse)
            verse = []
            continue
        words = WORD_RE.findall(raw.lower())
        if words:
            verse.append(words)
    if verse:
        verses.append(verse)
    return verses

def normalize_line(line):
    """Lowercase words joined by one space: punctuation, case and spacing don't matter."""
    return " ".join(WORD_RE.findall(line.replace("\u2019", "'").lower()))

# -----------------------------------------------------------------------------
# pronunciation of one word: (rhyme keys, vowel sounds)

_cmu = None  # the pronouncing module once imported, False when it is not installed

def _pronouncing():
    global _cmu
    if _cmu is None:
        try:
            import pronouncing
            _cmu = pronouncing
        except ImportError:
            warnings.warn("lyric_metrics: 'pronouncing' is not installed (pip install "
                          "pronouncing); using the spelling-based rhyme fallback")
            _cmu = False
    return _cmu or None

def _spelling_info(word):
    """Spelling fallback: vowel groups (a leading 'y' and a silent final 'e' are not vowels);
    the rhyme key is the last vowel group plus everything after it."""
    w = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode().replace("'", "")
    w = w or word
    v = "_" + w[1:] if w[0] == "y" else w  # a leading y is a consonant: "yeah", "you"
    spans = [m.span() for m in re.finditer(r"[aeiouy]+", v)]
    if len(spans) > 1 and spans[-1] == (len(w) - 1, len(w)) and w[-1] == "e" and w[-2] != "l":
        spans.pop()  # silent e: "make" -> a
    if not spans:
        return frozenset(["~" + w]), ("~" + w,)
    vowels = tuple("~" + w[a:b] for a, b in spans)  # "~" keeps spellings apart from CMU phones
    return frozenset(["~" + w[spans[-1][0]:]]), vowels

def word_info(word):
    """(frozenset of rhyme keys, tuple of vowel sounds) for one lowercase word.
    CMU keys are the stressed-vowel-onward phones (pronouncing.rhyming_part) of every listed
    pronunciation, stress marks removed; vowels come from the first pronunciation."""
    return _word_info(word, _pronouncing())

@lru_cache(maxsize=None)
def _word_info(word, cmu):
    if cmu is not None:
        phones = cmu.phones_for_word(word)
        if not phones and word.endswith("in'"):
            phones = cmu.phones_for_word(word[:-1] + "g")  # runnin' -> running
        if phones:
            keys = frozenset(re.sub(r"\d", "", cmu.rhyming_part(p)) for p in phones)
            vowels = tuple(p[:-1] for p in phones[0].split() if p[-1].isdigit())
            return keys, vowels or ("~" + word,)
    return _spelling_info(word)

def rhyme_backend():
    """"cmudict" when the pronouncing package is importable, else "spelling"."""
    return "cmudict" if _pronouncing() is not None else "spelling"

def words_rhyme(a, b):
    """Two words rhyme when they share a rhyme key (stressed vowel onward; spelling fallback:
    last vowel group onward) and are not the same word."""
    a, b = a.lower(), b.lower()
    return a != b and bool(word_info(a)[0] & word_info(b)[0])

# -----------------------------------------------------------------------------
# rhyme

def _common_suffix(x, y):
    k = 0
    while k < len(x) and k < len(y) and x[-1 - k] == y[-1 - k]:
        k += 1
    return k

def rhyme_metrics(text, window=RHYME_WINDOW):
    """Rhyme statistics of one text; every comparison is between two lines of the same verse at
    most `window` lines apart whose final words differ.
    - end_rhyme_rate: fraction of lines whose final word rhymes (words_rhyme) with the final word
      of such a neighbour line.
    - rhyme_density: each line scores the longest run of matching vowel sounds at the line end
      (common suffix of the line's vowel sequences, across word boundaries) with any neighbour;
      density = sum of scores / all syllables (vowel sounds), i.e. rhymed syllables over syllables.
    - multi_rhyme_rate: fraction of lines with a neighbour whose final word rhymes with theirs and
      with which the last two or more vowel sounds match (vowels alone would let "the floor /
      the ball" count).
    """
    n_lines = rhymed = multi = rhymed_syl = syllables = 0
    for verse in split_verses(text):
        last = [line[-1] for line in verse]
        vowels = [sum((word_info(w)[1] for w in line), ()) for line in verse]
        for i in range(len(verse)):
            near = [j for j in range(max(0, i - window), min(len(verse), i + window + 1))
                    if j != i and last[j] != last[i]]
            match = {j: _common_suffix(vowels[i], vowels[j]) for j in near}
            rhymes = [j for j in near if words_rhyme(last[i], last[j])]
            n_lines += 1
            syllables += len(vowels[i])
            rhymed_syl += max(match.values(), default=0)
            multi += any(match[j] >= 2 for j in rhymes)
            rhymed += bool(rhymes)
    return {"end_rhyme_rate": rhymed / max(n_lines, 1),
            "multi_rhyme_rate": multi / max(n_lines, 1),
            "rhyme_density": rhymed_syl / max(syllables, 1)}

# -----------------------------------------------------------------------------
# variety

def distinct_n(words, n):
    """Distinct n-grams over all n-grams of a word list (0.0 when there are none)."""
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0

def variety_metrics(text):
    """distinct-1/2/3 over the text's words; repeated_line_rate = fraction of lines equal to an
    earlier line (1 - unique/total); words and syllables per line; lines per verse."""
    verses = split_verses(text)
    lines = [line for verse in verses for line in verse]
    if not lines:
        return {}
    words = [w for line in lines for w in line]
    syl = [sum(len(word_info(w)[1]) for w in line) for line in lines]
    return {"distinct_1": distinct_n(words, 1), "distinct_2": distinct_n(words, 2),
            "distinct_3": distinct_n(words, 3),
            "repeated_line_rate": 1 - len({" ".join(l) for l in lines}) / len(lines),
            "words_per_line_mean": float(mean(map(len, lines))),
            "words_per_line_median": float(median(map(len, lines))),
            "syllables_per_line_mean": float(mean(syl)),
            "syllables_per_line_median": float(median(syl)),
            "lines_per_verse": float(mean(map(len, verses)))}

# -----------------------------------------------------------------------------
# originality: verbatim lines

def build_line_set(train_text, min_words=MIN_COPY_WORDS):
    """Set of normalised training lines with at least `min_words` words."""
    lines = (normalize_line(l) for l in train_text.splitlines() if not HEADER_RE.match(l))
    return {l for l in lines if len(l.split()) >= min_words}

def copied_lines(text, train_line_set, min_words=MIN_COPY_WORDS):
    """Lines of `text` with >= min_words words that appear verbatim (normalised) in training."""
    lines = [" ".join(l) for verse in split_verses(text) for l in verse if len(l) >= min_words]
    copied = sum(l in train_line_set for l in lines)
    return {"copied_lines": copied, "long_lines": len(lines),
            "copied_line_rate": copied / len(lines) if lines else 0.0}

# -----------------------------------------------------------------------------
# originality: token n-grams

_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)

def ngram_hashes(ids, n):
    """Polynomial hash (mod 2**64) of every length-n window of a 1-D id array."""
    m = len(ids) - n + 1
    if m <= 0:
        return np.zeros(0, np.uint64)
    x = np.asarray(ids).astype(np.uint64) + np.uint64(1)
    h = np.zeros(m, np.uint64)
    for k in range(n):
        h *= _HASH_MULT  # wraps around mod 2**64 on purpose
        h += x[k:k + m]
    return h

def build_ngram_index(train_ids, n=8):
    """Index of the training n-grams: their hashes sorted, with the start positions in that order.
    Holds a reference to train_ids (a memmap works) to verify hash matches exactly."""
    train = np.asarray(train_ids)
    if train.ndim != 1:
        raise ValueError("train_ids must be a 1-D sequence of token ids")
    hashes = ngram_hashes(train, n)
    order = np.argsort(hashes)
    pos_dtype = np.int32 if len(train) < 2**31 else np.int64
    return {"n": n, "hashes": hashes[order], "positions": order.astype(pos_dtype), "train": train}

def originality(gen_ids, index):
    """ngram_overlap: fraction of the generated n-grams that occur in the training ids.
    longest_copy: longest span of generated tokens that occurs contiguously in training (exact:
    hash hits are verified against the train array; spans shorter than n are not seen, so 0)."""
    n, train = index["n"], index["train"]
    gen = np.asarray(gen_ids, dtype=np.int64)
    gh = ngram_hashes(gen, n)
    if len(gh) == 0:
        return {"ngrams": 0, "ngrams_in_train": 0, "ngram_overlap": 0.0, "longest_copy": 0}
    lo = np.searchsorted(index["hashes"], gh, "left")
    hi = np.searchsorted(index["hashes"], gh, "right")
    found = best = 0
    prev_i, prev_pos = -2, np.zeros(0, np.int64)
    # chain_at[p]: for the previous generated n-gram, how many consecutive generated n-grams
    # ending with it match train consecutively ending at train start p (0: no match there).
    # np.zeros is lazily allocated: only the pages touched cost anything. Last slot stays 0.
    chain_at = np.zeros(len(train) + 1, np.int32)
    offsets, verified = np.arange(n), {}
    for i in np.flatnonzero(hi > lo):
        key = (lo[i], gen[i:i + n].tobytes())  # repeated n-grams (loops) are verified once
        if key not in verified:
            pos = index["positions"][lo[i]:hi[i]].astype(np.int64)
            verified[key] = pos[(train[pos[:, None] + offsets] == gen[i:i + n]).all(axis=1)]
        pos = verified[key]  # train starts of this n-gram, hash collisions dropped
        if len(pos) == 0:
            continue
        found += 1
        # a copy continues when the previous generated n-gram matched at the previous train start
        chain = chain_at[pos - 1] + 1 if prev_i == i - 1 else np.ones(len(pos), np.int32)
        chain_at[prev_pos] = 0
        chain_at[pos] = chain
        best = max(best, int(chain.max()))
        prev_i, prev_pos = i, pos
    return {"ngrams": len(gh), "ngrams_in_train": found, "ngram_overlap": found / len(gh),
            "longest_copy": best + n - 1 if best else 0}

# -----------------------------------------------------------------------------
# everything over a list of samples

def score_texts(texts, train_line_set=None, ngram_index=None, encode=None):
    """All metrics over a list of texts. Rhyme and variety metrics are the mean over the texts
    that have at least one line; copied lines and n-gram overlap are pooled over all texts;
    longest_copy is the max (longest_copy_mean the mean) over texts. Originality needs
    train_line_set (build_line_set) and/or ngram_index (build_ngram_index) with encode
    (text -> token ids)."""
    if isinstance(texts, str):
        texts = [texts]
    if ngram_index is not None and encode is None:
        raise ValueError("score_texts: ngram_index needs encode (text -> token ids)")
    per_text = [dict(rhyme_metrics(t), **variety_metrics(t)) for t in texts if split_verses(t)]
    out = {"samples": len(texts), "rhyme_backend": rhyme_backend()}
    for key in (per_text[0] if per_text else {}):
        out[key] = float(mean(d[key] for d in per_text))
    if train_line_set is not None:
        stats = [copied_lines(t, train_line_set) for t in texts]
        out["copied_lines"] = sum(s["copied_lines"] for s in stats)
        out["copied_line_rate"] = out["copied_lines"] / max(sum(s["long_lines"] for s in stats), 1)
    if ngram_index is not None:
        stats = [originality(encode(t), ngram_index) for t in texts]
        out["ngram_overlap"] = sum(s["ngrams_in_train"] for s in stats) / max(
            sum(s["ngrams"] for s in stats), 1)
        out["longest_copy"] = max((s["longest_copy"] for s in stats), default=0)
        out["longest_copy_mean"] = float(mean(s["longest_copy"] for s in stats)) if stats else 0.0
    return out

if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="Rhyme/variety metrics of lyrics files "
                                     "(each file is one sample), optionally verbatim-line copies.")
    parser.add_argument("files", nargs="+", help="text files to score, one sample each")
    parser.add_argument("--train-text", help="training text: count lines copied verbatim from it")
    args = parser.parse_args()
    texts, train_text = [], None
    for path in args.files + ([args.train_text] if args.train_text else []):
        try:
            with open(path, encoding="utf-8") as f:
                texts.append(f.read())
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
            print(f"lyric_metrics: cannot read {path}: {reason}", file=sys.stderr)
            sys.exit(1)
    if args.train_text:
        train_text = texts.pop()
    line_set = build_line_set(train_text) if train_text is not None else None
    for key, value in score_texts(texts, train_line_set=line_set).items():
        print(f"{key:26s} {value:.4f}" if isinstance(value, float) else f"{key:26s} {value}")
