"""
Clean the per-artist JSON files written by crawl.py / import_csv.py into one data.json for prepare.py:

    python preprocess.py --data_dir json --save_dir data/lyrics            # -> data/lyrics/data.json

data.json is a list of {"artist", "title", "text"}. Per song, in this order:
  1. drop non-songs by title (tracklist, skit, interview, remix, live, translation, ...)
  2. clean_lyrics(): Genius page debris ("N Contributors ... Title Lyrics", "123Embed", "You might
     also like" + related titles, "See X LiveGet tickets as low as $N", zero-width characters), glued
     section headers ("last line[Chorus]"), headers kept / normalised ([Verse 1: X] -> [Verse 1]) /
     stripped, --sections filter (e.g. verse only), repeated stanzas, blank-line runs, --lowercase, --ascii
  3. drop songs under --min_chars or --min_unique_words
  4. drop exact duplicates (same words), then near duplicates: MinHash over word 3-grams (64 hashes,
     LSH with 16 bands of 4 rows); a song whose estimated Jaccard similarity with an earlier kept song
     is >= --near_dup_threshold (default 0.7) is dropped. Linear in the number of songs.
It prints how many songs came in, went out, and why each dropped song was dropped.
"""

import argparse
import json
import os
import re
import sys
import unicodedata
import zlib
from collections import defaultdict

import numpy as np

from lyrics_files import save_json

PROG = "preprocess.py"

# -----------------------------------------------------------------------------
# cleaning, one job per function (unit-tested in tests/test_preprocess.py)

NON_SONG_TITLE = re.compile(
    r"\b(track ?list(ing)?|skit|interview|remix(ed)?|translations?|tradu[cç][aã]o|traducci[oó]n|"
    r"traduction|traduzione|[uü]bersetzung|[cç]eviri|перевод|t[lł]umaczenie|vertaling|romanized|"
    r"liner notes|credits|album art(work)?|booklet|setlist|snippet|instrumental|"
    r"a ?cc?apella|annotated|speech|transcript)\b"
    r"|[(\[\-–]\s*live\b|\blive (at|from|in|on)\b",  # "Song (Live)", "Live at ..." but not "Live Your Life"
    re.IGNORECASE)
ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
ODD_SPACES = re.compile("[\u00a0\u2005\u2009\u200a\u202f\u205f\u3000\t]")  # Genius loves \u2005
HEADER = re.compile(r"^\[[^\[\]\n]{1,100}\]$")
SECTION_WORDS = r"intro|verse|chorus|hook|bridge|outro|pre-chorus|post-chorus|refrain|interlude|break"
KIND_ALIASES = {"hook": "chorus", "refrain": "chorus"}
ASCII_MAP = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "\u201c": '"',
                           "\u201d": '"', "\u201e": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-",
                           "\u2026": "...", "\u00d7": "x"})


def is_non_song(title):
    return bool(NON_SONG_TITLE.search(title or ""))


def strip_genius_debris(text, title=None):
    """Remove what Genius pages add around the lyrics."""
    text = ZERO_WIDTH.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = ODD_SPACES.sub(" ", text)
    # "123 ContributorsTranslationsEspañolLose Yourself Lyrics[Intro]..." (everything on one line)
    head = re.match(r"\s*\d+\s*Contributors?", text)
    if head:
        window = text[head.end():head.end() + 500]
        marker = f"{title} Lyrics" if title and f"{title} Lyrics" in window else "Lyrics"
        # without the title: the last "Lyrics" before the first section header
        cut = window.find(marker) if marker != "Lyrics" else window.split("[", 1)[0].rfind("Lyrics")
        if cut >= 0:
            text = text[head.end() + cut + len(marker):]
            # newer pages follow with the song's description: '"Title" is ... Read More'
            text = re.sub(r"^[^\[]{0,1500}?Read More\s*", "", text)
    elif title and text.lstrip().startswith(f"{title} Lyrics"):
        text = text.lstrip()[len(f"{title} Lyrics"):]
    text = re.sub(r"See [^\n]{1,80}? LiveGet tickets as low as \$\d+(\.\d+)?", "", text)
    text = re.sub(r"You might also like[^\n\[]*", "", text)  # related titles follow, up to a newline or [
    # "...last line123Embed" (older scrapes: "...EmbedShare URLCopyEmbedCopy"); only the end is
    # searched: end-anchored patterns would otherwise be tried at every position of the song
    head, tail = text[:-100], text[-100:].rstrip()
    tail = re.sub(r"(Embed)?Share URLCopyEmbedCopy$", "", tail)
    text = head + re.sub(r"\d*\.?\d*K?Embed$", "", tail)
    text = re.sub(r"Lyrics for this song have yet to be (released|transcribed)[^\n]*", "", text)
    return text


