"""kyso configuration: one typed, frozen settings object, validated once at start.

Sources, strongest first: keyword arguments (the CLI's flags), ``KYSO_*``
environment variables, the TOML file (``--config`` or ``KYSO_CONFIG``), defaults.
Environment names join section and field with one underscore:
``KYSO_HSM_PIN_FILE`` sets ``[hsm] pin_file``, ``KYSO_SERVER_LISTEN`` sets
``[server] listen``. Unknown keys are rejected, so a typo is an error, not a
silently ignored setting.

Example ``kyso.toml``::

    node_id = "node-1"

    [server]
    listen = "127.0.0.1:50051"
    max_batch = 1000

    [hsm]
    module = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"
    token_label = "kyso"
    pin_file = "/etc/kyso/hsm.pin"
    pool_size = 4

    [store]
    url = "sqlite:///var/kyso/kyso.db"
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from signer.errors import ConfigError

P11_KIT_PROXY = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    listen: str = Field(
        "127.0.0.1:50051", description="gRPC address host:port; port 0 picks a free port"
    )
    threads: int = Field(16, ge=1, le=1024, description="gRPC handler threads")
    max_batch: int = Field(1000, ge=1, le=100_000, description="digests per SignDigests call")
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024)
    shutdown_grace_s: float = Field(10.0, ge=0, description="drain time on SIGTERM/SIGINT")
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @model_validator(mode="after")
    def _check(self) -> ServerSettings:
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"listen {self.listen!r} must be host:port, e.g. 127.0.0.1:50051")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: set both or neither")
        if self.tls_cert_file is None and not is_loopback(host):
            raise ValueError(
                f"listen {self.listen!r} is off loopback and TLS is not configured: set "
                "tls_cert_file and tls_key_file, or listen on 127.0.0.1"
            )
        for f in (self.tls_cert_file, self.tls_key_file):
            if f is not None and not f.is_file():
                raise ValueError(f"TLS file {f} does not exist")
        return self


class HsmSettings(_Section):
    module: str = Field(P11_KIT_PROXY, description="PKCS#11 module path")
    token_label: str = "kyso"
    pin: SecretStr | None = None
    pin_file: Path | None = None
    pool_size: int = Field(4, ge=1, le=256, description="PKCS#11 sessions")
    recovery_timeout_s: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> HsmSettings:
        if self.pin is not None and self.pin_file is not None:
            raise ValueError("set either hsm.pin or hsm.pin_file, not both")
        if not Path(self.module).is_file():
            raise ValueError(
                f"PKCS#11 module {self.module} does not exist: install p11-kit and softhsm2 "
                "(apt-get install p11-kit softhsm2) or set hsm.module to your vendor's module"
            )
        return self

    def read_pin(self) -> str:
        if self.pin is not None:
            return self.pin.get_secret_value()
        if self.pin_file is not None:
            try:
                pin = self.pin_file.read_text().strip()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the HSM PIN file {self.pin_file}: {exc.strerror}"
                ) from None
            if not pin:
                raise ConfigError(f"the HSM PIN file {self.pin_file} is empty")
            return pin
        raise ConfigError(
            "no HSM PIN configured: set KYSO_HSM_PIN_FILE (or hsm.pin_file in the config file)"
        )


class StoreSettings(_Section):
    url: str = Field("sqlite:///var/kyso.db", description="SQLAlchemy URL")

    @model_validator(mode="after")
    def _check(self) -> StoreSettings:
        if not self.url.startswith(("sqlite://", "postgresql")):
            raise ValueError(
                f"store.url {self.url!r}: use sqlite:///PATH or postgresql+psycopg://..."
            )
        return self


class DevCaSettings(_Section):
    enabled: bool = Field(True, description="a development CA in the token issues certificates")
    common_name: str = "kyso Development CA"
    validity_days: int = Field(3650, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KYSO_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    node_id: str = Field(default_factory=lambda: socket.gethostname())
    server: ServerSettings = Field(default_factory=ServerSettings)
    hsm: HsmSettings = Field(default_factory=HsmSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    devca: DevCaSettings = Field(default_factory=DevCaSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get("KYSO_CONFIG")
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the settings; raise ``ConfigError`` with every problem listed."""
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        os.environ["KYSO_CONFIG"] = str(path)
    env_path = os.environ.get("KYSO_CONFIG")
    if env_path and not Path(env_path).is_file():
        raise ConfigError(f"KYSO_CONFIG names {env_path}, which does not exist")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    except ValueError as exc:  # e.g. TOML syntax errors
        raise ConfigError(f"configuration is invalid: {exc}") from None


def format_validation_error(exc: ValidationError) -> str:
    lines = ["configuration is invalid:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling)"
        if len(err["loc"]) == 1 and err["loc"][0] in _SECTIONS:
            lines.append(f"  [{loc}]: {msg}")  # a check across several fields of a section
        else:
            env = "KYSO_" + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"  {loc} ({env}): {msg}")
    return "\n".join(lines)


_SECTIONS = ("server", "hsm", "store", "devca")


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
