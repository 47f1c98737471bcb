"""The rehearsal's stand-in CA: server certificates that verify for their addresses, the
same files on a second run, and new ones when they are about to expire."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from recstack.rehearsal import tls


def test_a_server_certificate_verifies_for_its_address_only(tmp_path: Path) -> None:
    authority = tls.ensure_authority(tmp_path)
    files = tls.ensure_server(tmp_path, "redis-1", ["10.77.0.11"])
    certificate = x509.load_pem_x509_certificate(files.certificate.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["10.77.0.11"]
    assert certificate.issuer == x509.load_pem_x509_certificate(authority.read_bytes()).subject
    context = ssl.create_default_context(cafile=str(authority))
    context.load_cert_chain(files.certificate, files.key)  # the key matches
    assert oct(files.key.stat().st_mode & 0o777) == "0o600"


def test_a_second_run_keeps_the_files_and_an_expiring_ca_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    authority = tls.ensure_authority(tmp_path)
    server = tls.ensure_server(tmp_path, "redis-1", ["10.77.0.11"])
    before = (authority.read_bytes(), server.certificate.read_bytes())
    assert tls.ensure_authority(tmp_path).read_bytes() == before[0]
    assert (
        tls.ensure_server(tmp_path, "redis-1", ["10.77.0.11"]).certificate.read_bytes()
        == (before[1])
    )
    monkeypatch.setattr(tls, "MARGIN", tls.VALIDITY + datetime.timedelta(days=1))
    assert tls.ensure_authority(tmp_path).read_bytes() != before[0]
    assert not server.certificate.exists()  # made again, by the new CA, when asked for
