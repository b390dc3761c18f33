"""The result store: atomic writes, unguessable ids, delete tokens, the sweeper."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from serving import store as store_mod
from serving.store import FileStore, NotFound, StoreError


def files(size: int = 100, **extra: bytes) -> dict[str, bytes]:
    return {"final.png": b"P" * size, "record.json": json.dumps({"n": size}).encode(), **extra}


def test_a_result_round_trips_and_has_links(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    stored = store.put(files(**{"snapshot_01.jpg": b"J"}))
    assert store.get(stored.id, "final.png") == b"P" * 100
    assert store.get(stored.id, "snapshot_01.jpg") == b"J"
    assert store.record(stored.id) == {"n": 100}
    assert stored.links() == {"id": stored.id, "url": f"/r/{stored.id}", "image": f"/results/{stored.id}/final.png"}
    # the token is not kept in the result's own (served) directory, only its hash elsewhere
    served = b"".join(p.read_bytes() for p in (tmp_path / stored.id).iterdir())
    assert stored.delete_token.encode() not in served
    assert stored.delete_token not in (tmp_path / ".tokens" / stored.id).read_text()


def test_ids_are_128_random_bits_from_the_os_and_url_safe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = secrets.token_urlsafe

    def spy(n: int | None = None) -> str:
        calls.append(n or 0)
        return real(n)

    monkeypatch.setattr(store_mod.secrets, "token_urlsafe", spy)
    store = FileStore(tmp_path)
    ids = {store.put(files()).id for _ in range(200)}
    assert len(ids) == 200
    assert all(store_mod.ID_PATTERN.fullmatch(i) for i in ids)
    assert store_mod.ID_BYTES * 8 >= 128 and 16 in calls  # ids: 16 bytes from secrets (the OS CSPRNG)
    assert 32 in calls  # delete tokens: 32 bytes


@pytest.mark.parametrize("bad", ["", "..", "../etc", "%2e%2e", "a" * 21, "a" * 23, "a" * 22 + "/", "a/b" + "c" * 19, "a" * 21 + ".", "A" * 200])
def test_anything_but_an_id_is_not_found(tmp_path: Path, bad: str) -> None:
    store = FileStore(tmp_path)
    store.put(files())
    with pytest.raises(NotFound):
        store.get(bad, "final.png")
    with pytest.raises(NotFound):
        store.delete(bad, "token")
    assert not store.exists(bad)


def test_only_known_file_names_are_served_or_stored(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    stored = store.put(files())
    for name in ["../final.png", ".tokens", "record.json/..", "final.PNG", "x.txt", ""]:
        with pytest.raises(NotFound):
            store.get(stored.id, name)
    with pytest.raises(ValueError):
        store.put({**files(), "../evil": b"x"})
    with pytest.raises(ValueError):
        store.put({"final.png": b"x"})  # no record


def test_a_crash_mid_write_leaves_nothing_visible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileStore(tmp_path)
    written: list[str] = []
    real = store_mod._write_synced

    def failing(path: Path, data: bytes) -> None:
        if written:
            raise OSError(28, "No space left on device")
        written.append(path.name)
        real(path, data)

    monkeypatch.setattr(store_mod, "_write_synced", failing)
    with pytest.raises(StoreError, match="No space left"):
        store.put(files())
    assert [p.name for p in tmp_path.iterdir() if store_mod.valid_id(p.name)] == []
    assert list((tmp_path / ".incoming").iterdir()) == []  # the half-written result was cleaned up


def test_a_writer_killed_mid_write_is_invisible_and_swept(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = FileStore(tmp_path, clock=lambda: now[0])
    # what a process killed between two files leaves behind
    half = tmp_path / ".incoming" / f"{store_mod.new_id()}.dead"
    half.mkdir(parents=True)
    (half / "final.png").write_bytes(b"half")
    os.utime(half, (now[0], now[0]))
    assert store.usage() == (0, 0)
    store.sweep()
    assert half.exists()  # may still be a live writer
    now[0] += store_mod.STALE_INCOMING_S + 1
    store.sweep()
    assert not half.exists()


def test_sweeper_removes_by_age_then_oldest_beyond_the_size(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = FileStore(tmp_path, max_age_s=3600, max_bytes=1000, clock=lambda: now[0])
    old = store.put(files(300))
    now[0] += 1800
    middle = store.put(files(300))
    now[0] += 1
    newer = store.put(files(300))
    now[0] += 1
    assert store.sweep() == 0
    now[0] += 1800  # `old` is now past max_age
    assert store.sweep() == 1
    assert not store.exists(old.id) and store.exists(middle.id)
    newest = store.put(files(400))  # ~310 + 310 + 410 bytes > 1000: the oldest left goes
    assert store.sweep() == 1
    assert not store.exists(middle.id)
    assert store.exists(newer.id) and store.exists(newest.id)
    assert store.usage()[1] <= 1000
    assert not (tmp_path / ".tokens" / old.id).exists()


def test_many_results_stay_bounded_by_the_sweeper(tmp_path: Path) -> None:
    store = FileStore(tmp_path, max_bytes=20_000)
    for _ in range(300):
        store.put(files(200))
        store.sweep()
    count, size = store.usage()
    assert size <= 20_000 and 0 < count < 300
    assert len(list((tmp_path / ".tokens").iterdir())) == count  # no token outlives its result


def test_delete_needs_the_token_compared_in_constant_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = store_mod.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(store_mod.hmac, "compare_digest", spy)
    store = FileStore(tmp_path)
    stored = store.put(files())
    assert store.delete(stored.id, "not-the-token") is False
    assert store.exists(stored.id)
    assert store.delete(stored.id, stored.delete_token) is True
    assert not store.exists(stored.id)
    assert len(compared) == 2
    with pytest.raises(NotFound):
        store.delete(stored.id, stored.delete_token)


def test_a_read_only_store_fails_with_a_store_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores permission bits: make the root a file instead, which no one can write under
        root = tmp_path / "file"
        root.write_bytes(b"")
    else:
        root = tmp_path / "ro"
        root.mkdir()
        root.chmod(0o500)
    with pytest.raises(StoreError):
        FileStore(root).put(files())
