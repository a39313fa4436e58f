"""Fetching external inputs against a local HTTP server (127.0.0.1, started and stopped here)."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spgd.pipeline import fetch as fetch_module
from spgd.pipeline.fetch import (ExternalInput, FetchError, PinMismatch, download, external_inputs, fetch,
                                 provenance)

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_fresh_download_verifies_and_renames(tmp_path, server):
    server.files["ckpt.pt"] = PAYLOAD
    target = tmp_path / "checkpoints" / "ckpt.pt"
    digest = download(f"{server.url}/ckpt.pt", target, sha256=sha(PAYLOAD), size=len(PAYLOAD), progress=False)
    assert digest == sha(PAYLOAD) and target.read_bytes() == PAYLOAD
    assert sorted(p.name for p in target.parent.iterdir()) == ["ckpt.pt"]  # no .part left


def test_a_cut_transfer_resumes_with_a_range_request(tmp_path, server):
    server.files["ckpt.pt"] = PAYLOAD
    server.cut["ckpt.pt"] = 300_000
    target = tmp_path / "ckpt.pt"
    download(f"{server.url}/ckpt.pt", target, sha256=sha(PAYLOAD), progress=False)
    assert target.read_bytes() == PAYLOAD
    assert server.requests == [("ckpt.pt", None), ("ckpt.pt", "bytes=300000-")]


def leave_part(tmp_path, server, data, validator=True):
    """A part file as an earlier run leaves it: its bytes, and the URL and validator they came with."""
    (tmp_path / "ckpt.pt.part").write_bytes(data)
    if validator:
        etag = f'"{sha(PAYLOAD)[:16]}"'  # the local server's ETag of PAYLOAD
        (tmp_path / "ckpt.pt.part.json").write_text(json.dumps(dict(url=f"{server.url}/ckpt.pt", validator=etag)))


def test_a_part_file_left_by_an_earlier_run_is_resumed_with_its_validator(tmp_path, server):
    server.files["ckpt.pt"] = PAYLOAD
    leave_part(tmp_path, server, PAYLOAD[:123_456])
    download(f"{server.url}/ckpt.pt", tmp_path / "ckpt.pt", progress=False)  # no pin: checked by Content-Length
    assert (tmp_path / "ckpt.pt").read_bytes() == PAYLOAD and server.requests == [("ckpt.pt", "bytes=123456-")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]


def test_a_corrupt_part_file_without_a_validator_starts_over(tmp_path, server):
    """Before: a part file with wrong bytes was resumed and accepted when no sha256 was given."""
    server.files["ckpt.pt"] = PAYLOAD
    leave_part(tmp_path, server, b"\xff" * 123_456, validator=False)
    download(f"{server.url}/ckpt.pt", tmp_path / "ckpt.pt", progress=False)
    assert (tmp_path / "ckpt.pt").read_bytes() == PAYLOAD and server.requests == [("ckpt.pt", None)]


def test_a_part_file_of_a_file_changed_since_gets_the_whole_new_file(tmp_path, server):
    """If-Range: the validator the part came with no longer matches, so the server sends all of it."""
    server.files["ckpt.pt"] = PAYLOAD[::-1]
    leave_part(tmp_path, server, PAYLOAD[:123_456])  # kept from PAYLOAD, the file's old content
    download(f"{server.url}/ckpt.pt", tmp_path / "ckpt.pt", progress=False)
    assert (tmp_path / "ckpt.pt").read_bytes() == PAYLOAD[::-1] and server.requests == [("ckpt.pt", "bytes=123456-")]


def test_a_corrupt_part_file_with_a_valid_validator_fails_its_sha256_then_starts_over(tmp_path, server):
    server.files["ckpt.pt"] = PAYLOAD
    leave_part(tmp_path, server, b"\xff" * 123_456)
    download(f"{server.url}/ckpt.pt", tmp_path / "ckpt.pt", sha256=sha(PAYLOAD), progress=False)
    assert (tmp_path / "ckpt.pt").read_bytes() == PAYLOAD
    assert server.requests == [("ckpt.pt", "bytes=123456-"), ("ckpt.pt", None)]


def test_a_range_served_from_the_wrong_offset_is_discarded(tmp_path, server):
    """Before: the 206's bytes were appended whatever its Content-Range said (a corrupt file kept)."""
    server.files["ckpt.pt"] = PAYLOAD
    server.cut["ckpt.pt"] = 300_000
    server.wrong_offset["ckpt.pt"] = 1000
    download(f"{server.url}/ckpt.pt", tmp_path / "ckpt.pt", progress=False)
    assert (tmp_path / "ckpt.pt").read_bytes() == PAYLOAD
    assert server.requests == [("ckpt.pt", None), ("ckpt.pt", "bytes=300000-"), ("ckpt.pt", None)]


