"""The one refusal of the release-copy makers (images, PDFs, audio and video)."""

from __future__ import annotations


class ReleaseRefused(ValueError):
    """No release copy can be made, or the one made did not pass its check; the message says why."""
