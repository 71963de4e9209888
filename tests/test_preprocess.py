"""Tests for data/lyrics/data_generator/preprocess.py: each cleaning step on realistic Genius text."""

import importlib.util
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "lyrics" / "data_generator" / "preprocess.py"
spec = importlib.util.spec_from_file_location("lyrics_preprocess", SCRIPT)
pp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pp)


# --- Genius page debris -------------------------------------------------------------------------

@pytest.mark.parametrize("raw, title, expected", [
    ("87 ContributorsTranslationsT\u00fcrk\u00e7eEspa\u00f1olStan Lyrics[Intro: Dido]\nMy tea's gone cold",
     "Stan", "[Intro: Dido]\nMy tea's gone cold"),
    ("1 ContributorN.Y. State of Mind Lyrics[Intro]\nStraight out the dungeons of rap", None,
     "[Intro]\nStraight out the dungeons of rap"),
    ("12 ContributorsLyrics of Fury Lyrics[Verse 1]\nI'm known to rock the microphone", "Lyrics of Fury",
     "[Verse 1]\nI'm known to rock the microphone"),
    ("245 ContributorsLose Yourself Lyrics\u201cLose Yourself\u201d is the lead single of 8 Mile. Read More\u00a0\n"
     "[Intro]\nLook", "Lose Yourself", "[Intro]\nLook"),
    ("Still D.R.E. Lyrics[Intro: Dr. Dre]\nYeah", "Still D.R.E.", "[Intro: Dr. Dre]\nYeah"),
])
def test_contributors_prefix(raw, title, expected):
    assert pp.strip_genius_debris(raw, title) == expected


@pytest.mark.parametrize("raw, expected", [
    ("I'm beginning to feel like a Rap God, Rap God312Embed", "I'm beginning to feel like a Rap God, Rap God"),
    ("And I just can't keep living this way\nEmbed", "And I just can't keep living this way\n"),
    ("So I'ma keep on rapping 5.2KEmbed  ", "So I'ma keep on rapping "),
    ("Say goodbye to Hollywood13EmbedShare URLCopyEmbedCopy", "Say goodbye to Hollywood13"),
    ("Embedded in my memory", "Embedded in my memory"),  # only a trailing "Embed" goes
])
def test_trailing_embed(raw, expected):
    assert pp.strip_genius_debris(raw) == expected


def test_related_songs_tickets_and_invisible_characters():
    raw = ("There's vomit on his sweater already, mom's spaghettiYou might also likeRap GodEminemStan"
           "Eminem[Chorus]\nYou better\u2005lose yourself\u200b in the music\u00a0the moment\n"
           "Snap back to realitySee Eminem LiveGet tickets as low as $65\nOh, there goes gravity\ufeff")
    assert pp.strip_genius_debris(raw) == (
        "There's vomit on his sweater already, mom's spaghetti[Chorus]\n"
        "You better lose yourself in the music the moment\nSnap back to reality\nOh, there goes gravity")


# --- section headers ------------------------------------------------------------------------------

def test_glued_headers_are_moved_to_their_own_line():
    assert pp.unglue_headers("mom's spaghetti[Chorus]\nYou better") == "mom's spaghetti\n[Chorus]\nYou better"
    assert pp.unglue_headers("[Verse 2: Eminem]The soul's escaping") == "[Verse 2: Eminem]\nThe soul's escaping"
    # an inline note is not a header
    assert pp.unglue_headers("he said [?] and left\n") == "he said [?] and left\n"


SONG = ("[Intro: Dr. Dre]\nYeah, yeah\n\n\n\n[Verse 1: Snoop Dogg]\nSince the last time you heard from me\n"
        "I lost a lot of friends\n[Hook: Dr. Dre & Snoop Dogg]\nStill D.R.E.\nStill not loving police\n\n"
        "[Verse 2: Dr. Dre]\nIt's still Dre Day\nStill rolling\n[Hook: Dr. Dre & Snoop Dogg]\nStill D.R.E.\n"
        "Still not loving police\n[Outro]\n")


