"""A run folder as the rest of the kit asks about it: which checkpoint to speak with, its config, how its text was
read, which vocoder it names, where early stopping stands."""
from __future__ import annotations

from pathlib import Path

from rutts.run.checkpoints import best_checkpoint, best_eval_loss
from rutts.run.configs import CONFIG_NAME, read_glowtts_config, read_vocoder_config
from rutts.run.errors import RunError
from rutts.run.frontend_record import frontend_for
from rutts.run.state import link_vocoder, linked_vocoder, read_early_stop


class RunFolder:
    """One training run's folder (GlowTTS or vocoder), as Coqui's trainer and ours leave it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_NAME

    def checkpoint(self) -> Path:
        """best_model.pth, or (a warning says so) the newest checkpoint that is not truncated; RunError when none,
        with a hint when the folder holds runs rather than being one."""
        checkpoint = best_checkpoint(self.path) if self.path.is_dir() else None
        if checkpoint is None:
            runs = sorted(p.name for p in self.path.iterdir() if p.is_dir() and best_checkpoint(p)) \
                if self.path.is_dir() else []
            hint = f"; это папка запусков? укажите одну из них: {', '.join(runs[:3])}" if runs else ""
            raise RunError(f"в папке {self.path} нет читаемого чекпоинта (best_model.pth или checkpoint_*.pth){hint}")
        return checkpoint

    def tts_config(self):
        return read_glowtts_config(self.config_path)

    def vocoder_config(self):
        return read_vocoder_config(self.config_path)

    def frontend(self, lexicon: Path | None = None, stress: bool | None = None):
        """The FrontEnd the model was trained with (TextError for a damaged record or lexicon)."""
        return frontend_for(self.path, lexicon, stress)

    def linked_vocoder(self) -> Path | None:
        return linked_vocoder(self.path)

    def link_vocoder(self, vocoder_run: Path) -> Path:
        return link_vocoder(self.path, vocoder_run)

    def early_stop(self) -> tuple[float, int] | None:
        return read_early_stop(self.path)

    def best_eval_loss(self) -> float | None:
        """The eval loss its best model was chosen by, as recorded in it; None when none is."""
        return best_eval_loss(self.path)


def model_files(model: str | Path, config: str | Path | None = None) -> tuple[Path, Path]:
    """(checkpoint, config.json) of a run folder or of a checkpoint file (its config: `config`, else config.json
    beside it); RunError naming what is missing."""
    model = Path(model)
    if not model.exists():
        raise RunError(f"модель не найдена: {model}")
    checkpoint = RunFolder(model).checkpoint() if model.is_dir() else model
    config = Path(config) if config else checkpoint.parent / CONFIG_NAME
    if not config.is_file():
        raise RunError(f"не найден конфиг модели {config}: укажите его через --config")
    return checkpoint, config
