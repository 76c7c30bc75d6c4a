"""SASL/SCRAM-SHA-512 over TLS for the local broker (``gridstream broker start --secure``).

The broker gets one SASL_SSL client listener (plaintext clients are refused), SCRAM users are
created when the storage is formatted, and the client settings are written to
``<state_dir>/secure/client.env`` with the password in a separate 0600 file.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from gridstream.broker.tls import TlsFiles, generate_tls
from gridstream.bus.settings import KafkaSettings

ADMIN_USER = "admin"
CLIENT_USER = "gridstream"
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class SecureSetup:
    tls: TlsFiles
    admin_password: str
    client_password: str
    directory: Path

    @property
    def client_password_file(self) -> Path:
        return self.directory / "client.password"

    @property
    def client_env_file(self) -> Path:
        return self.directory / "client.env"

    def scram_args(self) -> list[str]:
        """``--add-scram`` arguments for ``StorageTool format``."""
        return [
            arg
            for user, password in (
                (ADMIN_USER, self.admin_password),
                (CLIENT_USER, self.client_password),
            )
            for arg in ("--add-scram", f"{MECHANISM}=[name={user},password={password}]")
        ]

    def listener_properties(self, port: int, controller_port: int) -> dict[str, str]:
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN_USER}" password="{self.admin_password}";'
        )
        return {
            "listeners": f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.tls.server_pem),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.tls.ca_pem),
            "ssl.client.auth": "none",
        }

    def admin_settings(self, bootstrap: str) -> KafkaSettings:
        """Client settings of the broker's admin user (used to wait for readiness)."""
        return KafkaSettings(
            bootstrap=bootstrap,
            client_id="gridstream-broker",
            security_protocol="SASL_SSL",
            ssl_ca_location=str(self.tls.ca_pem),
            sasl_mechanism=MECHANISM,
            sasl_username=ADMIN_USER,
            sasl_password=SecretStr(self.admin_password),
        )

    def write_client_env(self, bootstrap: str) -> Path:
        self.client_env_file.write_text(
            "\n".join(
                [
                    f"GRIDSTREAM_BOOTSTRAP={bootstrap}",
                    "GRIDSTREAM_SECURITY_PROTOCOL=SASL_SSL",
                    f"GRIDSTREAM_SSL_CA_LOCATION={self.tls.ca_pem}",
                    f"GRIDSTREAM_SASL_MECHANISM={MECHANISM}",
                    f"GRIDSTREAM_SASL_USERNAME={CLIENT_USER}",
                    f"GRIDSTREAM_SASL_PASSWORD_FILE={self.client_password_file}",
                ]
            )
            + "\n"
        )
        return self.client_env_file


def _password(path: Path) -> str:
    """The password stored in ``path``, created (random, 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    path.write_text(value)
    os.chmod(path, 0o600)
    return value


def secure_setup(directory: Path) -> SecureSetup:
    """Certificates and random SCRAM passwords under ``directory`` (kept for restarts)."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return SecureSetup(
        tls=generate_tls(directory / "tls"),
        admin_password=_password(directory / "admin.password"),
        client_password=_password(directory / "client.password"),
        directory=directory,
    )