def test_headers_keep_normalize_strip_and_blank_lines():
    kept = pp.clean_lyrics(SONG, headers="keep")
    assert kept.startswith("[Intro: Dr. Dre]\nYeah, yeah\n\n[Verse 1: Snoop Dogg]\n")
    assert "\n\n\n" not in kept and kept.count("Still not loving police") == 1  # repeated hook dropped
    assert "[Outro]" not in kept  # a header with no lyrics under it
    normal = pp.clean_lyrics(SONG)
    assert normal.split("\n\n")[:3] == ["[Intro]\nYeah, yeah",
                                        "[Verse 1]\nSince the last time you heard from me\nI lost a lot of friends",
                                        "[Hook]\nStill D.R.E.\nStill not loving police"]
    stripped = pp.clean_lyrics(SONG, headers="strip")
    assert "[" not in stripped and stripped.startswith("Yeah, yeah\n\nSince the last time")


def test_repeated_sections_kept_on_request():
    assert pp.clean_lyrics(SONG, dedupe_sections=False).count("Still not loving police") == 2


def test_sections_filter_verse_only_and_aliases():
    assert pp.section_kind("[Verse 2: Dr. Dre]") == "verse" and pp.section_kind("[Hook]") == "chorus"
    assert pp.section_kind("[Pre-Chorus (x2)]") == "pre-chorus"
    verses = pp.clean_lyrics(SONG, headers="strip", sections=("verse",))
    assert verses == ("Since the last time you heard from me\nI lost a lot of friends\n\n"
                      "It's still Dre Day\nStill rolling")
    chorus = pp.clean_lyrics(SONG, headers="normalize", sections=("chorus",))
    assert chorus == "[Hook]\nStill D.R.E.\nStill not loving police"
    # stanzas after a blank line inside a section keep the section's kind
    assert pp.clean_lyrics("[Verse 1]\na b\n\nc d\n[Chorus]\ne f", sections=("verse",),
                           headers="strip") == "a b\n\nc d"


def test_lowercase_and_ascii():
    raw = "[Verse 1]\nBeyonc\u00e9\u2019s \u201cCrazy\u201d \u2014 d\u00e9j\u00e0 vu\u2026 \u00bfQu\u00e9?"
    assert pp.clean_lyrics(raw, ascii_only=True, lowercase=True) == '[verse 1]\nbeyonce\'s "crazy" - deja vu... que?'
    assert pp.clean_lyrics(raw) == raw  # nothing to clean


@pytest.mark.parametrize("title, non_song", [
    ("Tracklist", True), ("Paul (Skit)", True), ("Interview with Sway", True), ("Forever (Remix)", True),
    ("Stan (Live)", True), ("Live at the Apollo", True), ("Rap God (Traducci\u00f3n al Espa\u00f1ol)", True),
    ("Lose Yourself [Traduction fran\u00e7aise]", True), ("Stan (T\u00fcrk\u00e7e \u00c7eviri)", True),
    ("Album Art", True), ("Liner Notes", True),
    ("Live Your Life", False), ("Alive", False), ("Lose Yourself", False), ("Skittles", False),
    ("Intro", False), ("Remember the Name", False),
])
def test_non_song_titles(title, non_song):
    assert pp.is_non_song(title) is non_song


# --- duplicates -----------------------------------------------------------------------------------

def random_song(rng, vocab, lines=40):
    return "\n".join(" ".join(rng.choices(vocab, k=8)) for _ in range(lines))


def similarity(a, b):
    sa, sb = pp.minhash(pp.lyric_words(a)), pp.minhash(pp.lyric_words(b))
    return float((sa == sb).mean())


def test_minhash_estimates_similarity():
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(3000)]
    song = random_song(rng, vocab)
    edited = song.split("\n")
    edited[3], edited[20] = "a different line here", "and one more changed line"
    other = random_song(rng, vocab)
    shared_hook = other + "\n" + "\n".join(song.split("\n")[:4])  # borrows 4 of 40 lines
    assert similarity(song, song) == 1.0
    assert similarity(song, "[Verse 1: X]\n" + "\n".join(edited)) > 0.8
    assert similarity(song, other) < 0.1 and similarity(song, shared_hook) < 0.3
    assert pp.minhash(["too", "short"]) is None