def unglue_headers(text):
    """'last line[Chorus]' -> 'last line' + newline + '[Chorus]'; '[Chorus]First line' likewise."""
    text = re.sub(r"(?<=\S)(\[[^\[\]\n]{1,100}\])[ \t]*(?=\n|$)", r"\n\1", text)
    return re.sub(rf"(?im)^(\[(?:{SECTION_WORDS})[^\[\]\n]*\])[ \t]*(?=\S)", r"\1\n", text)


def section_kind(header):
    """'[Verse 2: Eminem & Rihanna]' -> 'verse'; '[Hook]' -> 'chorus'."""
    name = re.sub(r"\(.*?\)", "", header.strip()[1:-1].split(":")[0]).strip().lower()
    name = re.sub(r"(\s+(\d+|one|two|three|four|five|[ivx]+))+$", "", name)
    return KIND_ALIASES.get(name, name)


def normalize_header(header):
    """'[Verse 1: Eminem]' -> '[Verse 1]'; '[Chorus (x2)]' stays."""
    name = header.strip()[1:-1].split(":")[0].strip()
    return f"[{name}]" if name else header.strip()


def split_stanzas(text):
    """Split lyrics into stanzas: (header line or None, section kind, lines). A stanza ends at a
    blank line or a header; stanzas after a header without their own keep its kind."""
    stanzas, header, kind, lines = [], None, None, []
    for line in text.split("\n") + [""]:
        line = " ".join(line.split())
        if HEADER.match(line):
            if header is not None or lines:
                stanzas.append((header, kind, lines))
            header, kind, lines = line, section_kind(line), []
        elif line:
            lines.append(line)
        elif lines:
            stanzas.append((header, kind, lines))
            header, lines = None, []
    if header is not None:
        stanzas.append((header, kind, lines))
    return stanzas


def to_ascii(text):
    text = unicodedata.normalize("NFKD", text.translate(ASCII_MAP))
    return text.encode("ascii", "ignore").decode("ascii")


def clean_lyrics(text, title=None, headers="normalize", sections=("all",), dedupe_sections=True,
                 lowercase=False, ascii_only=False):
    """Raw lyrics as Genius gives them -> clean text (stanzas separated by exactly one blank line)."""
    text = unglue_headers(strip_genius_debris(text, title))
    seen, out = set(), []
    for header, kind, lines in split_stanzas(text):
        if "all" not in sections and kind not in sections:
            continue
        key = " ".join(re.findall(r"\w+", " ".join(lines).lower()))
        if not key or (dedupe_sections and key in seen):  # header-only or repeated stanza
            continue
        seen.add(key)
        if header is not None and headers != "strip":
            lines = [header if headers == "keep" else normalize_header(header)] + lines
        out.append("\n".join(lines))
    text = "\n\n".join(out)
    if ascii_only:
        text = re.sub(r"[ ]{2,}", " ", to_ascii(text))
    return text.lower() if lowercase else text


def lyric_words(text):
    """Words of the lyrics without section headers: for length filters and duplicate detection."""
    body = "\n".join(line for line in text.split("\n") if not HEADER.match(line.strip()))
    return re.findall(r"\w+(?:'\w+)*", body.lower())

