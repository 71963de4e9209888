import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import lyric_metrics as lm  # noqa: E402


@pytest.fixture(params=["cmudict", "spelling"])
def backend(request, monkeypatch):
    """Runs a test once with the CMU dictionary (skipped when not installed), once without it."""
    if request.param == "cmudict":
        pytest.importorskip("pronouncing")
    else:
        monkeypatch.setattr(lm, "_cmu", None)
        monkeypatch.setitem(sys.modules, "pronouncing", None)  # makes `import pronouncing` fail
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lm.rhyme_backend()
    assert lm.rhyme_backend() == request.param
    return request.param


# -----------------------------------------------------------------------------
# rhyme

def test_word_rhymes(backend):
    assert lm.words_rhyme("cat", "hat")
    assert lm.words_rhyme("make", "Take")
    assert not lm.words_rhyme("cat", "dog")
    assert not lm.words_rhyme("make", "back")
    assert not lm.words_rhyme("cat", "cat")  # identical words are not a rhyme


def test_cmudict_rhymes_by_sound():
    pytest.importorskip("pronouncing")
    assert lm.words_rhyme("through", "blue")       # spelled differently, same sound
    assert not lm.words_rhyme("cough", "though")   # spelled alike, different sound
    assert lm.words_rhyme("fog", "dog")            # fog has two pronunciations, one matches
    assert lm.word_info("better")[1] == ("EH", "ER")


