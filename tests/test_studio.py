"""The narration studio over real HTTP on a tiny GlowTTS: render, fix a stress, re-render one paragraph, export,
reopen; every endpoint's bad input; files outside the studio folder never served.

The page in a real browser (chromium): tests/test_studio_browser.py."""
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
from conftest import ROOT
from test_synth import speech_runs, tiny_run  # noqa: F401  (tiny_run is a fixture)

import studio

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


def open_studio(lesson: Path, run: Path, *extra, check: bool = False):
    from rutts.studio.server import StudioServer

    args = studio.parse_args([str(lesson), "-m", str(run), "--griffin-lim", "--no-browser",
                              "-o", str(lesson.parent / "out"), *([] if check else ["--no-check"]), *extra])
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


def assert_export_in_sync(out: Path) -> None:
    """The export of LESSON: what --course writes plus OGG/MP3, one cue a sentence on the speech in the WAV."""
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
    assert_export_in_sync(lesson.parent / "out")

    close(server)  # a restarted server on the same lesson renders nothing
    server, client = open_studio(lesson, tiny_run)
    try:
        assert [p["status"] for p in client.state()["paragraphs"]] == ["rendered"] * 5
        client.post("render")
        assert client.wait()["rendered"] == 0
        assert takes(lesson) == after
    finally:
        close(server)


def test_the_meter_flags_a_misread_paragraph_and_shows_what_it_heard(lesson, tiny_run):  # noqa: F811
    pytest.importorskip("faster_whisper")
    lesson.write_text("Молоко стоит на столе.", encoding="utf-8")
    server, client = open_studio(lesson, tiny_run, check=True)
    try:
        client.post("render")
        assert client.wait()["state"] == "done"
        [paragraph] = client.state()["paragraphs"]
        assert paragraph["status"] == "flagged"  # an untrained model says nothing Whisper can read
        assert paragraph["check"]["cer"] > 0.3 and paragraph["check"]["meant"] == "молоко стоит на столе"
    finally:
        close(server)


def test_two_tabs_version_check_lexicon_word_and_saving_the_lesson(lesson, served):
    _, client = served
    version = client.state()["version"]
    status, answer = client.post("edit", {"version": version, "index": 3, "text": "Нажмите кнопку  и\nподождите."})
    assert status == 200 and answer["state"]["paragraphs"][3]["text"] == "Нажмите кнопку и подождите."
    status, answer = client.post("edit", {"version": version, "index": 3, "text": "Другая вкладка."})  # stale tab
    assert status == 409 and "другой вкладке" in answer["error"]
    assert answer["state"]["paragraphs"][3]["text"] == "Нажмите кнопку и подождите."  # nothing overwritten

    client.post("render")
    client.wait()
    state = client.state()
    status, answer = client.post("word", {"version": state["version"], "word": "кошка", "reading": "к+ошечка"})
    assert status == 200, answer
    assert (lesson.parent / "lesson.lexicon.txt").read_text(encoding="utf-8") == "кошка\tк+ошечка\n"
    paragraphs = answer["state"]["paragraphs"]
    assert "к+ошечка" in paragraphs[2]["reading"]
    assert [p["status"] for p in paragraphs] == ["rendered", "rendered", "stale", "rendered", "rendered"]

    status, answer = client.post("save", {"version": answer["state"]["version"]})
    assert status == 200 and "прежний" in answer["message"]
    assert "Нажмите кнопку и подождите." in lesson.read_text(encoding="utf-8")
    [backup] = lesson.parent.glob("lesson.md.*.bak")
    assert backup.read_text(encoding="utf-8") == LESSON
    lesson.write_text(LESSON + "\nДописано в другом редакторе.\n", encoding="utf-8")
    status, answer = client.post("save", {"version": answer["state"]["version"]})
    assert status == 409 and "другой программой" in answer["error"]
    assert lesson.read_text(encoding="utf-8").endswith("Дописано в другом редакторе.\n")



def test_lexicon_words_with_separators_in_them_are_written_with_a_tab(lesson, served):
    """The lexicon takes any key before a tab: "C#", "==", "a = b", "->" are words the studio can add."""
    _, client = served
    words = [("C#", "си ш+арп"), ("==", "р+авно р+авно"), ("a = b", "а равн+о бэ"), ("->", "стр+елка")]
    for word, reading in words:
        status, answer = client.post("word", {"version": client.state()["version"], "word": word, "reading": reading})
        assert status == 200, answer
    written = "".join(f"{w}\t{r}\n" for w, r in words)
    assert (lesson.parent / "lesson.lexicon.txt").read_text(encoding="utf-8") == written
    # a word the parser would not read back (the front end's placeholder characters are stripped from lines)
    status, answer = client.post("word", {"version": client.state()["version"], "word": "\U00102000", "reading": "икс"})
    assert status == 400 and "строка словаря не подходит" in answer["error"], answer
    assert (lesson.parent / "lesson.lexicon.txt").read_text(encoding="utf-8") == written
    status, answer = client.post("edit", {"version": client.state()["version"], "index": 3,
                                          "text": "Нажмите C#, потом == и a = b -> готово."})
    assert status == 200, answer
    reading = answer["state"]["paragraphs"][3]["reading"]
    assert all(r in reading for _, r in words), reading

