"""A method of a study: the one record the pipeline, the cost measurement, the tables and
the report share."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class Method:
    """A method and where its encoder comes from, one of:

    - ``config``: pre-trained in the study, with the study's overrides ``cfg_options``;
    - ``checkpoint``: weights given as a file (any layout the converter reads), e.g. the
      official MAE release or, with ``supervised=True``, a supervised ViT;
    - neither: random initialisation (the *scratch* row, the study's positive control).

    ``seeds``: pre-train once per seed (the expensive axis; empty: once, with the config's
    seed).
    """
    name: str
    config: Optional[Path] = None
    cfg_options: dict = field(default_factory=dict)
    checkpoint: Optional[Path] = None
    supervised: bool = False
    seeds: tuple[int, ...] = ()

    @property
    def kind(self) -> str:
        """'pretrained', 'weights' or 'scratch'."""
        if self.config is not None:
            return 'pretrained'
        return 'weights' if self.checkpoint is not None else 'scratch'

    @property
    def pretrains(self) -> bool:
        return self.config is not None

    def load_config(self):
        """The pre-training config with the study's overrides (an mmengine ``Config``).

        Raises:
            ValueError: the method has no pre-training config.
        """
        if self.config is None:
            raise ValueError(f'method {self.name} is not pre-trained in the study '
                             f'({self.kind}): it has no pre-training config')
        from mmengine.config import Config   # reads the file; imports no torch
        cfg = Config.fromfile(str(self.config))
        cfg.merge_from_dict(self.cfg_options)
        return cfg
