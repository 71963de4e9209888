"""
Crawl song lyrics from Genius (https://genius.com) into one JSON file per artist.

    export GENIUS_ACCESS_TOKEN=...   # https://genius.com/api-clients -> "Generate Access Token"
    python crawl.py --artist_file artists.txt --data_dir json --max_songs 40

Needs Python >= 3.11 and lyricsgenius==3.15.0 (3.7 changed the API; current releases need 3.11).
Each artist goes to <data_dir>/<safe name>.json (see notes on the per-artist format in the README):
    {"artist", "source": "genius", "complete", "genius_artist_id", "exhausted",
     "songs": [{"id", "title", "album", "release_date", "url", "primary_artist", "lyrics"}]}
Progress is saved atomically after every song with "complete": false, so a crash or Ctrl-C loses
nothing; re-running the same command skips finished artists and resumes the others where they were.
Songs are deduplicated across artists by Genius id and by (artist, normalised title).
The token is only sent to the API: it is never written to disk or printed, not even in errors.
GENIUS_API_ROOT, GENIUS_PUBLIC_API_ROOT and GENIUS_WEB_ROOT override the Genius base URLs.
"""

import argparse
import json
import os
import re
import sys
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor, as_completed
from urllib.parse import urlparse

from lyrics_files import safe_filename, save_json

PROG = "crawl.py"
URL_ENV_VARS = {"API_ROOT": "GENIUS_API_ROOT", "PUBLIC_API_ROOT": "GENIUS_PUBLIC_API_ROOT",
                "WEB_ROOT": "GENIUS_WEB_ROOT"}
RETRY_STATUSES = {403, 429}  # plus every 5xx

stop_event = threading.Event()   # set on Ctrl-C or a rejected token: workers stop between songs
seen_lock = threading.Lock()
seen = {}                        # dedup key -> path of the artist file that owns the song
TOKEN = ""                       # kept only to scrub it out of error messages

# -----------------------------------------------------------------------------
# names, keys and files

def normalise_title(title):
    """Lower case, no accents, punctuation or '(feat. X)', so near-identical titles compare equal."""
    title = re.sub(r"[(\[](feat|ft|featuring|with)\.?\s[^)\]]*[)\]]", " ", title, flags=re.I)
    title = re.sub(r"[(\[](explicit|clean|album version)[)\]]", " ", title, flags=re.I)
    title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", title.lower()).split())


def song_keys(artist, song):
    """Dedup keys: the Genius id, and the title within its primary artist (two artists may both have
    an 'Intro'; a feature found under another artist's name still has the same primary artist)."""
    artist = song.get("primary_artist") or artist
    keys = [("title", normalise_title(artist), normalise_title(song.get("title") or ""))]
    if song.get("id") is not None:
        keys.append(("id", song["id"]))
    return keys


def claim(keys, owner):
    """Reserve a song for one artist file; False when another song already has one of these keys."""
    with seen_lock:
        if any(k in seen for k in keys):
            return False
        for k in keys:
            seen[k] = owner
        return True


def release(keys, owner):
    with seen_lock:
        for k in keys:
            if seen.get(k) == owner:
                del seen[k]


def load_seen(data_dir):
    """Register every song already on disk, so nothing is fetched twice, whatever the artist."""
    for name in sorted(os.listdir(data_dir)):
        path = os.path.join(data_dir, name)
        if not name.endswith(".json"):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                record = json.load(f)
            for song in record["songs"]:
                for k in song_keys(record["artist"], song):
                    seen.setdefault(k, path)
        except (OSError, ValueError, KeyError, TypeError):
            log(f"warning: ignoring {path}: not a readable per-artist JSON file")

# -----------------------------------------------------------------------------
# talking to Genius

class RetryableStatus(Exception):
    """A 403, 429 or 5xx answer: Genius is overloaded or rate limiting; worth another try."""


