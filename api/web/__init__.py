"""The server-rendered web interface: pages over the same services as the API, usable without JavaScript."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