BAD_POSTS = [
    ("nope", {}, 404, "такого действия нет"),
    ("edit", {"index": 0, "text": "Текст."}, 400, "нет поля 'version'"),
    ("edit", {"version": -5, "index": 0, "text": "Текст."}, 409, "другой вкладке"),
    ("edit", {"version": "V", "index": 99, "text": "Текст."}, 400, "нет абзаца"),
    ("edit", {"version": "V", "index": "1", "text": "Текст."}, 400, "нет абзаца"),
    ("edit", {"version": "V", "index": True, "text": "Текст."}, 400, "нет абзаца"),
    ("edit", {"version": "V", "index": 0, "text": "  \n "}, 400, "непустой текст"),
    ("edit", {"version": "V", "index": 0, "text": 5}, 400, "непустой текст"),
    ("edit", {"version": "V", "index": 0, "text": "а" * 4001}, 413, "длиннее 4000"),
    ("edit", {"version": "V", "index": 0}, 400, "нечего менять"),
    ("edit", {"version": "V", "index": 0, "speed": 0}, 400, "скорость"),
    ("edit", {"version": "V", "index": 0, "speed": "fast"}, 400, "скорость"),
    ("edit", {"version": "V", "index": 0, "pause": 100}, 400, "пауза"),
    ("stress", {"version": "V", "index": 2, "offset": 0}, 400, "нет гласной"),  # "М"
    ("stress", {"version": "V", "index": 2, "offset": -1}, 400, "нет гласной"),
    ("stress", {"version": "V", "index": 2, "offset": 10**9}, 400, "нет гласной"),
    ("stress", {"version": "V", "index": 2, "offset": 1.0}, 400, "нет гласной"),
    ("stress", {"version": "V", "index": 2}, 400, "нет поля 'offset'"),
    ("word", {"version": "V", "word": "", "reading": "икс"}, 400, "непустой текст"),
    ("word", {"version": "V", "word": "#хэштег", "reading": "икс"}, 400, "комментарий"),
    ("word", {"version": "V", "word": "икс", "reading": "а" * 201}, 413, "длиннее 200"),
    ("word", {"version": "V", "word": "икс", "reading": "+"}, 400, "русскими буквами"),
    ("word", {"version": "V", "word": "икс", "reading": "iks"}, 400, "русскими буквами"),
    ("choose", {"version": "V", "index": 0, "seed": 7}, 400, "нет дубля"),
    ("render", {"indices": "0"}, 400, "список"),
    ("render", {"indices": [0, 99]}, 400, "нет абзаца"),
    ("take", {"version": "V", "index": 99}, 400, "нет абзаца"),
    ("export", {}, 409, "не озвучены абзацы 1, 2, 3, 4, 5"),
    ("save", {"version": -1}, 409, "другой вкладке"),
]


@pytest.mark.parametrize("action, body, status, message", BAD_POSTS)
def test_bad_requests_get_one_russian_line_and_change_nothing(lesson, served, action, body, status, message):
    _, client = served
    before = client.state()
    body = {k: before["version"] if v == "V" else v for k, v in body.items()}
    got, answer = client.post(action, body)
    assert (got, message in answer["error"]) == (status, True), answer
    after = client.state()
    assert after["version"] == before["version"] and after["paragraphs"] == before["paragraphs"]
    assert not (lesson.parent / "lesson.lexicon.txt").exists()
    assert lesson.read_text(encoding="utf-8") == LESSON


def test_malformed_bodies_and_tokens(served):
    _, client = served
    for raw, status in ((b"{not json", 400), (b"[1, 2]", 400), ("ы".encode("cp1251"), 400)):
        got, answer, _ = client.request("api/edit", raw=raw, method="POST")
        assert got == status and json.loads(answer)["error"]
    request = urllib.request.Request(client.url + "api/edit", data=b"{}", method="POST",
                                     headers={"Content-Length": str(10**9)})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 413
    root = client.url.rsplit("/", 2)[0]
    for url in (root + "/", root + "/wrong-token/api/state", root + "/api/state", client.url[:-2] + "/api/state"):
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(url, timeout=10)
        assert error.value.code == 403, url
    assert client.request("api/nothing")[0] == 404
    assert client.request("static/app.js")[0] == 200
    assert client.request("")[0] == 200 and b"static/app.js" in client.request("")[1]


