"""Issue 9 with torch: md.gradcheck on modules and autograd Functions (the tutorial's two calls), md.from_torch.

Skipped without torch (``pip install ".[torch]"``); CI installs it. References are torch's own autograd and
forward, hand-written backward passes, and torch.autograd.gradcheck itself for the comparison of strength.
"""
from __future__ import annotations

import numpy as np
import pytest

import matderiv as md


torch = pytest.importorskip("torch")
nn = torch.nn


class Net(nn.Module):  # the tutorial's network
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(15, 30), nn.ReLU(), nn.Linear(30, 15), nn.ReLU(), nn.Linear(15, 1),
                                 nn.Sigmoid())

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.net(x)


def test_the_tutorials_first_gradcheck_call(capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    inputs = torch.randn((10, 5), requires_grad=True, dtype=torch.double)
    linear = nn.Linear(5, 3).double()
    test = md.gradcheck(lambda x: linear(x), inputs)
    print("Are the gradients correct: ", test)
    assert test and capsys.readouterr().out.startswith("Are the gradients correct:  correct: gradcheck")
    assert test.reference_kind == "float64" and test.reference_digits >= 10


def test_the_tutorials_second_gradcheck_call() -> None:
    torch.manual_seed(0)
    net = Net().double()
    inputs = torch.randn((10, 15), requires_grad=True, dtype=torch.double)
    test = md.gradcheck(net, (inputs,))
    assert test and test.variables[0].name == "x" and test.variables[0].digits >= 7


def _logdet_fn(rel: float, i: int = 3, j: int = 7):
    class LogDet(torch.autograd.Function):
        @staticmethod
        def forward(ctx, X):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(X)
            return torch.logdet(X)

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (X,) = ctx.saved_tensors
            G = torch.linalg.inv(X).T.clone()
            G[i, j] *= 1 + rel
            return g * G
    return LogDet


def _spd_point(n: int) -> "torch.Tensor":
    gen = torch.Generator().manual_seed(1)
    A = torch.randn(n, n, dtype=torch.double, generator=gen)
    return (A + n ** 0.5 * torch.eye(n, dtype=torch.double)).requires_grad_()


def test_a_custom_backward_off_by_1e_3_in_one_entry_passes_torch_gradcheck_but_not_md_gradcheck() -> None:
    X = _spd_point(12)
    fn = _logdet_fn(1e-3).apply
    assert torch.autograd.gradcheck(fn, (X,), raise_exception=False)  # the measurement
    r = md.gradcheck(fn, (X,))
    assert not r and r.variables[0].worst_entry.index == (3, 7)
    assert md.gradcheck(_logdet_fn(0.0).apply, (X,))


def test_relu_at_zero_is_a_kink_for_md_gradcheck_and_a_failure_for_torch() -> None:
    x = torch.tensor([0.0, 1.0, -2.0], dtype=torch.double, requires_grad=True)
    f = lambda x: torch.relu(x).sum()  # noqa: E731
    assert not torch.autograd.gradcheck(f, (x,), raise_exception=False)  # pytorch#114234
    r = md.gradcheck(f, (x,))
    assert r and r.kinks >= 1 and "kink" in str(r)
    assert not md.gradcheck(f, (x,), strict=True)


def test_gradcheck_entries_mode_and_grad_given() -> None:
    X = _spd_point(4)
    r = md.gradcheck(torch.logdet, (X,), mode="entries")
    assert r and len(r.variables[0].comparisons) == 16
    assert md.gradcheck(torch.logdet, (X,), grad=lambda X: torch.linalg.inv(X).T)
    assert not md.gradcheck(torch.logdet, (X,), grad=lambda X: torch.linalg.inv(X))


def test_gradcheck_input_errors() -> None:
    with pytest.raises(md.ArgumentError, match="requires_grad"):
        md.gradcheck(torch.sum, (torch.ones(3, dtype=torch.double),))
    with pytest.raises(md.ArgumentError, match="torch.float32.*double"):
        md.gradcheck(torch.sum, (torch.ones(3, requires_grad=True),))


# ---- from_torch --------------------------------------------------------------------------------------------------
def test_from_torch_on_the_tutorials_network_equals_autograd_and_certifies_at_30_digits() -> None:
    torch.manual_seed(0)
    net = Net().double()
    F, syms = md.from_torch(net, ("n", 15))
    assert list(syms) == ["input", "net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.4.weight",
                          "net.4.bias"]
    assert F.shape[1] == 1 and str(F.shape[0]) == "n"
    x = torch.randn((10, 15), dtype=torch.double, requires_grad=True)
    seed = torch.randn(10, 1, dtype=torch.double)
    net(x).backward(seed)
    torch_grads = [x.grad] + [p.grad for _, p in net.named_parameters()]
    G = md.matrix("G", "n", 1)
    params = list(syms.values())
    vjps = md.vjp(F, params, G)
    values = {syms["input"]: x.detach().numpy(), **md.torch_parameters(net, syms)}
    out = md.lambdify([*params, G], list(vjps))(*(values[p] for p in params), seed.numpy())
    for mine, theirs in zip(out, torch_grads):
        t = theirs.numpy()
        assert np.max(np.abs(np.reshape(mine, t.shape) - t)) <= 1e-10 * max(1.0, np.max(np.abs(t)))
    r = md.check(F, params, seed=G, at={**values, G: seed.numpy()}, dps=30)
    assert r.ok and min(r.digits_mpmath.values()) >= 29  # 30 digits at dps 30


@pytest.mark.parametrize("layers, shape", [
    ([nn.Linear(4, 5), nn.LeakyReLU(0.2), nn.Linear(5, 3), nn.Softmax(dim=1)], (6, 4)),
    ([nn.Linear(4, 5), nn.Softplus(beta=2.0), nn.Tanh(), nn.Linear(5, 3, bias=False), nn.LogSoftmax(dim=-1)], (6, 4)),
    ([nn.Linear(4, 3), nn.Identity(), nn.Sigmoid(), nn.Softmax(dim=0)], (5, 4)),
    ([nn.Linear(4, 5), nn.LeakyReLU(), nn.Linear(5, 3), nn.LogSoftmax(dim=0)], (4,)),
])
def test_from_torch_layers_reproduce_the_forward(layers: list, shape: tuple) -> None:
    torch.manual_seed(1)
    seq = nn.Sequential(*layers).double()
    F, syms = md.from_torch(seq, shape)
    x = torch.randn(*shape, dtype=torch.double)
    values = {syms["input"]: x.numpy(), **md.torch_parameters(seq, syms)}
    ours = md.lambdify(list(values), F)(*values.values())
    theirs = seq(x).detach().numpy()
    assert np.allclose(np.reshape(ours, theirs.shape), theirs, rtol=1e-12, atol=1e-12)
    assert md.check(md.sum(F), syms["0.weight"], dps=30)


def test_from_torch_errors_name_the_layer() -> None:
    with pytest.raises(md.ArgumentError, match=r"layer 1 \(Dropout\) is not supported; supported layers: Linear"):
        md.from_torch(nn.Sequential(nn.Linear(4, 3), nn.Dropout()), (4,))
    with pytest.raises(md.ShapeError, match=r"layer 1 \(Linear\) takes 5 features, but its input has 3"):
        md.from_torch(nn.Sequential(nn.Linear(4, 3), nn.Linear(5, 2)), (4,))
    with pytest.raises(md.ArgumentError, match="needs an nn.Sequential"):
        md.from_torch(nn.Linear(3, 2), (3,))

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(3, 2))

        def forward(self, x):  # type: ignore[no-untyped-def]
            return 2 * self.net(x)
    with pytest.raises(md.ArgumentError, match="forward does more than run its Sequential"):
        md.from_torch(Twice(), ("n", 3))


