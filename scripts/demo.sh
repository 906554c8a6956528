#!/usr/bin/env bash
# The whole pipeline on the embedded demo corpus, on CPU:
#   setup → demo corpus (RHVoice) → resample → audit + split → train (bounded) → vocoder (bounded) → speak a lesson
#   → intelligibility.
# Re-running continues training the same demo model and vocoder for another DEMO_MINUTES / DEMO_VOCODER_MINUTES.
#   DEMO_MINUTES=40   training time of this call (minutes)
#   DEMO_VOCODER_MINUTES=20   vocoder training time of this call (minutes; 0 = Griffin-Lim only)
#   DEMO_N=600        utterances in the demo corpus
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${DEMO_MINUTES:-40}"
N="${DEMO_N:-600}"
VOCODER_MINUTES="${DEMO_VOCODER_MINUTES:-20}"
WITH_EVAL=1 bash scripts/setup.sh
PY=.venv/bin/python
step() { echo; echo "=== $*"; }

step "1/7 демо-корпус: $N фраз, голос RHVoice"
$PY data/demo/prepare.py --n "$N"
step "2/7 пересэмплирование 44,1 кГц → 22 050 Гц"
$PY resample_wavs.py data/demo --out data/demo_22k
step "3/7 проверка корпуса и разбиение train/val"
$PY check_sample_rate.py data/demo_22k --preset cpu
step "4/7 обучение GlowTTS на CPU: $MINUTES мин"
RUN="$(ls -td outputs/demo/*/ 2>/dev/null | head -n 1 || true)"
if [ -n "$RUN" ] && ls "$RUN"checkpoint_*.pth >/dev/null 2>&1; then
  $PY train_glowtts.py --continue-path "${RUN%/}" --max-minutes "$MINUTES"
else
  $PY train_glowtts.py --preset cpu --data data/demo_22k --output-path outputs/demo --max-minutes "$MINUTES"
  RUN="$(ls -td outputs/demo/*/ | head -n 1)"
fi
RUN="${RUN%/}"
if [ "$VOCODER_MINUTES" != 0 ]; then
  step "5/7 вокодер без видеокарты (FreeV): $VOCODER_MINUTES мин; голос возьмёт его, если он лучше Гриффина-Лима"
  VRUN="$(ls -td outputs/demo_vocoder/*/ 2>/dev/null | head -n 1 || true)"
  if [ -n "$VRUN" ] && ls "$VRUN"checkpoint_*.pth >/dev/null 2>&1; then
    $PY train_vocoder.py --continue-path "${VRUN%/}" --tts-run "$RUN" --max-minutes "$VOCODER_MINUTES"
  else
    $PY train_vocoder.py --tts-run "$RUN" --preset freev_cpu --output-path outputs/demo_vocoder --max-minutes "$VOCODER_MINUTES"
  fi
fi
step "6/7 озвучиваем урок: outputs/demo_speech/ (wav по абзацам, весь урок, субтитры .srt)"
$PY inference.py -m "$RUN" -i data/demo/lesson.md --course -o outputs/demo_speech
step "7/7 разборчивость (Whisper → CER): урок по субтитрам, затем отложенные фразы корпуса"
$PY -m rutts.intelligibility --lesson outputs/demo_speech/lesson.wav --wavs outputs/demo_speech/cues
$PY -m rutts.intelligibility --model "$RUN" --corpus data/demo_22k --wavs "$RUN/val_wavs" --json "$RUN/intelligibility.json"
echo
echo "Готово. Модель: $RUN"
echo "Урок: outputs/demo_speech/   Графики и проверка обучения: $PY view_tensorboard.py $RUN --report"
