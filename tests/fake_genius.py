"""
A fake Genius on 127.0.0.1 for the crawler tests: the developer API (/v1/), the public search API
(/api/) and song pages (/web/) with lyrics in `data-lyrics-container` divs, shaped like the real
answers lyricsgenius 3.15 reads. Faults are injected per path: "500", "403" or "timeout"; a list
is used up one answer at a time, and a last item ending in "*" repeats forever. A song with
"empty_page" gets a page without lyrics (as when Genius blocks a scraper), an unknown name gets
no search hits, a wrong token gets 401. `on_request(path)` is called before each answer (to
kill or interrupt a client mid-crawl).
"""

import html
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").capitalize()


class FakeGenius:
    def __init__(self, artists, token="test-token", page_size=3, slow_seconds=1.0):
        # artists: [{"id", "name", "songs": [{"id", "title", "lyrics", "album"?, "release_date"?,
        #            "lyrics_state"?, "instrumental"?, "featured"? (artist ids), "empty_page"?}]}]
        self.artists = {a["id"]: a for a in artists}
        self.token = token
        self.page_size = page_size          # the real API pages by per_page; smaller pages test paging
        self.slow_seconds = slow_seconds    # how long a "timeout" fault stalls
        self.faults = {}
        self.requests = []
        self.auth_headers = set()
        self.on_request = None
        self.lock = threading.Lock()
        self.songs = {s["id"]: (a, s) for a in artists for s in a["songs"]}

    # -- data in Genius' shapes ------------------------------------------------
    def artist_json(self, a):
        return {"id": a["id"], "name": a["name"], "api_path": f"/artists/{a['id']}",
                "url": f"https://genius.com/artists/{slug(a['name'])}", "header_image_url": "",
                "image_url": "", "is_meme_verified": False, "is_verified": True}

    def song_path(self, a, s):
        return f"{slug(a['name'] + ' ' + s['title'])}-lyrics"

    def song_json(self, a, s, full=False):
        date = s.get("release_date")
        parts = dict(zip(("year", "month", "day"), map(int, date.split("-")))) if date else None
        info = {"id": s["id"], "title": s["title"], "api_path": f"/songs/{s['id']}",
                "path": "/" + self.song_path(a, s), "url": "https://genius.com/" + self.song_path(a, s),
                "lyrics_state": s.get("lyrics_state", "complete"), "instrumental": s.get("instrumental", False),
                "primary_artist": self.artist_json(a), "primary_artists": [self.artist_json(a)],
                "featured_artists": [self.artist_json(self.artists[i]) for i in s.get("featured", [])],
                "release_date_components": parts}
        if full:
            info["album"] = {"id": 1, "name": s["album"]} if s.get("album") else None
            info["release_date"] = s.get("release_date")
        return info

    def page_html(self, s):
        if s.get("empty_page"):
            return "<html><body><div class='LyricsPlaceholder'>Lyrics for this song have yet to be " \
                   "released.</div></body></html>"
        # two containers split at the first blank line, with a header div lyricsgenius must drop
        parts = s["lyrics"].split("\n\n", 1)
        divs = []
        for i, part in enumerate(parts):
            body = "<br/>".join(html.escape(line) for line in part.split("\n"))
            header = "<div class='LyricsHeader__Container'>3 Contributors</div>" if i == 0 else ""
            divs.append(f"<div data-lyrics-container='true' class='Lyrics__Container'>{header}{body}"
                        + ("<br/><br/>" if i + 1 < len(parts) else "") + "</div>")
        return f"<html><body><div id='lyrics-root'>{''.join(divs)}</div></body></html>"

    # -- routing ---------------------------------------------------------------
    def answer(self, handler):
        url = urlparse(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.lock:
            self.requests.append(handler.path)
            if url.path.startswith("/v1/"):
                self.auth_headers.add(handler.headers.get("authorization"))
            actions = self.faults.get(url.path, [])
            action = actions[0] if actions else None
            if action and not action.endswith("*"):
                actions.pop(0)
        if self.on_request:
            self.on_request(url.path)
        if action:
            action = action.rstrip("*")
            if action == "timeout":
                time.sleep(self.slow_seconds)
                return 200, "application/json", {"meta": {"status": 200}, "response": {}}
            if action in ("500", "403"):
                return int(action), "text/html", f"<html>error {action}</html>"
        if url.path.startswith("/v1/"):
            if handler.headers.get("authorization") != f"Bearer {self.token}":
                return 401, "application/json", {"meta": {"status": 401, "message": "invalid token"}}
            return self.api(url.path[len("/v1/"):], query)
        if url.path == "/api/search/multi":
            return self.search(query.get("q", ""))
        if url.path.startswith("/web/"):
            for a, s in self.songs.values():
                if self.song_path(a, s) == url.path[len("/web/"):]:
                    return 200, "text/html", self.page_html(s)
        return 404, "text/html", "<html>not found</html>"

    def api(self, path, query):
        m = re.fullmatch(r"artists/(\d+)(/songs)?", path)
        if m and int(m.group(1)) in self.artists:
            a = self.artists[int(m.group(1))]
            if not m.group(2):
                return self.ok({"artist": self.artist_json(a)})
            songs = list(a["songs"]) + [s for b in self.artists.values() for s in b["songs"]
                                        if a["id"] in s.get("featured", [])]
            if query.get("sort") == "title":
                songs.sort(key=lambda s: s["title"].lower())
            page, size = int(query.get("page") or 1), min(int(query.get("per_page") or 20), self.page_size)
            chunk = songs[(page - 1) * size: page * size]
            owner = lambda s: self.songs[s["id"]][0]
            return self.ok({"songs": [self.song_json(owner(s), s) for s in chunk],
                            "next_page": page + 1 if page * size < len(songs) else None})
        m = re.fullmatch(r"songs/(\d+)", path)
        if m and int(m.group(1)) in self.songs:
            return self.ok({"song": self.song_json(*self.songs[int(m.group(1))], full=True)})
        return 404, "application/json", {"meta": {"status": 404, "message": "Not found"}}

    def search(self, q):
        hits = [{"index": "artist", "type": "artist", "result": self.artist_json(a)}
                for a in self.artists.values() if q.lower() in a["name"].lower() or a["name"].lower() in q.lower()]
        sections = [{"type": "top_hit", "hits": hits[:1]}, {"type": "song", "hits": []},
                    {"type": "artist", "hits": hits[:5]}]
        return self.ok({"sections": sections})

    def ok(self, response):
        return 200, "application/json", {"meta": {"status": 200}, "response": response}

    # -- server ----------------------------------------------------------------
    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, ctype, body = fake.answer(self)
                data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype + "; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout) or was killed
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def env(self):
        return {"GENIUS_API_ROOT": self.base + "/v1/", "GENIUS_PUBLIC_API_ROOT": self.base + "/api/",
                "GENIUS_WEB_ROOT": self.base + "/web/", "GENIUS_ACCESS_TOKEN": self.token}

    def count(self, prefix):
        with self.lock:
            return sum(1 for r in self.requests if r.startswith(prefix))
