from __future__ import annotations

from pathlib import Path

import pytest

from hftlab.config import Settings


def test_defaults_need_no_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HFTLAB_REAL_DATA", raising=False)
    s = Settings()
    assert s.bind_host == "127.0.0.1"
    assert s.row_group_rows == 131_072
    assert s.real_data is None


def test_precedence_toml_then_dotenv_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HFTLAB_SYNTH_SEED", raising=False)
    monkeypatch.delenv("HFTLAB_LOG_LEVEL", raising=False)
    (tmp_path / "hftlab.toml").write_text('synth_seed = 11\nlog_level = "INFO"\nstore = "s1"\n')
    settings = Settings()
    assert (settings.synth_seed, settings.log_level, settings.store) == (11, "INFO", Path("s1"))
    (tmp_path / ".env").write_text("HFTLAB_SYNTH_SEED=12\n")
    assert (Settings().synth_seed, Settings().log_level) == (12, "INFO")
    monkeypatch.setenv("HFTLAB_SYNTH_SEED", "13")
    assert Settings().synth_seed == 13


def test_invalid_values_are_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HFTLAB_ROW_GROUP_ROWS", "10")
    with pytest.raises(ValueError, match="row_group_rows"):
        Settings()


def test_env_example_documents_every_setting() -> None:
    text = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"HFTLAB_{name.upper()}=" in text, name
