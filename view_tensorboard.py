"""TensorBoard on a training run (or on all runs), or a health report of its curves in the terminal.

    python view_tensorboard.py                              # TensorBoard on all runs in outputs/
    python view_tensorboard.py outputs/<run> --port 6007    # one run; open the printed URL, Ctrl+C stops
    python view_tensorboard.py outputs/<run> --report       # report + PNG curves in outputs/<run>/curves/
    python view_tensorboard.py outputs/<vocoder run> --report   # train_vocoder.py runs: G/D losses, mel loss

Exit codes: 0 fine, 1 the report found an error, 2 bad input (no folder, no event files, busy port).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rutts.cli import ArgumentParser, guarded
from rutts.train import health


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"нужно целое число больше 0, а не {text!r}")
    return int(text)


def port_number(text: str) -> int:
    port = positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"порт должен быть от 1 до 65535, а не {port}")
    return port


def parse_args(argv):
    parser = ArgumentParser(description="TensorBoard для прогонов обучения или отчёт о здоровье обучения.")
    parser.add_argument("path", nargs="?", default="outputs", type=Path,
                        help="папка прогона или папка со всеми прогонами (по умолчанию outputs)")
    parser.add_argument("--report", action="store_true",
                        help="не запускать TensorBoard, а напечатать отчёт и сохранить графики в <прогон>/curves/")
    parser.add_argument("--last-steps", type=positive_int, default=None,
                        help="за сколько последних шагов оценивать тренд loss (по умолчанию последняя четверть)")
    parser.add_argument("--port", type=port_number, default=6006, help="порт TensorBoard (по умолчанию 6006)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="адрес TensorBoard (по умолчанию 127.0.0.1; 0.0.0.0 — доступ из сети)")
    return parser.parse_args(argv)


def report(runs: list[Path], last_steps: int | None) -> int:
    worst = 0
    for run in runs:
        scalars = health.read_scalars(run)
        if health.is_frame_vocoder_run(scalars):  # train_vocoder.py with a frame vocoder: APNet's losses
            findings = health.check_frame_vocoder_scalars(scalars, window_steps=last_steps)
            pngs = health.save_curves(scalars, run / "curves", health.FRAME_VOCODER_CURVES)
        elif health.is_vocoder_run(scalars):  # train_vocoder.py: generator/discriminator losses, mel loss
            findings = health.check_vocoder_scalars(scalars, window_steps=last_steps)
            pngs = health.save_curves(scalars, run / "curves", health.VOCODER_CURVES)
        else:
            findings = health.check_scalars(scalars, window_steps=last_steps)
            pngs = health.save_curves(scalars, run / "curves")
        print(health.format_report(findings, str(run)))
        if pngs:
            print(f"Графики: {run / 'curves'} ({', '.join(p.name for p in pngs)})")
        print()
        if any(f.level == health.ERROR for f in findings):
            worst = 1
    return worst


def serve(logdir: Path, host: str, port: int) -> int:
    from tensorboard import program

    board = program.TensorBoard()
    board.configure(argv=[None, "--logdir", str(logdir), "--host", host, "--port", str(port)])
    try:
        url = board.launch()
    except program.TensorBoardServerException as error:
        other = port + 1 if port < 65535 else port - 1
        print(f"Ошибка: TensorBoard не запустился на {host}:{port} ({error.msg}). Возьмите другой порт: --port "
              f"{other}", file=sys.stderr)
        return 2
    except SystemExit:
        # werkzeug prints any other bind error (unknown host, foreign address) and calls sys.exit(1)
        print(f"Ошибка: TensorBoard не может открыть адрес {host}:{port}; проверьте --host", file=sys.stderr)
        return 2
    print(f"TensorBoard: {url}  (папка {logdir}; Ctrl+C — остановить)", flush=True)
    try:
        while True:
            time.sleep(0.5)  # a plain sleep loop: Ctrl+C interrupts it on Windows too
    except KeyboardInterrupt:
        print("TensorBoard остановлен.")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    return guarded(lambda: run(args), refused=(health.EventFilesError,))


def run(args) -> int:
    runs = health.find_runs(args.path)
    if args.report:
        return report(runs, args.last_steps)
    return serve(args.path, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
