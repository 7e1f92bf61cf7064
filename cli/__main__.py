"""``python -m aunce_rt.cli ...`` runs the ``aunce-rt`` command (e.g. under ``torchrun -m aunce_rt.cli train pretrain ...``)."""

from aunce_rt.cli.main import main

main()
