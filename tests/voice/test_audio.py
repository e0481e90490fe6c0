"""Decoding real AMR (WeCom) and OGG/Opus (Telegram) voice files to 16 kHz mono WAV."""

from __future__ import annotations

import io
import wave

import pytest

from bot.voice.audio import AudioError, AudioTooLong, to_wav
from tests.voice.audio_files import amr, ogg_opus


@pytest.mark.parametrize("make", [amr, ogg_opus], ids=["amr", "ogg-opus"])
def test_a_voice_file_becomes_16k_mono_wav_of_its_length(make: object) -> None:
    audio = make(3.0)  # type: ignore[operator]
    decoded = to_wav(audio, max_seconds=60)
    with wave.open(io.BytesIO(decoded.data), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        seconds = wav.getnframes() / 16000
    assert abs(seconds - 3.0) < 0.1 and abs(decoded.seconds - seconds) < 1e-9


def test_the_amr_file_is_real_amr() -> None:
    assert amr(1.0).startswith(b"#!AMR\n")
    assert ogg_opus(1.0).startswith(b"OggS")


def test_too_long_is_refused_while_decoding() -> None:
    with pytest.raises(AudioTooLong) as refused:
        to_wav(amr(3.0), max_seconds=1)
    assert refused.value.limit == 1 and refused.value.reason == "too_long"


@pytest.mark.parametrize("junk", [b"", b"garbage" * 200, amr(1.0)[:10]])
def test_what_is_not_audio_is_a_decode_error(junk: bytes) -> None:
    with pytest.raises(AudioError) as failed:
        to_wav(junk, max_seconds=60)
    assert failed.value.reason in {"empty", "decode", "no_audio"}