def test_missing_pronouncing_warns_once_and_falls_back(monkeypatch):
    monkeypatch.setattr(lm, "_cmu", None)
    monkeypatch.setitem(sys.modules, "pronouncing", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert lm.rhyme_backend() == "spelling"
        lm.rhyme_metrics("a cat\na hat")
        assert lm.score_texts(["a cat\na hat"])["rhyme_backend"] == "spelling"
    assert len(caught) == 1 and "pip install pronouncing" in str(caught[0].message)


def test_end_rhyme_rate_two_of_four_lines(backend):
    # cat/hat rhyme; dog and sun rhyme with nothing within 2 lines -> 2 of 4 lines = 0.5
    text = "I saw a cat\nit wore a hat\nI walked the dog\nunder the sun\n"
    assert lm.rhyme_metrics(text)["end_rhyme_rate"] == pytest.approx(0.5)


def test_end_rhyme_window_and_verses(backend):
    abab = "a big cat\nthe old dog\nmy red hat\nsome thick fog\n"
    assert lm.rhyme_metrics(abab)["end_rhyme_rate"] == pytest.approx(1.0)  # window 2 sees ABAB
    assert lm.rhyme_metrics(abab, window=1)["end_rhyme_rate"] == 0.0
    # a blank line separates verses, and rhymes are not looked for across verses
    assert lm.rhyme_metrics("a big cat\n\nmy red hat\n")["end_rhyme_rate"] == 0.0
    # same final word twice is not a rhyme, and its vowels don't count for density either
    same = lm.rhyme_metrics("go to the store\nback to the store\n")
    assert same == {"end_rhyme_rate": 0.0, "multi_rhyme_rate": 0.0, "rhyme_density": 0.0}


def test_rhyme_density_and_multis_by_hand():
    pytest.importorskip("pronouncing")
    text = "on the floor\nwith the ball\n\nI want a better\nwrite me a letter\n"
    # CMU vowels:  on the floor = AA AH AO, with the ball = IH AH AO -> 2 vowels match at the end
    #   (AO, AH), so each line scores 2; floor/ball don't rhyme (AO R vs AO L): no end rhyme.
    # I want a better = AY AA AH EH ER, write me a letter = AY IY AH EH ER -> 3 match (ER EH AH),
    #   better/letter rhyme (EH T ER) and >= 2 vowels match: both lines are multis.
    # density = (2 + 2 + 3 + 3) / (3 + 3 + 5 + 5) = 10/16; end rhyme = multis = 2 of 4 lines.
    got = lm.rhyme_metrics(text)
    assert got["rhyme_density"] == pytest.approx(10 / 16)
    assert got["end_rhyme_rate"] == pytest.approx(0.5)
    assert got["multi_rhyme_rate"] == pytest.approx(0.5)
    # one-syllable rhymes with nothing else matching are rhymes but not multis:
    # "my cat" = AY AE, "the hat" = AH AE -> 1 vowel each: density 2/4
    got = lm.rhyme_metrics("my cat\nthe hat\n")
    assert got["end_rhyme_rate"] == 1.0 and got["multi_rhyme_rate"] == 0.0
    assert got["rhyme_density"] == pytest.approx(0.5)


def test_spelling_vowels_and_syllables(backend):
    if backend == "spelling":
        assert lm.word_info("make")[1] == ("~a",)        # silent e
        assert lm.word_info("little")[1] == ("~i", "~e")  # "le" is a syllable
        assert lm.word_info("yeah")[1] == ("~ea",)       # leading y is a consonant
    syl = {"cat": 1, "make": 1, "better": 2, "little": 2}
    for word, n in syl.items():
        assert len(lm.word_info(word)[1]) == n, word


# -----------------------------------------------------------------------------
# variety

def test_distinct_n():
    words = "a b a b c".split()
    assert lm.distinct_n(words, 1) == pytest.approx(3 / 5)   # a b c of 5
    assert lm.distinct_n(words, 2) == pytest.approx(3 / 4)   # ab ba ab bc
    assert lm.distinct_n(words, 3) == pytest.approx(1.0)     # aba bab abc
    assert lm.distinct_n(["a"], 2) == 0.0


def test_variety_metrics_by_hand(backend):
    text = ("[Verse 1]\nhello there friend\nHello, there   friend!\n\n"
            "something else here\n[Chorus]\nhello there friend\n...\n")
    got = lm.variety_metrics(text)
    # 4 lines (header and "..." ignored), 2 distinct -> half of the lines repeat an earlier one
    assert got["repeated_line_rate"] == pytest.approx(0.5)
    assert got["lines_per_verse"] == pytest.approx(4 / 3)  # verses of 2, 1 and 1 lines
    assert got["words_per_line_mean"] == 3.0 and got["words_per_line_median"] == 3.0
    # 12 words, 6 distinct: hello there friend something else here
    assert got["distinct_1"] == pytest.approx(6 / 12)
    # bigrams: 11, distinct: hello-there there-friend friend-hello friend-something
    # something-else else-here here-hello
    assert got["distinct_2"] == pytest.approx(7 / 11)
    assert lm.variety_metrics("[Intro]\n\n") == {}


def test_syllables_per_line():
    pytest.importorskip("pronouncing")
    got = lm.variety_metrics("cat hat\nbetter letter now\nyo\n")
    # syllables 2, 5, 1 -> mean 8/3, median 2; words 2, 3, 1 -> mean 2, median 2
    assert got["syllables_per_line_mean"] == pytest.approx(8 / 3)
    assert got["syllables_per_line_median"] == 2.0
    assert got["words_per_line_mean"] == 2.0


# -----------------------------------------------------------------------------
# originality: lines

def test_copied_lines():
    train = "[Chorus]\nI got money on my mind\nshort line here\nwe ride all night long\n"
    line_set = lm.build_line_set(train)
    assert "i got money on my mind" in line_set
    assert "short line here" not in line_set  # 3 words: too short to count
    gen = "i GOT money, on my mind!\nshort line here\nsomething brand new to say\n"
    got = lm.copied_lines(gen, line_set)
    # 2 lines with >= 4 words, 1 of them found in train
    assert got == {"copied_lines": 1, "long_lines": 2, "copied_line_rate": 0.5}
    assert lm.copied_lines("nothing from there at all", line_set)["copied_lines"] == 0


# -----------------------------------------------------------------------------
# originality: token n-grams

def brute_force(gen, train, n):
    """Set-based overlap count and O(len*len) longest common substring (0 when < n)."""
    grams = {tuple(train[i:i + n]) for i in range(len(train) - n + 1)}
    found = sum(tuple(gen[i:i + n]) in grams for i in range(len(gen) - n + 1))
    best = 0
    for a in range(len(gen)):
        for b in range(len(train)):
            k = 0
            while a + k < len(gen) and b + k < len(train) and gen[a + k] == train[b + k]:
                k += 1
            best = max(best, k)
    return found, best if best >= n else 0


def test_planted_copy_is_found_exactly():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 1000, 5000)
    # the generated text uses ids >= 1000 except for a 20-token copy of train[1234:1254]
    gen = np.concatenate([rng.integers(1000, 2000, 50), train[1234:1254],
                          rng.integers(1000, 2000, 30)])
    got = lm.originality(gen, lm.build_ngram_index(train, n=8))
    assert got["longest_copy"] == 20
    assert got["ngrams"] == 100 - 7
    assert got["ngrams_in_train"] == 20 - 7   # the 13 8-grams inside the copy
    assert got["ngram_overlap"] == pytest.approx(13 / 93)


def test_no_overlap_and_short_inputs():
    index = lm.build_ngram_index(np.arange(100), n=8)
    got = lm.originality(np.arange(200, 300), index)
    assert got["ngram_overlap"] == 0.0 and got["longest_copy"] == 0
    assert lm.originality([1, 2, 3], index)["ngrams"] == 0                 # shorter than n
    assert lm.originality(np.arange(10), lm.build_ngram_index([1, 2], n=8))["longest_copy"] == 0
    assert lm.originality(np.arange(5, 12), index)["longest_copy"] == 0    # 7 tokens: not seen


