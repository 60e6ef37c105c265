"""Real public data sets fetched when online: CIFAR-10, Fashion-MNIST, flower_photos.

Explained in the book's setup page ("Real data sets"). ``fetch`` downloads (resumably), checks
(size, sha256, md5) and unpacks a set where its torchvision loader looks for it; offline it fails
with one sentence saying where to put the file by hand. Nothing in the book's build calls it.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import re
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from dlbook_utils.data.files import STAND_IN_MARKER, ensure_dir, replace_dir
from dlbook_utils.data.paths import data_root

__all__ = ["CIFAR10_CLASSES", "FLOWER_CLASSES", "FETCHABLE", "download", "fetch"]

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
FLOWER_CLASSES: tuple[str, ...] = ("daisy", "dandelion", "roses", "sunflowers", "tulips")


@dataclass(frozen=True)
class _Remote:
    filename: str
    urls: tuple[str, ...]  # tried in order
    sha256: str | None
    md5: str | None
    size: int | None


@dataclass(frozen=True)
class _Source:
    title: str
    files: tuple[_Remote, ...]
    folder: str  # relative to root: what the torchvision loader reads
    unpack: str  # "tar": archive in root, unpacked to root/folder; "gunzip": files in root/folder
    complete: tuple[str, ...]  # relative to root/folder: present when the set is complete


# Hashes. None of them could be checked against a download here (no network to those hosts):
# - sha256 of CIFAR-10 and Fashion-MNIST are the ones pytorch/vision's prototype datasets pin
#   (torchvision/prototype/datasets/_builtin/cifar.py and mnist.py); the Fashion-MNIST ones and
#   their sizes also match tensorflow/datasets' url_checksums/fashion_mnist.txt.
# - md5 are those of the installed torchvision (datasets/cifar.py and mnist.py); both are checked.
# - flower_photos' sha256 and size are tensorflow/datasets' url_checksums/tf_flowers.txt; no md5.
_FASHION_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"  # torchvision's
_FASHION = (  # file, sha256, md5, size
    ("train-images-idx3-ubyte.gz",
     "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
     "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26421880),
    ("train-labels-idx1-ubyte.gz",
     "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
     "25c81989df183df01b3e8a0aad5dffbe", 29515),
    ("t10k-images-idx3-ubyte.gz",
     "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
     "bef4ecab320f06d8554ea6380940ec79", 4422102),
    ("t10k-labels-idx1-ubyte.gz",
     "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
     "bb300cfdad3c16e7a12a480ee83cd310", 5148),
)
_FLOWERS_PATH = "download.tensorflow.org/example_images/flower_photos.tgz"
FETCHABLE: dict[str, _Source] = {
    "cifar10": _Source(
        title="CIFAR-10",
        files=(_Remote(
            "cifar-10-python.tar.gz",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
            sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            md5="c58f30108f718f92721af3b95e74349a",
            size=170498071,
        ),),
        folder="cifar-10-batches-py",
        unpack="tar",
        complete=("batches.meta", "test_batch") + tuple(f"data_batch_{i}" for i in range(1, 6)),
    ),
    "fashion_mnist": _Source(
        title="Fashion-MNIST",
        files=tuple(_Remote(f, (_FASHION_MIRROR + f,), sha, md5, n) for f, sha, md5, n in _FASHION),
        folder="FashionMNIST/raw",
        unpack="gunzip",
        complete=tuple(f[: -len(".gz")] for f, *_ in _FASHION),
    ),
    "flower_photos": _Source(
        title="flower_photos",
        files=(_Remote(
            "flower_photos.tgz",
            (f"https://{_FLOWERS_PATH}", f"https://storage.googleapis.com/{_FLOWERS_PATH}"),
            sha256="4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c",
            md5=None,
            size=228813984,
        ),),
        folder="flower_photos",
        unpack="tar",
        complete=FLOWER_CLASSES,
    ),
}
_NETWORK_ERRORS = (
    urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, socket.timeout,
)


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return str(getattr(err.reason, "strerror", None) or err.reason)
    return str(err) or type(err).__name__


def _verify(path: Path, sha256: str | None, md5: str | None, size: int | None) -> str | None:
    """None when ``path`` matches; otherwise what does not match, in words."""
    actual = path.stat().st_size
    if size is not None and actual != size:
        return f"size {actual} bytes, expected {size}"
    h_sha, h_md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h_sha.update(chunk)
            h_md5.update(chunk)
    if sha256 is not None and h_sha.hexdigest() != sha256.lower():
        return f"sha256 {h_sha.hexdigest()}, expected {sha256}"
    if md5 is not None and h_md5.hexdigest() != md5.lower():
        return f"md5 {h_md5.hexdigest()}, expected {md5}"
    return None


def _fetch_into(url: str, part: Path, size: int | None, progress: bool, timeout: float) -> None:
    """Download ``url`` into ``part``, resuming (HTTP Range) from the bytes already there."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have >= size:
        return  # complete (or too long: the hash check decides)
    headers = {"User-Agent": "dlbook-fetch/1"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to send: the part is complete
            return
        raise
    with resp:
        start = 0
        if have and resp.status == 206:
            match = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
            start = int(match.group(1)) if match and int(match.group(1)) <= have else 0
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length is not None else size
        written = 0
        bar = tqdm(total=total, initial=start, unit="B", unit_scale=True,
                   desc=part.name[: -len(".part")], disable=not progress)
        with open(part, "ab") as f, bar:
            f.truncate(start)  # a server that ignored Range restarts the file from 0
            while chunk := resp.read(1 << 16):
                f.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
        if length is not None and written < int(length):
            raise http.client.IncompleteRead(b"", int(length) - written)


def download(
    urls: str | Sequence[str],
    dest: str | Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download a file, resumably and checked, to ``dest`` (a no-op when it is already there).

    Used by ``fetch`` (the book's setup page, "Real data sets"); public for lessons and tests.

    Bytes go to ``dest + ".part"``; an interrupted download keeps them and the next call asks
    the server for the rest (HTTP ``Range``). ``dest`` appears only once size, sha256 and md5
    (those given) all match, so a ``dest`` on disk is always a checked file.

    Args:
        urls: one URL or mirrors tried in order.
        dest: file to write.
        sha256, md5: expected hex digests (either, both or none).
        size: expected size in bytes.
        progress: show a tqdm bar.
        timeout: seconds to wait for the server.

    Returns:
        ``dest`` as a ``Path``.

    Raises:
        ConnectionError: no mirror could be reached or the transfer broke off (partial bytes
            are kept for a resumed download); the message names each URL and why.
        ValueError: the file (downloaded, or found at ``dest``) does not match size or hashes;
            a bad download is deleted.
    """
    urls = (urls,) if isinstance(urls, str) else tuple(urls)
    dest = Path(dest)
    if dest.exists():
        problem = _verify(dest, sha256, md5, size)
        if problem:
            raise ValueError(
                f"{dest} does not match the expected file ({problem}); delete it and run again."
            )
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    reasons = []
    for url in urls:
        try:
            _fetch_into(url, part, size, progress, timeout)
            break
        except _NETWORK_ERRORS as err:
            reasons.append(f"{url}: {_reason(err)}")
    else:
        have = part.stat().st_size if part.exists() else 0
        kept = f", {have} bytes kept in {part} to resume" if have else ""
        raise ConnectionError("; ".join(reasons) + kept)
    problem = _verify(part, sha256, md5, size)
    if problem:
        part.unlink()
        raise ValueError(
            f"The download of {dest.name} is corrupt ({problem}); it was deleted, run again."
        )
    part.replace(dest)
    return dest


def _unpack_tar(archive: Path, root: Path, folder: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder}.", suffix=".tmp", dir=root))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        if not (tmp / folder).is_dir():
            raise ValueError(
                f"{archive} does not contain the folder {folder}/; delete it and run again."
            )
        replace_dir(tmp / folder, root / folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch(name: str, root: str | Path | None = None, *, progress: bool = True) -> Path:
    """Download, check and unpack a real data set where its torchvision loader looks for it.

    Explained in the book's setup page ("Real data sets"). Online only; offline it fails with
    one sentence saying where to put the file by hand (``fetch`` then checks and unpacks it
    without the network). A stand-in written by ``cifar10``/``flower_photos`` is replaced.
    Archives stay next to the unpacked folder (``root/cifar-10-python.tar.gz``, …): delete
    them to save space.

    Args:
        name: ``"cifar10"`` (→ ``root/cifar-10-batches-py``), ``"fashion_mnist"``
            (→ ``root/FashionMNIST/raw``, for ``torchvision.datasets.FashionMNIST(root)``) or
            ``"flower_photos"`` (→ ``root/flower_photos/<5 classes>``).
        root: data folder.
        progress: show download bars.

    Returns:
        The folder the loader reads.

    Raises:
        ValueError: unknown ``name``, or a file that fails its size/sha256/md5 check.
        ConnectionError: the download failed (offline); the message says what to do.
        PermissionError / FileNotFoundError: ``root`` is not writable.
    """
    if name not in FETCHABLE:
        raise ValueError(f"Unknown data set {name!r} to fetch; choose from {', '.join(FETCHABLE)}.")
    source, root = FETCHABLE[name], data_root(root)
    target = root / source.folder
    complete = all((target / f).exists() for f in source.complete)
    if complete and not (target / STAND_IN_MARKER).exists():
        print(f"{source.title} is already in {target}.")
        return target
    ensure_dir(root)
    archive_dir = root if source.unpack == "tar" else ensure_dir(target)
    for remote in source.files:
        dest = archive_dir / remote.filename
        try:
            download(remote.urls, dest, sha256=remote.sha256, md5=remote.md5, size=remote.size,
                     progress=progress)
        except ConnectionError as err:
            one = len(source.files) == 1
            what = (f"{remote.urls[0]} on a connected machine, put it at {dest}" if one else
                    f"{', '.join(r.urls[0] for r in source.files)} on a connected machine, put "
                    f"them in {archive_dir}")
            raise ConnectionError(
                f"Could not download {source.title} ({err}); if this machine is offline, download "
                f"{what}, and run `python data_scripts/fetch.py {name} --root {root}` again to "
                f"check and unpack {'it' if one else 'them'} (online, running it again resumes a "
                "broken download)."
            ) from None
        if source.unpack == "tar":
            _unpack_tar(dest, root, source.folder)
        else:
            unpacked = target / remote.filename[: -len(".gz")]
            with gzip.open(dest, "rb") as src, open(f"{unpacked}.tmp", "wb") as out:
                shutil.copyfileobj(src, out)
            Path(f"{unpacked}.tmp").replace(unpacked)
    print(f"{source.title} is ready in {target}.")
    return target
