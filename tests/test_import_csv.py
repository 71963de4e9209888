"""Tests for data/lyrics/data_generator/import_csv.py: each input format built in tmp_path."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "lyrics" / "data_generator" / "import_csv.py"
spec = importlib.util.spec_from_file_location("lyrics_import_csv", SCRIPT)
imp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(imp)


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def eminem_file(path):
    """Like the Kaggle file: tab-separated, cp1252 (0x92 = right single quote), CRLF, trailing tab."""
    rows = [b"Album_Name\tSong_Name\tLyrics\tAlbum_URL\tViews\tRelease_date\t",
            b'Curtain Call\tStan\t"[Intro: Dido]\r\nMy tea\x92s gone cold, I\x92m wondering why\r\n'
            b'I got out of bed at all"\thttps://genius.com/albums/Eminem/Curtain-call\t1.2M\tDecember 6, 2005\t',
            b"Curtain Call\tPlaceholder\t\thttps://genius.com/albums/Eminem/Curtain-call\t10\t2005-12-06\t",
            b"Recovery\tNot Afraid\tI\x92m not afraid, to take a stand\thttps://x\t3M\t2010-04-29\t",
            b"Recovery\tBroken\tsome lyrics\thttps://x\t3\t2010-04-29\textra\tcells",
            b""]
    path.write_bytes(b"\r\n".join(rows))
    return path


def test_eminem_tsv_cp1252(tmp_path):
    src = eminem_file(tmp_path / "Eminem_Lyrics.csv")
    assert imp.main([str(src), "--data_dir", str(tmp_path / "out")]) == 0
    record = read(tmp_path / "out" / "Eminem.json")
    assert record["artist"] == "Eminem" and record["source"] == "csv" and record["complete"] is True
    stan, afraid = record["songs"]
    assert stan == {"id": None, "title": "Stan", "album": "Curtain Call", "release_date": "2005-12-06",
                    "url": None, "lyrics": "[Intro: Dido]\nMy tea\u2019s gone cold, I\u2019m wondering why\n"
                                           "I got out of bed at all"}
    assert afraid["lyrics"] == "I\u2019m not afraid, to take a stand" and afraid["release_date"] == "2010-04-29"


def test_bad_rows_are_counted_and_reported(tmp_path):
    src = eminem_file(tmp_path / "Eminem_Lyrics.csv")
    r = run_cli(src, "--data_dir", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert "eminem format, cp1252, tab-separated: 2 songs, 2 bad rows" in r.stdout
    assert "1 empty lyrics (line 5)" in r.stdout and "1 more fields than the header (line 7)" in r.stdout


def test_kaggle_song_lyrics_dataset(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "Drake.csv").write_text(
        ",Artist,Title,Album,Year,Date,Lyric\n"
        '0,Drake,God\'s Plan,Scorpion,2018.0,2018-01-19,"Yeah, they wishin\' and wishin\'"\n'
        "1,Drake,Hotline Bling,Views,2015.0,,You used to call me on my cell phone\n"
        "2,Drake,Untitled,,,,\n", encoding="utf-8")
    (folder / "Nas.csv").write_text(
        ",Artist,Title,Album,Year,Date,Lyric\n0,Nas,N.Y. State of Mind,Illmatic,1994.0,1994-04-19,"
        "Rappers I monkey flip 'em with the funky rhythm\n", encoding="utf-8")
    assert imp.main([str(folder), "--data_dir", str(tmp_path / "out")]) == 0
    drake = read(tmp_path / "out" / "Drake.json")
    assert [s["title"] for s in drake["songs"]] == ["God's Plan", "Hotline Bling"]
    assert drake["songs"][0]["release_date"] == "2018-01-19" and drake["songs"][1]["release_date"] is None
    assert drake["songs"][1]["album"] == "Views"
    assert read(tmp_path / "out" / "Nas.json")["songs"][0]["album"] == "Illmatic"


def test_generic_csv_with_columns_separator_and_encoding(tmp_path):
    src = tmp_path / "mine.csv"
    src.write_bytes("who;name;words\nMF DOOM;Rhymes Like Dimes;\u201cOnly in America\u201d\n"
                    "MF DOOM;;no title\n".encode("cp1252"))
    out = tmp_path / "out"
    assert imp.main([str(src), "--data_dir", str(out), "--text_col", "words", "--title_col", "name",
                     "--artist_col", "who", "--sep", ";", "--encoding", "cp1252"]) == 0
    songs = read(out / "MF DOOM.json")["songs"]
    assert [(s["title"], s["lyrics"]) for s in songs] == [("Rhymes Like Dimes", "\u201cOnly in America\u201d")]
    # guessed columns and separator, artist from --artist
    (tmp_path / "guess.csv").write_text("Title,Lyrics\nOne,first song text\n", encoding="utf-8")
    assert imp.main([str(tmp_path / "guess.csv"), "--data_dir", str(out), "--artist", "AC/DC"]) == 0
    assert read(out / "AC_DC.json")["songs"][0]["lyrics"] == "first song text"


def test_utf8_detected_before_cp1252():
    assert imp.decode("caf\u00e9 \u2019".encode("utf-8")) == ("caf\u00e9 \u2019", "utf-8")
    assert imp.decode(b"I\x92m") == ("I\u2019m", "cp1252")
    assert imp.decode("\ufeffTitle".encode("utf-8"))[0] == "Title"  # BOM dropped
    assert imp.guess_separator("a\tb\tc,d\n") == "\t" and imp.guess_separator("a,b;c,d") == ","


def test_txt_folder_one_song_each_and_split(tmp_path):
    folder = tmp_path / "lyrics" / "Nas"
    folder.mkdir(parents=True)
    (folder / "the_world_is_yours.txt").write_text("Whose world is this?\nIt's mine\n", encoding="utf-8")
    (folder / "empty.txt").write_text("\n\n", encoding="utf-8")
    (folder / "album.txt").write_bytes("one\n----\ntwo\r\n----\n\n----\nthree \x92\n".encode("latin-1"))
    out = tmp_path / "out"
    r = run_cli(tmp_path / "lyrics", "--data_dir", out, "--song_sep=----")
    assert r.returncode == 0, r.stderr
    songs = read(out / "Nas.json")["songs"]
    assert {s["title"]: s["lyrics"] for s in songs} == {
        "album 1": "one", "album 2": "two", "album 4": "three \u2019",
        "the world is yours": "Whose world is this?\nIt's mine"}
    assert read(out / "Nas.json")["source"] == "txt"
    assert r.stdout.count("1 bad rows") == 2  # the empty file, and the empty piece between separators


def test_reimport_adds_nothing_and_crawled_files_are_left_alone(tmp_path):
    src = eminem_file(tmp_path / "Eminem_Lyrics.csv")
    out = tmp_path / "out"
    assert imp.main([str(src), "--data_dir", str(out)]) == 0
    before = (out / "Eminem.json").read_bytes()
    assert imp.main([str(src), "--data_dir", str(out)]) == 0
    assert (out / "Eminem.json").read_bytes() == before
    crawled = {"artist": "Eminem", "source": "genius", "complete": False, "songs": []}
    (out / "Eminem.json").write_text(json.dumps(crawled))
    assert imp.main([str(src), "--data_dir", str(out)]) == 1
    assert read(out / "Eminem.json") == crawled


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.csv", "no such file or folder"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "no .csv, .tsv or .txt files"),
    (lambda d: (d / "e.csv").write_text("Title,Lyrics\n") and d / "e.csv", "no songs found"),
    (lambda d: (d / "x.csv").write_text("a,b\n1,2\n") and d / "x.csv", "no songs found"),
])
def test_bad_input(tmp_path, make, message):
    r = run_cli(make(tmp_path), "--data_dir", tmp_path / "out")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("import_csv.py: error:") and message in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()