def raise_on_retryable_status(response, *args, **kwargs):
    # lyricsgenius returns the HTML of a 500/403 song page as if it were the page (and then finds no
    # lyrics), so we look at every answer's status before lyricsgenius does.
    if response.status_code in RETRY_STATUSES or response.status_code >= 500:
        raise RetryableStatus(f"HTTP {response.status_code} from {urlparse(response.url).path}")


def make_client(lyricsgenius, args):
    genius = lyricsgenius.Genius(TOKEN, timeout=args.timeout, sleep_time=args.sleep, retries=0,
                                 skip_non_songs=True, excluded_terms=args.excluded_terms)
    for attr, env in URL_ENV_VARS.items():  # mirrors, proxies and the tests' fake server
        if os.environ.get(env):
            setattr(genius, attr, os.environ[env].rstrip("/") + "/")
    genius._session.hooks["response"].append(raise_on_retryable_status)
    return genius


def describe(e):
    """A one-line reason for a failure, without the token."""
    import requests
    if isinstance(e, AssertionError):  # lyricsgenius >= 3.7: any non-200 API answer
        m = re.search(r"status code: (\d+)", str(e))
        text = f"HTTP {m.group(1)}" if m else "unexpected answer from Genius"
    elif isinstance(e, RetryableStatus):
        text = str(e)
    elif isinstance(e, requests.Timeout):
        text = "timed out"
    elif isinstance(e, requests.ConnectionError):
        text = "connection error"
    else:
        text = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]
    return text.replace(TOKEN, "***") if TOKEN else text


def with_retries(args, what, fn, *fn_args, **fn_kwargs):
    """Call fn, retrying timeouts, connection errors, 403, 429 and 5xx with exponential backoff."""
    import requests
    for attempt in range(args.retries + 1):
        try:
            return fn(*fn_args, **fn_kwargs)
        except (requests.Timeout, requests.ConnectionError, RetryableStatus) as e:
            if attempt == args.retries or stop_event.is_set():
                raise
            wait = min(60.0, max(args.sleep, 0.1) * 2 ** attempt)
            log(f"  {what}: {describe(e)}, retry {attempt + 1}/{args.retries} in {wait:.1f}s")
            stop_event.wait(wait)


def is_lyrics(info, excluded_terms):
    """Same rules as lyricsgenius: lyrics transcribed, not instrumental, title not a tracklist etc."""
    if info.get("lyrics_state") != "complete" or info.get("instrumental"):
        return False
    title = (info.get("title") or "").lower()
    return not any(term.lower() in title for term in excluded_terms)


def by_artist(info, artist_id, include_features):
    artists = [info.get("primary_artist") or {}] + (info.get("primary_artists") or [])
    if include_features:
        artists += info.get("featured_artists") or []
    return any(a.get("id") == artist_id for a in artists)


