"""
Turn lyrics you already have (CSV exports, folders of .txt files) into the per-artist JSON files that
crawl.py writes, so preprocess.py can clean them the same way:

    python import_csv.py Eminem_Lyrics.csv --data_dir json
    python import_csv.py song-lyrics-dataset/csv/ my_txt_lyrics/ --data_dir json

Formats (detected from the header, or forced with --format):
  eminem  the Kaggle Eminem lyrics file: tab-separated although named .csv, cp1252, columns
          Album_Name, Song_Name, Lyrics, Album_URL, Views, Release_date (+ an empty 7th from a
          trailing tab); every song is by --artist (default: Eminem)
  kaggle  the Kaggle "song lyrics dataset" per-artist CSVs: Artist, Title, Album, Year, Date, Lyric
  csv     any CSV/TSV: --text_col/--title_col/--artist_col, else columns named like lyrics/title/artist
          (no artist column: --artist, else the file name; no title column: "<file name> <n>")
  txt     .txt files, one song each (title = file name), or several split by lines equal to --song_sep;
          artist = --artist, else the name of the folder holding the file
Encoding: --encoding, else UTF-8, else cp1252. Separator: --sep, else the commonest of tab , ; in the
header line. Bad rows (empty lyrics, missing title, wrong number of fields) are counted and reported.
Songs are added to <data_dir>/<artist>.json (source "csv"/"txt", complete true); importing the same
file twice adds nothing. Files that crawl.py owns (source "genius") are left alone.
"""

import argparse
import csv
import io
import json
import os
import re
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from lyrics_files import safe_filename, save_json

PROG = "import_csv.py"
csv.field_size_limit(2**31 - 1)  # lyrics are long fields

COLUMN_GUESSES = {  # generic CSVs: first matching column name wins (case-insensitive)
    "text": ["lyrics", "lyric", "text", "song_lyrics", "content", "body"],
    "title": ["title", "song", "song_name", "song_title", "track", "track_name", "name"],
    "artist": ["artist", "artist_name", "artists", "singer", "band"],
    "album": ["album", "album_name", "album_title"],
    "date": ["release_date", "date", "released"],
}
FORMAT_COLUMNS = {
    "eminem": {"text": "lyrics", "title": "song_name", "album": "album_name", "date": "release_date"},
    "kaggle": {"text": "lyric", "title": "title", "artist": "artist", "album": "album", "date": "date"},
}


def decode(data, encoding=None):
    """Bytes -> (text, encoding used). UTF-8 (with or without BOM), else cp1252, else latin-1."""
    if encoding:
        return data.decode(encoding), encoding
    for enc in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(enc), enc.replace("-sig", "")
        except UnicodeDecodeError:
            pass


def guess_separator(text):
    header = text.split("\n", 1)[0]
    return max(["\t", ",", ";"], key=header.count)


def iso_date(value):
    """'2002-05-26', '2002-05-26T00:00:00', 'May 26, 2002', '26/05/2002' -> '2002-05-26'; else None."""
    value = (value or "").strip()
    for fmt, text in (("%Y-%m-%d", value[:10]), ("%B %d, %Y", value), ("%b %d, %Y", value),
                      ("%d/%m/%Y", value), ("%Y/%m/%d", value)):
        try:
            return datetime.strptime(text, fmt).strftime("%Y-%m-%d")
        except ValueError:
            pass
    return None


def detect_format(columns):
    cols = set(columns)
    if {"album_name", "song_name", "lyrics"} <= cols:
        return "eminem"
    if {"artist", "title", "lyric"} <= cols:
        return "kaggle"
    return "csv"


