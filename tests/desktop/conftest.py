"""Qt tests: offscreen (tests/conftest.py), settings and app data in a temporary folder, no leaked windows."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_qt_settings(tmp_path, request):
    if "qtbot" not in request.fixturenames:
        yield
        return
    from PySide6.QtCore import QCoreApplication, QSettings, QStandardPaths

    QCoreApplication.setOrganizationName("HospOpsTest")
    QCoreApplication.setApplicationName("HospOpsTest")
    QStandardPaths.setTestModeEnabled(True)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        app.processEvents()
        leaked = [w for w in app.topLevelWidgets() if w.isVisible()]
        for w in leaked:
            w.close()
        assert not leaked, f"windows left open by the test: {leaked}"


@pytest.fixture
def window(qtbot, demo_ws):
    from desktop.main_window import MainWindow

    w = MainWindow(restore_state=False)
    qtbot.addWidget(w)
    assert w.open_workspace(demo_ws)
    w.show()
    yield w
    w.close()
