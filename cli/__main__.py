"""``python -m cli ...`` runs the ``aunce-rt`` command (e.g. under ``torchrun -m cli train pretrain ...``)."""

from cli.main import main

main()
