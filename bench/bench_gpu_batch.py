"""Largest batch that fits a GPU: GlowTTS training steps on the longest utterances the config lets through.

    python bench/bench_gpu_batch.py --preset gpu8gb --budget-gb 7      # an 8 GB card (~1 GB goes to CUDA, desktop)
    python bench/bench_gpu_batch.py --preset gpu8gb --batches 16,32 --device cpu   # a dry run without a GPU

Each batch size runs a few training steps (fp16 when the config says so: forward, loss, backward, clipping,
optimizer) on random text of `max_text_len` characters and mel spectrograms of `max_audio_len` samples: the
worst batch the length filter can build. On CUDA the process is capped at the budget
(torch.cuda.set_per_process_memory_fraction), so "fits" means it really ran inside it. Prints peak allocated
and reserved memory, s/step and whether the loss stayed finite.
"""
import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GIB = 2**30


def worst_batch(config, model, batch_size: int, device: torch.device) -> dict:
    tokens = len(model.tokenizer.text_to_ids("а" * config.max_text_len))  # blanks between characters included
    frames = int(config.max_audio_len) // config.audio.hop_length + 1
    return {
        "text_input": torch.randint(1, model.num_chars, (batch_size, tokens), device=device),
        "text_lengths": torch.full((batch_size,), tokens, device=device),
        "mel_input": torch.randn(batch_size, frames, config.audio.num_mels, device=device) - 4.0,
        "mel_lengths": torch.full((batch_size,), frames, device=device),
        "d_vectors": None,
        "speaker_ids": None,
    }


def measure(config, batch_size: int, steps: int, device: torch.device) -> dict:
    """Peak memory and time of `steps` training steps at this batch size, on a fresh model and optimizer."""
    from TTS.tts.models.glow_tts import GlowTTS
    from trainer.trainer_utils import get_optimizer

    model = GlowTTS(config).to(device).train()
    model.run_data_dep_init = False
    criterion = model.get_criterion()
    optimizer = get_optimizer(config.optimizer, config.optimizer_params, config.lr, model=model)  # as the trainer
    fp16 = config.mixed_precision and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=fp16)
    batch = worst_batch(config, model, batch_size, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    finite, times = True, []
    for _ in range(steps):
        tick = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.float16, enabled=fp16):
            _, losses = model.train_step(batch, criterion)
        scaler.scale(losses["loss"]).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        finite &= bool(torch.isfinite(losses["loss"]))
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - tick)
    result = {"batch": batch_size, "s_per_step": min(times[1:] or times), "finite": finite,
              "tokens": batch["text_input"].shape[1], "frames": batch["mel_input"].shape[1]}
    if device.type == "cuda":
        result["allocated_gb"] = torch.cuda.max_memory_allocated() / GIB
        result["reserved_gb"] = torch.cuda.max_memory_reserved() / GIB
    return result


def main(argv=None) -> int:
    from rutts.train.config import TrainingSetupError, available_presets, load_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config.json"))
    parser.add_argument("--preset", choices=available_presets(), default="gpu8gb")
    parser.add_argument("--budget-gb", type=float, default=7.0, help="memory the process may take on the GPU")
    parser.add_argument("--batches", default="8,16,24,32,40,48,64", help="batch sizes to try, ascending")
    parser.add_argument("--steps", type=int, default=3, help="training steps per batch size")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args, overrides = parser.parse_known_args(argv)
    try:
        config = load_config(args.config, args.preset, overrides)
    except TrainingSetupError as error:
        sys.exit(f"Ошибка: {error}")
    device = torch.device(args.device)
    if device.type == "cuda":
        device = torch.device("cuda", device.index or 0)
        total = torch.cuda.get_device_properties(device).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, args.budget_gb * GIB / total), device)
        print(f"{torch.cuda.get_device_name(device)}, {total / GIB:.0f} GiB; cap {args.budget_gb:g} GiB, "
              f"fp16 {'on' if config.mixed_precision else 'off'}")
    print(f"worst batch: {config.max_text_len} characters, {config.max_audio_len / config.audio.sample_rate:.1f} s "
          f"of audio per utterance")
    largest = None
    for batch_size in (int(b) for b in args.batches.split(",")):
        try:
            row = measure(config, batch_size, args.steps, device)
        except torch.OutOfMemoryError:
            print(f"batch {batch_size:3d}: does not fit in {args.budget_gb:g} GiB")
            break
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
        memory = f"peak {row['allocated_gb']:.2f} GiB allocated, {row['reserved_gb']:.2f} GiB reserved, " \
            if "allocated_gb" in row else ""
        print(f"batch {batch_size:3d}: {memory}{row['s_per_step']:.3f} s/step, "
              f"{row['tokens']} tokens x {row['frames']} frames, loss {'finite' if row['finite'] else 'NaN/Inf'}")
        largest = batch_size
    print(f"largest batch that fits: {largest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
