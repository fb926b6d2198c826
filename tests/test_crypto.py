"""AES-256-GCM secret box: round trips, binding to table/column/row, tampering, keys and rotation."""
import base64
import os

import pytest
from flask import Flask

from medianest import crypto
from medianest.crypto import CryptoError, SecretBox, generate_key, key_id, parse_key

WHERE = {"table": "users", "column": "plex_token", "row_id": "7f3c0a52-1b1e-4c2a-9d7e-2f7e5b1f0c11"}
SECRET = "plex-token-Zq8sWz"


@pytest.fixture
def key():
    return os.urandom(32)


@pytest.fixture
def box(key):
    return SecretBox(key)


def body_bytes(token):
    body = token.split(":")[2]
    return bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def with_body(token, raw):
    version, kid, _ = token.split(":")
    return f"{version}:{kid}:{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"


@pytest.mark.parametrize("plaintext", ["", SECRET, "clé — 秘密 🔑", "x" * 5000])
def test_round_trip(box, plaintext):
    token = box.seal(plaintext, **WHERE)
    assert box.open(token, **WHERE) == plaintext
    assert plaintext == "" or plaintext not in token


def test_format_is_versioned_with_key_id(box, key):
    version, kid, body = box.seal(SECRET, **WHERE).split(":")
    assert (version, kid) == ("v1", key_id(key))
    assert len(body_bytes(f"v1:{kid}:{body}")) == 12 + len(SECRET) + 16


def test_fresh_nonce_per_seal(box):
    first, second = box.seal(SECRET, **WHERE), box.seal(SECRET, **WHERE)
    assert first != second
    assert body_bytes(first)[:12] != body_bytes(second)[:12]


@pytest.mark.parametrize(
    "index",
    [0, 11, 12, -17, -16, -1],
    ids=["nonce-start", "nonce-end", "ciphertext-start", "ciphertext-end", "tag-start", "tag-end"],
)
def test_any_flipped_byte_is_detected(box, index):
    token = box.seal(SECRET, **WHERE)
    raw = body_bytes(token)
    raw[index] ^= 0x01
    with pytest.raises(CryptoError, match="wrong key or tampered value"):
        box.open(with_body(token, raw), **WHERE)


def test_truncated_tag_is_detected(box):
    token = box.seal(SECRET, **WHERE)
    with pytest.raises(CryptoError):
        box.open(with_body(token, body_bytes(token)[:-1]), **WHERE)


@pytest.mark.parametrize(
    "other",
    [
        {"row_id": "00000000-0000-0000-0000-000000000000"},
        {"column": "api_key"},
        {"table": "accounts"},
    ],
    ids=["row", "column", "table"],
)
def test_value_is_bound_to_its_table_column_and_row(box, other):
    token = box.seal(SECRET, **WHERE)
    with pytest.raises(CryptoError, match="wrong key or tampered value"):
        box.open(token, **(WHERE | other))


def test_row_id_is_bound_by_its_text(box):
    token = box.seal(SECRET, table="service_config", column="api_key", row_id=42)
    assert box.open(token, table="service_config", column="api_key", row_id="42") == SECRET


def test_row_id_is_required(box):
    with pytest.raises(ValueError, match="row_id is required"):
        box.seal(SECRET, table="users", column="plex_token", row_id=None)


def test_wrong_key_is_rejected(box):
    token = box.seal(SECRET, **WHERE)
    with pytest.raises(CryptoError, match="unknown key id"):
        SecretBox(os.urandom(32)).open(token, **WHERE)


def test_wrong_key_with_the_same_key_id_is_rejected(box, key):
    token = box.seal(SECRET, **WHERE)
    impostor = SecretBox(os.urandom(32))
    forged = token.replace(key_id(key), impostor.current_key_id, 1)
    with pytest.raises(CryptoError, match="wrong key or tampered value"):
        impostor.open(forged, **WHERE)


def test_old_key_stays_readable(box, key):
    token = box.seal(SECRET, **WHERE)
    new_box = SecretBox(os.urandom(32), old_keys=[key])
    assert new_box.open(token, **WHERE) == SECRET


