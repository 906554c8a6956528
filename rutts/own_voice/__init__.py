"""Her own voice: what to record, and her recordings turned into a corpus the base model is fine-tuned on.

    script.py     the recording script: sentences chosen for coverage of sounds, her lesson texts first
    importer.py   her recordings → a corpus in RUSLAN's layout (files named by sentence number, or long takes)
    takes.py      long takes matched to the script's sentences by duration
    clips.py      speech found in a recording, each clip cut and checked
    report.py     what was kept or set aside and why

Below: rutts.intelligibility (the optional Whisper check), rutts.dataset, rutts.text, rutts.audio.
"""
