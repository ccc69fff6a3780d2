"""`segtrail init --objects URL`: data objects on shared storage (a second real folder via
`file://`, a plain folder, `memory://` through the Python API), with the metadata in a
database two teammates' workspaces share."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import hash_tree

from segtrail.services.workspace import Workspace
from segtrail.store.objects import LocalObjectStore, object_name
from segtrail.store.shared_objects import FsspecObjectStore, _modified

Runner = Callable[..., object]


def _objects_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("??/*.parquet"))


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """A folder standing for the team's shared mount."""
    folder = tmp_path / "mnt" / "team"
    folder.mkdir(parents=True)
    return folder


def test_init_with_a_file_url_keeps_objects_there(
    tmp_path: Path, team: Path, cli: Runner, customers_csv: Path
) -> None:
    url = (team / "objects").as_uri()
    ws = tmp_path / "alice"
    assert cli("init", ws, "--objects", url).code == 0
    config = json.loads((ws / ".segtrail" / "config.json").read_text())
    assert config["objects_url"] == url
    assert not (ws / ".segtrail" / "objects").exists()
    steps = [
        ("ingest", customers_csv, "--id", "customer_id", "--name", "customers"),
        ("segment", "-d", "customers", "-l", "marketing", "-m", "age", "--k", "2"),
    ]
    for args in steps:
        result = cli(*args, cwd=ws)
        assert result.code == 0, result.err
    assert len(_objects_in(team / "objects")) == 3  # dataset, assignments, fitted state
    out = tmp_path / "segments.csv"
    assert cli("export", "marketing@1", "--out", out, cwd=ws).code == 0
    assert len(pd.read_csv(out)) == 60
    fsck = cli("fsck", "--json", cwd=ws).json()
    assert fsck["clean"] and fsck["objects"] == 3

    # Damage in the shared folder is caught on read and by fsck, as in a local one.
    dataset = json.loads(cli("dataset", "show", "customers", "--json", cwd=ws).out)["object"]
    path = team / "objects" / dataset[:2] / f"{dataset}.parquet"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x20
    path.write_bytes(bytes(data))
    before = hash_tree(ws)
    result = cli("dataset", "show", "customers", "--rows", "2", "--json", cwd=ws)
    assert result.code == 2
    assert f"object {dataset[:12]} (a dataset) is damaged" in result.err
    assert hash_tree(ws) == before
    fsck = cli("fsck", "--json", cwd=ws)
    assert fsck.code == 2
    assert any(dataset[:12] in p for p in fsck.json()["problems"])


def test_two_teammates_share_metadata_and_objects(
    tmp_path: Path, team: Path, cli: Runner, customers_csv: Path
) -> None:
    """Alice segments; Bob, in his own workspace folder pointing at the same database and
    the same objects, exports her version: the metadata names objects he can read."""
    database = f"sqlite:///{team / 'segtrail.db'}"
    url = (team / "objects").as_uri()
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    for ws in (alice, bob):
        result = cli("init", ws, "--database-url", database, "--objects", url)
        assert result.code == 0, result.err
    for args in (
        ("ingest", customers_csv, "--id", "customer_id", "--name", "customers"),
        ("segment", "-d", "customers", "-l", "marketing", "-m", "age", "--k", "2"),
    ):
        assert cli(*args, cwd=alice, env={"SEGTRAIL_AUTHOR": "alice"}).code == 0
    out = tmp_path / "bob.csv"
    result = cli("export", "marketing@1", "--out", out, cwd=bob, env={"SEGTRAIL_AUTHOR": "bob"})
    assert result.code == 0, result.err
    assert len(pd.read_csv(out)) == 60
    assert cli("fsck", cwd=bob).code == 0
    assert not (bob / ".segtrail" / "objects").exists()


def test_a_plain_folder_is_a_local_store(tmp_path: Path, cli: Runner, customers_csv: Path):
    folder = tmp_path / "elsewhere"
    assert cli("init", tmp_path / "ws", "--objects", folder).code == 0
    ws = Workspace.open(tmp_path / "ws")
    assert isinstance(ws.objects, LocalObjectStore)
    assert ws.objects.root == folder.resolve()
    ws.close()
    assert cli("ingest", customers_csv, "--id", "customer_id", cwd=tmp_path / "ws").code == 0
    assert len(_objects_in(folder)) == 1


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("nosuchscheme://x/y", "nosuchscheme"),
        ("s3://some-bucket/objects", "s3fs"),  # the backend is not installed here
    ],
)
def test_init_refuses_an_unusable_objects_url(
    tmp_path: Path, cli: Runner, url: str, fragment: str
) -> None:
    result = cli("init", tmp_path / "ws", "--objects", url)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
    assert "--objects" in result.err or "objects URL" in result.err
    assert fragment in result.err
    assert not (tmp_path / "ws" / ".segtrail").exists()