def write_artist(folder, artist, songs, complete=True):
    folder.mkdir(parents=True, exist_ok=True)
    record = {"artist": artist, "source": "csv", "complete": complete,
              "songs": [{"id": None, "title": t, "album": None, "release_date": None, "url": None, "lyrics": l}
                        for t, l in songs]}
    (folder / f"{artist}.json").write_text(json.dumps(record), encoding="utf-8")


def run_cli(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_end_to_end(tmp_path):
    rng = random.Random(7)
    vocab = [f"word{i}" for i in range(2000)]
    a, b, c = (random_song(rng, vocab) for _ in range(3))
    near_a = "\n".join(a.split("\n")[:-1] + ["but the last line is new"])
    genius_a = f"3 ContributorsSong A Lyrics[Verse 1: Artist One]\n{a}\n[Chorus]\nhook hook hook\n[Chorus]\nhook hook hook1Embed"
    write_artist(tmp_path / "json", "Artist One", [
        ("Song A", genius_a), ("Song A (Skit)", a), ("Short", "too short to keep"),
        ("Same A", f"[Verse 1]\n{a}\n[Chorus]\nhook hook hook"),
        ("Song A v2", near_a), ("Bad", None)])
    write_artist(tmp_path / "json", "Artist Two", [("Song B", b), ("Song C", c.replace("\n", "\n\n\n"))],
                 complete=False)
    (tmp_path / "json" / "broken.json").write_text("{not json", encoding="utf-8")
    r = run_cli("--data_dir", tmp_path / "json", "--save_dir", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "out" / "data.json").read_text(encoding="utf-8"))
    assert [(d["artist"], d["title"]) for d in data] == [("Artist One", "Song A"), ("Artist Two", "Song B"),
                                                         ("Artist Two", "Song C")]
    assert data[0]["text"] == f"[Verse 1]\n{a}\n\n[Chorus]\nhook hook hook"
    assert data[2]["text"] == c.replace("\n", "\n\n")
    assert "songs in: 8, out: 3, dropped: 5" in r.stdout
    for reason in ("1 non-song title", "1 shorter than --min_chars 200", "1 exact duplicate",
                   "1 near duplicate: 'Song A v2 ~ Song A'", "1 bad record"):
        assert reason in r.stdout
    assert "broken.json" in r.stderr and "not complete" in r.stderr


def test_everything_dropped_writes_nothing(tmp_path):
    write_artist(tmp_path / "json", "X", [("Tiny", "la la la")])
    r = run_cli("--data_dir", tmp_path / "json", "--save_dir", tmp_path / "out")
    assert r.returncode == 1 and "every song was dropped" in r.stderr
    assert "1 shorter than --min_chars" in r.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("setup, message, code", [
    (lambda d: [d / "missing"], "is not a folder", 1),
    (lambda d: (d / "empty").mkdir() or [d / "empty"], "no songs in", 1),
    (lambda d: (d / "e").mkdir() or (d / "e" / "x.json").write_text("[]") and [d / "e"], "no songs in", 1),
    (lambda d: (d / "e").mkdir() or [d / "e", "--near_dup_threshold", "2"], "must be in [0, 1]", 2),
])
def test_bad_input(tmp_path, setup, message, code):
    r = run_cli("--data_dir", *setup(tmp_path), "--save_dir", tmp_path / "out")
    assert r.returncode == code
    assert r.stderr.strip().splitlines()[-1].startswith("preprocess.py: error:") and message in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_near_duplicates_fast_on_10k_songs(tmp_path):
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(5000)]
    songs = [(f"Song {i}", random_song(rng, vocab)) for i in range(10000)]
    songs += [(f"Copy {i}", songs[i][1].replace("\n", " yeah\n", 1)) for i in range(0, 10000, 100)]
    write_artist(tmp_path / "json", "Many", songs)
    start = time.time()
    assert pp.main(["--data_dir", str(tmp_path / "json"), "--save_dir", str(tmp_path)]) == 0
    assert time.time() - start < 60  # a pairwise comparison would take many minutes
    titles = [d["title"] for d in json.loads((tmp_path / "data.json").read_text())]
    assert len(titles) == 10000 and not any(t.startswith("Copy") for t in titles)
