"""Time to make a recording's release copy (api.evidence.media), against the clip's own playing time.

A clip of moving, noisy 1280x720 pictures at 30 fps with a stereo tone is written as H.264 and AAC in MP4
(as a phone would), then copied: decoded, every picture rebuilt, scaled to 854x480 and encoded as VP8 with
Opus in WebM. The sound alone, as FLAC, is copied to Opus in Ogg. The ratio to playing time is what
matters: below 1.0 a copy takes less time than listening to it.

    .venv/bin/python bench/bench_media_copy.py [--seconds 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from typing import BinaryIO

import av
from PIL import Image, ImageDraw

from api.evidence import media

WIDTH, HEIGHT, FPS, RATE = 1280, 720, 30, 44100


def _pictures(
    stream: av.video.stream.VideoStream, container: av.container.OutputContainer, count: int
) -> None:
    noise = Image.effect_noise((WIDTH, HEIGHT), 40).convert("RGB")
    gradient = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
    for index in range(count):
        picture = Image.blend(noise, gradient, 0.6)
        draw = ImageDraw.Draw(picture)
        x = (index * 12) % WIDTH
        draw.rectangle([x, 200, x + 200, 400], fill=(200, 40, 40))
        draw.text((50, 50), f"frame {index}", fill=(255, 255, 255))
        frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]
        frame.pts = index
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def _tone(stream: av.audio.stream.AudioStream, container: av.container.OutputContainer, seconds: int) -> None:
    at, size = 0, 1024
    while at < seconds * RATE:
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=size)
        frame.sample_rate, frame.pts = RATE, at
        wave = (0.3 * math.sin(2 * math.pi * 440 * (at + k) / RATE) for k in range(size))
        samples = struct.pack(f"<{size}f", *wave)
        for plane in frame.planes:
            plane.update(samples)
        container.mux(stream.encode(frame))
        at += size
    container.mux(stream.encode(None))


def phone_clip(seconds: int) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS, options={"preset": "veryfast"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = container.add_stream("aac", rate=RATE, layout="stereo")
        _pictures(video, container, seconds * FPS)
        _tone(audio, container, seconds)
    return out.getvalue()


def voice_note(seconds: int) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=RATE, layout="stereo")
        stream.codec_context.format = "s16"
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE)
        scratch = io.BytesIO()
        with av.open(scratch, "w", format="wav") as wav:
            _tone(wav.add_stream("pcm_f32le", rate=RATE, layout="stereo"), wav, seconds)
        scratch.seek(0)
        with av.open(scratch, mode="r") as source:
            for frame in source.decode(audio=0):
                for fresh in resampler.resample(frame):
                    container.mux(stream.encode(fresh))
        container.mux(stream.encode(None))
    return out.getvalue()


def timed(copy: Callable[[BinaryIO, BinaryIO], str], data: bytes) -> float:
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        copy(io.BytesIO(data), out)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for name, data in (
        ("video 1280x720 30 fps", phone_clip(args.seconds)),
        ("audio FLAC", voice_note(args.seconds)),
    ):
        times = [timed(media.release_copy, data) for _ in range(args.runs)]
        best, median = min(times), statistics.median(times)
        print(
            f"{name}: {args.seconds} s clip ({len(data)} bytes): best {best:.2f} s, median {median:.2f} s, "
            f"{median / args.seconds:.2f} x playing time"
        )


if __name__ == "__main__":
    main()