def read_csv(path, args):
    """One CSV/TSV file -> (songs [(artist, song dict)], bad {reason: [line numbers]}, description)."""
    text, enc = decode(Path(path).read_bytes(), args.encoding)
    sep = args.sep or guess_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    header = [h.strip().lower() for h in next(reader, [])]
    fmt = args.format if args.format in FORMAT_COLUMNS or args.format == "csv" else detect_format(header)
    wanted = dict(FORMAT_COLUMNS.get(fmt, {}))
    given = {"text": args.text_col, "title": args.title_col, "artist": args.artist_col}
    if fmt == "csv":
        for field, names in COLUMN_GUESSES.items():
            wanted[field] = given.get(field) or next((n for n in names if n in header), None)
    index = {}
    for field, name in wanted.items():
        if name and name.strip().lower() in header:
            index[field] = header.index(name.strip().lower())
        elif name and field in ("text", "title", "artist") and (fmt != "csv" or given.get(field)):
            raise ValueError(f"no column '{name}' (columns: {', '.join(h for h in header if h)})")
    if "text" not in index:
        raise ValueError(f"no lyrics column: use --text_col (columns: {', '.join(h for h in header if h)})")
    default_artist = args.artist or ("Eminem" if fmt == "eminem" else Path(path).stem)

    songs, bad = [], defaultdict(list)
    for row in reader:
        line = reader.line_num
        if not row:
            continue  # an empty line is not a row
        cell = lambda field: row[index[field]].strip() if field in index and index[field] < len(row) else ""
        if any(c.strip() for c in row[len(header):]):
            bad["more fields than the header"].append(f"line {line}")
            continue
        if max(index.get("text", 0), index.get("title", 0)) >= len(row):
            bad["fewer fields than the header"].append(f"line {line}")
            continue
        lyrics = row[index["text"]].strip()
        if not lyrics or lyrics.lower() == "nan":
            bad["empty lyrics"].append(f"line {line}")
            continue
        title = cell("title") if "title" in index else f"{Path(path).stem} {len(songs) + 1}"
        if not title:
            bad["missing title"].append(f"line {line}")
            continue
        artist = args.artist or cell("artist") or default_artist
        songs.append((artist, {"id": None, "title": title, "album": cell("album") or None,
                               "release_date": iso_date(cell("date")), "url": None,
                               "lyrics": lyrics.replace("\r\n", "\n")}))
    sep_name = {"\t": "tab", ",": "comma", ";": "semicolon"}.get(sep, repr(sep))
    return songs, bad, f"{fmt} format, {enc}, {sep_name}-separated"


def read_txt(path, args):
    text, enc = decode(Path(path).read_bytes(), args.encoding)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    artist = args.artist or Path(path).resolve().parent.name
    stem = Path(path).stem.replace("_", " ").strip()
    if args.song_sep:
        pieces = re.split(rf"(?m)^[ \t]*{re.escape(args.song_sep)}[ \t]*$", text)
    else:
        pieces = [text]
    songs, bad = [], defaultdict(list)
    for i, piece in enumerate(pieces, 1):
        if not piece.strip():
            if len(pieces) == 1 or 1 < i < len(pieces):  # an empty file, or two separators in a row
                bad["empty lyrics"].append(f"song {i}")
            continue
        title = stem if len(pieces) == 1 else f"{stem} {i}"
        songs.append((artist, {"id": None, "title": title, "album": None, "release_date": None,
                               "url": None, "lyrics": piece.strip("\n")}))
    return songs, bad, f"txt, {enc}" + (f", split on '{args.song_sep}'" if args.song_sep else "")


def song_key(song):
    words = lambda s: " ".join(re.findall(r"\w+", (s or "").lower()))
    return words(song["title"]), words(song["lyrics"])


def write_artist(data_dir, artist, songs, source):
    """Add songs to <data_dir>/<artist>.json; returns (added, message or None)."""
    path = os.path.join(data_dir, safe_filename(artist) + ".json")
    record = {"artist": artist, "source": source, "complete": True, "songs": []}
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError):
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("songs"), list):
            return 0, f"{path} exists but is not a per-artist JSON file"
        if record.get("source") == "genius":
            return 0, f"{path} was written by crawl.py: import into another --data_dir"
    have = {song_key(s) for s in record["songs"]}
    added = 0
    for song in songs:
        if song_key(song) not in have:
            have.add(song_key(song))
            record["songs"].append(song)
            added += 1
    if added:
        save_json(path, record)
    return added, None


