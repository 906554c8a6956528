"""The narration studio: one lesson in the browser, paragraph by paragraph (studio.py is its command line).

    state.py    what is kept on disk beside the lesson (<lesson>.studio/: manifest.json and the takes)
    engine.py   the voice side: readings with the lesson's lexicon, cache keys, one paragraph → one take
    worker.py   one background job at a time, cancellable, progress by polling
    session.py  one open lesson: the edits a page may make and the jobs it may start
    check.py    the offline meter on a rendered paragraph (where the intelligibility extra is installed)
    server.py   the HTTP server, its token and the files it may serve; static/ holds the page

Why this stack: Python's own http.server and a plain page (HTML, CSS and JavaScript in static/, no framework, no
CDN, no fonts). It installs nothing (the kit is used offline, on Windows too), runs the same on every system
(threads, no fork), and every endpoint is testable with urllib. Gradio's components do not fit an editor with a
player, an inline editor and a state per paragraph, and would add tens of megabytes of packages; Starlette/FastAPI with
uvicorn would add packages and an event loop for what a threaded server with one worker thread already does.

Below: rutts.speech (the voice, the lesson writer that `inference.py --course` uses too), rutts.intelligibility.
"""
