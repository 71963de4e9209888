"""
The files crawl.py, import_csv.py and preprocess.py share: one name per artist file, written atomically.
(The scripts import it as a sibling: python puts a script's own folder first on sys.path.)
"""
import json
import os
import re
import threading
import unicodedata


def safe_filename(name):
    """A file name (no extension) that is valid on Linux, macOS and Windows: 'AC/DC' -> 'AC_DC'. Crawls and
    imports of one artist land in the same file."""
    name = unicodedata.normalize("NFC", name)
    name = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]', "_", name).strip().rstrip(". ")
    if re.fullmatch(r"(?i)(con|prn|aux|nul|com\d|lpt\d)", name):  # reserved device names on Windows
        name += "_"
    name = name.encode("utf-8")[:150].decode("utf-8", "ignore")   # stay far below 255 bytes
    return name or "_"


def save_json(path, obj):
    """Write to a temporary name in the same folder, then rename: readers never see half a file (the name
    carries process and thread, so crawl workers never share one)."""
    tmp = f"{path}.tmp{os.getpid()}.{threading.get_ident()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