def release_date(full_info):
    date = full_info.get("release_date")
    if isinstance(date, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        return date
    parts = full_info.get("release_date_components") or {}
    if all(parts.get(k) for k in ("year", "month", "day")):
        return f"{parts['year']:04d}-{parts['month']:02d}-{parts['day']:02d}"
    return None

# -----------------------------------------------------------------------------
# one artist

def crawl_artist(lyricsgenius, args, query, excluded_terms):
    """Fetch up to --max_songs songs of one artist. Returns (status, reason, stats); never raises."""
    path = os.path.join(args.data_dir, safe_filename(query) + ".json")
    stats = {"new": 0, "duplicates": 0, "no_lyrics": 0}
    name = query
    try:
        record = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                record = json.load(f)
            if record.get("source") != "genius":
                return "failed", f"{path} holds songs imported from {record.get('source')}; " \
                                 "crawl into another --data_dir", stats
            name = record["artist"]
            enough = args.max_songs and len(record["songs"]) >= args.max_songs
            if record.get("complete") and (record.get("exhausted") or enough):
                return "skipped", "already complete", stats
        full = lambda: bool(args.max_songs) and len(record["songs"]) >= args.max_songs
        genius = make_client(lyricsgenius, args)
        if record is None:
            artist = with_retries(args, f"[{query}] search", genius.search_artist, query, max_songs=0)
            if artist is None:
                return "failed", "not found on Genius", stats
            name = artist.name
            record = {"artist": name, "source": "genius", "complete": False,
                      "genius_artist_id": artist.to_dict()["id"], "exhausted": False, "songs": []}
        record["complete"] = False
        artist_id = record["genius_artist_id"]
        have_ids = {s.get("id") for s in record["songs"]}
        log(f"[{name}] {len(record['songs'])} songs on disk, crawling...")
        page, exhausted = 1, False
        while not full():
            listing = with_retries(args, f"[{name}] page {page}", genius.artist_songs,
                                   artist_id, per_page=50, page=page, sort=args.sort)
            for info in listing["songs"]:
                if stop_event.is_set():
                    return "interrupted", "stopped", stats
                if full():
                    break
                if info["id"] in have_ids or not is_lyrics(info, excluded_terms) \
                        or not by_artist(info, artist_id, args.include_features):
                    continue
                primary = (info.get("primary_artist") or {}).get("name") or name
                keys = song_keys(name, {"id": info["id"], "title": info["title"], "primary_artist": primary})
                if not claim(keys, path):
                    stats["duplicates"] += 1
                    continue
                try:
                    url = info["url"]
                    if url.startswith(genius.WEB_ROOT):  # lyricsgenius only strips https://genius.com/
                        url = "https://genius.com/" + url[len(genius.WEB_ROOT):]
                    lyrics = with_retries(args, f"[{name}] {info['title']}", genius.lyrics,
                                          song_url=url)
                    if not lyrics or not lyrics.strip():  # blocked page, or lyrics not on the page
                        release(keys, path)
                        stats["no_lyrics"] += 1
                        log(f"[{name}] no lyrics on the page of '{info['title']}', skipped")
                        continue
                    full_info = with_retries(args, f"[{name}] {info['title']}", genius.song,
                                             info["id"])["song"]
                except BaseException:
                    release(keys, path)
                    raise
                album = full_info.get("album") or {}
                record["songs"].append({"id": info["id"], "title": info["title"],
                                        "album": album.get("name"), "release_date": release_date(full_info),
                                        "url": info.get("url"), "primary_artist": primary,
                                        "lyrics": lyrics})
                have_ids.add(info["id"])
                save_json(path, record)  # after every song: a crash loses nothing
                stats["new"] += 1
                log(f"[{name}] song {len(record['songs'])}: {info['title']}")
            page = listing.get("next_page")
            if not page:
                exhausted = True
                break
        record.update(complete=True, exhausted=exhausted)
        save_json(path, record)
        return "done", f"{len(record['songs'])} songs", stats
    except Exception as e:
        import requests
        if isinstance(e, AssertionError) and "status code: 401" in str(e):
            stop_event.set()
            return "token", "HTTP 401", stats
        retried = isinstance(e, (requests.Timeout, requests.ConnectionError, RetryableStatus))
        return "failed", describe(e) + (f" after {args.retries} retries" if retried else ""), stats

# -----------------------------------------------------------------------------

def log(msg):
    print(msg, flush=True)


def fail(msg, code):
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return code


def main(argv=None):
    global TOKEN
    p = argparse.ArgumentParser(prog=PROG, description="Download lyrics from Genius into one JSON "
                                "file per artist (resumable).")
    p.add_argument("--user_token", help="Genius API access token (default: env GENIUS_ACCESS_TOKEN, "
                   "which is better: command lines are visible to other users)")
    p.add_argument("--data_dir", default="json", help="output folder for <artist>.json (default: json)")
    p.add_argument("--max_songs", type=int, default=40, help="songs per artist, 0 = all (default: 40)")
    p.add_argument("--artist_file", help="text file with one artist name a line (# comments allowed)")
    p.add_argument("--artists", nargs="+", default=[], metavar="A", help="artist names")
    p.add_argument("--workers", type=int, default=1, help="artists crawled in parallel (default: 1)")
    p.add_argument("--timeout", type=float, default=10, help="seconds per request (default: 10)")
    p.add_argument("--retries", type=int, default=3, help="retries per request on timeouts, "
                   "connection errors, 403, 429 and 5xx, with exponential backoff (default: 3)")
    p.add_argument("--sleep", type=float, default=0.5, help="seconds between requests, also the "
                   "first backoff step (default: 0.5)")
    p.add_argument("--sort", default="popularity", choices=["popularity", "title", "release_date"],
                   help="which songs come first (default: popularity)")
    p.add_argument("--include_features", action="store_true", help="also songs the artist is featured on")
    p.add_argument("--excluded_terms", nargs="+", default=[], metavar="TERM",
                   help="extra title terms that mark non-songs, added to lyricsgenius' defaults "
                   "(tracklist, skit, interview, ...)")
    args = p.parse_args(argv)
    seen.clear()
    stop_event.clear()

    if args.max_songs < 0 or args.workers < 1 or args.retries < 0 or args.timeout <= 0 or args.sleep < 0:
        return fail("--max_songs, --retries and --sleep must be >= 0, --workers >= 1, --timeout > 0", 2)
    TOKEN = (args.user_token or os.environ.get("GENIUS_ACCESS_TOKEN") or "").strip()
    if not TOKEN:
        return fail("no Genius token: pass --user_token or set GENIUS_ACCESS_TOKEN "
                    "(get one at https://genius.com/api-clients)", 2)
    queries = list(args.artists)
    if args.artist_file:
        try:
            with open(args.artist_file, encoding="utf-8") as f:
                queries += [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
        except (OSError, UnicodeDecodeError) as e:
            return fail(f"cannot read --artist_file {args.artist_file}: {e.strerror or e}", 1)
    unique = {}
    for q in queries:  # 'AC/DC' and 'AC_DC' would share a file: keep the first
        unique.setdefault(safe_filename(q).lower(), q)
    queries = list(unique.values())
    if not queries:
        return fail("no artists: give --artists A B ... or an --artist_file with one name a line", 2)
    if sys.version_info < (3, 11):
        return fail("needs Python >= 3.11 (lyricsgenius 3.15)", 1)
    try:
        import lyricsgenius
    except ImportError:
        return fail("lyricsgenius is not installed: pip install lyricsgenius==3.15.0", 1)
    try:
        os.makedirs(args.data_dir, exist_ok=True)
    except OSError as e:
        return fail(f"cannot create --data_dir {args.data_dir}: {e.strerror}", 1)
    load_seen(args.data_dir)
    excluded_terms = lyricsgenius.Genius.default_terms + args.excluded_terms

    results = {}
    pool = ThreadPoolExecutor(max_workers=args.workers)
    try:
        futures = {pool.submit(crawl_artist, lyricsgenius, args, q, excluded_terms): q for q in queries}
        for fut in as_completed(futures):
            status, reason, stats = results[futures[fut]] = fut.result()
            if status in ("failed", "token"):
                log(f"[{futures[fut]}] failed: {reason}")
    except KeyboardInterrupt:
        stop_event.set()
        pool.shutdown(wait=True, cancel_futures=True)
        return fail("interrupted: every song fetched so far is saved; re-run the same command to resume", 130)
    pool.shutdown()

    if any(status == "token" for status, _, _ in results.values()):
        return fail("Genius rejected the access token (HTTP 401): check --user_token / GENIUS_ACCESS_TOKEN", 1)
    count = lambda s: sum(1 for st, _, _ in results.values() if st == s)
    total = lambda key: sum(stats[key] for _, _, stats in results.values())
    failed = [f"{q} ({reason})" for q, (st, reason, _) in results.items() if st == "failed"]
    log(f"summary: {count('done')} artists done, {count('skipped')} skipped (already complete), "
        f"{len(failed)} failed; songs: {total('new')} new, {total('duplicates')} duplicates skipped, "
        f"{total('no_lyrics')} without lyrics; files in {args.data_dir}")
    if failed:
        log("failed: " + "; ".join(failed) + " -- re-run the same command to retry them")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
