"""The backup tests' app: its backup folder in the test's own temporary folder, three backups kept."""

from __future__ import annotations

import pytest


@pytest.fixture
def backup_dir(tmp_path):
    return tmp_path / "backups"


@pytest.fixture
def app_config(base_config, migrated_database, backup_dir) -> dict:
    return {**base_config, "WEBAUTH_BACKUP_DIR": backup_dir, "WEBAUTH_BACKUP_KEEP": 3}
