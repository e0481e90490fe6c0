"""The data key: a key check refuses a different key; rotation moves every row, all or none."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_store.binding import issue_code
from crm_store.crypto import FieldCipher, decode_key, new_key_text
from crm_store.errors import DataKeyError
from crm_store.key_check import KEY_CHECK, stored_key_check
from crm_store.key_rotation import rotate_key
from crm_store.models import BindCode, Customer, SharedSecret, StoreMeta
from crm_store.settings import Settings
from crm_store.store import Store, init_store, open_store
from tests.conftest import TEST_KEY, make_settings
from tests.world import NOW, build_world

OTHER_KEY = new_key_text()


def _other(settings: Settings, key: str = OTHER_KEY) -> Settings:
    return make_settings(settings.home, settings.db_url, BANKBOT_DATA_KEY=key)


def test_init_stores_a_check_never_the_key(settings: Settings) -> None:
    store, _ = init_store(settings)
    try:
        with store.db.read() as s:
            stored = stored_key_check(s)
            rows = s.scalars(select(StoreMeta.value)).all()
        assert stored == store.cipher.key_check() and len(stored) == 64
        raw = decode_key(TEST_KEY)
        assert all(TEST_KEY not in v and raw.hex() not in v for v in rows)
    finally:
        store.close()


def test_a_different_key_is_refused_by_every_opening(settings: Settings) -> None:
    init_store(settings)[0].close()
    with pytest.raises(DataKeyError, match="does not match"):
        open_store(_other(settings))
    with pytest.raises(DataKeyError, match="does not match"):
        init_store(_other(settings))  # init does not adopt a second key either
    open_store(settings).close()


def test_without_a_check_one_stored_number_must_decrypt(store: Store) -> None:
    """A store from before the check (or a test database): trial decryption decides."""
    build_world(store)
    with store.db.read() as s:
        assert s.get(StoreMeta, KEY_CHECK) is None
    with pytest.raises(DataKeyError, match="does not match"):
        open_store(_other(store.settings))
    open_store(store.settings).close()


def _seed_secrets(store: Store) -> None:
    blob = base64.b64encode(store.cipher.encrypt("wecom-access-token")).decode()
    with store.db.write() as s:
        s.add(SharedSecret(name="wecom_token", value=blob, expires_at=NOW))
        s.add(SharedSecret(name="stale", value="bm90IGEgY2lwaGVydGV4dA==", expires_at=NOW))
        issue_code(s, staff_id="rm1", now=NOW, cipher=store.cipher)


def test_rotation_re_encrypts_every_row(store: Store) -> None:
    build_world(store)
    store.db.engine.dispose()
    store, _ = init_store(store.settings)
    _seed_secrets(store)
    with store.db.read() as s:
        before = {c.id: c.phone_enc for c in s.scalars(select(Customer))}
        phones = {
            c.id: store.cipher.decrypt(c.phone_enc or b"") for c in s.scalars(select(Customer))
        }
    new = FieldCipher(decode_key(OTHER_KEY))
    done = rotate_key(store.db, store.cipher, new, NOW)
    assert (done.customers, done.secrets, done.secrets_dropped, done.codes_cancelled) == (
        len(before),
        1,
        1,
        1,
    )
    with store.db.read() as s:
        for c in s.scalars(select(Customer)):
            assert c.phone_enc != before[c.id] and new.decrypt(c.phone_enc or b"") == phones[c.id]
            assert new.decrypt(c.id_number_enc or b"") == "31010119800101123X"
            with pytest.raises(DataKeyError):
                store.cipher.decrypt(c.phone_enc or b"")
        token = s.scalars(select(SharedSecret.value)).one()
        assert new.decrypt(base64.b64decode(token)) == "wecom-access-token"
        assert s.scalars(select(BindCode)).all() == []
    with pytest.raises(DataKeyError, match="does not match"):
        open_store(store.settings)  # the old key is refused from now on
    open_store(_other(store.settings)).close()
    store.close()


def test_rotation_with_a_bad_row_changes_nothing(store: Store) -> None:
    build_world(store)
    with store.db.write() as s:
        broken = s.get(Customer, "c8")
        assert broken is not None
        broken.phone_enc = FieldCipher(decode_key(new_key_text())).encrypt("13900000000")
        first = s.get(Customer, "c1")
        assert first is not None
        kept = first.phone_enc
    new = FieldCipher(decode_key(OTHER_KEY))
    with pytest.raises(DataKeyError):
        rotate_key(store.db, store.cipher, new, NOW)
    with store.db.read() as s:
        first = s.get(Customer, "c1")
        assert first is not None and first.phone_enc == kept
        assert stored_key_check(s) is None


def test_rotation_refuses_a_wrong_current_key(store: Store) -> None:
    build_world(store)
    wrong = FieldCipher(decode_key(OTHER_KEY))
    with pytest.raises(DataKeyError, match="does not match"):
        rotate_key(store.db, wrong, FieldCipher(decode_key(new_key_text())), NOW)


def test_bind_codes_are_a_keyed_hash(store: Store) -> None:
    import hashlib

    build_world(store)
    with store.db.write() as s:
        code = issue_code(s, staff_id="rm1", now=NOW, cipher=store.cipher)
    with store.db.read() as s:
        stored = s.scalars(select(BindCode.code_hash)).one()
    assert stored != hashlib.sha256(code.encode()).hexdigest()
    assert stored == store.cipher.code_hash(code)
    assert stored != FieldCipher(decode_key(OTHER_KEY)).code_hash(code)


def test_key_file_mode_is_0600(tmp_path: Path) -> None:
    import os

    from crm_store.crypto import write_key_file

    old = os.umask(0)
    try:
        write_key_file(tmp_path / "data.key")
    finally:
        os.umask(old)
    assert (tmp_path / "data.key").stat().st_mode & 0o777 == 0o600


def test_cli_refuses_a_valid_but_different_key(settings: Settings) -> None:
    """init, import and ask: each a one-line error, nothing written under the second key."""
    from typer.testing import CliRunner

    from bot.cli import app
    from tests.test_cli import env_for

    runner = CliRunner()
    assert runner.invoke(app, ["init"], env=env_for(settings)).exit_code == 0
    other = env_for(settings, BANKBOT_DATA_KEY=OTHER_KEY)
    for args in (["init"], ["ask", "--as", "rm1", "你好"], ["import", "branches", "x.csv"]):
        result = runner.invoke(app, args, env=other)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.strip().splitlines() == [
            "error: the data key does not match this database (key check failed)"
        ]


def test_cli_rotation_on_the_embedded_default_replaces_the_key_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    runner = CliRunner()
    env = {"BANKBOT_HOME": str(tmp_path), "DATABASE_URL": "", "BANKBOT_DATA_KEY": ""}
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    old_key = (tmp_path / "data.key").read_text()
    result = runner.invoke(app, ["key", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    assert "re-encrypted" in result.stdout
    new_key = (tmp_path / "data.key").read_text()
    assert new_key != old_key and (tmp_path / "data.key").stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "data.key.new").exists()
    assert runner.invoke(app, ["audit", "tail"], env=env).exit_code == 0


def test_cli_rotation_with_a_server_key_needs_the_new_key(
    settings: Settings, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from bot.cli import app
    from tests.test_cli import env_for

    runner = CliRunner()
    assert runner.invoke(app, ["init"], env=env_for(settings)).exit_code == 0
    missing = runner.invoke(app, ["key", "rotate"], env=env_for(settings))
    assert missing.exit_code == 2 and "--new-key-file" in missing.stderr
    key_file = tmp_path / "new.key"
    key_file.write_text(OTHER_KEY + "\n")
    key_file.chmod(0o600)
    rotated = runner.invoke(
        app, ["key", "rotate", "--new-key-file", str(key_file)], env=env_for(settings)
    )
    assert rotated.exit_code == 0, rotated.output
    assert "set BANKBOT_DATA_KEY" in rotated.stdout
    assert runner.invoke(app, ["audit", "tail"], env=env_for(settings)).exit_code == 1
    other = env_for(settings, BANKBOT_DATA_KEY=OTHER_KEY)
    assert runner.invoke(app, ["audit", "tail"], env=other).exit_code == 0


def test_an_interrupted_rotation_names_the_file_with_the_key(tmp_path: Path) -> None:
    """Killed after the commit, before the rename: the next command says where the key is."""
    from typer.testing import CliRunner

    from bot.cli import app
    from crm_store.crypto import write_key_file

    runner = CliRunner()
    env = {"BANKBOT_HOME": str(tmp_path), "DATABASE_URL": "", "BANKBOT_DATA_KEY": ""}
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
    store = open_store(settings)
    write_key_file(tmp_path / "data.key.new", OTHER_KEY)
    rotate_key(store.db, store.cipher, FieldCipher(decode_key(OTHER_KEY)), NOW)
    store.close()
    result = runner.invoke(app, ["audit", "tail"], env=env)
    assert result.exit_code == 1
    assert "move data.key.new to data.key" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
