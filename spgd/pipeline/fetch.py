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
    limits: "ArchiveLimits | None" = None  # what unpacking its archive may write (folders)
    pin_file: str | None = None  # where its first fetch records size and sha256 (``fetch``)
    # that record, when there is one: later fetches and runs must match it (left out of the repr, so
    # that a pin written by a first fetch does not count as a changed setting of later jobs)
    pinned: dict | None = field(default=None, repr=False, compare=False)

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


class _StartOver(Exception):
    """The bytes kept so far cannot be continued (no validator, a range the server did not honour,
    416): the part file is dropped and the transfer starts at byte 0."""


def _validator_path(part: Path) -> Path:
    """Beside a part file: the URL and validator (ETag, else Last-Modified) its bytes came with."""
    return part.with_name(part.name + ".json")


def _resume_headers(url: str, part: Path) -> dict:
    """Range and If-Range to continue ``part``: only from the same URL with a validator, so that a
    file changed on the server since is sent whole (200) instead of spliced; {} to start over."""
    if not part.exists() or not part.stat().st_size:
        return {}
    record = json.loads(_validator_path(part).read_text()) if _validator_path(part).is_file() else {}
    if record.get("url") != url or not record.get("validator"):
        return {}
    return {"Range": f"bytes={part.stat().st_size}-", "If-Range": record["validator"]}


def _content_range_start(header: str | None) -> int | None:
    """The first byte of a 206 response's ``Content-Range: bytes FIRST-LAST/TOTAL``."""
    try:
        unit, span = (header or "").split(" ", 1)
        return int(span.split("-", 1)[0]) if unit == "bytes" else None
    except ValueError:
        return None