def test_longest_copy_does_not_stitch_pieces():
    # train holds s[0:12] and s[4:16] far apart; every 8-gram of s[0:16] is in train, but the
    # longest contiguous copy is 12 tokens, not 16
    s = np.arange(500, 516)
    train = np.concatenate([s[0:12], np.zeros(30, np.int64), s[4:16]])
    got = lm.originality(s, lm.build_ngram_index(train, n=8))
    assert got["ngram_overlap"] == 1.0
    assert got["longest_copy"] == 12


@pytest.mark.parametrize("mult", [0x9E3779B97F4A7C15, 1], ids=["poly", "sum"])
def test_matches_brute_force(monkeypatch, mult):
    # tiny vocabulary: many repeats; with multiplier 1 the "hash" is the sum of the ids, so
    # nearly every hit is a collision that only the verification against train removes
    monkeypatch.setattr(lm, "_HASH_MULT", np.uint64(mult))
    rng = np.random.default_rng(1)
    for trial in range(5):
        train = rng.integers(0, 3, 300)
        gen = rng.integers(0, 3, 60)
        gen[10:30] = train[100:120]
        index = lm.build_ngram_index(train, n=4)
        got = lm.originality(gen, index)
        found, best = brute_force(gen.tolist(), train.tolist(), 4)
        assert (got["ngrams_in_train"], got["longest_copy"]) == (found, best)


def test_index_on_uint16_memmap(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "train.bin"
    rng.integers(0, 50000, 20000).astype(np.uint16).tofile(path)
    train = np.memmap(path, dtype=np.uint16, mode="r")
    gen = np.concatenate([[60001, 60002], train[777:817], [60003]])
    assert lm.originality(gen.tolist(), lm.build_ngram_index(train))["longest_copy"] == 40


@pytest.mark.slow
def test_planted_copy_in_5m_random_tokens():
    rng = np.random.default_rng(3)
    train = rng.integers(0, 50257, 5_000_000).astype(np.uint16)
    index = lm.build_ngram_index(train, n=8)
    gen = rng.integers(0, 50257, 3000)
    gen[1000:1050] = train[4_321_000:4_321_050]
    gen[999], gen[1050] = int(train[4_320_999]) + 1, int(train[4_321_050]) + 1  # no longer match
    got = lm.originality(gen, index)
    assert got["longest_copy"] == 50
    # random 8-grams over a 50k vocabulary never repeat by chance: only the 43 planted ones
    assert got["ngrams_in_train"] == 50 - 7


# -----------------------------------------------------------------------------
# score_texts

def test_score_texts_aggregates():
    a = "a big cat\nmy red hat\n"                 # end rhyme 1.0, 3 words/line
    b = "the old dog\nsome thick sun\nno more\n"  # end rhyme 0.0
    vocab = {}
    encode = lambda t: [vocab.setdefault(w, len(vocab)) for w in t.split()]  # noqa: E731
    train_text = "a big cat\nmy red hat and more words here\n"
    index = lm.build_ngram_index(encode(train_text), n=3)
    got = lm.score_texts([a, b, "[Intro]\n"], train_line_set=lm.build_line_set(train_text),
                         ngram_index=index, encode=encode)
    assert got["samples"] == 3
    assert got["end_rhyme_rate"] == pytest.approx((1.0 + 0.0) / 2)  # the empty text is skipped
    assert got["words_per_line_mean"] == pytest.approx((3 + 8 / 3) / 2)
    assert got["copied_lines"] == 0 and got["copied_line_rate"] == 0.0
    # n=3: a is 6 words -> 4 trigrams, all in train ("a big cat my red hat ..."), copy of 6;
    # b is 8 words -> 6 trigrams, none in train; "[Intro]" is 1 token -> none. 4/10 pooled.
    assert got["ngram_overlap"] == pytest.approx(4 / 10)
    assert got["longest_copy"] == 6 and got["longest_copy_mean"] == pytest.approx(2.0)
    assert got["rhyme_backend"] in ("cmudict", "spelling")
    assert lm.score_texts(a)["end_rhyme_rate"] == 1.0  # a single string is one sample
    with pytest.raises(ValueError):
        lm.score_texts([a], ngram_index=index)


# -----------------------------------------------------------------------------
# command line

def test_cli(tmp_path):
    sample = tmp_path / "s.txt"
    sample.write_text("a big cat\nmy red hat\n")
    script = os.path.join(ROOT, "lyric_metrics.py")
    run = lambda *args: subprocess.run([sys.executable, script, *args],  # noqa: E731
                                       capture_output=True, text=True)
    ok = run(str(sample))
    assert ok.returncode == 0 and "end_rhyme_rate" in ok.stdout
    bad = run(str(tmp_path / "missing.txt"))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert run().returncode == 2
