"""The narration studio over real HTTP on a tiny GlowTTS: render, fix a stress, re-render one paragraph, export,
reopen; every endpoint's bad input; files outside the studio folder never served.

No browser test: this machine has no Playwright, no Selenium and no chromium (see the studio's note)."""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import soundfile as sf
import srt

import studio
from conftest import ROOT
from test_synth import speech_runs, tiny_run  # noqa: F401  (tiny_run is a fixture)

LESSON = """# Урок 1. Таблицы

Сегодня мы откроем новую таблицу и заполним её.

Молоко стоит на столе. Кошка спит.

Нажмите кнопку SQL и подождите.

Конец урока.
"""


class Client:
    def __init__(self, url: str):
        self.url = url

    def request(self, path: str, body=None, method=None, raw: bytes | None = None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method or ("POST" if data else "GET"))
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers

    def get(self, path: str):
        status, body, _ = self.request(path)
        return status, json.loads(body)

    def post(self, action: str, body: dict | None = None):
        status, answer, _ = self.request(f"api/{action}", body or {}, "POST")
        return status, json.loads(answer)

    def state(self) -> dict:
        return self.get("api/state")[1]

    def wait(self) -> dict:
        for _ in range(600):
            job = self.get("api/job")[1]["job"]
            if job is None or job["state"] != "running":
                return job
            time.sleep(0.1)
        raise TimeoutError


def open_studio(lesson: Path, run: Path, *extra):
    from rutts.studio.server import StudioServer

    args = studio.parse_args([str(lesson), "-m", str(run), "--griffin-lim", "--no-check", "--no-browser",
                              "-o", str(lesson.parent / "out"), *extra])
    server = StudioServer(("127.0.0.1", 0), studio.open_session(args))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, Client(server.url)


def close(server) -> None:
    server.session.worker.cancel()
    server.session.worker.wait()
    server.shutdown()
    server.server_close()


@pytest.fixture
def lesson(tmp_path):
    path = tmp_path / "lesson.md"
    path.write_text(LESSON, encoding="utf-8")
    return path


@pytest.fixture
def served(lesson, tiny_run):  # noqa: F811
    server, client = open_studio(lesson, tiny_run)
    yield server, client
    close(server)


def takes(lesson: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (lesson.parent / "lesson.studio" / "takes").glob("*.wav")}


def test_stress_change_renders_one_paragraph_export_in_sync_reopen_renders_nothing(lesson, tiny_run, served):  # noqa: F811
    server, client = served
    state = client.state()
    assert [p["status"] for p in state["paragraphs"]] == ["new"] * 5
    assert client.post("render")[0] == 200
    job = client.wait()
    assert (job["state"], job["rendered"]) == ("done", 5)
    state = client.state()
    assert [p["status"] for p in state["paragraphs"]] == ["rendered"] * 5
    before = takes(lesson)
    assert len(before) == 5

    third = state["paragraphs"][2]
    assert third["text"] == "Молоко стоит на столе. Кошка спит." and "молок+о" in third["reading"]
    status, answer = client.post("stress", {"version": state["version"], "index": 2, "offset": 1})  # Мо́локо
    assert status == 200, answer
    state = answer["state"]
    assert state["paragraphs"][2]["text"].startswith("М+олоко")
    assert "м+олоко" in state["paragraphs"][2]["reading"]  # the page shows the new reading
    assert [p["status"] for p in state["paragraphs"]] == ["rendered", "rendered", "stale", "rendered", "rendered"]

    assert client.post("render")[0] == 200
    job = client.wait()
    assert (job["state"], job["rendered"]) == ("done", 1)
    after = takes(lesson)
    assert {k: v for k, v in after.items() if k in before} == before  # every earlier take byte-identical
    new = set(after) - set(before)
    assert len(new) == 1 and client.state()["paragraphs"][2]["audio"] == f"files/takes/{new.pop()}"
    status, body, headers = client.request(client.state()["paragraphs"][2]["audio"])
    assert status == 200 and headers["Content-Type"] == "audio/wav" and body[:4] == b"RIFF"

    assert client.post("export")[0] == 200
    job = client.wait()
    assert job["state"] == "done", job
    out = lesson.parent / "out"
    names = sorted(p.name for p in out.iterdir())
    assert names == ["lesson.mp3", "lesson.ogg", "lesson.srt", "lesson.wav",
                     *[f"lesson_{n:03d}.wav" for n in range(1, 6)]]
    audio, rate = sf.read(out / "lesson.wav", dtype="float32")
    cues = list(srt.parse((out / "lesson.srt").read_text(encoding="utf-8")))
    assert len(cues) == 7  # one a sentence
    runs = speech_runs(audio, rate)
    assert len(runs) == len(cues)
    for (start, end), cue in zip(runs, cues):
        assert abs(start - cue.start.total_seconds()) < 0.05
        assert abs(end - cue.end.total_seconds()) < 0.05
    assert abs(sf.info(out / "lesson.ogg").duration - len(audio) / rate) < 0.05
    assert abs(sf.info(out / "lesson.mp3").duration - len(audio) / rate) < 0.05

    close(server)  # a restarted server on the same lesson renders nothing
    server, client = open_studio(lesson, tiny_run)
    try:
        assert [p["status"] for p in client.state()["paragraphs"]] == ["rendered"] * 5
        client.post("render")
        assert client.wait()["rendered"] == 0
        assert takes(lesson) == after
    finally:
        close(server)
