"""Files written whole or not at all: a run killed mid-write leaves the previous version (or nothing), never half.

The temporary file is the writing process's own, so processes writing the same file (DDP ranks) do not collide.
"""

import hashlib
import json
import os


def atomic_write(path, write):
    """Calls `write(f)` on a temporary text file, then renames it: no half file after a kill. The temporary
    file is the process's own, so processes writing the same file (DDP ranks) do not collide."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.part{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        write(f)
    os.replace(tmp, path)


def write_json(path, data, indent=2):
    atomic_write(path, lambda f: json.dump(data, f, indent=indent))


def write_text(path, text):
    """Writes `text` (newline-terminated) atomically; returns `path`."""
    atomic_write(path, lambda f: f.write(text if text.endswith("\n") else text + "\n"))
    return path


def file_sha1(path):
    """sha1 hex digest of a file's content (trial lists, pooled manifests, model checkpoints)."""
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()