def test_rotation_reseals_with_the_current_key(box, key):
    old_token = box.seal(SECRET, **WHERE)
    new_key = os.urandom(32)
    new_box = SecretBox(new_key, old_keys=[key])
    assert new_box.needs_rotation(old_token)
    assert not box.needs_rotation(old_token)

    rotated = new_box.rotate(old_token, **WHERE)

    assert rotated.split(":")[1] == key_id(new_key)
    assert not new_box.needs_rotation(rotated)
    assert new_box.open(rotated, **WHERE) == SECRET
    assert SecretBox(new_key).open(rotated, **WHERE) == SECRET
    with pytest.raises(CryptoError):
        box.open(rotated, **WHERE)


def test_rotate_values_yields_only_rows_sealed_with_old_keys(box, key):
    new_box = SecretBox(os.urandom(32), old_keys=[key])
    where = {"table": "service_config", "column": "api_key"}
    rows = [
        (1, box.seal("one", row_id=1, **where)),
        (2, new_box.seal("two", row_id=2, **where)),
        (3, None),
        (4, box.seal("four", row_id=4, **where)),
    ]

    changed = dict(new_box.rotate_values(rows, **where))

    assert sorted(changed) == [1, 4]
    assert new_box.open(changed[1], row_id=1, **where) == "one"
    assert new_box.open(changed[4], row_id=4, **where) == "four"
    assert not any(new_box.needs_rotation(token) for token in changed.values())


def test_module_rotate_values_accepts_an_explicit_box(box, key):
    new_box = SecretBox(os.urandom(32), old_keys=[key])
    rows = [(WHERE["row_id"], box.seal(SECRET, **WHERE))]
    [(_, token)] = crypto.rotate_values(rows, table="users", column="plex_token", box=new_box)
    assert new_box.open(token, **WHERE) == SECRET


def test_current_key_listed_among_old_keys_is_harmless(key):
    box = SecretBox(key, old_keys=[key])
    assert box.key_ids == [key_id(key)]
    assert box.open(box.seal(SECRET, **WHERE), **WHERE) == SECRET


@pytest.mark.parametrize(
    "token, reason",
    [
        ("", "malformed value"),
        ("plain text token", "malformed value"),
        ("v1:abcd1234", "malformed value"),
        ("v1:abcd1234:body:extra", "malformed value"),
        ("v1:{kid}:not*base64!", "malformed value"),
        ("v1:{kid}:" + "A" * 36, "malformed value"),  # 27 bytes: shorter than nonce + tag
        ("v1:{kid}:{body}=", "malformed value"),  # padding we never write
        ("v2:{kid}:{body}", "unknown format version"),
        ("v1:0badc0de:{body}", "unknown key id 0badc0de"),
    ],
)
def test_malformed_values_raise_crypto_error(box, token, reason):
    _, kid, body = box.seal(SECRET, **WHERE).split(":")
    with pytest.raises(CryptoError, match=reason):
        box.open(token.format(kid=kid, body=body), **WHERE)


def test_non_string_value_raises_crypto_error(box):
    with pytest.raises(CryptoError, match="malformed value"):
        box.open(None, **WHERE)


def test_needs_rotation_rejects_malformed_values(box):
    with pytest.raises(CryptoError):
        box.needs_rotation("garbage")


def test_errors_carry_no_secret_material(box, key):
    token = box.seal(SECRET, **WHERE)
    _, kid, body = token.split(":")
    key_texts = [base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode(), key.hex()]
    attempts = [
        lambda: box.open(token, **(WHERE | {"column": "api_key"})),
        lambda: box.open(with_body(token, body_bytes(token)[:-1] + b"\0"), **WHERE),
        lambda: box.open(f"v1:{kid}:{body}x", **WHERE),
        lambda: SecretBox(os.urandom(32)).open(token, **WHERE),
    ]
    for attempt in attempts:
        with pytest.raises(CryptoError) as caught:
            attempt()
        message = str(caught.value)
        assert message.startswith("cannot decrypt users.")
        assert SECRET not in message and body not in message
        assert not any(text in message for text in key_texts)
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_key_id_is_short_stable_and_distinct(key):
    assert key_id(key) == key_id(bytes(key))
    assert len(key_id(key)) == 8
    assert key_id(key) != key_id(os.urandom(32))
    assert key_id(key) not in key.hex()


