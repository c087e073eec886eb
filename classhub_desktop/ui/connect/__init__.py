"""The Connect dialog: connection profiles (list, create, edit, delete, test) and opening a session."""

from classhub_desktop.ui.connect.connect_dialog import ConnectDialog

__all__ = ["ConnectDialog"]
