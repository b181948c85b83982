"""Release copies of audio and video, made from decoded content with PyAV (FFmpeg); never shipped unreviewed.

Nothing of the original container is copied: the first audio stream is decoded, resampled and encoded as
Opus; the first video stream is decoded frame by frame, each frame rebuilt from its pixels (through Pillow,
so no side data, captions or HDR metadata rides along), scaled to at most 854x480 and encoded as VP8. Audio
alone goes into Ogg, video (with its sound) into WebM. Subtitles, data streams, attachments, chapters, cover
art and every tag of the original stay behind, because only decoded frames are written.

The copy is then re-opened and refused unless it holds one or two streams of the expected codecs and says
nothing about itself but the muxer's name and the durations it writes. Anything that does not decode is
refused with the reason (``derive.ReleaseRefused``); a decode error part way through refuses the copy too.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from fractions import Fraction
from typing import Any, BinaryIO

import av
import av.error
from av.codec.context import Flags
from PIL import Image

from api.evidence.errors import ReleaseRefused

#: Derivation tool named in the custody record of a media release copy.
TOOL = "PyAV {} (libavcodec {})".format(av.__version__, ".".join(map(str, av.library_versions["libavcodec"])))
#: Largest picture of a video copy: width x height (kept in proportion, even numbers).
MAX_WIDTH, MAX_HEIGHT = 854, 480
#: Frame rate a video copy is capped at (frames closer together than this are dropped).
MAX_FPS = 30
#: Longest recording a copy is made of (seconds, by the container's own duration if it gives one).
MAX_SECONDS = 4 * 3600
#: Frames decoded (sound) while looking for a video's first picture before the copy is refused.
_MAX_AHEAD = 2000
#: Opus runs at 48 kHz; a copy is mono or stereo.
AUDIO_RATE = 48_000
AUDIO_BITRATE = 96_000
VIDEO_BITRATE = 1_000_000
#: What a re-opened copy may say of itself: the muxer's and encoder's names, stream durations, nothing else.
_SAFE_TAGS = frozenset({"encoder", "duration"})
_TOOL_VALUE = re.compile(r"^(Lav[cf][0-9.]*( libopus| libvpx)?|libopus[^\n]{0,40}|[0-9:.]+)$")
_COPY_CODECS = {"audio/ogg": {"opus"}, "video/webm": {"vp8", "opus"}}


def release_copy(original: BinaryIO, out: BinaryIO) -> str:
    """Write a copy of an audio or video file made from its decoded frames to ``out``; return its media type."""
    try:
        with av.open(original, mode="r", metadata_errors="ignore") as source:
            return _transcode(source, out)
    except ReleaseRefused:
        raise
    except (av.error.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise ReleaseRefused(f"the recording could not be decoded ({_reason(exc)})") from exc


def _reason(exc: Exception) -> str:
    """A short reason for the withheld report: the FFmpeg error's words, never a file name or path."""
    if isinstance(exc, av.error.FFmpegError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


def _transcode(source: Any, out: BinaryIO) -> str:
    video_in = next(iter(source.streams.video), None)
    audio_in = next(iter(source.streams.audio), None)
    if video_in is None and audio_in is None:
        raise ReleaseRefused("the file holds no audio or video stream that can be decoded")
    if source.duration is not None and source.duration / av.time_base > MAX_SECONDS:
        raise ReleaseRefused(f"the recording is longer than {MAX_SECONDS // 3600} hours")
    frames = _decoded(source, [s for s in (video_in, audio_in) if s is not None])
    # The copy's picture size is that of the first picture as shown (a phone's portrait video is stored
    # sideways with a rotation to apply), so decoding starts before the copy's streams are made.
    ahead, first_picture = _until_first_picture(frames) if video_in is not None else ([], None)
    media_type = "video/webm" if video_in is not None else "audio/ogg"
    options = {"fflags": "+bitexact"}  # no version strings of the muxer either
    with av.open(out, mode="w", format="webm" if video_in else "ogg", container_options=options) as target:
        video_out = _video_stream(target, first_picture) if first_picture is not None else None
        audio_out = _audio_stream(target, audio_in) if audio_in is not None else None
        _copy_frames(itertools.chain(ahead, frames), target, video_out, audio_out)
    return media_type


def _until_first_picture(frames: Iterator[Any]) -> tuple[list[Any], Any]:
    """Decode up to the first picture; return the frames decoded so far (it last) and that picture."""
    ahead: list[Any] = []
    for frame in frames:
        ahead.append(frame)
        if isinstance(frame, av.VideoFrame):
            return ahead, frame
        if len(ahead) > _MAX_AHEAD:
            break
    raise ReleaseRefused("the video stream holds no picture that decodes")


def _rotation(frame: Any) -> int:
    """The quarter turns (in degrees, counter-clockwise) the picture is shown with; anything else is 0."""
    degrees = round(getattr(frame, "rotation", 0) or 0) % 360
    return degrees if degrees in (90, 180, 270) else 0


def _video_stream(target: Any, first: Any) -> Any:
    turned = _rotation(first) in (90, 270)
    width, height = _fit(*((first.height, first.width) if turned else (first.width, first.height)))
    stream = target.add_stream("libvpx", rate=MAX_FPS, options={"deadline": "realtime", "cpu-used": "8"})
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.bit_rate = VIDEO_BITRATE
    stream.codec_context.time_base = Fraction(1, 1000)
    stream.codec_context.flags |= Flags.bitexact
    stream.codec_context.thread_count = 2
    return stream


def _audio_stream(target: Any, audio_in: Any) -> Any:
    channels = 1 if audio_in.codec_context.channels == 1 else 2
    stream = target.add_stream("libopus", rate=AUDIO_RATE)
    stream.layout = "mono" if channels == 1 else "stereo"
    stream.bit_rate = AUDIO_BITRATE
    stream.codec_context.flags |= Flags.bitexact
    return stream


def _fit(width: int, height: int) -> tuple[int, int]:
    """Scale (width, height) down to fit MAX_WIDTH x MAX_HEIGHT, keeping proportion; even numbers."""
    if width <= 0 or height <= 0:
        raise ReleaseRefused("the video stream has no picture size")
    scale = min(1.0, MAX_WIDTH / width, MAX_HEIGHT / height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _copy_frames(frames: Iterator[Any], target: Any, video_out: Any, audio_out: Any) -> None:
    """Encode every decoded frame anew; flush both encoders at the end."""
    resampler = (
        av.AudioResampler(format="s16", layout=audio_out.layout.name, rate=AUDIO_RATE) if audio_out else None
    )
    last_ms = -1
    for frame in frames:
        if isinstance(frame, av.VideoFrame):
            if frame.time is None:
                continue
            at_ms = round(frame.time * 1000)
            if at_ms <= last_ms or (last_ms >= 0 and at_ms - last_ms < 1000 // MAX_FPS):
                continue  # a repeated or too-close timestamp: VP8 needs them strictly rising
            last_ms = at_ms
            target.mux(video_out.encode(_rebuilt(frame, video_out, at_ms)))
        elif resampler is not None:
            frame.pts = None  # the resampler numbers its output from zero
            for fresh in resampler.resample(frame):
                target.mux(audio_out.encode(fresh))
    if resampler is not None:
        for fresh in resampler.resample(None):
            target.mux(audio_out.encode(fresh))
        target.mux(audio_out.encode(None))
    if video_out is not None:
        target.mux(video_out.encode(None))


def _decoded(source: Any, streams: list[Any]) -> Iterator[Any]:
    """Yield the decoded frames of ``streams``; any error (damaged data, a cut file) refuses the copy."""
    for packet in source.demux(streams):
        yield from packet.decode()


def _rebuilt(frame: Any, video_out: Any, at_ms: int) -> Any:
    """A new frame made from the decoded picture's pixels alone, turned as shown, scaled, timed in ms."""
    rotation = _rotation(frame)
    size = (
        (video_out.height, video_out.width) if rotation in (90, 270) else (video_out.width, video_out.height)
    )
    picture = frame.to_image(width=size[0], height=size[1])
    if rotation:
        picture = picture.rotate(rotation, expand=True)
    if picture.size != (video_out.width, video_out.height):  # a later picture of another size
        picture = picture.resize((video_out.width, video_out.height))
    pixels = Image.frombytes("RGB", picture.size, picture.tobytes())
    fresh = av.VideoFrame.from_image(pixels)  # type: ignore[no-untyped-call]
    fresh.pts, fresh.time_base = at_ms, Fraction(1, 1000)
    return fresh


def check_release_copy(copy: BinaryIO, media_type: str) -> None:
    """Refuse a made copy holding anything but the expected streams and the muxer's own tags."""
    with av.open(copy, mode="r", metadata_errors="ignore") as made:
        codecs = [getattr(stream.codec_context, "name", None) or stream.type for stream in made.streams]
        kinds = {stream.type for stream in made.streams}
        if not codecs or not set(codecs) <= _COPY_CODECS[media_type] or len(codecs) != len(set(codecs)):
            raise ReleaseRefused(f"the copy holds unexpected streams {sorted(codecs)}")
        if not kinds <= {"audio", "video"}:
            raise ReleaseRefused(f"the copy holds streams of kind {sorted(kinds)}")
        tags = [dict(made.metadata)] + [dict(stream.metadata) for stream in made.streams]
        for found in tags:
            extra = {k for k in found if k.lower() not in _SAFE_TAGS}
            odd = {k for k, v in found.items() if k.lower() == "encoder" and not _TOOL_VALUE.match(v)}
            if extra or odd:
                raise ReleaseRefused(f"the copy still carries tags {sorted(extra | odd)}")
        if getattr(made, "chapters", None) and made.chapters():
            raise ReleaseRefused("the copy still carries chapters")


#: Frames decoded to tell a recording that decodes from one that does not (for the withheld report).
_PROBE_FRAMES = 16


def decode_problem(original: BinaryIO) -> str | None:
    """Say why a recording does not decode (its first frames), or None if they do: no copy is made."""
    try:
        with av.open(original, mode="r", metadata_errors="ignore") as source:
            streams = [s for s in (*source.streams.video[:1], *source.streams.audio[:1]) if s is not None]
            if not streams:
                return "the file holds no audio or video stream"
            decoded = 0
            for _ in _decoded(source, streams):
                decoded += 1
                if decoded >= _PROBE_FRAMES:
                    break
    except (av.error.FFmpegError, ValueError, OSError, EOFError) as exc:
        return f"the recording could not be decoded ({_reason(exc)})"
    return None if decoded else "no frame of the recording decodes"
