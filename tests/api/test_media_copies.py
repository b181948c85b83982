"""A recording's release copy is made from its decoded sound and pictures: Opus in Ogg for sound alone, VP8
and Opus in WebM for video, with nothing of the original container; what does not decode is refused."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable

import av
import pytest

from api.evidence import media
from api.evidence.errors import ReleaseRefused
from tests import media_files
from tests.leaks import find

RECORDINGS: dict[str, tuple[Callable[[], bytes], str]] = {
    "flac-with-vorbis-comments": (media_files.audio_flac, "audio/ogg"),
    "mp4-with-tags-and-location": (media_files.video_mp4, "video/webm"),
    "mkv-with-chapters-subtitles-attachment": (media_files.video_mkv, "video/webm"),
}


def _made(data: bytes) -> tuple[bytes, str]:
    with tempfile.TemporaryFile() as out:
        made_type = media.release_copy(io.BytesIO(data), out)
        out.seek(0)
        media.check_release_copy(out, made_type)
        out.seek(0)
        return out.read(), made_type


@pytest.mark.parametrize("name", sorted(RECORDINGS))
def test_the_copy_keeps_the_content_and_nothing_else(name: str) -> None:
    make, expected_type = RECORDINGS[name]
    original = make()
    assert find(original, media_files.CANARIES) != []  # the canary is there to be left behind
    made, made_type = _made(original)
    assert made_type == expected_type
    assert find(made, media_files.CANARIES) == []
    with av.open(io.BytesIO(made)) as copy:
        kinds = sorted(s.type for s in copy.streams)
        assert kinds == (["audio"] if made_type == "audio/ogg" else ["audio", "video"])
        assert copy.chapters() == []
        assert set(copy.metadata) <= {"encoder"}
        assert abs(copy.duration / av.time_base - 1.0) < 0.3  # the whole second is there


def test_a_large_picture_is_scaled_down() -> None:
    made, _ = _made(media_files.video_mp4(seconds=0.4, size=(1280, 720)))
    with av.open(io.BytesIO(made)) as copy:
        video = copy.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (854, 480)


@pytest.mark.parametrize(
    "data",
    [media_files.cut(media_files.video_mp4()), b"\x1a\x45\xdf\xa3" + b"\x00" * 200, b"RIFF\x00\x00"],
    ids=["mp4-cut-short", "matroska-header-only", "riff-stub"],
)
def test_a_recording_that_does_not_decode_is_refused_with_the_reason(data: bytes) -> None:
    with pytest.raises(ReleaseRefused, match=r"could not be decoded|no audio or video"):
        _made(data)
    assert media.decode_problem(io.BytesIO(data)) is not None


def test_a_copy_that_still_says_something_is_refused() -> None:
    tagged = io.BytesIO()
    with av.open(tagged, "w", format="ogg") as container:
        container.metadata["artist"] = media_files.CANARY
        stream = container.add_stream("libopus", rate=48000, layout="mono")
        media_files.tone(stream, container, 0.1)
    tagged.seek(0)
    with pytest.raises(ReleaseRefused, match="tags"):
        media.check_release_copy(tagged, "audio/ogg")


def test_a_video_stored_sideways_is_turned_as_it_is_shown() -> None:
    made, _ = _made(media_files.video_mp4(seconds=0.4, size=(64, 48), rotation=90))
    with av.open(io.BytesIO(made)) as copy:
        video = copy.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (48, 64)
        assert next(copy.decode(video=0)).rotation == 0  # turned in the pixels: no display matrix left