# -----------------------------------------------------------------------------
# near duplicates: MinHash signatures + locality-sensitive hashing, linear in the number of songs

NUM_HASHES, BANDS = 64, 16                   # 16 bands x 4 rows: P(candidate | J=0.7) ~ 0.99
_rng = np.random.default_rng(20240601)       # fixed: the same songs are dropped on every run
HASH_A = _rng.integers(1, 2**63, NUM_HASHES, dtype=np.uint64) | np.uint64(1)
HASH_B = _rng.integers(0, 2**63, NUM_HASHES, dtype=np.uint64)


def minhash(words):
    """64 min-hashes of the set of the song's word 3-grams (None when it has fewer than 3 words)."""
    if len(words) < 3:
        return None
    w = np.fromiter((zlib.crc32(word.encode("utf-8")) for word in words), dtype=np.uint64, count=len(words))
    # one 64-bit hash per 3-gram (uint64 arithmetic wraps around), duplicates removed: a set
    shingles = np.unique(w[:-2] * np.uint64(0x9E3779B97F4A7C15) + w[1:-1] * np.uint64(0xC2B2AE3D27D4EB4F)
                         + w[2:])
    # 64 multiply-shift hash functions: (a*x + b) mod 2^64, top 32 bits; keep each one's minimum
    return ((HASH_A[:, None] * shingles[None, :] + HASH_B[:, None]) >> np.uint64(32)).min(axis=1)


def lsh_bands(sig):
    """Songs that agree on all 4 hashes of any of the 16 bands become candidates."""
    return [(b, sig[b::BANDS].tobytes()) for b in range(BANDS)]


def near_duplicate_of(sig, buckets, threshold):
    """Index of a kept song whose signature agrees with `sig` on at least `threshold` of the hashes
    (an estimate of the Jaccard similarity of the two n-gram sets), else None.
    buckets: band -> [(kept index, signature)], filled by the caller for every kept song."""
    for band in lsh_bands(sig):
        for i, other in buckets.get(band, ()):
            if np.mean(other == sig) >= threshold:
                return i
    return None

# -----------------------------------------------------------------------------

def fail(msg, code=1):
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return code


def read_songs(data_dirs):
    """All songs of all per-artist files: [(artist, song dict)], plus a list of warnings."""
    songs, warnings, incomplete = [], [], 0
    for data_dir in data_dirs:
        for name in sorted(os.listdir(data_dir)):
            path = os.path.join(data_dir, name)
            if not name.endswith(".json") or not os.path.isfile(path):
                continue
            try:
                with open(path, encoding="utf-8") as f:
                    record = json.load(f)
                artist = record.get("artist") or record.get("name")  # "name": lyricsgenius' own save format
                if not isinstance(artist, str) or not isinstance(record.get("songs"), list):
                    raise ValueError("not a per-artist file")
            except (OSError, ValueError, AttributeError) as e:
                warnings.append(f"skipped {path}: {e if isinstance(e, ValueError) else 'unreadable'}")
                continue
            incomplete += record.get("complete") is False
            songs += [(artist, song) for song in record["songs"]]
    if incomplete:
        warnings.append(f"{incomplete} artist file(s) are not complete (crawl.py was stopped): using "
                        "their songs anyway")
    return songs, warnings


