"""Federations: `create_federation` writes usable credentials; `Federation.load` names every problem."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

import pytest

from veil.cli import exit_codes, main
from veil.errors import ConfigError
from veil.net.certificates import certificate_der, fingerprint_of, new_credentials, read_certificate
from veil.net.federation import Federation, SessionSettings, create_federation


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    """A 3-party federation on free ports."""
    return create_federation(tmp_path_factory.mktemp("fed"), 3, base_port=0)


def rewrite(federation: Federation, tmp_path: Path, edit) -> Path:
    """Copy the federation file into tmp_path with absolute paths, apply ``edit`` to its text."""
    text = federation.to_toml()
    target = tmp_path / "federation.toml"
    target.write_text(edit(text), encoding="utf-8")
    return target


def test_init_writes_keys_owner_only_and_a_file_that_loads(created: Federation) -> None:
    """Every party gets a 0600 key in a 0700 folder, and the file loads back with matching pins."""
    assert created.n_parties == 3
    assert created.path is not None
    assert created.path.name == "federation.toml"
    for party in created.parties:
        assert party.key is not None
        assert stat.S_IMODE(party.key.stat().st_mode) == 0o600
        assert stat.S_IMODE(party.key.parent.stat().st_mode) == 0o700
        assert party.certificate.exists()
    assert Federation.load(created.path) == created


def test_the_default_threshold_is_the_largest_honest_majority_one(tmp_path: Path) -> None:
    """n = 4 gives t = 1; n = 5 gives t = 2."""
    assert create_federation(tmp_path / "a", 4, base_port=0).threshold == 1
    assert create_federation(tmp_path / "b", 5, base_port=0).threshold == 2


def test_ports_follow_the_base_port(tmp_path: Path) -> None:
    """Party i listens on base_port + i."""
    fed = create_federation(tmp_path, 3, base_port=47100)
    assert [p.port for p in fed.parties] == [47100, 47101, 47102]


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    """An existing federation is kept unless force=True; forcing makes new keys."""
    first = create_federation(tmp_path, 2, base_port=0)
    with pytest.raises(ConfigError, match="already exists"):
        create_federation(tmp_path, 2, base_port=0)
    second = create_federation(tmp_path, 2, base_port=0, force=True)
    assert second.parties[0].fingerprint != first.parties[0].fingerprint


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_parties": 1}, "2 to 65536 parties"),
        ({"n_parties": 3, "threshold": 2}, "2t < n"),
        ({"n_parties": 3, "base_port": 65534}, "not all valid TCP ports"),
    ],
)
def test_init_rejects_impossible_settings(tmp_path: Path, kwargs: dict, message: str) -> None:
    """Too few parties, a dishonest-majority threshold or ports past 65535 are refused."""
    with pytest.raises(ConfigError, match=message):
        create_federation(tmp_path, **kwargs)


def test_the_federation_id_ignores_local_settings_but_not_addresses(created: Federation) -> None:
    """Key paths and session deadlines are local; a changed port is another federation."""
    local = created.model_copy(
        update={
            "parties": [p.model_copy(update={"key": None}) for p in created.parties],
            "session": SessionSettings(recv_seconds=1.0),
        }
    )
    moved = created.model_copy(
        update={
            "parties": [created.parties[0].model_copy(update={"port": 1}), *created.parties[1:]]
        }
    )
    assert local.federation_id == created.federation_id
    assert moved.federation_id != created.federation_id


def test_session_settings_become_timeouts(created: Federation) -> None:
    """The [session] table maps onto Timeouts field by field."""
    t = created.timeouts()
    s = created.session
    assert (t.connect_seconds, t.recv_seconds, t.send_seconds, t.close_seconds) == (
        s.connect_seconds,
        s.recv_seconds,
        s.send_seconds,
        s.close_seconds,
    )


def test_an_unknown_party_id_is_named(created: Federation) -> None:
    """party(7) says which ids exist."""
    with pytest.raises(ConfigError, match=r"party id 7 is not in the federation \(ids 0..2\)"):
        created.party(7)


def test_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    """Loading a file that does not exist names it and points at `veil federation init`."""
    with pytest.raises(ConfigError, match="cannot read the federation file") as info:
        Federation.load(tmp_path / "nope.toml")
    assert "veil federation init" in str(info.value.hint)
    assert info.value.fields["path"].endswith("nope.toml")


def test_invalid_toml_is_reported_with_its_file(tmp_path: Path) -> None:
    """A syntax error names the file and the TOML parser's position."""
    bad = tmp_path / "federation.toml"
    bad.write_text("threshold = = 1\n")
    with pytest.raises(ConfigError, match=r"federation.toml is not valid TOML: .*line 1"):
        Federation.load(bad)


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("port = {port1}", 'port = "x"', "parties[1].port", "valid integer"),
        ("threshold = 1", "threshold = 2", "threshold", "2t < n"),
        ("threshold = 1", "threshold = 1\ncolour = 1", "colour", "Extra inputs"),
        ("id = 1\n", "id = 2\n", "parties[1].id", "ids 0..2 in order"),
        ('name = "party-1"', 'name = "party-0"', "parties[1].name", "both named"),
        ("recv_seconds = 60.0", "recv_seconds = -1.0", "session.recv_seconds", "greater than 0"),
        ('fingerprint = "sha256:', 'fingerprint = "md5:', "parties[0].fingerprint", "pattern"),
    ],
)
def test_schema_errors_name_the_file_and_field(
    created: Federation, tmp_path: Path, old: str, new: str, field: str, message: str
) -> None:
    """Each kind of mistake names the file, the exact field and what was wrong."""
    old = old.format(port1=created.parties[1].port)
    path = rewrite(created, tmp_path, lambda text: text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message) as info:
        Federation.load(path)
    assert info.value.fields["field"] == field
    assert str(path) in str(info.value)