def test_generate_key_round_trips_through_parse_key():
    text = generate_key()
    assert len(parse_key(text)) == 32
    assert generate_key() != text


def test_parse_key_accepts_standard_urlsafe_and_unpadded_base64():
    raw = bytes(range(250, 256)) + os.urandom(26)
    for text in (
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        f"  {base64.b64encode(raw).decode()}\n",
    ):
        assert parse_key(text) == raw


def test_parse_key_rejects_short_keys():
    with pytest.raises(ValueError) as caught:
        parse_key(base64.b64encode(b"x" * 12).decode())
    assert str(caught.value) == "MEDIANEST_ENCRYPTION_KEY must be base64 of 32 bytes (got 12)"


@pytest.mark.parametrize("text", ["not base64 at all!", "abc$def", ""])
def test_parse_key_rejects_text_that_is_not_a_key(text):
    with pytest.raises(ValueError, match="MEDIANEST_ENCRYPTION_KEY must be base64 of 32 bytes"):
        parse_key(text)


def test_parse_key_error_does_not_echo_the_value():
    text = "s3cr3t-but-not-base64!!"
    with pytest.raises(ValueError) as caught:
        parse_key(text, name="MEDIANEST_OLD_ENCRYPTION_KEYS entry 1")
    assert text not in str(caught.value)
    assert str(caught.value).startswith("MEDIANEST_OLD_ENCRYPTION_KEYS entry 1 ")


def test_secret_box_rejects_keys_of_the_wrong_size():
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox(b"short")


def test_init_app_with_comma_separated_old_keys(key):
    old_a, old_b = os.urandom(32), os.urandom(32)
    app = Flask(__name__)
    app.config["MEDIANEST_ENCRYPTION_KEY"] = base64.b64encode(key).decode()
    app.config["MEDIANEST_OLD_ENCRYPTION_KEYS"] = (
        f" {base64.b64encode(old_a).decode()} ,{base64.urlsafe_b64encode(old_b).decode()},"
    )
    crypto.init_app(app)

    with app.app_context():
        box = crypto.secret_box()
        assert box.current_key_id == key_id(key)
        assert box.key_ids == [key_id(key), key_id(old_a), key_id(old_b)]
        assert box.open(SecretBox(old_b).seal(SECRET, **WHERE), **WHERE) == SECRET
        rows = [(WHERE["row_id"], SecretBox(old_a).seal(SECRET, **WHERE))]
        [(_, token)] = crypto.rotate_values(rows, table="users", column="plex_token")
        assert SecretBox(key).open(token, **WHERE) == SECRET


def test_init_app_with_a_list_of_old_keys_and_none(key):
    app = Flask(__name__)
    app.config["MEDIANEST_ENCRYPTION_KEY"] = base64.b64encode(key).decode()
    app.config["MEDIANEST_OLD_ENCRYPTION_KEYS"] = [generate_key()]
    assert len(crypto.init_app(app).key_ids) == 2

    bare = Flask(__name__)
    bare.config["MEDIANEST_ENCRYPTION_KEY"] = base64.b64encode(key).decode()
    assert crypto.init_app(bare).key_ids == [key_id(key)]


def test_init_app_names_the_bad_setting():
    app = Flask(__name__)
    with pytest.raises(ValueError, match="MEDIANEST_ENCRYPTION_KEY is not set"):
        crypto.init_app(app)
    app.config["MEDIANEST_ENCRYPTION_KEY"] = generate_key()
    app.config["MEDIANEST_OLD_ENCRYPTION_KEYS"] = f"{generate_key()},too-short"
    with pytest.raises(ValueError, match="MEDIANEST_OLD_ENCRYPTION_KEYS entry 2 must be base64 of 32 bytes"):
        crypto.init_app(app)


def test_secret_box_without_init_app_is_a_clear_error():
    with Flask(__name__).app_context():
        with pytest.raises(RuntimeError, match="init_app"):
            crypto.secret_box()