def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description="Clean per-artist lyrics JSON into data.json "
                                "(a list of {artist, title, text}).")
    p.add_argument("--data_dir", nargs="+", default=["json"], help="folder(s) of per-artist .json files "
                   "from crawl.py / import_csv.py (default: json)")
    p.add_argument("--save_dir", default="data/lyrics", help="where data.json goes (default: data/lyrics)")
    p.add_argument("--headers", choices=["keep", "normalize", "strip"], default="normalize",
                   help="section headers: as is, [Verse 1: X] -> [Verse 1], or removed (default: normalize)")
    p.add_argument("--sections", default="all", help="comma-separated section kinds to keep, e.g. 'verse' "
                   "or 'verse,chorus' (hook/refrain count as chorus; default: all)")
    p.add_argument("--min_chars", type=int, default=200, help="drop songs shorter than this (default: 200)")
    p.add_argument("--min_unique_words", type=int, default=20, help="drop songs with fewer distinct "
                   "words (default: 20)")
    p.add_argument("--near_dup_threshold", type=float, default=0.7, help="drop a song whose word-3-gram "
                   "Jaccard similarity with a kept song is at least this; 0 turns it off (default: 0.7)")
    p.add_argument("--keep_repeated_sections", action="store_true", help="keep repeated stanzas "
                   "(by default a stanza identical to an earlier one in the song is dropped)")
    p.add_argument("--keep_non_songs", action="store_true", help="do not drop tracklists, skits, "
                   "interviews, remixes, live versions, translations ... by title")
    p.add_argument("--lowercase", action="store_true", help="lower-case everything")
    p.add_argument("--ascii", action="store_true", help="curly quotes/dashes to ASCII, drop other non-ASCII")
    args = p.parse_args(argv)
    sections = tuple(KIND_ALIASES.get(k, k) for k in (s.strip().lower() for s in args.sections.split(",")) if k)
    if not sections or not 0 <= args.near_dup_threshold <= 1:
        return fail("--sections needs at least one kind; --near_dup_threshold must be in [0, 1]", 2)
    for d in args.data_dir:
        if not os.path.isdir(d):
            return fail(f"--data_dir {d} is not a folder (run crawl.py or import_csv.py first)")

    songs, warnings = read_songs(args.data_dir)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not songs:
        return fail(f"no songs in {' '.join(args.data_dir)} (run crawl.py or import_csv.py first)")

    dropped = defaultdict(list)  # reason -> titles
    kept, exact, buckets = [], set(), defaultdict(list)
    for artist, song in songs:
        title, lyrics = (song.get("title"), song.get("lyrics")) if isinstance(song, dict) else (None, None)
        if not isinstance(title, str) or not isinstance(lyrics, str):
            dropped["bad record (no title or lyrics)"].append(str(title))
            continue
        if not args.keep_non_songs and is_non_song(title):
            dropped["non-song title"].append(title)
            continue
        text = clean_lyrics(lyrics, title, args.headers, sections, not args.keep_repeated_sections,
                            args.lowercase, args.ascii)
        words = lyric_words(text)
        if not words:
            dropped["no lyrics left" + ("" if sections == ("all",) else f" in sections {args.sections}")
                    ].append(title)
        elif len(text) < args.min_chars:
            dropped[f"shorter than --min_chars {args.min_chars}"].append(title)
        elif len(set(words)) < args.min_unique_words:
            dropped[f"fewer than --min_unique_words {args.min_unique_words}"].append(title)
        elif " ".join(words) in exact:
            dropped["exact duplicate"].append(title)
        else:
            sig = minhash(words) if args.near_dup_threshold > 0 else None
            twin = near_duplicate_of(sig, buckets, args.near_dup_threshold) if sig is not None else None
            if twin is not None:
                dropped["near duplicate"].append(f"{title} ~ {kept[twin]['title']}")
                continue
            if sig is not None:
                for band in lsh_bands(sig):
                    buckets[band].append((len(kept), sig))
            exact.add(" ".join(words))
            kept.append({"artist": artist, "title": title, "text": text})

    print(f"songs in: {len(songs)}, out: {len(kept)}, dropped: {len(songs) - len(kept)}")
    for reason, titles in sorted(dropped.items(), key=lambda kv: -len(kv[1])):
        examples = ", ".join(repr(t) for t in titles[:3]) + (", ..." if len(titles) > 3 else "")
        print(f"  {len(titles):6d} {reason}: {examples}")
    if not kept:
        return fail("every song was dropped: nothing to write (see the reasons above)")
    os.makedirs(args.save_dir, exist_ok=True)
    out_path = os.path.join(args.save_dir, "data.json")
    save_json(out_path, kept)
    print(f"wrote {len(kept)} songs ({sum(len(s['text']) for s in kept):,} characters) to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
