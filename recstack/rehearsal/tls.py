"""The rehearsal's certificate authority, standing in for the public CA that signs a
managed Redis's certificates on AWS (ElastiCache, Redis Cloud).

Each stand-in server gets a certificate for its own address (an IP SAN), so clients
connect with certificate and host-name verification on, exactly as they must in the
cloud. Made once per rehearsal environment and kept in its state directory, so a second
run copies the same bytes and changes nothing.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# Long enough to outlive any rehearsal; files closer than MARGIN to their end are made
# anew (a new CA takes its servers' certificates with it).
VALIDITY = datetime.timedelta(days=30)
MARGIN = datetime.timedelta(days=1)


@dataclass(frozen=True)
class ServerFiles:
    certificate: Path
    key: Path


def ensure_authority(directory: Path) -> Path:
    """The CA certificate (ca.pem) in `directory`, made on first use."""
    certificate, key = directory / "ca.pem", directory / "ca-key.pem"
    if _current(certificate) and key.exists():
        return certificate
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for old in directory.glob("*.pem"):
        old.unlink()
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "recstack rehearsal CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(private, hashes.SHA256())
    )
    _write_key(key, private)
    certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return certificate


def ensure_server(directory: Path, name: str, addresses: Sequence[str]) -> ServerFiles:
    """A server certificate for `addresses` (IPs), signed by the CA in `directory`."""
    files = ServerFiles(directory / f"{name}.pem", directory / f"{name}-key.pem")
    if _current(files.certificate) and files.key.exists():
        return files
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(), None)
    private = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, addresses[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # The cluster bus and replication are TLS too: nodes are clients of each other.
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(files.key, private)
    files.certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def _current(path: Path) -> bool:
    """The certificate exists and stays valid for longer than MARGIN."""
    if not path.exists():
        return False
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    return certificate.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > MARGIN


def _write_key(path: Path, private: ec.EllipticCurvePrivateKey) -> None:
    path.touch(mode=0o600)
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
