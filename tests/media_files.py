"""Tiny recordings made with PyAV for the tests: a second of sine tone, a few frames, and a canary planted in
every place a phone or an editor writes about a recording: container and stream tags (title, artist,
comment, GPS location), chapters, a subtitle stream and an attached file."""

from __future__ import annotations

import io
import math
import struct
from fractions import Fraction

import av
from PIL import Image

CANARY = "CANARY-AV-7731"
GPS = "+53.1111+027.2222/"
CANARIES = [CANARY, "53.1111", "27.2222"]
_TAGS = {"title": CANARY, "artist": CANARY, "comment": CANARY, "location": GPS, "author": CANARY}


def tone(
    stream: av.audio.stream.AudioStream, container: av.container.OutputContainer, seconds: float
) -> None:
    rate = stream.codec_context.sample_rate
    size = stream.codec_context.frame_size or 1024
    at = 0
    while at < int(seconds * rate):
        frame = av.AudioFrame(format="s16", layout="mono", samples=size)
        frame.sample_rate, frame.pts, frame.time_base = rate, at, Fraction(1, rate)
        samples = (int(8000 * math.sin(2 * math.pi * 440 * (at + k) / rate)) for k in range(size))
        frame.planes[0].update(struct.pack(f"<{size}h", *samples))
        container.mux(stream.encode(frame))
        at += size
    container.mux(stream.encode(None))


def _frames(stream: av.video.stream.VideoStream, container: av.container.OutputContainer, count: int) -> None:
    for index in range(count):
        picture = Image.new("RGB", (stream.width, stream.height), (40 * index % 255, 90, 160))
        frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]
        frame.pts = index
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def audio_flac(seconds: float = 1.0) -> bytes:
    """FLAC with Vorbis comments naming the canary and a GPS position."""
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as container:
        container.metadata.update(_TAGS)
        stream = container.add_stream("flac", rate=16000, layout="mono")
        stream.codec_context.format = "s16"
        tone(stream, container, seconds)
    return out.getvalue()


def video_mp4(
    seconds: float = 1.0, fps: int = 5, size: tuple[int, int] = (64, 48), rotation: int = 0
) -> bytes:
    """H.264 and AAC in MP4 with tags and stream names (handler) naming the canary and a GPS position."""
    out = io.BytesIO()
    # use_metadata_tags: every tag is written, as phones write their location (com.apple.quicktime.location).
    with av.open(out, "w", format="mp4", options={"movflags": "use_metadata_tags"}) as container:
        container.metadata.update(_TAGS)
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = *size, "yuv420p"
        video.metadata["handler_name"] = CANARY
        if rotation:  # a phone held upright stores the picture sideways and says how to turn it
            video.set_display_rotation(rotation)
        audio = container.add_stream("aac", rate=16000, layout="mono")
        audio.metadata["handler_name"] = CANARY
        _frames(video, container, int(seconds * fps))
        tone(audio, container, seconds)
    return out.getvalue()


def video_mkv() -> bytes:
    """VP8 and FLAC in Matroska with tags, chapters, a subtitle stream and an attached file: all the canary."""
    out = io.BytesIO()
    with av.open(out, "w", format="matroska") as container:
        container.metadata.update(_TAGS)
        video = container.add_stream("libvpx", rate=5)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.metadata["title"] = CANARY
        audio = container.add_stream("flac", rate=16000, layout="mono")
        audio.codec_context.format = "s16"
        audio.metadata["title"] = CANARY
        subtitles = container.add_stream("srt")
        subtitles.codec_context.subtitle_header = b"[Script Info]\nScriptType: v4.00+\n"
        subtitles.metadata["title"] = CANARY
        container.add_attachment(f"{CANARY}.txt", "text/plain", f"passport of {CANARY}".encode())
        container.set_chapters(
            [
                {
                    "id": 1,
                    "start": 0,
                    "end": 1000,
                    "time_base": Fraction(1, 1000),
                    "metadata": {"title": CANARY},
                }
            ]
        )
        _frames(video, container, 5)
        tone(audio, container, 1.0)
        line = av.Packet(f"{CANARY} speaks".encode())
        line.stream, line.pts, line.dts, line.duration = subtitles, 0, 0, 500
        line.time_base = Fraction(1, 1000)
        container.mux(line)
    return out.getvalue()


def cut(data: bytes) -> bytes:
    """The recording cut short, as an interrupted transfer leaves it (an MP4 loses its index)."""
    return data[: len(data) // 3]
