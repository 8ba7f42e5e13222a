"""The contract every importer of the registry keeps, checked once for all of them.

An importer is pure (bytes and a password in, entries out) and the upload page trusts it
blindly, so each one must: read its own samples completely; be the format detection picks
for them and claim no other format's file; refuse what is not its format, garbage and
damaged files with a `TransferError` (a password problem with `PasswordRequired` or
`WrongPassword`), never another exception; and return either the whole file or nothing,
never a half list: every entry it returns has a spec or a problem. Formats the app also
writes read back what was written.

Adding an importer means adding its samples below; `test_every_importer_has_samples` fails
until then. What is particular to one format stays in that format's test module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from interop_fixtures import FORMAT_OF, expected, fixture, fuzz, mutated
from test_aegis import V3_DB as AEGIS_DB
from test_aegis import sealed_vault
from test_andotp import SMALL_SEALED as ANDOTP_SEALED
from test_bitwarden import CSV_SAMPLE as BITWARDEN_CSV
from test_bitwarden import VAULT_EXPORT as BITWARDEN_VAULT
from test_bitwarden import protect as protect_bitwarden
from test_ente import ENCRYPTED_SAMPLE as ENTE_ENCRYPTED
from test_ente import PASSWORD as ENTE_PASSWORD
from test_ente import dump as dump_ente
from test_proton import CHEAP_SAMPLE as PROTON_CHEAP
from test_proton import ENCRYPTED_SAMPLE as PROTON_ENCRYPTED
from test_proton import PASSWORD as PROTON_PASSWORD
from test_stratum import CHEAP_SAMPLE as STRATUM_CHEAP
from test_stratum import ENCRYPTED_SAMPLE as STRATUM_ENCRYPTED
from test_stratum import PASSWORD as STRATUM_PASSWORD
from test_twofas import SERVICES as TWOFAS_SERVICES
from test_twofas import protected as protected_twofas
from test_twofauth import SAMPLE as TWOFAUTH_SAMPLE
from transfer_strategies import account_specs, link_params

from tests.support.i18n import chinese, is_translated
from webauth.otp import HMAC_ALGORITHMS, MAX_COUNTER, OtpParams, OtpType
from webauth.otpauth import AccountSpec
from webauth.transfer import registry
from webauth.transfer.aegis import export_aegis
from webauth.transfer.base import ImportedEntry, Importer, PasswordRequired, TransferError, WrongPassword
from webauth.transfer.google import encode_migration_uris
from webauth.transfer.otpauth_list import export_otpauth_list

FUZZ = fuzz(60)
ROUND_TRIP = fuzz(40)


@dataclass(frozen=True)
class Sample:
    """A file of one format: how many entries it holds, and how many of them cannot be imported."""

    name: str
    data: bytes
    count: int
    password: str | None = None
    problems: int = 0

    def __repr__(self) -> str:
        return self.name


def _fixture_samples() -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {}
    for name, info in expected()["files"].items():
        if info["count"] is not None:
            sample = Sample(name, fixture(name), info["count"], info.get("password"))
            samples.setdefault(FORMAT_OF[name], []).append(sample)
    return samples


def _count(name: str) -> int:
    return expected()["files"][name]["count"]


SAMPLES: dict[str, list[Sample]] = _fixture_samples()
SAMPLES["ente_encrypted"] = [
    Sample("ente (encrypted)", dump_ente(ENTE_ENCRYPTED), _count("ente_auth.txt"), ENTE_PASSWORD)
]
SAMPLES["proton_encrypted"] = [
    Sample("proton (encrypted)", PROTON_ENCRYPTED, _count("proton_authenticator.json"), PROTON_PASSWORD)
]
SAMPLES["stratum_encrypted"] = [
    Sample("stratum (encrypted)", STRATUM_ENCRYPTED, _count("stratum_plain.json"), STRATUM_PASSWORD)
]
SAMPLES["twofauth"] = [Sample("2fauth", TWOFAUTH_SAMPLE, 3)]
SAMPLES["bitwarden_csv"] = [Sample("bitwarden.csv", BITWARDEN_CSV, 4, problems=1)]

# Encrypted files whose key derivation is cheap, for the fuzzing (thousands of reads).
CHEAP_SAMPLES: dict[str, list[Sample]] = {
    **{format_id: [s for s in samples if s.password is None] for format_id, samples in SAMPLES.items()},
    "aegis": [
        *[s for s in SAMPLES["aegis"] if s.password is None],
        Sample("aegis (cheap scrypt)", sealed_vault(AEGIS_DB, "pw", n=2**4), 6, "pw", problems=2),
    ],
    "andotp": [*SAMPLES["andotp"], Sample("andotp (cheap PBKDF2)", ANDOTP_SEALED, 3, "pw", problems=1)],
    "2fas": [
        *[s for s in SAMPLES["2fas"] if s.password is None],
        Sample("2fas (protected)", protected_twofas(TWOFAS_SERVICES, "pw"), 3, "pw", problems=1),
    ],
    "bitwarden_json": [
        *SAMPLES["bitwarden_json"],
        Sample("bitwarden (protected)", protect_bitwarden(BITWARDEN_VAULT, "pw"), 3, "pw", problems=1),
    ],
    "ente_encrypted": SAMPLES["ente_encrypted"],
    # These apps fix the key derivation's cost, whatever the file says: the fuzzing reads them without
    # a password, up to the derivation; their own tests fuzz the decryption with the cost patched down.
    "proton_encrypted": [Sample("proton (cheap Argon2)", PROTON_CHEAP, _count("proton_authenticator.json"))],
    "stratum_encrypted": [Sample("stratum (cheap Argon2)", STRATUM_CHEAP, _count("stratum_plain.json"))],
}
# The QR image importer decodes a 650 KB screenshot per read; its own tests fuzz small images.
CHEAP_SAMPLES["qr_image"] = []

# Readers that also take (part of) another format's file, by design; every other reader refuses it.
LENIENT: dict[str, str] = {
    "otpauth": "any text holding otpauth URIs is a URI list, whatever surrounds them",
    "bitwarden_json": "Bitwarden's vault export and its Authenticator export share the item layout",
    "bitwarden_authenticator": "Bitwarden's vault export and its Authenticator export share the item layout",
    "ente": "an Ente plain export is an otpauth URI list with extra parameters",
}
# Files that more than one format's `sniff` claims; the registry's order decides (see registry.py).
SHARED_SNIFF = {("otpauth", "ente")}
# Formats read line by line: a file cut short loses its last lines, which no check can see.
LINE_FORMATS = {"otpauth", "ente", "google_migration", "bitwarden_csv"}

# Named, not shown: test ids holding escapes cannot be selected again from the command line.
GARBAGE = {
    "text": b"hello, world",
    "binary": b"\x00\x01\x02binary",
    "not-utf8": b"\xff\xfe\xfd",
    "blank": b"   \n",
    "empty-object": b"{}",
    "null": b"null",
    "cut-json": b'{"a": [1, 2',
    "a-word": b"otpauth",
    "sqlite-header": b"SQLite format 3\x00",
    "png-header": b"\x89PNG\r\n\x1a\n",
    "stratum-header": b"AuthenticatorPro",
}

IMPORTERS = {importer.format_id: importer for importer in registry.IMPORTERS}
FORMAT_IDS = list(IMPORTERS)
ALL_SAMPLES = [(format_id, sample) for format_id, samples in SAMPLES.items() for sample in samples]


def _ids(pairs: list[tuple[str, Sample]]) -> list[str]:
    return [f"{format_id}-{sample.name}" for format_id, sample in pairs]


def assert_well_formed(entries: list[ImportedEntry]) -> None:
    """A whole list: each entry says where it comes from and has a spec or a problem, not both."""
    assert isinstance(entries, list)
    for entry in entries:
        assert isinstance(entry, ImportedEntry)
        assert isinstance(entry.source, str) and entry.source
        assert (entry.spec is None) != (entry.problem is None), entry
        assert entry.problem is None or (isinstance(entry.problem, str) and entry.problem)


def read_or_refuse(importer: Importer, data: bytes, password: str | None) -> list[ImportedEntry] | None:
    """The entries, or None for a `TransferError`; any other exception fails the test.

    The file is read in Chinese: every refusal and every entry's problem must be translated.
    """
    with chinese():
        try:
            entries = importer.read(data, password)
        except TransferError as error:
            assert is_translated(str(error)), f"a refusal must say why, in the reader's language: {error}"
            return None
    assert_well_formed(entries)
    untranslated = [entry.problem for entry in entries if entry.problem and not is_translated(entry.problem)]
    assert untranslated == []
    return entries


def test_every_importer_has_samples() -> None:
    assert set(SAMPLES) == set(IMPORTERS)
    assert all(SAMPLES.values())


# Reading its own files ----------------------------------------------------------------------


@pytest.mark.parametrize(("format_id", "sample"), ALL_SAMPLES, ids=_ids(ALL_SAMPLES))
def test_reads_its_samples_whole(format_id: str, sample: Sample) -> None:
    entries = read_or_refuse(IMPORTERS[format_id], sample.data, sample.password)
    assert entries is not None
    assert len(entries) == sample.count
    assert sum(entry.spec is None for entry in entries) == sample.problems, [entry.problem for entry in entries]


# How the preview names each entry of a sample: its place in the file, and its own names.
_PLACE_AND_NAMES = "{place} {n} ({issuer}: {name})"
SOURCES: dict[str, str | list[str]] = {
    "plain.txt": "line {n}",
    "ente_auth.txt": "line {n}",
    "ente (encrypted)": "line {n}",
    "aegis_plain.json": _PLACE_AND_NAMES.replace("{place}", "entry"),
    "aegis_encrypted.json": _PLACE_AND_NAMES.replace("{place}", "entry"),
    "andotp_plain.json": _PLACE_AND_NAMES.replace("{place}", "entry"),
    "2fas_authenticator_plain_v4.2fas": _PLACE_AND_NAMES.replace("{place}", "service"),
    "2fas_authenticator_encrypted_v4.2fas": _PLACE_AND_NAMES.replace("{place}", "service"),
    "freeotp_plus.json": _PLACE_AND_NAMES.replace("{place}", "token"),
    "microsoft_authenticator.sqlite": _PLACE_AND_NAMES.replace("{place}", "account"),
    "stratum_plain.json": _PLACE_AND_NAMES.replace("{place}", "authenticator"),
    "stratum (encrypted)": _PLACE_AND_NAMES.replace("{place}", "authenticator"),
    "2fauth": _PLACE_AND_NAMES.replace("{place}", "account"),
    "google_migration_example.png": "QR code 1, account {n} ({issuer}: {name})",
    "proton_authenticator.json": "entry {n} ({name})",
    "proton (encrypted)": "entry {n} ({name})",
    "bitwarden_authenticator_plain.json": ["item 1 (Test Issuer)"],
    "bitwarden.json": ["item 1 (Test 1)", "item 2 (Test 2)", "item 3 (Test 3)", "item 4 (Test Steam)"],
    "bitwarden.csv": ["row 1 (GitHub: alice)", "row 2 (Plain: bob)", "row 3 (Steam: gamer)", "row 6 (Broken: dave)"],
    "google_migration_example.txt": [
        "line 5 (raspberrypi: pi@raspberrypi)",
        "line 8 (pi@raspberrypi)",
        "line 12, account 1 (pi@raspberrypi)",
        "line 12, account 2 (raspberrypi: pi@raspberrypi)",
        "line 15 (hotp demo)",
        "line 19 (encoding: ¿äÄéÉ? (demo))",
    ],
}


@pytest.mark.parametrize(("format_id", "sample"), ALL_SAMPLES, ids=_ids(ALL_SAMPLES))
def test_each_entry_is_named_by_its_place_and_its_names(format_id: str, sample: Sample) -> None:
    entries = IMPORTERS[format_id].read(sample.data, sample.password)
    expected_sources = SOURCES[sample.name]
    if isinstance(expected_sources, str):
        expected_sources = [
            expected_sources.format(n=n, issuer=entry.spec.issuer, name=entry.spec.name)
            for n, entry in enumerate(entries, start=1)
            if entry.spec is not None
        ]
    assert [entry.source for entry in entries] == expected_sources


@pytest.mark.parametrize(("format_id", "sample"), ALL_SAMPLES, ids=_ids(ALL_SAMPLES))
def test_detection_picks_it_for_its_samples(format_id: str, sample: Sample) -> None:
    assert IMPORTERS[format_id].sniff(sample.data)
    assert registry.detect(sample.data) is IMPORTERS[format_id]


@pytest.mark.parametrize("format_id", FORMAT_IDS)
def test_claims_no_other_formats_samples(format_id: str) -> None:
    importer = IMPORTERS[format_id]
    claimed = {
        (other, sample.name)
        for other, sample in ALL_SAMPLES
        if other != format_id and (format_id, other) not in SHARED_SNIFF and importer.sniff(sample.data)
    }
    assert claimed == set()


@pytest.mark.parametrize("format_id", FORMAT_IDS)
def test_refuses_other_formats_files(format_id: str) -> None:
    """Picked by hand for the wrong file, an importer refuses it (a few read part of it, by design)."""
    importer = IMPORTERS[format_id]
    read = {
        sample.name
        for other, sample in ALL_SAMPLES
        if other != format_id and read_or_refuse(importer, sample.data, sample.password) is not None
    }
    if format_id not in LENIENT:
        assert read == set()


@pytest.mark.parametrize("format_id", FORMAT_IDS)
@pytest.mark.parametrize("data", GARBAGE.values(), ids=GARBAGE.keys())
def test_refuses_garbage_with_a_transfer_error(format_id: str, data: bytes) -> None:
    with chinese(), pytest.raises(TransferError) as refusal:
        IMPORTERS[format_id].read(data, "pw")
    assert is_translated(str(refusal.value))


# Passwords ----------------------------------------------------------------------------------

# Encrypted files: the samples (with the key derivation their app uses) and cheap ones sealed by the tests.
ENCRYPTED = [(f, s) for f, s in ALL_SAMPLES if s.password] + [
    (f, s) for f in ("aegis", "andotp", "2fas", "bitwarden_json") for s in CHEAP_SAMPLES[f] if s.password
]
PLAIN = [(f, s) for f, s in ALL_SAMPLES if s.password is None and f != "qr_image"]


@pytest.mark.parametrize(("format_id", "sample"), ENCRYPTED, ids=_ids(ENCRYPTED))
def test_an_encrypted_file_asks_for_its_password_and_refuses_another(format_id: str, sample: Sample) -> None:
    importer = IMPORTERS[format_id]
    with chinese():
        for password, refusal in ((None, PasswordRequired), ("", PasswordRequired), ("x", WrongPassword)):
            with pytest.raises(refusal) as error:
                importer.read(sample.data, password if password != "x" else sample.password + "x")
            assert is_translated(str(error.value))
    assert len(importer.read(sample.data, sample.password)) == sample.count


@pytest.mark.parametrize(("format_id", "sample"), PLAIN, ids=_ids(PLAIN))
def test_a_plain_file_ignores_a_password(format_id: str, sample: Sample) -> None:
    importer = IMPORTERS[format_id]
    assert importer.read(sample.data, "unneeded") == importer.read(sample.data)


# Damaged files: a TransferError or the whole list -----------------------------------------

CUT = [(f, s) for f, samples in CHEAP_SAMPLES.items() for s in samples if f not in LINE_FORMATS and s.data]


@pytest.mark.parametrize(("format_id", "sample"), CUT, ids=_ids(CUT))
@pytest.mark.parametrize("keep", [0.25, 0.5, 0.9, 0.99])
def test_a_file_cut_short_is_refused_or_read_whole(format_id: str, sample: Sample, keep: float) -> None:
    """Never a half list: a truncated file is refused, or (when only padding was lost) reads as the whole."""
    importer = IMPORTERS[format_id]
    entries = read_or_refuse(importer, sample.data[: max(1, int(len(sample.data) * keep))], sample.password)
    assert entries is None or entries == importer.read(sample.data, sample.password)


FUZZED = [f for f in FORMAT_IDS if CHEAP_SAMPLES[f]]


@pytest.mark.parametrize("format_id", FORMAT_IDS)
@FUZZ
@given(data=st.binary(max_size=600), password=st.none() | st.just("pw"))
def test_arbitrary_bytes_are_refused_or_read_whole(format_id: str, data: bytes, password: str | None) -> None:
    importer = IMPORTERS[format_id]
    assert importer.sniff(data) in (True, False)
    read_or_refuse(importer, data, password)


@pytest.mark.parametrize("format_id", FUZZED)
@FUZZ
@given(choice=st.data())
def test_damaged_samples_are_refused_or_read_whole(format_id: str, choice: st.DataObject) -> None:
    sample = choice.draw(st.sampled_from(CHEAP_SAMPLES[format_id]))
    data = choice.draw(mutated(sample.data))
    importer = IMPORTERS[format_id]
    assert importer.sniff(data) in (True, False)
    read_or_refuse(importer, data, sample.password)


# Formats the app writes read back what was written ----------------------------------------

google_params = st.builds(
    OtpParams,
    type=st.sampled_from([OtpType.TOTP, OtpType.HOTP]),
    secret=st.binary(min_size=1, max_size=40),
    algorithm=st.sampled_from(HMAC_ALGORITHMS),
    digits=st.sampled_from([6, 8]),
    counter=st.integers(0, MAX_COUNTER),
)


@dataclass(frozen=True)
class Exporter:
    """A format the app writes: what it can hold, how to write it, and what reading it back gives."""

    format_id: str
    specs: st.SearchStrategy[AccountSpec]
    write: Callable[[list[AccountSpec]], bytes]
    password: str | None = None


EXPORTERS = [
    Exporter("aegis", account_specs(), lambda specs: export_aegis(specs, None)),
    Exporter("otpauth", account_specs(link_params, full=False), export_otpauth_list),
    Exporter(
        "google_migration",
        account_specs(google_params, full=False),
        lambda specs: "\n".join(encode_migration_uris(specs, batch_size=3)).encode(),
    ),
]


@pytest.mark.parametrize("exporter", EXPORTERS, ids=lambda exporter: exporter.format_id)
@ROUND_TRIP
@given(choice=st.data())
def test_what_the_app_writes_reads_back_the_same(exporter: Exporter, choice: st.DataObject) -> None:
    specs = choice.draw(st.lists(exporter.specs, min_size=1, max_size=6))
    data = exporter.write(specs)
    importer = IMPORTERS[exporter.format_id]
    assert registry.detect(data) is importer
    assert [entry.spec for entry in importer.read(data, exporter.password)] == specs


def test_an_encrypted_aegis_export_reads_back_with_its_password_only() -> None:
    spec = AccountSpec(issuer="GitHub", name="alice", params=OtpParams(OtpType.TOTP, b"12345678901234567890"))
    data = export_aegis([spec], "backup pw")
    assert registry.detect(data).format_id == "aegis"
    assert [entry.spec for entry in IMPORTERS["aegis"].read(data, "backup pw")] == [spec]
    with pytest.raises(PasswordRequired):
        IMPORTERS["aegis"].read(data)
    with pytest.raises(WrongPassword):
        IMPORTERS["aegis"].read(data, "other")

