"""Tests for data/lyrics/data_generator/crawl.py: the real lyricsgenius client against tests/fake_genius.py."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("lyricsgenius")
from fake_genius import FakeGenius  # noqa: E402  (tests/ is on sys.path under pytest)

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "lyrics" / "data_generator" / "crawl.py"
spec = importlib.util.spec_from_file_location("lyrics_crawl", SCRIPT)
crawl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(crawl)

TOKEN = "tok-SECRET-1234567890"
FAST = ["--sleep", "0", "--timeout", "0.4", "--retries", "3"]


def lyrics_of(n):
    return f"[Verse 1: Eminem]\nline {n} one\nline {n} two\n\n[Chorus]\nhook number {n}"


def catalogue():
    eminem = [{"id": 100 + i, "title": f"Song {i}", "lyrics": lyrics_of(i), "album": "The Album",
               "release_date": f"2002-05-{10 + i}"} for i in range(7)]
    eminem.insert(1, {"id": 190, "title": "Paul (Skit)", "lyrics": "Marshall, it's Paul"})
    eminem.insert(2, {"id": 191, "title": "Unreleased", "lyrics": "x", "lyrics_state": "unreleased"})
    eminem.insert(3, {"id": 192, "title": "Beat", "lyrics": "x", "instrumental": True})
    acdc = [{"id": 300, "title": "Thunderstruck", "lyrics": "Thunder\n\nThunder!", "album": None}]
    return [{"id": 1, "name": "Eminem", "songs": eminem}, {"id": 2, "name": "AC/DC", "songs": acdc}]


@pytest.fixture
def fake(monkeypatch):
    server = FakeGenius(catalogue(), token=TOKEN, page_size=3, slow_seconds=0.8).start()
    for k, v in server.env().items():
        monkeypatch.setenv(k, v)
    yield server
    server.stop()


def run_cli(args, env_extra=None, **kw):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=60, **kw)


def read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def test_safe_filename_and_normalised_titles():
    assert crawl.safe_filename("AC/DC") == "AC_DC"
    assert crawl.safe_filename('a:b*c?"d<e>f|g\\h') == "a_b_c__d_e_f_g_h"
    assert crawl.safe_filename("...") == "_" and crawl.safe_filename("CON") == "CON_"
    assert len(crawl.safe_filename("ü" * 400).encode()) <= 150
    assert crawl.normalise_title("Lose Yourself (feat. Dr. Dre)") == crawl.normalise_title("lose yourself!")
    assert crawl.normalise_title("Café (Explicit)") == "cafe"
    assert crawl.normalise_title("Part 2") != crawl.normalise_title("Part 3")


def test_end_to_end_subprocess(fake, tmp_path):
    out = tmp_path / "json"
    r = run_cli(["--artists", "Eminem", "AC/DC", "--data_dir", str(out), "--max_songs", "4", *FAST],
                env_extra=fake.env())
    assert r.returncode == 0, r.stderr
    assert "2 artists done, 0 skipped" in r.stdout and "5 new" in r.stdout
    eminem = read(out / "Eminem.json")
    assert eminem["artist"] == "Eminem" and eminem["source"] == "genius" and eminem["complete"] is True
    # exactly --max_songs, non-songs (skit, unreleased, instrumental) skipped, order kept across pages
    assert [s["title"] for s in eminem["songs"]] == ["Song 0", "Song 1", "Song 2", "Song 3"]
    first = eminem["songs"][0]
    assert first == {"id": 100, "title": "Song 0", "album": "The Album", "release_date": "2002-05-10",
                     "url": "https://genius.com/Eminem-song-0-lyrics", "primary_artist": "Eminem",
                     "lyrics": lyrics_of(0)}
    assert fake.count("/v1/artists/1/songs") >= 2  # paged
    acdc = read(out / "AC_DC.json")
    assert acdc["artist"] == "AC/DC" and acdc["songs"][0]["album"] is None
    # the token is used, but never written or printed
    assert fake.auth_headers == {f"Bearer {TOKEN}"}
    assert TOKEN not in r.stdout + r.stderr
    assert not any(TOKEN in p.read_text() for p in out.iterdir())
    assert sorted(p.name for p in out.iterdir()) == ["AC_DC.json", "Eminem.json"]  # no temp files


def test_faults_are_retried(fake, tmp_path, capsys):
    fake.faults = {"/web/Eminem-song-0-lyrics": ["500", "500"], "/v1/artists/1/songs": ["403"],
                   "/web/Eminem-song-1-lyrics": ["timeout"], "/v1/songs/102": ["500"],
                   "/api/search/multi": ["500"]}
    rc = crawl.main(["--artists", "Eminem", "--data_dir", str(tmp_path), "--max_songs", "3", *FAST])
    assert rc == 0, capsys.readouterr()
    assert [s["id"] for s in read(tmp_path / "Eminem.json")["songs"]] == [100, 101, 102]
    assert fake.count("/web/Eminem-song-0-lyrics") == 3
    assert fake.count("/web/Eminem-song-1-lyrics") == 2
    assert fake.count("/v1/songs/102") == 2
    assert "retry 1/3" in capsys.readouterr().out


def test_unknown_artist_and_empty_lyrics_do_not_stop_others(fake, tmp_path, capsys):
    fake.artists[1]["songs"][0]["empty_page"] = True  # a blocked page: lyricsgenius finds no lyrics
    rc = crawl.main(["--artists", "Nobody Atall", "Eminem", "--data_dir", str(tmp_path),
                     "--max_songs", "3", *FAST])
    out = capsys.readouterr().out
    assert rc == 1
    assert "Nobody Atall (not found on Genius)" in out and "1 without lyrics" in out
    assert [s["title"] for s in read(tmp_path / "Eminem.json")["songs"]] == ["Song 1", "Song 2", "Song 3"]
    assert not (tmp_path / "Nobody Atall.json").exists()


def test_persistent_error_fails_artist_then_resume_loses_nothing(fake, tmp_path, capsys):
    fake.faults = {"/web/Eminem-song-2-lyrics": ["500*"]}
    args = ["--artists", "Eminem", "AC/DC", "--data_dir", str(tmp_path), "--max_songs", "4",
            "--sleep", "0", "--timeout", "0.4", "--retries", "1"]
    assert crawl.main(args) == 1
    out = capsys.readouterr().out
    assert "Eminem (HTTP 500 from /web/Eminem-song-2-lyrics after 1 retries)" in out
    partial = read(tmp_path / "Eminem.json")
    assert partial["complete"] is False and [s["id"] for s in partial["songs"]] == [100, 101]
    assert read(tmp_path / "AC_DC.json")["complete"] is True  # the other artist went on

    fake.faults = {}
    assert crawl.main(args) == 0
    out = capsys.readouterr().out
    assert "1 artists done, 1 skipped" in out
    done = read(tmp_path / "Eminem.json")
    assert done["complete"] is True and [s["id"] for s in done["songs"]] == [100, 101, 102, 103]
    assert done["songs"][:2] == partial["songs"]
    assert fake.count("/web/Eminem-song-0-lyrics") == 1 and fake.count("/web/Eminem-song-1-lyrics") == 1
    assert fake.count("/web/Ac-dc-thunderstruck-lyrics") == 1  # finished artist skipped


def test_killed_mid_artist_then_resume(fake, tmp_path):
    out = tmp_path / "json"
    args = ["--artists", "Eminem", "--data_dir", str(out), "--max_songs", "5", *FAST]
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *args], env=dict(os.environ, **fake.env()),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def kill_on_third_song(path):
        if path == "/web/Eminem-song-2-lyrics":
            os.kill(proc.pid, signal.SIGKILL)
    fake.on_request = kill_on_third_song
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    partial = read(out / "Eminem.json")
    assert partial["complete"] is False and [s["id"] for s in partial["songs"]] == [100, 101]
    assert sorted(p.name for p in out.iterdir()) == ["Eminem.json"]

    fake.on_request = None
    r = run_cli(args, env_extra=fake.env())
    assert r.returncode == 0, r.stderr
    songs = read(out / "Eminem.json")["songs"]
    assert [s["id"] for s in songs] == [100, 101, 102, 103, 104]  # nothing lost, nothing twice
    assert fake.count("/web/Eminem-song-0-lyrics") == 1 and fake.count("/web/Eminem-song-1-lyrics") == 1


def test_more_songs_on_a_finished_artist_fetches_only_new_ones(fake, tmp_path, capsys):
    args = ["--artists", "Eminem", "--data_dir", str(tmp_path), *FAST]
    assert crawl.main([*args, "--max_songs", "2"]) == 0
    assert crawl.main([*args, "--max_songs", "2"]) == 0
    assert "0 artists done, 1 skipped" in capsys.readouterr().out
    assert crawl.main([*args, "--max_songs", "3"]) == 0
    assert [s["id"] for s in read(tmp_path / "Eminem.json")["songs"]] == [100, 101, 102]
    assert fake.count("/web/Eminem-song-0-lyrics") == 1


def test_songs_deduplicated_across_artists_with_workers(tmp_path, monkeypatch, capsys):
    shared = {"id": 500, "title": "Collab (feat. B)", "lyrics": "we rap together", "featured": [2]}
    artists = [{"id": 1, "name": "A", "songs": [shared, {"id": 501, "title": "collab", "lyrics": "again"},
                                                {"id": 502, "title": "Solo A", "lyrics": "a"}]},
               {"id": 2, "name": "B", "songs": [{"id": 600, "title": "Solo B", "lyrics": "b"}]}]
    server = FakeGenius(artists, token=TOKEN).start()
    try:
        for k, v in server.env().items():
            monkeypatch.setenv(k, v)
        rc = crawl.main(["--artists", "A", "B", "--data_dir", str(tmp_path), "--include_features",
                         "--workers", "2", *FAST])
    finally:
        server.stop()
    assert rc == 0
    ids = [s["id"] for name in ("A", "B") for s in read(tmp_path / f"{name}.json")["songs"]]
    assert sorted(ids) == [500, 502, 600]  # 500 once (A's own or B's feature); 501 = same title as 500
    assert server.count("/web/A-collab-feat-b-lyrics") == 1
    assert "2 duplicates skipped" in capsys.readouterr().out


def test_rejected_token(fake, tmp_path):
    r = run_cli(["--artists", "Eminem", "--data_dir", str(tmp_path), *FAST, "--user_token", "wrong-token-42"],
                env_extra={**fake.env(), "GENIUS_ACCESS_TOKEN": ""})
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("crawl.py: error: Genius rejected the access token")
    assert "wrong-token-42" not in r.stdout + r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, message, code", [
    (["--artists", "Eminem"], "no Genius token", 2),
    (["--user_token", "t"], "no artists", 2),
    (["--user_token", "t", "--artists", "X", "--max_songs", "-1"], "must be >= 0", 2),
    (["--user_token", "t", "--artist_file", "missing.txt"], "cannot read --artist_file", 1),
])
def test_bad_input(tmp_path, args, message, code):
    env = {"GENIUS_ACCESS_TOKEN": ""}
    r = run_cli([*args, "--data_dir", str(tmp_path / "out")], env_extra=env, cwd=tmp_path)
    assert r.returncode == code
    assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_artist_file_and_example_list(fake, tmp_path, capsys):
    example = SCRIPT.parent / "artists.txt"
    names = [ln.strip() for ln in example.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(names) >= 3
    artist_file = tmp_path / "artists.txt"
    artist_file.write_text("# my list\nEminem\n\nAC/DC\nac/dc\n", encoding="utf-8")
    rc = crawl.main(["--artist_file", str(artist_file), "--data_dir", str(tmp_path / "j"),
                     "--max_songs", "1", *FAST])
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "j").iterdir()) == ["AC_DC.json", "Eminem.json"]


def test_ctrl_c_saves_progress(fake, tmp_path):
    out = tmp_path / "json"
    args = ["--artists", "Eminem", "--data_dir", str(out), "--max_songs", "4", *FAST]
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *args], env=dict(os.environ, **fake.env()),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def interrupt_on_second_song(path):
        if path == "/web/Eminem-song-1-lyrics":
            os.kill(proc.pid, signal.SIGINT)
    fake.on_request = interrupt_on_second_song
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    partial = read(out / "Eminem.json")
    assert partial["complete"] is False and [s["id"] for s in partial["songs"]] in ([100], [100, 101])
    fake.on_request = None
    assert run_cli(args, env_extra=fake.env()).returncode == 0
    assert [s["id"] for s in read(out / "Eminem.json")["songs"]] == [100, 101, 102, 103]
