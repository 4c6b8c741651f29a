"""DDP: 2 CPU processes on gloo give the same loss and gradients as one process with the same
global batch (loss terms are normalised by global counts)."""
from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from m2t.models.config import TrainConfig, model_preset
from m2t.models.batching import collate
from m2t.models.network import Captioner
from m2t.models.synthetic import write_dataset
from m2t.models.training import loss_terms, prepare_data


def _items(root):
    tcfg = TrainConfig(min_freq=1, min_frames=0, max_frames=1000)
    prep = prepare_data(root, tcfg, log=lambda *a: None)
    return prep.train_items[:6], len(prep.vocab)


def _model(V):
    torch.manual_seed(0)
    return Captioner(model_preset("tiny", vocab_size=V, dropout=0.0))


def _worker(rank, world, port, root, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    items, V = _items(root)
    model = _model(V)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    batch = collate(items[rank::world])
    loss, _, _ = loss_terms(ddp, batch, TrainConfig(teacher_forcing=1.0), None, world)
    loss.backward()
    total = loss.detach().clone()
    dist.all_reduce(total)
    if rank == 0:
        grads = {n: p.grad.contiguous() for n, p in model.named_parameters()}
        grads["__loss__"] = total / world
        save_file(grads, str(out))
    dist.barrier()
    dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_two_gloo_processes_match_one_process(tmp_path):
    root = write_dataset(tmp_path / "d", per_class=2, seed=11)
    items, V = _items(root)
    model = _model(V)
    loss, _, _ = loss_terms(model, collate(items), TrainConfig(teacher_forcing=1.0), None, 1)
    loss.backward()
    ref = {n: p.grad.clone() for n, p in model.named_parameters()}
    mp.spawn(_worker, args=(2, _free_port(), root, tmp_path / "ddp.safetensors"), nprocs=2, join=True)
    grads = load_file(str(tmp_path / "ddp.safetensors"))
    assert abs(float(grads.pop("__loss__")) - float(loss)) < 1e-5
    for n, g in ref.items():
        torch.testing.assert_close(grads[n], g, atol=1e-6, rtol=1e-4, msg=n)