def test_a_memory_store_through_the_python_api(tmp_path: Path, customers_csv: Path) -> None:
    url = f"memory://segtrail-{uuid.uuid4().hex}"
    ws = Workspace.init(tmp_path / "ws", objects_url=url, author="tester")
    assert isinstance(ws.objects, FsspecObjectStore)
    info = ws.ingest(customers_csv, "customer_id")
    assert ws.fsck()["clean"]
    assert len(ws.dataset_frame(info["dataset"])) == 60
    assert list(ws.objects.listing()[0]) == [info["object"]]
    ws.close()


# --- the fsspec store's primitives, as the local store's are tested in test_objects.py ----


@pytest.mark.parametrize("where", ["file", "memory"])
def test_the_fsspec_primitives_describe_the_files(tmp_path: Path, where: str) -> None:
    url = (
        (tmp_path / "objects").as_uri()
        if where == "file"
        else f"memory://segtrail-objects-{uuid.uuid4().hex}"
    )
    store = FsspecObjectStore(url)
    digest, size = store.put_bytes(b"described")
    name = object_name(digest)
    stat = store._stat(name)
    assert stat is not None
    assert (stat.name, stat.size) == (name, size) and size == len(b"described")
    assert stat.modified > 0
    assert store._size(name) == size
    (listed,) = store._list()
    assert (listed.name, listed.size) == (name, size)
    assert store._stat("ab/missing.parquet") is None
    empty, _ = store.put_bytes(b"")
    assert store._stat(object_name(empty)).size == 0
    for primitive in (store._delete, lambda n: store._rename(n, "ab/other.parquet")):
        with pytest.raises(FileNotFoundError, match=r"^ab/missing\.parquet$"):
            primitive("ab/missing.parquet")


def test_the_location_of_an_object_on_a_mount_is_its_path(tmp_path: Path) -> None:
    store = FsspecObjectStore((tmp_path / "objects").as_uri())
    digest, _ = store.put_bytes(b"here")
    location = store.location(digest)
    assert location == str(tmp_path / "objects" / digest[:2] / f"{digest}.parquet")
    assert Path(location).read_bytes() == b"here"


def test_the_location_of_an_object_in_a_bucket_is_a_url() -> None:
    import fsspec

    root = f"segtrail-objects-{uuid.uuid4().hex}"
    store = FsspecObjectStore(f"memory://{root}")
    digest, _ = store.put_bytes(b"there")
    location = store.location(digest)
    assert location == f"memory:///{root}/{digest[:2]}/{digest}.parquet"
    with fsspec.open(location, "rb") as f:  # what a reader given the location opens
        assert f.read() == b"there"


@pytest.mark.parametrize(
    ("info", "seconds"),
    [
        ({"mtime": 1700000000.5}, 1700000000.5),  # a local or mounted folder
        ({"LastModified": datetime(2024, 1, 2, tzinfo=UTC)}, 1704153600.0),  # S3
        ({"last_modified": "2024-01-02T00:00:00Z"}, 1704153600.0),  # Azure, as text
        ({"updated": "2024-01-02T00:00:00+00:00"}, 1704153600.0),  # Google Cloud Storage
        ({"modified": 1704153600}, 1704153600.0),
        ({"created": datetime(2024, 1, 2, tzinfo=UTC)}, 1704153600.0),  # memory://
        ({"mtime": None, "created": 5.0}, 5.0),  # the first key with a value counts
        ({"mtime": "not a time", "created": 7}, 7.0),  # unreadable: the next one
        ({"mtime": 3, "created": 9}, 3.0),
        ({}, 0.0),
    ],
)
def test_a_files_time_whatever_the_backend_calls_it(info: dict, seconds: float) -> None:
    got = _modified(info)
    assert got == seconds and isinstance(got, float)