def fail(msg, code=1):
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return code


def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description="Import lyrics CSV/TSV exports and .txt folders "
                                "into per-artist JSON files (the format crawl.py writes).")
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="CSV/TSV/TXT files or folders of them")
    p.add_argument("--data_dir", default="json", help="output folder for <artist>.json (default: json)")
    p.add_argument("--format", choices=["auto", "eminem", "kaggle", "csv", "txt"], default="auto",
                   help="input format (default: auto, from the file name and header)")
    p.add_argument("--text_col", help="csv: column with the lyrics")
    p.add_argument("--title_col", help="csv: column with the song title")
    p.add_argument("--artist_col", help="csv: column with the artist")
    p.add_argument("--artist", help="artist of every song (overrides columns and folder names)")
    p.add_argument("--sep", help="csv: field separator, e.g. ',' or 'tab' (default: guessed)")
    p.add_argument("--encoding", help="input encoding (default: UTF-8, else cp1252)")
    p.add_argument("--song_sep", help="txt: a line equal to this separates songs in one file, e.g. "
                   "--song_sep=---- (use = when it starts with -)")
    args = p.parse_args(argv)
    if args.sep in ("tab", "\\t"):
        args.sep = "\t"
    if args.sep is not None and len(args.sep) != 1:
        return fail("--sep must be one character (or 'tab')", 2)
    if args.encoding:
        try:
            "".encode(args.encoding)
        except LookupError:
            return fail(f"unknown --encoding {args.encoding}", 2)

    files = []
    for item in args.inputs:
        if os.path.isdir(item):
            found = sorted(f for f in Path(item).rglob("*") if f.is_file() and
                           f.suffix.lower() in ((".txt",) if args.format == "txt" else (".csv", ".tsv", ".txt")))
            if not found:
                return fail(f"{item}: no .csv, .tsv or .txt files in this folder")
            files += found
        elif os.path.isfile(item):
            files.append(Path(item))
        else:
            return fail(f"{item}: no such file or folder")

    by_artist = defaultdict(lambda: {"csv": [], "txt": []})
    total_bad, broken = 0, 0
    for path in files:
        as_txt = args.format == "txt" or (args.format == "auto" and path.suffix.lower() == ".txt")
        try:
            songs, bad, how = (read_txt if as_txt else read_csv)(path, args)
        except (ValueError, UnicodeDecodeError, csv.Error, OSError) as e:
            print(f"{path}: skipped: {e}", file=sys.stderr)
            broken += 1
            continue
        for artist, song in songs:
            by_artist[artist]["txt" if as_txt else "csv"].append(song)
        n_bad = sum(len(v) for v in bad.values())
        total_bad += n_bad
        details = "; ".join(f"{len(v)} {reason} ({', '.join(map(str, v[:5]))}{', ...' if len(v) > 5 else ''})"
                            for reason, v in bad.items())
        print(f"{path}: {how}: {len(songs)} songs" + (f", {n_bad} bad rows: {details}" if n_bad else ""))

    if not by_artist:
        return fail("no songs found in the inputs (see above)")
    os.makedirs(args.data_dir, exist_ok=True)
    added_total, refused = 0, 0
    for artist, sources in by_artist.items():
        for source, songs in sources.items():
            if songs:
                added, problem = write_artist(args.data_dir, artist, songs, source)
                if problem:
                    print(f"{artist}: skipped: {problem}", file=sys.stderr)
                    refused += 1
                added_total += added
    found = sum(len(s) for src in by_artist.values() for s in src.values())
    print(f"imported {found} songs of {len(by_artist)} artists into {args.data_dir} "
          f"({added_total} new, {found - added_total} already there or refused); "
          f"{total_bad} bad rows, {broken} unreadable files")
    return 1 if refused or broken else 0


if __name__ == "__main__":
    sys.exit(main())
