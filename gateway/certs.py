"""`splp certs`: a private CA, server and client certificates, JWE key pairs, fingerprints and sealed keys.

For tests and small deployments (a ministry's own intranet CA); a large one uses its PKI. Keys are ECDSA
P-256 (fast handshakes) unless asked otherwise, written with mode 0600; nothing is overwritten.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.config.tls import DEFAULT_MASTER_KEY_FILE

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _new_key(kind: str) -> PrivateKey:
    return rsa.generate_private_key(65537, 3072) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, data: bytes, *, secret: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str, organization: str | None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


def _load_ca(folder: Path) -> tuple[x509.Certificate, PrivateKey]:
    cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"{folder / 'ca.key'}: expected an EC or RSA key")
    return cert, key


def describe(cert: x509.Certificate) -> str:
    der = cert.public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha256(der).digest()
    return (
        f"subject:      {cert.subject.rfc4514_string()}\n"
        f"sha256:       {digest.hex()}\n"
        f"x5t#S256:     {base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}\n"
        f"valid until:  {cert.not_valid_after_utc.isoformat()}"
    )


def _ca(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    key = _new_key(args.key_type)
    name = _name(args.name, args.org)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=args.days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(folder / "ca.key", _key_pem(key), secret=True)
    _write(folder / "ca.pem", cert.public_bytes(serialization.Encoding.PEM), secret=False)
    print(f"{folder / 'ca.pem'} (certificate), {folder / 'ca.key'} (private key, 0600)")
    print(describe(cert))
    return 0


def _leaf(args: argparse.Namespace, *, server: bool) -> int:
    folder = Path(args.dir)
    ca_cert, ca_key = _load_ca(folder)
    key = _new_key(args.key_type)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(args.name, args.org))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=args.days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]  # cryptography's union is wider than CA key types
            critical=False,
        )
    )
    if server:
        names: list[x509.GeneralName] = []
        for host in [args.name, *args.san]:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    stem = args.out or args.name
    _write(folder / f"{stem}.key", _key_pem(key), secret=True)
    _write(folder / f"{stem}.pem", cert.public_bytes(serialization.Encoding.PEM), secret=False)
    print(f"{folder / (stem + '.pem')} (certificate), {folder / (stem + '.key')} (private key, 0600)")
    print(describe(cert))
    return 0


def _jwe_key(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(65537, 3072) if args.key_type == "rsa" else ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    _write(folder / f"{args.name}.key", _key_pem(key), secret=True)
    _write(folder / f"{args.name}.pub", public, secret=False)
    print(f"{folder / (args.name + '.key')} (private key, 0600), {folder / (args.name + '.pub')} (public key)")
    return 0


def _fingerprint(args: argparse.Namespace) -> int:
    for path in args.files:
        for cert in x509.load_pem_x509_certificates(Path(path).read_bytes()):
            print(f"{path}:\n{describe(cert)}")
    return 0


def _seal(args: argparse.Namespace) -> int:
    from gateway.sealing import MasterKey

    data = Path(args.file).read_bytes()
    print(MasterKey.load(DEFAULT_MASTER_KEY_FILE).seal(data, owner=args.owner))
    return 0


def _run(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except FileExistsError as exc:
            print(f"splp certs: {exc.filename} exists; not overwritten", file=sys.stderr)
        except (OSError, ValueError) as exc:
            print(f"splp certs: {exc}", file=sys.stderr)
        return 1

    return run


def add_subcommands(sub: Any) -> None:
    certs = sub.add_parser("certs", help="private CA, server/client certificates, JWE keys, fingerprints, sealing")
    actions = certs.add_subparsers(dest="certs_command", required=True)

    def common(parser: argparse.ArgumentParser, days: int) -> None:
        parser.add_argument("--dir", default="var/certs", help="folder of ca.pem/ca.key and the files written")
        parser.add_argument("--org", default=None, help="organization (O=) in the subject")
        parser.add_argument("--days", type=int, default=days, help="validity in days")
        parser.add_argument("--key-type", choices=["ec", "rsa"], default="ec", help="EC P-256 (default) or RSA 3072")

    ca = actions.add_parser("ca", help="create a private CA: DIR/ca.pem and DIR/ca.key")
    ca.add_argument("--name", default="SPLP Private CA", help="CA common name")
    common(ca, 3650)
    ca.set_defaults(func=_run(_ca))

    for kind, help_text in (("server", "a server certificate (SAN: --name and --san)"), ("client", "a client cert")):
        leaf = actions.add_parser(kind, help=f"issue {help_text} signed by DIR/ca")
        leaf.add_argument("--name", required=True, help="common name (server: its host name or IP address)")
        leaf.add_argument("--out", default=None, help="file stem (default: --name)")
        if kind == "server":
            leaf.add_argument("--san", nargs="*", default=[], help="more host names / IP addresses")
        common(leaf, 397)
        leaf.set_defaults(func=_run(lambda args, server=(kind == "server"): _leaf(args, server=server)))

    jwe_key = actions.add_parser("jwe-key", help="a JWE key pair: DIR/NAME.key (private) and DIR/NAME.pub")
    jwe_key.add_argument("--name", required=True)
    jwe_key.add_argument("--dir", default="var/certs")
    jwe_key.add_argument("--key-type", choices=["ec", "rsa"], default="ec", help="EC P-256 (ECDH-ES+A256KW) or RSA")
    jwe_key.set_defaults(func=_run(_jwe_key))

    fingerprint = actions.add_parser("fingerprint", help="subject, SHA-256 fingerprint and x5t#S256 of certificates")
    fingerprint.add_argument("files", nargs="+")
    fingerprint.set_defaults(func=_run(_fingerprint))

    seal = actions.add_parser("seal", help="seal a key file with the master key (print the sealed value)")
    seal.add_argument("file")
    seal.add_argument("--owner", required=True, help="backend:<api prefix> or jwe:<api prefix>")
    seal.set_defaults(func=_run(_seal))
