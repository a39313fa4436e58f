"""External inputs (diffusion checkpoints, the BKSE blur model, test-set archives): where they come
from, downloading them safely, and the provenance of what was used.

An ``ExternalInput`` names a file or image folder that a configuration needs, the config key that
asks for it, its source URLs (tried in order) and, where known, its size and sha256. ``fetch``
downloads a missing one: streamed with a progress bar into ``<target>.part`` beside the target,
resumed with an HTTP Range request after a cut, renamed only after the size and sha256 pass (when
known); a test-set archive is unpacked into the image folder (the first ``count`` images, sorted
by name) with a manifest. A file already at the target is never touched. ``provenance`` records,
for every input, fetched or placed by hand, its source, size and sha256.

URLs are plain ``https://`` (or ``http://``) addresses, or ``gdrive:FILE_ID`` for files that only
Google Drive serves (downloaded with ``gdown``).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import socket
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from ..checkpoints import sha256_of
from ..data import IMAGE_SUFFIXES, list_images

TIMEOUT_S = 60
ATTEMPTS = 3  # transfers per URL: the first, then resumes after a cut
CHUNK = 1 << 20


class FetchError(RuntimeError):
    """An input could not be had; the message names the URL(s) and where to place it by hand."""


@dataclass(frozen=True)
class ExternalInput:
    key: str  # config key that asks for it, e.g. "datasets.ffhq.prior.checkpoint"
    path: str  # a file, or an image folder when ``folder`` is true
    urls: tuple[str, ...] = ()
    sha256: str | None = None  # of the downloaded file (the archive, for a folder)
    size: int | None = None  # bytes, likewise
    folder: bool = False  # an image folder; its URLs serve a zip/tar of images, unpacked into it
    count: int | None = None  # images to keep from the archive (first, sorted by name)
    note: str = ""  # what we could not confirm about the source
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self) -> str:
        return self.key.replace(".", "_")

    def present(self) -> bool:
        return Path(self.path).is_dir() if self.folder else Path(self.path).is_file()

    def where_to_get(self) -> str:
        def readable(url):
            return f"https://drive.google.com/uc?id={url.removeprefix('gdrive:')}" if url.startswith("gdrive:") else url
        where = " or ".join(map(readable, self.urls)) if self.urls else "no source URL is configured"
        what = "unpack its images into the folder" if self.folder else "place the file"
        note = f"; note: {self.note}" if self.note else ""
        return f"{self.key} = {self.path!r}: {what} by hand, from {where}{note}"


def source_record_path(path: str | Path) -> Path:
    """The sidecar that says where a fetched file or folder came from."""
    path = Path(path)
    return path.with_name(path.name + ".source.json")


# ---- downloading ------------------------------------------------------------------------------

def _checked(part: Path, url: str, sha256: str | None, size: int | None) -> str:
    """The sha256 of a completed download; a size or hash mismatch removes it and raises."""
    got_size = part.stat().st_size
    if size is not None and got_size != size:
        part.unlink()
        raise FetchError(f"{url}: expected {size} bytes, got {got_size}; nothing was kept")
    got = sha256_of(part)
    if sha256 is not None and got.lower() != sha256.lower():
        part.unlink()
        raise FetchError(f"{url}: expected sha256 {sha256}, got {got}; nothing was kept")
    return got


def _http_transfer(url: str, part: Path, progress: bool) -> bool:
    """Append to ``part`` from ``url``, resuming from its size; True when the body was complete."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "spgd-fetch"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing left to send: the part file is complete
            return True
        raise
    with response:
        if offset and response.status != 206:  # the server ignored the range: start again
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        with open(part, "ab" if offset else "wb") as handle, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, desc=Path(part.name).stem,
            file=sys.stderr, disable=not progress, mininterval=1,
        ) as bar:
            received = offset
            try:
                while block := response.read(CHUNK):
                    handle.write(block)
                    received += len(block)
                    bar.update(len(block))
            except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError):
                return False
    return total is None or received >= total


