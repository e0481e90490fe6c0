"""A WeCom voice message from callback to the start of its transcription request.

    python -m bench.bench_voice [--seconds 30] [--rounds 15]

Set-up: a fresh SQLite store in a temp BANKBOT_HOME with the test world and one bound WeCom
user; the fake WeCom API (tests/wecom/fakes.py) serves a real AMR-NB file of `--seconds`
(a tone encoded with PyAV's libopencore_amrnb) on `media/get`; the transcription stub
(tests/voice/stub_asr.py) notes when each request begins. bankbot is the app `bankbot serve`
builds (WeComAdapter, inbox, Dispatcher with voice notes) under uvicorn on loopback, all in
this one process.

1. Baseline, measured in the same run, alternating with the voice rounds: the bare PyAV
   decode of the same file to 16 kHz mono WAV (`bot.voice.audio.to_wav`), plus one loopback
   HTTP round trip fetching the same file from the fake (requests, a fresh connection as the
   client makes one).
2. Voice path: `--rounds` voice callbacks one after another (distinct MsgId); for each, the
   time from sending the callback to the moment the stub sees the transcription request
   begin: the acknowledgement, the inbox row, the answer thread's start (the inbox waits for a
   quiet intake of 20 ms), the actor and refusal checks, media/get with the cached token, the
   decode, the prompt's names from SQL, and the upload's start.
3. Extra CPU per voice message: process CPU time (all threads, the fakes included) for
   `--rounds` voice messages against the same number of the same text typed, each waited
   for until its reply; the difference per message.

Prints figures only (no assertions on timings); the machine may be shared, so load is printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

from bot.dispatch import Dispatcher
from bot.inbox import Inbox
from bot.serve import voice_notes
from bot.voice.audio import to_wav
from bot.web import build_app
from bot.wecom import CALLBACK_PATH, WeComAdapter
from crm_store.crypto import new_key_text
from crm_store.models import ChannelIdentity
from crm_store.settings import Settings
from crm_store.store import Store, init_store
from tests.voice.audio_files import amr
from tests.voice.stub_asr import StubASR
from tests.wecom.fakes import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    SECRET,
    TOKEN,
    FakeWeCom,
    envelope,
    serve,
    text_xml,
    voice_xml,
)
from tests.world import NOW, build_world

USER = "benchvoice"
TRANSCRIPT = "记录：刚和张伟通话，他想了解大额存单，下周二回访"


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _wait(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out waiting")
        time.sleep(0.001)


def baseline(audio: bytes, fake: FakeWeCom) -> tuple[float, float]:
    """(decode seconds, loopback round trip fetching the file), once."""
    token = "accesstoken-bench"
    fake._issued.add(token)
    started = time.perf_counter()
    to_wav(audio, max_seconds=60)
    decode = time.perf_counter() - started
    started = time.perf_counter()
    with requests.Session() as session:
        got = session.get(
            fake.base_url + "/cgi-bin/media/get",
            params={"access_token": token, "media_id": "BENCH"},
            timeout=10,
        )
    trip = time.perf_counter() - started
    assert got.content == audio
    return decode, trip


def run(seconds: float, rounds: int) -> None:
    """Set up, measure, print."""
    audio = amr(seconds)
    home = Path(tempfile.mkdtemp(prefix="bench_voice_"))
    fake = FakeWeCom().start()
    asr = StubASR().start()
    asr.transcript = TRANSCRIPT
    fake.media["BENCH"] = audio
    os.environ["TRANSCRIBE_BASE_URL"] = asr.url
    try:
        store = _store(home, fake)
        adapter = WeComAdapter.from_settings(store)
        dispatcher = Dispatcher(store, clock=lambda: NOW, voice=voice_notes([adapter]))
        inbox = Inbox(store, dispatcher, {adapter.name: adapter.channel})
        with serve(build_app(store, inbox, [adapter])) as url:
            post = _poster(url)
            for n in range(3):  # warm-up: imports, SQL statement caches, the token
                _voice_round(post, asr, fake, 9_000 + n)
            # Baseline and voice path alternate, so both see the same load.
            decodes, trips, latencies = [], [], []
            for n in range(rounds):
                decode_once, trip_once = baseline(audio, fake)
                decodes.append(decode_once)
                trips.append(trip_once)
                latencies.append(_voice_round(post, asr, fake, 10_000 + n))
            decode, trip = statistics.median(decodes), statistics.median(trips)
            cpu_voice = _cpu(lambda n: _voice_round(post, asr, fake, 20_000 + n), rounds)
            cpu_text = _cpu(lambda n: _text_round(post, fake, 30_000 + n), rounds)
        store.close()
    finally:
        asr.stop()
        fake.stop()
        shutil.rmtree(home, ignore_errors=True)
    _report(seconds, len(audio), decode, trip, latencies, cpu_voice, cpu_text, rounds)


def _store(home: Path, fake: FakeWeCom) -> Store:
    values: dict[str, Any] = {
        "BANKBOT_HOME": str(home),
        "DATABASE_URL": f"sqlite:///{home / 'bankbot.db'}",
        "BANKBOT_DATA_KEY": SecretStr(new_key_text()),
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_AGENT_ID": str(AGENT_ID),
        "WECOM_SECRET": SECRET,
        "WECOM_TOKEN": TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_BASE_URL": fake.base_url,
    }
    store, _ = init_store(Settings(_env_file=None, **values))  # type: ignore[call-arg]
    build_world(store)
    with store.db.write() as session:
        bound = ChannelIdentity(channel="wecom", external_id=USER, staff_id="rm1", bound_at=NOW)
        session.add(bound)
    return store


def _poster(url: str) -> Callable[[str], None]:
    session = requests.Session()

    def post(inner_xml: str) -> None:
        params, body = envelope(inner_xml)
        answer = session.post(url + CALLBACK_PATH, params=params, data=body, timeout=10)
        assert answer.status_code == 200

    return post


def _voice_round(post: Callable[[str], None], asr: StubASR, fake: FakeWeCom, n: int) -> float:
    """One voice callback; seconds from sending it to the transcription request's start."""
    heard, sent = len(asr.arrived), len(fake.sent(USER))
    started = time.perf_counter()
    post(voice_xml(USER, "BENCH", str(7_000_000_000_000_000 + n), int(time.time())))
    _wait(lambda: len(asr.arrived) > heard)
    latency = asr.arrived[heard] - started
    _wait(lambda: len(fake.sent(USER)) > sent)  # its reply: the next round starts idle
    return latency