def test_two_parties_on_one_address_are_refused(created: Federation, tmp_path: Path) -> None:
    """Distinct parties must listen on distinct host:port pairs."""
    port0, port1 = created.parties[0].port, created.parties[1].port
    path = rewrite(created, tmp_path, lambda t: t.replace(f"port = {port1}", f"port = {port0}"))
    with pytest.raises(ConfigError, match="both listen on") as info:
        Federation.load(path)
    assert info.value.fields["field"] == "parties[1].port"


def test_a_replaced_certificate_breaks_the_pin(created: Federation, tmp_path: Path) -> None:
    """If a certificate file no longer matches its fingerprint, loading fails naming the party."""
    impostor = tmp_path / "impostor.pem"
    impostor.write_bytes(new_credentials("impostor")[1])
    path = rewrite(
        created,
        tmp_path,
        lambda t: t.replace(created.parties[2].certificate.as_posix(), impostor.as_posix()),
    )
    with pytest.raises(ConfigError, match=r"certificate .* of party 2 has fingerprint") as info:
        Federation.load(path)
    assert info.value.fields["field"] == "parties[2].fingerprint"


def test_a_missing_certificate_file_is_named(created: Federation, tmp_path: Path) -> None:
    """A certificate path that does not exist names the field and the path."""
    path = rewrite(
        created,
        tmp_path,
        lambda t: t.replace(created.parties[1].certificate.as_posix(), "/no/such/cert.pem"),
    )
    with pytest.raises(
        ConfigError, match=r"cannot read the certificate /no/such/cert\.pem"
    ) as info:
        Federation.load(path)
    assert info.value.fields["field"] == "parties[1].certificate"


def test_an_expired_certificate_is_refused(created: Federation, tmp_path: Path) -> None:
    """A certificate outside its validity period fails at load time, not mid-handshake."""
    old = tmp_path / "old.pem"
    old.write_bytes(new_credentials("party 1", days=0)[1])
    fed = created.model_dump()
    fed["parties"][1]["certificate"] = str(old)
    fed["parties"][1]["fingerprint"] = fingerprint_of(certificate_der(read_certificate(old)))
    fed["parties"] = [
        {**p, "certificate": str(p["certificate"]), "key": None} for p in fed["parties"]
    ]
    with pytest.raises(ConfigError, match=r"is valid from .* not now"):
        Federation.from_dict(fed, path=tmp_path / "federation.toml").check_certificates()


def test_relative_paths_are_resolved_against_the_file(created: Federation) -> None:
    """The written file uses relative paths; loading makes them absolute under its folder."""
    assert created.path is not None
    raw = tomllib.loads(created.path.read_text())
    assert raw["parties"][0]["certificate"] == "party-0/cert.pem"
    assert created.parties[0].certificate == created.path.parent / "party-0" / "cert.pem"


# -- the command line ---------------------------------------------------------------------------


def test_cli_init_prints_what_it_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veil federation init --json` exits 0 and lists the files, parties and threshold."""
    code = main(
        [
            "federation",
            "init",
            "--parties",
            "3",
            "--dir",
            str(tmp_path),
            "--base-port",
            "0",
            "--json",
        ]
    )
    assert code == exit_codes.SUCCESS
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1
    assert doc["n_parties"] == 3
    assert doc["threshold"] == 1
    assert len(doc["created"]) == 1 + 2 * 3
    assert all(Path(p).exists() for p in doc["created"])
    assert {"id", "host", "port", "certificate", "fingerprint", "key"} <= set(doc["parties"][0])


def test_cli_init_refuses_an_existing_federation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second init into the same folder fails with the error code and a JSON error."""
    args = ["federation", "init", "--parties", "2", "--dir", str(tmp_path), "--base-port", "0"]
    assert main(args) == exit_codes.SUCCESS
    capsys.readouterr()
    assert main([*args, "--json"]) == exit_codes.ERROR
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["code"] == "invalid-config"
    assert "--force" in error["hint"]


def test_cli_show_checks_a_file(created: Federation, capsys: pytest.CaptureFixture[str]) -> None:
    """`veil federation show FILE --json` describes a valid federation."""
    assert main(["federation", "show", str(created.path), "--json"]) == exit_codes.SUCCESS
    doc = json.loads(capsys.readouterr().out)
    assert doc["federation_id"] == created.federation_id.hex()


def test_cli_show_reports_the_bad_field(
    created: Federation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken file exits with the error code and a JSON error naming file and field."""
    path = rewrite(created, tmp_path, lambda t: t.replace("threshold = 1", "threshold = 5"))
    assert main(["federation", "show", str(path), "--json"]) == exit_codes.ERROR
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["field"] == "threshold"
    assert error["path"] == str(path)