def _gdrive_transfer(file_id: str, part: Path, progress: bool) -> bool:
    try:
        import gdown
    except ImportError:
        raise FetchError("gdown is not installed (pip install gdown): needed for Google Drive sources") from None
    result = gdown.download(id=file_id, output=str(part), quiet=not progress, resume=True)
    if result is None:
        raise FetchError(f"gdown could not download Google Drive file {file_id}")
    return True


def download(url: str, target: str | Path, *, sha256: str | None = None, size: int | None = None,
             progress: bool = True) -> str:
    """Download ``url`` to ``target`` through ``<target>.part`` (resumed if present); returns the
    sha256. Nothing is ever written under ``target`` unless the size and sha256 (when given)
    pass. Raises FetchError naming the URL on HTTP errors, timeouts and refused connections."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(TIMEOUT_S)  # a firewalled network must fail, not hang
    try:
        for attempt in range(ATTEMPTS):
            if url.startswith("gdrive:"):
                complete = _gdrive_transfer(url.removeprefix("gdrive:"), part, progress)
            else:
                complete = _http_transfer(url, part, progress)
            if complete:
                break
        else:
            have = part.stat().st_size if part.exists() else 0
            raise FetchError(f"{url}: the transfer broke off {ATTEMPTS} times ({have} bytes kept in "
                             f"{part}; run again to resume)")
    except urllib.error.HTTPError as error:
        raise FetchError(f"{url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise FetchError(f"{url}: cannot connect ({error.reason})") from None
    except (socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException) as error:
        raise FetchError(f"{url}: {type(error).__name__}: {error}") from None
    finally:
        socket.setdefaulttimeout(previous)
    digest = _checked(part, url, sha256, size)
    os.replace(part, target)
    return digest


# ---- archives ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _image_members(archive: Path):
    """{member name: opener} for the image files of a zip or tar archive (regular files only)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as handle:
            yield {i.filename: (lambda i=i: handle.open(i)) for i in handle.infolist()
                   if not i.is_dir() and PurePosixPath(i.filename).suffix.lower() in IMAGE_SUFFIXES}
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as handle:
            yield {m.name: (lambda m=m: handle.extractfile(m)) for m in handle.getmembers()
                   if m.isfile() and PurePosixPath(m.name).suffix.lower() in IMAGE_SUFFIXES}
    else:
        raise FetchError(f"{archive} is neither a zip nor a tar archive")


def unpack_images(archive: str | Path, folder: str | Path, count: int | None = None) -> list[dict]:
    """Copy the first ``count`` images of ``archive`` (sorted by file name) into ``folder``, flat,
    with ``manifest.csv`` (file, member, sha256); the folder appears only when complete. Member
    paths are never used as paths: only their base names, so nothing lands outside ``folder``."""
    with _image_members(Path(archive)) as members:
        return _unpack(members, Path(archive), Path(folder), count)


def _unpack(members: dict, archive: Path, folder: Path, count: int | None) -> list[dict]:
    by_name = {}
    for member in sorted(members):
        base = PurePosixPath(member).name
        if base.startswith("."):
            continue  # macOS resource forks (._x.png) and the like
        if base in by_name:
            raise FetchError(f"{archive}: two images named {base} ({by_name[base]} and {member})")
        by_name[base] = member
    chosen = sorted(by_name)[:count] if count is not None else sorted(by_name)
    if count is not None and len(chosen) < count:
        raise FetchError(f"{archive}: {len(chosen)} images, {count} asked for")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        rows = []
        for base in chosen:
            with members[by_name[base]]() as source, open(staging / base, "wb") as out:
                shutil.copyfileobj(source, out)
            rows.append(dict(file=base, member=by_name[base], sha256=sha256_of(staging / base)))
        with open(staging / "manifest.csv", "w") as handle:
            handle.write("file,member,sha256\n")
            handle.writelines(f"{r['file']},{r['member']},{r['sha256']}\n" for r in rows)
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return rows


# ---- fetching and provenance ------------------------------------------------------------------