def _text_round(post: Callable[[str], None], fake: FakeWeCom, n: int) -> float:
    sent = len(fake.sent(USER))
    started = time.perf_counter()
    post(text_xml(USER, TRANSCRIPT, str(7_000_000_000_000_000 + n), int(time.time())))
    _wait(lambda: len(fake.sent(USER)) > sent)
    return time.perf_counter() - started


def _cpu(round_: Callable[[int], float], rounds: int) -> float:
    started = time.process_time()
    for n in range(rounds):
        round_(n)
    return (time.process_time() - started) / rounds


def _report(
    seconds: float,
    size: int,
    decode: float,
    trip: float,
    latencies: list[float],
    cpu_voice: float,
    cpu_text: float,
    rounds: int,
) -> None:
    floor = decode + trip
    voice = statistics.median(latencies)
    print(f"load average:        {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"file:                {seconds:.0f} s AMR-NB, {size} bytes; {rounds} rounds")
    print(f"baseline decode:     {decode * 1000:.1f} ms (PyAV to 16 kHz mono WAV)")
    print(f"baseline round trip: {trip * 1000:.1f} ms (loopback fetch of the file)")
    print(f"baseline total:      {floor * 1000:.1f} ms")
    print(
        f"callback to transcription request: p50 {_median_ms(latencies):.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )
    print(f"ratio:               {voice / floor:.2f}x (target <= 1.5x)")
    print(
        f"CPU per message:     voice {cpu_voice * 1000:.1f} ms, same text typed "
        f"{cpu_text * 1000:.1f} ms, extra {(cpu_voice - cpu_text) * 1000:.1f} ms"
    )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    run(args.seconds, args.rounds)


if __name__ == "__main__":
    main()