# ---- review fixes (issue 9): nested Sequentials, non-determinism, float32 gradients -------------------------------
def test_from_torch_flattens_nested_sequentials_with_torchs_parameter_names() -> None:
    torch.manual_seed(3)
    seq = nn.Sequential(nn.Sequential(nn.Linear(4, 5), nn.Tanh()), nn.Sequential(nn.Linear(5, 2)), nn.Sigmoid())
    seq = seq.double()
    F, syms = md.from_torch(seq, (6, 4))
    assert list(syms) == ["input", "0.0.weight", "0.0.bias", "1.0.weight", "1.0.bias"]
    assert [n for n, _ in seq.named_parameters()] == list(syms)[1:]
    assert syms["0.0.weight"].name == "W0_0"
    x = torch.randn(6, 4, dtype=torch.double)
    values = {syms["input"]: x.numpy(), **md.torch_parameters(seq, syms)}
    ours = md.lambdify(list(values), F)(*values.values())
    theirs = seq(x).detach().numpy()  # torch's own forward is the reference
    assert np.allclose(np.reshape(ours, theirs.shape), theirs, rtol=1e-12, atol=1e-12)


def test_dropout_in_training_mode_is_inconclusive_and_eval_mode_is_checked() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 4), nn.Dropout(0.5), nn.Linear(4, 1)).double()
    x = torch.randn(3, 5, dtype=torch.double, requires_grad=True)
    r = md.gradcheck(net, (x,))
    assert not r and r.inconclusive and "not deterministic" in str(r) and "module.eval()" in str(r)
    assert str(r).startswith("INCONCLUSIVE")
    assert md.gradcheck(net.eval(), (x,))


def test_a_float32_gradient_gets_a_consistent_verdict_and_a_hint() -> None:
    X = _spd_point(6)
    g32 = lambda X: torch.linalg.inv(X.float()).T  # noqa: E731  right, in float32
    verdicts = [bool(md.gradcheck(torch.logdet, (X,), grad=g32, rng=k)) for k in range(5)]
    assert verdicts == [True] * 5
    r = md.gradcheck(torch.logdet, (X,), grad=g32)
    assert "the gradient is float32: at best ~7 digits" in str(r)
    bad = lambda X: torch.linalg.inv(X.float()).T * 1.01  # noqa: E731  1 % off
    assert not md.gradcheck(torch.logdet, (X,), grad=bad)