def fetch(item: ExternalInput, progress: bool = True) -> dict:
    """Make ``item`` present: download it (unpacking an archive) unless it is already there.
    Tries its URLs in order; returns its provenance record. Raises FetchError with every URL's
    failure and where to place the input by hand."""
    if item.present():
        return provenance(item)
    if not item.urls:
        raise FetchError(f"no source to fetch from; {item.where_to_get()}")
    failures = []
    for url in item.urls:
        target = Path(item.path + ".archive") if item.folder else Path(item.path)
        try:
            digest = download(url, target, sha256=item.sha256, size=item.size, progress=progress)
            if item.folder:
                try:
                    unpack_images(target, item.path, item.count)
                finally:
                    target.unlink(missing_ok=True)
        except FetchError as error:
            failures.append(str(error))
            continue
        record = dict(url=url, size=item.size, sha256=digest, configured_sha256=item.sha256,
                      archive=item.folder)
        source_record_path(item.path).write_text(json.dumps(record, indent=1))
        return provenance(item)
    raise FetchError(f"could not fetch {item.path}: " + "; ".join(failures) + f". Else {item.where_to_get()}")


def folder_sha256(folder: str | Path) -> str:
    """One digest of an image folder: sha256 over its sorted "name sha256" lines."""
    lines = "".join(f"{p.name} {sha256_of(p)}\n" for p in list_images(folder))
    return hashlib.sha256(lines.encode()).hexdigest()


def provenance(item: ExternalInput) -> dict:
    """Where ``item`` came from (the fetch record, or "placed by hand"), its size and sha256
    (files: of the file; folders: ``folder_sha256`` and the image count)."""
    path = Path(item.path)
    if not item.present():
        raise FetchError(f"{item.key}: {item.path} is missing; {item.where_to_get()}")
    fetched = json.loads(source_record_path(path).read_text()) if source_record_path(path).is_file() else None
    record = dict(key=item.key, path=item.path, kind="image folder" if item.folder or path.is_dir() else "file",
                  source=f"fetched from {fetched['url']}" if fetched else "placed by hand",
                  configured_sha256=item.sha256, **item.meta)
    if path.is_dir():
        record.update(images=len(list_images(path)), size=sum(p.stat().st_size for p in list_images(path)),
                      sha256=folder_sha256(path))
        if fetched:
            record.update(archive_sha256=fetched["sha256"])
    else:
        record.update(size=path.stat().st_size, sha256=sha256_of(path))
    checked = record.get("archive_sha256", record["sha256"]) if fetched or not path.is_dir() else None
    record["sha256_matches"] = (None if item.sha256 is None or checked is None
                                else checked.lower() == item.sha256.lower())
    return record


def missing_inputs_message(missing: list[ExternalInput]) -> str:
    return ("missing inputs (nothing was run; set fetch: true to download them):\n"
            + "\n".join(f"  - {item.where_to_get()}" for item in missing))


def external_inputs(config: dict) -> list[ExternalInput]:
    """Every file or image folder a workflow configuration reads from outside the project: ADM
    (and retrained demo) checkpoints, the nonlinear-blur weights, image folders. One entry per
    path, keyed by the first config key that names it."""
    found: dict[str, ExternalInput] = {}

    def add(key, path, source, **extra):
        if path and path not in found:
            source = source or {}
            found[path] = ExternalInput(key=key, path=path, urls=tuple(source.get("urls", ())),
                                        size=source.get("size"), note=source.get("note", ""), **extra)

    for name, dataset in config["datasets"].items():
        own = "prior" in dataset
        prior = dataset.get("prior", config["prior"])
        if prior["type"] in ("adm", "edm_unet") and prior.get("checkpoint"):
            add(f"datasets.{name}.prior.checkpoint" if own else "prior.checkpoint", prior["checkpoint"],
                prior.get("source"), sha256=prior.get("sha256"),
                meta=dict(architecture=prior.get("architecture", prior["type"])))
        if dataset["kind"] == "image_folder" and dataset.get("path"):
            count = dataset.get("count")
            add(f"datasets.{name}.path", dataset["path"], dataset.get("source"), folder=True,
                sha256=(dataset.get("source") or {}).get("sha256"),
                count=None if count is None else dataset.get("start", 0) + count)
    blur = config["tasks"].get("nonlinear_blur")
    if blur is not None:
        add("tasks.nonlinear_blur.weights", blur.get("weights", ""), blur.get("source"), sha256=blur.get("sha256"))
    return list(found.values())
