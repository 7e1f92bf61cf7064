"""``python -m aunce_rt.cli ...`` runs the ``aunce-rt`` command (e.g. under ``torchrun -m aunce_rt.cli train pretrain ...``)."""

from __future__ import annotations

from aunce_rt.cli.main import main

if __name__ == "__main__":
    main()