def test_only_files_under_the_studio_folder_are_served(lesson, served, tmp_path):
    _, client = served
    client.post("render", {"indices": [0]})
    client.wait()
    take = client.state()["paragraphs"][0]["audio"]
    assert client.request(take)[0] == 200
    secret = tmp_path / "secret.wav"
    secret.write_bytes(Path(lesson.parent / "lesson.studio" / take.removeprefix("files/")).read_bytes())
    folder = lesson.parent / "lesson.studio"
    (folder / "takes" / "link.wav").symlink_to(secret)
    (folder / "outside").symlink_to(tmp_path, target_is_directory=True)
    (folder / "takes" / "inside.wav").symlink_to(folder / take.removeprefix("files/"))  # no link, even inside
    attempts = [
        "files/../secret.wav", "files/takes/../../secret.wav", "files/%2e%2e/secret.wav",
        "files/%2E%2E%2Fsecret.wav", "files/%252e%252e/secret.wav", "files/takes/..%5C..%5Csecret.wav",
        f"files/{secret}", f"files/%2F{str(secret).lstrip('/')}", "files//etc/passwd", "files/takes/link.wav", "files/takes/inside.wav",
        "files/outside/secret.wav", "files/manifest.json", "files/takes/", "files/", "files/takes/%00.wav",
        "static/../server.py", "static/%2e%2e%2fserver.py", "static/", "files/C:%5Csecret.wav",
    ]
    for path in attempts:
        status, body, _ = client.request(path)
        assert status == 404, path
        assert b"RIFF" not in body


def test_one_job_at_a_time_and_cancel(lesson, served):
    _, client = served
    assert client.post("render")[0] == 200
    status, answer = client.post("render")
    assert status == 409 and "уже идёт работа" in answer["error"]
    assert client.post("cancel")[0] == 200
    job = client.wait()
    assert job["state"] == "cancelled" and job["done"] < 5
    assert client.post("cancel")[1]["message"] == "нечего отменять"


@pytest.mark.parametrize("case", ["not UTF-8", "empty", "markup only", "no lesson", "no model", "output is a file"])
def test_cli_bad_input_one_line(tmp_path, tiny_run, capsys, case):  # noqa: F811
    lesson = tmp_path / "lesson.md"
    lesson.write_text(LESSON, encoding="utf-8")
    model, out = tiny_run, tmp_path / "out"
    if case == "not UTF-8":
        lesson.write_bytes(LESSON.encode("cp1251"))
    elif case == "empty":
        lesson.write_text("  \n", encoding="utf-8")
    elif case == "markup only":
        lesson.write_text("```\nprint(1)\n```\n", encoding="utf-8")
    elif case == "no lesson":
        lesson = tmp_path / "nope.md"
    elif case == "no model":
        model = tmp_path / "nope"
    else:
        out.write_text("file", encoding="utf-8")
    code = studio.main([str(lesson), "-m", str(model), "--no-browser", "--no-check", "-o", str(out)])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("Ошибка")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "lesson.studio").exists()


def test_killed_server_loses_nothing(lesson, tiny_run):  # noqa: F811
    """SIGKILL in the middle of rendering; the reopened studio keeps every finished take and renders the rest."""
    command = [sys.executable, str(ROOT / "studio.py"), str(lesson), "-m", str(tiny_run), "--no-browser",
               "--no-check", "--port", "0", "-o", str(lesson.parent / "out")]
    env = dict(os.environ, PYTHONUNBUFFERED="1")

    def start():
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        for line in process.stdout:
            if "http://" in line:
                return process, Client(line[line.index("http://"):].strip())
        raise AssertionError("the studio printed no address")

    process, client = start()
    try:
        client.post("render")
        while (client.get("api/job")[1]["job"] or {}).get("done", 0) < 2:
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()
    kept = takes(lesson)
    assert len(kept) >= 2
    process, client = start()
    try:
        statuses = [p["status"] for p in client.state()["paragraphs"]]
        assert statuses.count("rendered") == len(kept) and statuses.count("new") == 5 - len(kept)
        client.post("render")
        assert client.wait()["rendered"] == 5 - len(kept)
        assert {k: v for k, v in takes(lesson).items() if k in kept} == kept
    finally:
        process.kill()
        process.wait()
