#!/usr/bin/env bash
# The whole pipeline on the embedded demo corpus, on CPU:
#   setup → demo corpus (RHVoice) → resample → audit + split → train (bounded) → speak a lesson → intelligibility.
# Re-running continues training the same demo model for another DEMO_MINUTES.
#   DEMO_MINUTES=40   training time of this call (minutes)
#   DEMO_N=600        utterances in the demo corpus
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${DEMO_MINUTES:-40}"
N="${DEMO_N:-600}"
WITH_EVAL=1 bash scripts/setup.sh
PY=.venv/bin/python
step() { echo; echo "=== $*"; }

step "1/6 демо-корпус: $N фраз, голос RHVoice"
$PY data/demo/prepare.py --n "$N"
step "2/6 пересэмплирование 44,1 кГц → 22 050 Гц"
$PY resample_wavs.py data/demo --out data/demo_22k
step "3/6 проверка корпуса и разбиение train/val"
$PY check_sample_rate.py data/demo_22k --preset cpu
step "4/6 обучение GlowTTS на CPU: $MINUTES мин"
RUN="$(ls -td outputs/demo/*/ 2>/dev/null | head -n 1 || true)"
if [ -n "$RUN" ] && ls "$RUN"checkpoint_*.pth >/dev/null 2>&1; then
  $PY train_glowtts.py --continue-path "${RUN%/}" --max-minutes "$MINUTES"
else
  $PY train_glowtts.py --preset cpu --data data/demo_22k --output-path outputs/demo --max-minutes "$MINUTES"
  RUN="$(ls -td outputs/demo/*/ | head -n 1)"
fi
RUN="${RUN%/}"
step "5/6 озвучиваем урок: outputs/demo_speech/ (wav по абзацам, весь урок, субтитры .srt)"
$PY inference.py -m "$RUN" -i data/demo/lesson.md --course -o outputs/demo_speech
step "6/6 разборчивость (Whisper → CER): урок по субтитрам, затем отложенные фразы корпуса"
$PY -m rutts.intelligibility --lesson outputs/demo_speech/lesson.wav --wavs outputs/demo_speech/cues
$PY -m rutts.intelligibility --model "$RUN" --corpus data/demo_22k --wavs "$RUN/val_wavs" --json "$RUN/intelligibility.json"
echo
echo "Готово. Модель: $RUN"
echo "Урок: outputs/demo_speech/   Графики и проверка обучения: $PY view_tensorboard.py $RUN --report"
