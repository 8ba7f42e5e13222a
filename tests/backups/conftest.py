"""The backup tests' app: its backup folder in the test's own temporary folder, three backups kept;
and a real WebDAV server (WsgiDAV) per module, with a folder of each test's own for the instance target."""

from __future__ import annotations

import pytest

from tests.support.webdav_server import WebDavServer


@pytest.fixture
def backup_dir(tmp_path):
    return tmp_path / "backups"


@pytest.fixture
def app_config(base_config, migrated_database, backup_dir) -> dict:
    return {**base_config, "WEBAUTH_BACKUP_DIR": backup_dir, "WEBAUTH_BACKUP_KEEP": 3}


@pytest.fixture(scope="module")
def webdav(tmp_path_factory):
    server = WebDavServer(tmp_path_factory.mktemp("webdav"))
    yield server
    server.stop()


@pytest.fixture
def shared(app, webdav, request):
    """The instance-wide WebDAV target, in a folder of this test's own."""
    name = request.node.name[:60]
    (webdav.root / name).mkdir()
    app.config.update(
        WEBAUTH_BACKUP_WEBDAV_URL=f"{webdav.url}{name}/",
        WEBAUTH_BACKUP_WEBDAV_USERNAME=webdav.user,
        WEBAUTH_BACKUP_WEBDAV_PASSWORD=webdav.password,
    )
    return webdav.root / name
