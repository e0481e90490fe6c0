"""Decode a voice message (AMR, OGG/Opus, MP3, M4A...) to 16 kHz mono 16-bit WAV, in memory.

PyAV's wheels carry FFmpeg with the native AMR-NB/WB and Opus decoders, so no system library
is needed. Nothing touches the disk: the bytes come in and the WAV goes out as `bytes`.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import av
import av.error

RATE = 16_000
# Probing a few KB is enough to tell the container; a short probe keeps a bad file cheap.
PROBE_SIZE = 32_768


class AudioError(Exception):
    """The audio could not be decoded; `reason` is a metrics label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AudioTooLong(AudioError):
    """Longer than the channel allows."""

    def __init__(self, limit: int) -> None:
        super().__init__("too_long")
        self.limit = limit


@dataclass(frozen=True)
class Wav:
    """A decoded voice message: 16 kHz mono s16le WAV bytes and its duration."""

    data: bytes
    seconds: float


def to_wav(audio: bytes, *, max_seconds: int) -> Wav:
    """The audio as 16 kHz mono WAV; AudioTooLong past `max_seconds`, AudioError otherwise."""
    if not audio:
        raise AudioError("empty")
    pcm = bytearray()
    limit_bytes = (max_seconds + 1) * RATE * 2  # one second of slack for rounding
    try:
        with av.open(io.BytesIO(audio), "r", options={"probesize": str(PROBE_SIZE)}) as box:
            if not box.streams.audio:
                raise AudioError("no_audio")
            stream = box.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            for frame in box.decode(stream):
                for out in resampler.resample(frame):
                    pcm += bytes(out.planes[0])[: out.samples * 2]
                if len(pcm) > limit_bytes:
                    raise AudioTooLong(max_seconds)
            for out in resampler.resample(None):
                pcm += bytes(out.planes[0])[: out.samples * 2]
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, OSError, IndexError):
        raise AudioError("decode") from None
    if not pcm:
        raise AudioError("no_audio")
    seconds = len(pcm) / 2 / RATE
    if seconds > max_seconds + 0.5:
        raise AudioTooLong(max_seconds)
    return Wav(_wav_bytes(bytes(pcm)), seconds)


def _wav_bytes(pcm: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm)
    return buffer.getvalue()
