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
    os._exit(0)        # skip interpreter teardown: under load gloo's threads could abort it (SIGABRT, rare)


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
    assert abs(float(grads.pop("__loss__")) - float(loss.detach())) < 1e-5
    for n, g in ref.items():
        torch.testing.assert_close(grads[n], g, atol=1e-6, rtol=1e-4, msg=n)


def test_rank_device_logic_on_cpu():
    from m2t.models.runtime import dist_from_env
    d = dist_from_env("cpu", {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"})
    assert (d.world, d.rank, d.local_rank, d.device.type, d.backend, d.ddp_kwargs()) == (2, 1, 1, "cpu", "gloo", {})
    assert dist_from_env("cpu", {}).world == 1


def test_each_rank_gets_its_own_gpu(monkeypatch):
    """torchrun on a 2-GPU node: LOCAL_RANK picks the GPU, set_device is called, DDP gets device_ids
    (checked with torch.cuda patched, so it runs without a GPU)."""
    from m2t.models import runtime
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda dev: calls.append(dev))
    d = runtime.dist_from_env("auto", {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert d.device == torch.device("cuda", 1) and calls == [torch.device("cuda", 1)]
    assert d.backend == "nccl" and d.ddp_kwargs() == {"device_ids": [1], "output_device": 1}
    with pytest.raises(runtime.DeviceError, match="LOCAL_RANK 2 but this node has 2 GPU"):
        runtime.dist_from_env("cuda", {"WORLD_SIZE": "3", "RANK": "2", "LOCAL_RANK": "2"})


def _train_worker(rank, world, port, root, out):
    from m2t.models.training import train
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train(str(root), out, model_preset("tiny", dropout=0.0),
          TrainConfig(epochs=1, batch_size=4, min_freq=1, min_frames=0, max_frames=1000),
          device="cpu", log=lambda *a: None, max_steps=2)
    dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_train_under_a_two_process_gloo_launch(tmp_path):
    """The torchrun path of train() end to end (env variables, process group, DDP wrapper)."""
    root = write_dataset(tmp_path / "d", per_class=2, seed=3)
    mp.spawn(_train_worker, args=(2, _free_port(), root, tmp_path / "m"), nprocs=2, join=True)
    assert (tmp_path / "m" / "model.safetensors").is_file()
