"""Shared helpers of the CPU multi-process (gloo) tests."""

from __future__ import annotations

import os
import socket

import torch


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def join_gloo(rank: int, port: int, world_size: int) -> None:
    """Join a gloo process group on 127.0.0.1:port as ``rank`` of ``world_size``."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world_size)
