"""Settings: defaults from the shipped TOML, an operator file, then environment overrides."""

from config.settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "load_settings"]
