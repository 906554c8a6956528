"""Training health checks: what a person would look for in TensorBoard, said in Russian.

The same checks read two sources: a run's TensorBoard event files (`read_scalars`, for view_tensorboard.py
--report) and the history the training loop keeps in memory (`TrainingHistory`, checked every few hundred steps).
Each check returns a `Finding` (level ok/warn/error, a Russian message, a key for code).

    scalars.py    tags, reading event files, the in-memory history
    glowtts.py    checks of a GlowTTS run        vocoder.py   checks of a GAN vocoder run
    frame_vocoder.py  checks of a frame-level vocoder run
    stats.py      trends and per-epoch patterns  curves.py    PNG curves         findings.py  levels, the report
"""
from rutts.train.health.curves import CURVES, VOCODER_CURVES, save_curves
from rutts.train.health.frame_vocoder import (FRAME_VOCODER_CURVES, check_frame_vocoder_scalars,
                                              is_frame_vocoder_run)
from rutts.train.health.findings import ERROR, LEVEL_LABELS, OK, WARN, Finding, format_report
from rutts.train.health.glowtts import (check_duration_loss, check_grad_norm, check_history, check_learning_rate,
                                        check_loss_trend, check_nonfinite, check_overfitting, check_sawtooth,
                                        check_scalars)
from rutts.train.health.scalars import (AMP_SCALE, BATCH_FRAMES, EPOCH_TIME, EVAL_LOG_MLE, EVAL_LOSS, EVAL_LOSS_DUR,
                                        GRAD_NORM, HISTORY_HEAD, HISTORY_TAIL, LOG_MLE, LOSS, LOSS_DUR, LR,
                                        NONFINITE_STEPS, EventFilesError,
                                        TrainingHistory, find_runs, read_scalars)
from rutts.train.health.vocoder import (D_FAKE_LOSS, D_LOSS, D_REAL_LOSS, EVAL_MEL_LOSS, G_ADV_LOSS, G_LOSS, MEL_LOSS,
                                        check_vocoder_history, check_vocoder_scalars, is_vocoder_run)

__all__ = ["FRAME_VOCODER_CURVES", "check_frame_vocoder_scalars", "is_frame_vocoder_run", "CURVES", "VOCODER_CURVES", "save_curves", "ERROR", "LEVEL_LABELS", "OK", "WARN", "Finding", "format_report",
           "check_duration_loss", "check_grad_norm", "check_history", "check_learning_rate", "check_loss_trend",
           "check_nonfinite", "check_overfitting", "check_sawtooth", "check_scalars", "AMP_SCALE", "BATCH_FRAMES",
           "EPOCH_TIME", "EVAL_LOG_MLE", "EVAL_LOSS", "EVAL_LOSS_DUR", "GRAD_NORM", "HISTORY_HEAD", "HISTORY_TAIL", "LOG_MLE", "LOSS", "LOSS_DUR", "LR",
           "NONFINITE_STEPS", "EventFilesError", "TrainingHistory", "find_runs", "read_scalars", "D_FAKE_LOSS",
           "D_LOSS", "D_REAL_LOSS", "EVAL_MEL_LOSS", "G_ADV_LOSS", "G_LOSS", "MEL_LOSS", "check_vocoder_history",
           "check_vocoder_scalars", "is_vocoder_run"]
