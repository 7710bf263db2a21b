"""The training loop a user would write by hand, the baseline of the timing
benchmarks (bench_autoencoder.py, bench_sizes.py)."""

import torch


def randperm_loop(X, n_components, *, n_threads, epochs, batch_size, fused=False):
    """Train ``width-128-n_components-128-width`` on the float32 array ``X``.

    The fastest loop written by hand: one tensor, one randperm per epoch,
    slices of it as batches, no DataLoader. With ``fused``, Adam's fused
    kernel, as skae uses it: what torch itself can do on this machine.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        generator = torch.Generator().manual_seed(0)
        X = torch.from_numpy(X)
        width = X.shape[1]
        model = torch.nn.Sequential(
            torch.nn.Linear(width, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, n_components),
            torch.nn.Linear(n_components, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, width),
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused or None)
        for _ in range(epochs):
            order = torch.randperm(len(X), generator=generator)
            for start in range(0, len(X), batch_size):
                batch = X[order[start : start + batch_size]]
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(model(batch), batch)
                loss.backward()
                optimizer.step()
    finally:
        torch.set_num_threads(previous)
