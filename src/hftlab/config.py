"""Settings: defaults, overridden by ``hftlab.toml``, then ``.env``, then ``HFTLAB_*`` variables.

Every knob has a default so a fresh checkout runs with no configuration at all. The TOML file is
looked up in the working directory (or named by ``HFTLAB_CONFIG``); see ``.env.example`` for the
variables.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from hftlab.errors import ConfigError


def _config_file() -> Path:
    return Path(os.environ.get("HFTLAB_CONFIG", "hftlab.toml"))


class Settings(BaseSettings):
    """Process-wide settings. Field names map to ``HFTLAB_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="HFTLAB_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    store: Path = Field(Path("data/store"), description="Default Parquet store root.")
    real_data: Path | None = Field(
        None, description="Folder of real exchange captures used by real-data tests."
    )
    log_level: str = Field("WARNING", description="Python logging level for the CLI.")
    bind_host: str = Field("127.0.0.1", description="Address every server binds by default.")
    row_group_rows: int = Field(
        131_072, ge=1024, description="Rows per Parquet row group written by the store."
    )
    read_chunk_rows: int = Field(
        131_072, ge=1024, description="Target rows per chunk yielded by streaming readers."
    )
    synth_seed: int = Field(7, description="Default seed of the synthetic market.")
    synth_events: int = Field(1_000_000, ge=1, description="Default event count of `synth`.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence, highest first: explicit arguments, environment, .env, TOML file.
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, dotenv_settings, toml)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once; invalid values raise :class:`ConfigError`."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"invalid setting (HFTLAB_* variable, .env or hftlab.toml): {problems}"
        ) from None
