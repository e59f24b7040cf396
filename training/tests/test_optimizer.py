"""The trainer's optimiser: the room learns at its own rate, and older checkpoints still resume."""
import torch

from timbred_train.config import ModelConfig, TrainConfig
from timbred_train.model import TimbreDDSP
from timbred_train.train import make_optimizer, optimizer_state


def small_model() -> TimbreDDSP:
    torch.manual_seed(0)
    return TimbreDDSP(ModelConfig(instruments=["flute", "trumpet"]))


def test_room_level_moves_by_lr_times_its_scale_per_step():
    model = small_model()
    tc = TrainConfig(lr=1e-3, room_lr_scale=300.0)
    opt = make_optimizer(model, tc)
    level0 = model.reverb.level_db.detach().clone()
    bias0 = model.decoder.out.bias.detach().clone()
    for _ in range(10):
        # a loss that always wants a quieter room and a smaller output bias
        loss = model.reverb.level_db.sum() + model.decoder.out.bias.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # Adam moves a parameter with a gradient of constant sign by about lr per step
    room_moved = (level0 - model.reverb.level_db.detach()).mean().item()
    net_moved = (bias0 - model.decoder.out.bias.detach()).mean().item()
    assert abs(room_moved - 10 * 1e-3 * 300) < 0.3, room_moved  # 3 dB in 10 steps
    assert abs(net_moved - 10 * 1e-3) < 1e-3, net_moved


def test_one_group_optimiser_state_from_an_older_checkpoint_resumes():
    model = small_model()
    old = torch.optim.Adam(model.parameters(), lr=1e-3)  # how checkpoints were written before
    loss = sum(p.square().sum() for p in model.parameters())
    loss.backward()
    old.step()
    opt = make_optimizer(model, TrainConfig())
    opt.load_state_dict(optimizer_state(model, old.state_dict()))
    for p in model.parameters():
        assert torch.equal(opt.state[p]["exp_avg"], old.state[p]["exp_avg"])
    assert [len(g["params"]) for g in opt.param_groups] == [len(list(model.parameters())) - 2, 2]
