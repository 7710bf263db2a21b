"""The training loop a user would write by hand, the baseline of the timing
benchmarks (bench_autoencoder.py, bench_sizes.py)."""

import torch

from skae._nn.residual import ResidualAutoEncoderModule
from skae._utils.runtime import onednn


def randperm_loop(
    X, n_components, *, n_threads, epochs, batch_size, fused=False, network="mlp"
):
    """Train ``width-128-n_components-128-width`` on the float32 array ``X``.

    The fastest loop written by hand: one tensor, one randperm per epoch,
    slices of it as batches, no DataLoader. With ``fused``, Adam's fused
    kernel, as skae uses it: what torch itself can do on this machine.
    oneDNN is off, as skae has it for fully connected networks.

    ``network="mlp"`` is the plain network, the one ``AutoEncoder(init=
    "random")`` trains; ``"residual"`` is the network of the default
    ``init="pca"`` (a linear path beside the same hidden layer, see
    ``ResidualAutoEncoderModule``), here from random weights: the PCA start
    is one of the fixed costs the benchmarks charge to skae.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        # oneDNN off, as skae has it for fully connected networks (see
        # skae._utils.runtime.uses_onednn): the loop gets every trick skae has.
        with onednn(False):
            _train(X, n_components, epochs, batch_size, fused, network)
    finally:
        torch.set_num_threads(previous)


def _train(X, n_components, epochs, batch_size, fused, network):
    generator = torch.Generator().manual_seed(0)
    X = torch.from_numpy(X)
    width = X.shape[1]
    if network == "residual":
        residual = ResidualAutoEncoderModule(width, n_components, (128,))

        def model(batch):
            return residual(batch)[0]

        parameters = residual.parameters()
    else:
        model = torch.nn.Sequential(
            torch.nn.Linear(width, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, n_components),
            torch.nn.Linear(n_components, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, width),
        )
        parameters = model.parameters()
    optimizer = torch.optim.Adam(parameters, lr=1e-3, fused=fused or None)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch_size):
            batch = X[order[start : start + batch_size]]
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(batch), batch)
            loss.backward()
            optimizer.step()