def test_416_starts_over_instead_of_counting_as_complete(tmp_path, server):
    """A part file longer than the file on the server (it shrank): 416, then the whole file."""
    server.files["ckpt.pt"] = PAYLOAD[:1000]
    leave_part(tmp_path, server, PAYLOAD[:5000])
    (tmp_path / "ckpt.pt.part.json").write_text(json.dumps(dict(url=f"{server.url}/ckpt.pt",
                                                                 validator=f'"{sha(PAYLOAD[:1000])[:16]}"')))
    download(f"{server.url}/ckpt.pt", tmp_path / "ckpt.pt", progress=False)
    assert (tmp_path / "ckpt.pt").read_bytes() == PAYLOAD[:1000]
    assert server.requests == [("ckpt.pt", "bytes=5000-"), ("ckpt.pt", None)]


def test_a_short_body_without_content_length_is_never_kept_unverified(tmp_path, server):
    server.files["ckpt.pt"] = PAYLOAD
    server.no_length["ckpt.pt"] = 1000
    with pytest.raises(FetchError, match="neither Content-Length nor a chunked body"):
        download(f"{server.url}/ckpt.pt", tmp_path / "ckpt.pt", progress=False)
    assert not (tmp_path / "ckpt.pt").exists()
    server.no_length["ckpt.pt"] = 1000  # with a sha256 the short body is caught by the check
    with pytest.raises(FetchError, match=f"expected sha256 {sha(PAYLOAD)}, got {sha(PAYLOAD[:1000])}"):
        download(f"{server.url}/ckpt.pt", tmp_path / "ckpt.pt", sha256=sha(PAYLOAD), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_only_http_https_and_gdrive_sources_are_fetched(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for copying")
    for url in (f"file://{secret}", "ftp://example.org/x.pt", str(secret)):
        with pytest.raises(FetchError, match="only https://, http://, gdrive: sources are fetched"):
            download(url, tmp_path / "copy.pt", progress=False)
    assert not (tmp_path / "copy.pt").exists()


def test_the_first_fetch_pins_the_file_and_a_changed_file_is_refused_later(tmp_path, server, monkeypatch):
    """Trust on first use: size and sha256 go to the pin file; a later fetch of a file changed on
    the server, and a run over a file changed on disk, are refused with expected and got."""
    monkeypatch.chdir(tmp_path)
    server.files["ckpt.pt"] = PAYLOAD
    config = dict(datasets={"d": {"kind": "mixture_samples"}}, tasks={},
                  prior={"type": "adm", "checkpoint": "ckpt.pt", "source": {"urls": [f"{server.url}/ckpt.pt"]}})
    item, = external_inputs(config)
    fetch(item, progress=False)
    pins = json.loads((tmp_path / "inputs.lock.json").read_text())
    assert pins == {"ckpt.pt": dict(size=len(PAYLOAD), sha256=sha(PAYLOAD), source=f"{server.url}/ckpt.pt")}
    item, = external_inputs(config)
    assert item.pinned["sha256"] == sha(PAYLOAD) and provenance(item)["sha256_matches"] is True
    Path("ckpt.pt").unlink()
    server.files["ckpt.pt"] = PAYLOAD[::-1]  # changed on the server
    with pytest.raises(FetchError, match=f"expected sha256 {sha(PAYLOAD)}, got {sha(PAYLOAD[::-1])}"):
        fetch(item, progress=False)
    assert not Path("ckpt.pt").exists()
    Path("ckpt.pt").write_bytes(PAYLOAD[::-1])  # changed on disk
    with pytest.raises(PinMismatch, match=f"inputs.lock.json pins sha256 {sha(PAYLOAD)}, the input now has "
                                          f"{sha(PAYLOAD[::-1])}"):
        provenance(item)
    from spgd.pipeline.steps import preflight

    with pytest.raises(PinMismatch, match="ckpt.pt: inputs.lock.json pins sha256"):
        preflight(config["prior"], "cpu", "inputs.lock.json")
    config["prior"]["sha256"] = sha(PAYLOAD[::-1])
    with pytest.raises(FetchError, match="config prior.checkpoint: sha256 .* differs from .*inputs.lock.json"):
        external_inputs(config)


def test_wrong_sha256_says_expected_and_got_and_keeps_nothing(tmp_path, server):
    server.files["ckpt.pt"] = PAYLOAD
    target = tmp_path / "ckpt.pt"
    with pytest.raises(FetchError, match=f"expected sha256 {'0' * 64}, got {sha(PAYLOAD)}"):
        download(f"{server.url}/ckpt.pt", target, sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FetchError, match=f"expected 5 bytes, got {len(PAYLOAD)}"):
        download(f"{server.url}/ckpt.pt", target, size=5, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_404_and_server_down_name_the_url_and_where_to_place_the_file(tmp_path, server):
    item = ExternalInput(key="prior.checkpoint", path=str(tmp_path / "ckpt.pt"), urls=(f"{server.url}/gone.pt",))
    with pytest.raises(FetchError) as error:
        fetch(item, progress=False)
    message = str(error.value)
    assert f"{server.url}/gone.pt: HTTP 404" in message and f"prior.checkpoint = '{tmp_path / 'ckpt.pt'}'" in message
    assert "place the file by hand" in message
    down_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    item = ExternalInput(key="prior.checkpoint", path=str(tmp_path / "ckpt.pt"), urls=(f"{down_url}/ckpt.pt",))
    with pytest.raises(FetchError, match=f"{down_url}/ckpt.pt: cannot connect"):
        fetch(item, progress=False)
    assert list(tmp_path.iterdir()) == []


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_timeout_names_the_url(tmp_path, monkeypatch):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    monkeypatch.setattr(fetch_module, "TIMEOUT_S", 0.5)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/ckpt.pt"
    try:
        with pytest.raises(FetchError, match=f"{url}: .*timed out"):
            download(url, tmp_path / "ckpt.pt", progress=False)
    finally:
        listener.close()
    assert not (tmp_path / "ckpt.pt").exists()


def test_the_second_url_is_tried_and_the_source_recorded(tmp_path, server):
    server.files["ckpt.pt"] = PAYLOAD
    item = ExternalInput(key="prior.checkpoint", path=str(tmp_path / "ckpt.pt"),
                         urls=(f"{server.url}/missing.pt", f"{server.url}/ckpt.pt"), sha256=sha(PAYLOAD))
    record = fetch(item, progress=False)
    assert record["source"] == f"fetched from {server.url}/ckpt.pt" and record["sha256"] == sha(PAYLOAD)
    assert record["sha256_matches"] is True and record["size"] == len(PAYLOAD)
    assert json.loads((tmp_path / "ckpt.pt.source.json").read_text())["url"] == f"{server.url}/ckpt.pt"
    server.requests.clear()
    assert fetch(item, progress=False) == record and server.requests == []  # second run: nothing


def test_a_source_whose_file_does_not_match_is_rejected_and_the_next_one_taken(tmp_path, server):
    server.files["other.pt"], server.files["ckpt.pt"] = PAYLOAD[::-1], PAYLOAD
    item = ExternalInput(key="prior.checkpoint", path=str(tmp_path / "ckpt.pt"), sha256=sha(PAYLOAD),
                         urls=(f"{server.url}/other.pt", f"{server.url}/ckpt.pt"))
    record = fetch(item, progress=False)
    assert record["source"] == f"fetched from {server.url}/ckpt.pt" and record["sha256_matches"] is True
    assert (tmp_path / "ckpt.pt").read_bytes() == PAYLOAD
    server.files["ckpt.pt"] = PAYLOAD[::-1]  # no source matches: each says expected and got
    (tmp_path / "ckpt.pt").unlink()
    with pytest.raises(FetchError, match=f"other.pt: expected sha256 {sha(PAYLOAD)}, got {sha(PAYLOAD[::-1])}; "
                                         f"nothing was kept; .*ckpt.pt: expected sha256"):
        fetch(item, progress=False)
    assert not (tmp_path / "ckpt.pt").exists()


def test_a_file_placed_by_hand_is_never_overwritten(tmp_path, server):
    server.files["ckpt.pt"] = PAYLOAD
    mine = tmp_path / "ckpt.pt"
    mine.write_bytes(b"my own checkpoint")
    item = ExternalInput(key="prior.checkpoint", path=str(mine), urls=(f"{server.url}/ckpt.pt",))
    record = fetch(item, progress=False)
    assert mine.read_bytes() == b"my own checkpoint" and server.requests == []
    assert record["source"] == "placed by hand" and record["sha256"] == sha(b"my own checkpoint")
    assert record["sha256_matches"] is None  # no sha256 configured


def png_bytes(value):
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_archive_is_unpacked_first_count_images_sorted_with_a_manifest(tmp_path, server):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in [("test-ffhq/00003.png", 3), ("test-ffhq/00000.png", 0), ("test-ffhq/00001.png", 1),
                            ("__MACOSX/test-ffhq/._00000.png", 9), ("test-ffhq/readme.txt", 7)]:
            archive.writestr(name, png_bytes(value) if name.endswith(".png") else b"text")
        archive.writestr("../evil.png", png_bytes(5))  # never written outside the folder
    server.files["test.zip"] = buffer.getvalue()
    folder = tmp_path / "data" / "ffhq256"
    item = ExternalInput(key="datasets.ffhq.path", path=str(folder), urls=(f"{server.url}/test.zip",),
                         folder=True, count=2, sha256=sha(buffer.getvalue()))
    record = fetch(item, progress=False)
    assert sorted(p.name for p in folder.iterdir()) == ["00000.png", "00001.png", "manifest.csv"]
    assert np.asarray(Image.open(folder / "00001.png"))[0, 0, 0] == 1
    manifest = (folder / "manifest.csv").read_text().splitlines()
    assert manifest[0] == "file,member,sha256" and manifest[1].startswith("00000.png,test-ffhq/00000.png,")
    assert record["images"] == 2 and record["archive_sha256"] == sha(buffer.getvalue())
    assert record["sha256_matches"] is True and record["source"] == f"fetched from {server.url}/test.zip"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["ffhq256", "ffhq256.source.json"]
    assert not (tmp_path / "evil.png").exists()
    server.requests.clear()
    fetch(item, progress=False)
    assert server.requests == []


def test_an_archive_with_too_few_images_leaves_no_folder(tmp_path, server):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.png", png_bytes(1))
    server.files["test.zip"] = buffer.getvalue()
    folder = tmp_path / "images"
    item = ExternalInput(key="datasets.x.path", path=str(folder), urls=(f"{server.url}/test.zip",), folder=True, count=3)
    with pytest.raises(FetchError, match="1 images, 3 asked for"):
        fetch(item, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_gdrive_sources_go_through_gdown(tmp_path, monkeypatch):
    import types

    calls = []

    def fake_download(id, output, quiet, resume):
        calls.append((id, resume))
        open(output, "wb").write(PAYLOAD)
        return output

    monkeypatch.setitem(__import__("sys").modules, "gdown", types.SimpleNamespace(download=fake_download))
    digest = download("gdrive:FILEID", tmp_path / "w.pth", sha256=sha(PAYLOAD), progress=False)
    assert digest == sha(PAYLOAD) and calls == [("FILEID", True)]
    # gdown would continue a part file: only one that a sha256 or size will check is left to it
    (tmp_path / "x.pth.part").write_bytes(b"left by a crash")
    kept = []
    monkeypatch.setitem(__import__("sys").modules, "gdown", types.SimpleNamespace(
        download=lambda id, output, quiet, resume: kept.append(Path(output).exists()) or fake_download(
            id, output, quiet, resume)))
    download("gdrive:FILEID", tmp_path / "x.pth", progress=False)
    assert kept == [False]


def test_external_inputs_of_the_paper_config():
    import yaml

    config = yaml.safe_load(open("config/paper.yaml"))
    items = {item.key: item for item in external_inputs(config)}
    assert set(items) == {"prior.checkpoint", "datasets.imagenet.prior.checkpoint", "datasets.ffhq.path",
                          "datasets.imagenet.path", "tasks.nonlinear_blur.weights"}
    assert items["datasets.ffhq.path"].folder and items["datasets.ffhq.path"].count == 100
    for item in items.values():
        assert item.urls, item.key
        assert all(url.startswith(("https://", "gdrive:")) for url in item.urls)
    # the checkpoints' sizes and sha256 from the public records the config's notes name
    ffhq, imagenet = items["prior.checkpoint"], items["datasets.imagenet.prior.checkpoint"]
    assert (ffhq.size, ffhq.sha256[:8]) == (374_417_833, "81d53574")
    assert (imagenet.size, imagenet.sha256[:8]) == (2_211_383_297, "a37c32ff")
    assert imagenet.urls[-1] == "gdrive:1HAy7P19PckQLczVNXmVF-e_CRxq098uW"  # DPS's imagenet256.pt, last


def test_provenance_of_a_hand_placed_folder(tmp_path):
    for value in (1, 2):
        (tmp_path / f"{value}.png").write_bytes(png_bytes(value))
    record = provenance(ExternalInput(key="datasets.x.path", path=str(tmp_path), folder=True))
    assert record["source"] == "placed by hand" and record["images"] == 2 and len(record["sha256"]) == 64


def test_a_zip_bomb_is_refused_naming_the_member_and_nothing_is_written(tmp_path):
    """256 MiB of zeros named like an image, deflated to about 0.25 MiB and streamed into the zip
    (never held in memory): refused by its ratio before a byte is unpacked."""
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("faces/00000.png", png_bytes(1))
        with handle.open("faces/00001.png", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(256):
                member.write(zeros)
    assert archive.stat().st_size < 2**20
    folder = tmp_path / "faces"
    with pytest.raises(FetchError, match=r"member faces/00001.png holds 268,435,456 bytes uncompressed, over "
                                         r"archive_limits.member_mb 16 MiB"):
        fetch_module.unpack_images(archive, folder, 2)
    with pytest.raises(FetchError, match=r"member faces/00001.png expands [\d,]+ times .* over archive_limits.max_ratio"):
        fetch_module.unpack_images(archive, folder, 2, fetch_module.ArchiveLimits(member_mb=1024))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.zip"]


def test_archive_limits_cap_each_member_and_the_total_also_in_a_tar(tmp_path):
    import tarfile

    archive = tmp_path / "faces.tar"
    with tarfile.open(archive, "w") as handle:
        for i in range(3):
            data = png_bytes(i) + bytes(100_000)  # trailing bytes after IEND: PNG readers ignore them
            info = tarfile.TarInfo(f"faces/{i:05d}.png")
            info.size = len(data)
            handle.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("faces/00009.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        handle.addfile(link)
    limits = fetch_module.ArchiveLimits
    with pytest.raises(FetchError, match="the 3 images hold [\\d,]+ bytes uncompressed, over archive_limits.total_mb"):
        fetch_module.unpack_images(archive, tmp_path / "a", 3, limits(total_mb=0.25))
    with pytest.raises(FetchError, match="member faces/00000.png holds [\\d,]+ bytes uncompressed, over archive_limits"):
        fetch_module.unpack_images(archive, tmp_path / "b", 3, limits(member_mb=0.05))
    rows = fetch_module.unpack_images(archive, tmp_path / "c", 3)  # the link is not an image file: skipped
    assert [r["file"] for r in rows] == ["00000.png", "00001.png", "00002.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "faces.tar"]


def test_pins_written_side_by_side_are_all_kept(tmp_path):
    """Fetch jobs run in parallel: each adds its pin under a lock, none is lost."""
    from concurrent.futures import ThreadPoolExecutor

    pin_file = tmp_path / "inputs.lock.json"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: fetch_module._write_pin(pin_file, f"input{i}", dict(size=i, sha256=f"{i:064x}")),
                      range(40)))
    assert sorted(fetch_module.read_pins(pin_file)) == sorted(f"input{i}" for i in range(40))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs.lock.json"]