def _http_transfer(url: str, part: Path, progress: bool, checked_after: bool) -> bool:
    """Write ``url`` into ``part``, continuing it where that is safe; True when the body is
    complete. A body of unknown length (no Content-Length, not chunked) is accepted only when
    ``checked_after`` (a size or sha256 will check it). Raises _StartOver when the kept bytes
    cannot be continued."""
    headers = _resume_headers(url, part)
    if not headers:
        part.unlink(missing_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": "spgd-fetch", **headers})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416 and headers:  # not "complete": the file may have shrunk or changed
            raise _StartOver(f"HTTP 416 for a range from byte {part.stat().st_size}") from None
        raise
    with response:
        offset = part.stat().st_size if headers else 0
        if headers and response.status == 206 and _content_range_start(response.headers.get("Content-Range")) != offset:
            raise _StartOver(f"asked for bytes from {offset}, got Content-Range "
                             f"{response.headers.get('Content-Range')!r}")
        if headers and response.status != 206:  # range ignored, or the file changed (If-Range): whole file
            offset = 0
        length = response.headers.get("Content-Length")
        if length is None and not response.chunked and not checked_after:
            raise FetchError(f"{url}: the server sent neither Content-Length nor a chunked body, so a transfer cut "
                             "short cannot be told from a complete one; configure the file's sha256 (or size)")
        etag = response.headers.get("ETag")  # If-Range takes only a strong one: a weak W/"..." is no use
        validator = etag if etag and not etag.startswith("W/") else response.headers.get("Last-Modified")
        _validator_path(part).write_text(json.dumps(dict(url=url, validator=validator)))
        expected = offset + int(length) if length is not None else None
        with open(part, "ab" if offset else "wb") as handle, tqdm(
            total=expected, initial=offset, unit="B", unit_scale=True, desc=Path(part.name).stem,
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
    if expected is not None and received > expected:
        raise _StartOver(f"received {received} bytes where Content-Length promised {expected}")
    return expected is None or received == expected


def _gdrive_transfer(file_id: str, part: Path, progress: bool) -> bool:
    try:
        import gdown
    except ImportError:
        raise FetchError("gdown is not installed (pip install gdown): needed for Google Drive sources") from None
    result = gdown.download(id=file_id, output=str(part), quiet=not progress, resume=True)
    if result is None:
        raise FetchError(f"gdown could not download Google Drive file {file_id}")
    return True


SCHEMES = ("https://", "http://", "gdrive:")


def download(url: str, target: str | Path, *, sha256: str | None = None, size: int | None = None,
             progress: bool = True) -> str:
    """Download ``url`` (``https://``, ``http://`` or ``gdrive:FILE_ID``) to ``target`` through
    ``<target>.part``; returns the sha256. Nothing is ever written under ``target`` unless the
    transfer is complete (Content-Length, or a chunked body's end) and the size and sha256, when
    given, match. A part file left by an earlier run is continued only with the validator it came
    with (If-Range) and only where the server's Content-Range starts at its end; otherwise, and
    after a 416, the file starts again at byte 0. Raises FetchError naming the URL on HTTP errors,
    timeouts and refused connections."""
    if not url.startswith(SCHEMES):
        raise FetchError(f"{url}: only {', '.join(SCHEMES)} sources are fetched")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    checked_after = bool(sha256 or size)
    if url.startswith("gdrive:"):  # gdown resumes by itself: only bytes a sha256 or size will check
        continues_kept_bytes = part.exists() and checked_after
        if not continues_kept_bytes:
            part.unlink(missing_ok=True)
    else:
        continues_kept_bytes = bool(_resume_headers(url, part))
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(TIMEOUT_S)  # a firewalled network must fail, not hang
    restarts = []
    try:
        for attempt in range(ATTEMPTS):
            try:
                if url.startswith("gdrive:"):
                    complete = _gdrive_transfer(url.removeprefix("gdrive:"), part, progress)
                else:
                    complete = _http_transfer(url, part, progress, checked_after)
            except _StartOver as reason:
                restarts.append(str(reason))
                part.unlink(missing_ok=True)
                continue
            if complete:
                break
        else:
            have = part.stat().st_size if part.exists() else 0
            why = f" (started over: {'; '.join(restarts)})" if restarts else ""
            raise FetchError(f"{url}: no complete transfer in {ATTEMPTS} tries{why}; {have} bytes kept in {part}, "
                             "run again to resume")
    except urllib.error.HTTPError as error:
        raise FetchError(f"{url}: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise FetchError(f"{url}: cannot connect ({error.reason})") from None
    except (socket.timeout, TimeoutError, ConnectionError, http.client.HTTPException) as error:
        raise FetchError(f"{url}: {type(error).__name__}: {error}") from None
    finally:
        socket.setdefaulttimeout(previous)
    try:
        digest = _checked(part, url, sha256, size)
    except FetchError:
        if continues_kept_bytes:  # the bytes an earlier run left may be what is wrong: once more, whole
            return download(url, target, sha256=sha256, size=size, progress=progress)
        raise
    finally:
        _validator_path(part).unlink(missing_ok=True)
    os.replace(part, target)
    return digest


# ---- archives ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ArchiveLimits:
    """What unpacking a test-set archive may write (config ``archive_limits``). The defaults fit
    100 images at 256 px with a wide margin (a 256 px 16-bit RGBA image is 0.5 MiB uncompressed;
    ImageNet's original JPEGs average about 0.1 MiB) and stop a decompression bomb long before a
    disk fills: ``member_mb`` per image file, ``total_mb`` for all images unpacked, and
    ``max_ratio``, the largest uncompressed-to-compressed size ratio of a zip member (image files
    are compressed already: a natural image's PNG or JPEG deflates by well under 2)."""

    member_mb: float = 16
    total_mb: float = 256
    max_ratio: float = 100


@dataclass(frozen=True)
class _Member:
    name: str
    size: int  # uncompressed bytes, as the archive declares them
    compressed: int | None  # zip members only (a tar is compressed as one stream, if at all)
    open: object


@contextlib.contextmanager
def _image_members(archive: Path):
    """{member name: _Member} for the image files of a zip or tar archive (regular files only:
    links, devices and folders are never unpacked)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as handle:
            yield {i.filename: _Member(i.filename, i.file_size, i.compress_size, lambda i=i: handle.open(i))
                   for i in handle.infolist()
                   if not i.is_dir() and PurePosixPath(i.filename).suffix.lower() in IMAGE_SUFFIXES}
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as handle:
            yield {m.name: _Member(m.name, m.size, None, lambda m=m: handle.extractfile(m)) for m in handle.getmembers()
                   if m.isfile() and PurePosixPath(m.name).suffix.lower() in IMAGE_SUFFIXES}
    else:
        raise FetchError(f"{archive} is neither a zip nor a tar archive")


def unpack_images(archive: str | Path, folder: str | Path, count: int | None = None,
                  limits: ArchiveLimits | None = None) -> list[dict]:
    """Copy the first ``count`` images of ``archive`` (sorted by file name) into ``folder``, flat,
    with ``manifest.csv`` (file, member, sha256); the folder appears only when complete. Only image
    files are unpacked, within ``limits`` (``ArchiveLimits``; checked on the declared sizes first
    and on the bytes actually written, so an archive that understates a size is stopped too).
    Member paths are never used as paths: only their base names, so nothing lands outside
    ``folder``."""
    with _image_members(Path(archive)) as members:
        return _unpack(members, Path(archive), Path(folder), count, limits or ArchiveLimits())


def _copy_capped(source, out, cap: int, what: str) -> int:
    """Copy at most ``cap`` bytes; FetchError naming ``what`` past that."""
    written = 0
    while block := source.read(CHUNK):
        written += len(block)
        if written > cap:
            raise FetchError(what)
        out.write(block)
    return written


def _check_limits(chosen: list[_Member], archive: Path, limits: ArchiveLimits) -> None:
    """FetchError naming the first member over ``limits`` by its declared sizes."""
    for member in chosen:
        if member.size > limits.member_mb * 2**20:
            raise FetchError(f"{archive}: member {member.name} holds {member.size:,} bytes uncompressed, over "
                             f"archive_limits.member_mb {limits.member_mb:g} MiB; nothing was unpacked")
        if member.compressed is not None and member.size > limits.max_ratio * max(member.compressed, 1):
            raise FetchError(f"{archive}: member {member.name} expands {member.size / max(member.compressed, 1):,.0f}"
                             f" times ({member.compressed:,} to {member.size:,} bytes), over archive_limits.max_ratio "
                             f"{limits.max_ratio:g}: not the image file it claims to be; nothing was unpacked")
    declared = sum(member.size for member in chosen)
    if declared > limits.total_mb * 2**20:
        raise FetchError(f"{archive}: the {len(chosen)} images hold {declared:,} bytes uncompressed, over "
                         f"archive_limits.total_mb {limits.total_mb:g} MiB; nothing was unpacked")


def _unpack(members: dict, archive: Path, folder: Path, count: int | None, limits: ArchiveLimits) -> list[dict]:
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
    _check_limits([members[by_name[base]] for base in chosen], archive, limits)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        rows, left = [], int(limits.total_mb * 2**20)
        for base in chosen:
            member = members[by_name[base]]
            with member.open() as source, open(staging / base, "wb") as out:
                left -= _copy_capped(source, out, min(member.size, left),
                                     f"{archive}: member {member.name} unpacks to more than the {member.size:,} bytes "
                                     "it declares; nothing was unpacked")
            rows.append(dict(file=base, member=member.name, sha256=sha256_of(staging / base)))
        with open(staging / "manifest.csv", "w") as handle:
            handle.write("file,member,sha256\n")
            handle.writelines(f"{r['file']},{r['member']},{r['sha256']}\n" for r in rows)
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return rows


# ---- pins: trust on first use ---------------------------------------------------------------

PIN_FILE = "inputs.lock.json"


class PinMismatch(FetchError):
    """An input differs from what its first fetch recorded in the pin file."""

    def __init__(self, what: str, pin_file, expected: str, got: str):
        super().__init__(f"{what}: {pin_file} pins sha256 {expected}, the input now has {got}. It changed since it "
                         f"was fetched: restore it, or delete its entry in {pin_file} to accept the new one")


def read_pins(pin_file: str | Path) -> dict[str, dict]:
    """{input path: {size, sha256, folder_sha256 (folders), source}} of a pin file; {} when there is
    none. The file is JSON: reading it never runs code."""
    path = Path(pin_file)
    if not path.is_file():
        return {}
    try:
        pins = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FetchError(f"{path}: not a readable pin file ({error})") from None
    if not isinstance(pins, dict) or not all(isinstance(v, dict) and "sha256" in v for v in pins.values()):
        raise FetchError(f"{path}: expected {{input path: {{size, sha256, ...}}}}")
    return pins


def _write_pin(pin_file: str | Path, path: str, record: dict) -> None:
    """Add ``path``'s record to the pin file, written whole and renamed into place under a lock on
    its folder (fetch jobs run side by side)."""
    import fcntl

    pin_file = Path(pin_file)
    pin_file.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(pin_file.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        pins = read_pins(pin_file)
        pins[path] = record
        staging = pin_file.with_name(pin_file.name + f".{os.getpid()}.tmp")
        staging.write_text(json.dumps(dict(sorted(pins.items())), indent=1) + "\n")
        os.replace(staging, pin_file)
    finally:
        os.close(folder)  # releases the lock


def check_pin(item: ExternalInput, record: dict) -> None:
    """Raise PinMismatch when ``record`` (``provenance``'s, of the input as it is now) differs from
    the input's pin; a folder is compared by its images (``folder_sha256``)."""
    if not item.pinned:
        return
    key = "folder_sha256" if record["kind"] == "image folder" else "sha256"
    expected, got = item.pinned.get(key), record["sha256"]
    if expected is not None and expected.lower() != got.lower():
        raise PinMismatch(f"{item.key} = {item.path!r}", item.pin_file, expected, got)


# ---- fetching and provenance ------------------------------------------------------------------

def fetch(item: ExternalInput, progress: bool = True) -> dict:
    """Make ``item`` present: download it (unpacking an archive) unless it is already there.
    Tries its URLs in order; returns its provenance record. Raises FetchError with every URL's
    failure and where to place the input by hand."""
    if item.present():
        return provenance(item)
    if not item.urls:
        raise FetchError(f"no source to fetch from; {item.where_to_get()}")
    pinned = item.pinned or {}
    failures = []
    for url in item.urls:
        target = Path(item.path + ".archive") if item.folder else Path(item.path)
        try:
            digest = download(url, target, sha256=item.sha256 or pinned.get("sha256"),
                              size=item.size or pinned.get("size"), progress=progress)
            size = target.stat().st_size
            if item.folder:
                try:
                    unpack_images(target, item.path, item.count, item.limits)
                finally:
                    target.unlink(missing_ok=True)
        except FetchError as error:
            failures.append(str(error))
            continue
        record = dict(url=url, size=size, sha256=digest, configured_sha256=item.sha256, archive=item.folder)
        source_record_path(item.path).write_text(json.dumps(record, indent=1))
        found = provenance(item)
        if item.pin_file and not item.pinned:  # trust on first use: later fetches and runs must match
            _write_pin(item.pin_file, item.path, dict(size=size, sha256=digest, source=url, **(
                {"folder_sha256": found["sha256"]} if item.folder else {})))
        return found
    raise FetchError(f"could not fetch {item.path}: " + "; ".join(failures) + f". Else {item.where_to_get()}")


def folder_sha256(folder: str | Path) -> str:
    """One digest of an image folder: sha256 over its sorted "name sha256" lines."""
    lines = "".join(f"{p.name} {sha256_of(p)}\n" for p in list_images(folder))
    return hashlib.sha256(lines.encode()).hexdigest()


def provenance(item: ExternalInput) -> dict:
    """Where ``item`` came from (the fetch record, or "placed by hand"), its size and sha256
    (files: of the file; folders: ``folder_sha256`` and the image count), and whether that matches
    the configured or pinned sha256. Raises PinMismatch when the input changed since its pin."""
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
    expected = item.sha256 or (item.pinned or {}).get("sha256")
    record["sha256_matches"] = None if expected is None or checked is None else checked.lower() == expected.lower()
    check_pin(item, record)
    return record


def missing_inputs_message(missing: list[ExternalInput]) -> str:
    return ("missing inputs (nothing was run; set fetch: true to download them):\n"
            + "\n".join(f"  - {item.where_to_get()}" for item in missing))


def external_inputs(config: dict) -> list[ExternalInput]:
    """Every file or image folder a workflow configuration reads from outside the project: ADM
    (and retrained demo) checkpoints, the nonlinear-blur weights, image folders. One entry per
    path, keyed by the first config key that names it."""
    found: dict[str, ExternalInput] = {}
    pin_file = config.get("pin_file", PIN_FILE)
    pins = read_pins(pin_file)
    limits = ArchiveLimits(**config.get("archive_limits", {}))

    def add(key, path, source, **extra):
        if path and path not in found:
            source = source or {}
            pinned = pins.get(path)
            configured = extra.get("sha256")
            if pinned and configured and configured.lower() != pinned["sha256"].lower():
                raise FetchError(f"config {key}: sha256 {configured} differs from {pinned['sha256']}, which {pin_file} "
                                 f"recorded when {path} was fetched; correct one of them")
            found[path] = ExternalInput(key=key, path=path, urls=tuple(source.get("urls", ())),
                                        size=source.get("size"), note=source.get("note", ""), pin_file=pin_file,
                                        pinned=pinned, **extra)

    for name, dataset in config["datasets"].items():
        own = "prior" in dataset
        prior = dataset.get("prior", config["prior"])
        if prior["type"] in ("adm", "edm_unet") and prior.get("checkpoint"):
            add(f"datasets.{name}.prior.checkpoint" if own else "prior.checkpoint", prior["checkpoint"],
                prior.get("source"), sha256=prior.get("sha256"),
                meta=dict(architecture=prior.get("architecture", prior["type"])))
    folders = [(f"datasets.{name}", dataset) for name, dataset in config["datasets"].items()]
    folders += [(f"tuning.validation.{name}", dataset)
                for name, dataset in (config.get("tuning") or {}).get("validation", {}).items()]
    for where, dataset in folders:
        if dataset["kind"] == "image_folder" and dataset.get("path"):
            count = dataset.get("count")
            add(f"{where}.path", dataset["path"], dataset.get("source"), folder=True, limits=limits,
                sha256=(dataset.get("source") or {}).get("sha256"),
                count=None if count is None else dataset.get("start", 0) + count)
    blur = config["tasks"].get("nonlinear_blur")
    if blur is not None:
        add("tasks.nonlinear_blur.weights", blur.get("weights", ""), blur.get("source"), sha256=blur.get("sha256"))
    return list(found.values())
