"""Real voice files made in the test run: a tone encoded with PyAV's own encoders.

AMR-NB at 8 kHz with `libopencore_amrnb` (as WeCom sends), OGG/Opus at 48 kHz with `libopus`
(as Telegram sends), MP3-free so no extra encoder is needed.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

import av
import numpy as np

STEP = 960  # samples per frame handed to the encoder


def _tone(rate: int, seconds: float, hertz: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    wave = 0.3 * np.sin(2 * math.pi * hertz * t) * 32767
    return wave.astype(np.int16).reshape(1, -1)


def _encode(codec: str, container: str, rate: int, seconds: float, **options: int) -> bytes:
    buffer = io.BytesIO()
    pcm = _tone(rate, seconds, 440.0)
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        for name, value in options.items():
            setattr(stream, name, value)
        for start in range(0, pcm.shape[1], STEP):
            frame = av.AudioFrame.from_ndarray(
                pcm[:, start : start + STEP], format="s16", layout="mono"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


@lru_cache(maxsize=8)
def amr(seconds: float = 3.0) -> bytes:
    """An AMR-NB file (`#!AMR` header) of a tone lasting `seconds`."""
    return _encode("libopencore_amrnb", "amr", 8000, seconds, bit_rate=12200)


@lru_cache(maxsize=8)
def ogg_opus(seconds: float = 3.0) -> bytes:
    """An OGG/Opus file of a tone lasting `seconds`."""
    return _encode("libopus", "ogg", 48000, seconds)
