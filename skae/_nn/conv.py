"""The convolutional autoencoder's module: stride-2 convolutions over images."""

import math

from torch import nn
from torch.nn import functional as F

from .modules import ACTIVATIONS, AutoEncoderModule


class ToImages(nn.Module):
    """Rows of flattened pixels to a batch of images, zero-padded around.

    ``(n, c * h * w)`` becomes ``(n, c, padded_h, padded_w)``, the image
    centred in the padding, so that every stride-2 stage halves the size
    exactly. :class:`FromImages` crops the same border off again.
    """

    def __init__(self, image_shape, padded_shape):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.padded_shape = tuple(padded_shape)

    def _border(self):
        (_, height, width), (padded_h, padded_w) = self.image_shape, self.padded_shape
        top, left = (padded_h - height) // 2, (padded_w - width) // 2
        return top, left, padded_h - height - top, padded_w - width - left

    def forward(self, x):
        images = x.reshape(-1, *self.image_shape)
        top, left, bottom, right = self._border()
        if top or left or bottom or right:
            images = F.pad(images, (left, right, top, bottom))
        return images

    def extra_repr(self):
        return f"image_shape={self.image_shape}, padded_shape={self.padded_shape}"


class FromImages(ToImages):
    """The inverse of :class:`ToImages`: crop the border, flatten each image."""

    def forward(self, images):
        top, left, _, _ = self._border()
        _, height, width = self.image_shape
        images = images[:, :, top : top + height, left : left + width]
        return images.reshape(images.shape[0], -1)


def conv_autoencoder(
    image_shape,
    n_components,
    channels=(16, 32),
    kernel_size=3,
    activation="relu",
    corruption=None,
):
    """Convolutional autoencoder on flattened images, with a dense code.

    The encoder takes rows of ``c * h * w`` pixels, pads each image so that
    its height and width divide by ``2 ** len(channels)``, and applies one
    stride-2 convolution per entry of ``channels`` (each halves the height
    and width: no layer runs at full resolution), then a linear layer to the
    ``n_components`` code. The decoder mirrors it with stride-2 transposed
    convolutions and crops the padding off, returning rows of pixels again.
    The code and the output are linear, as in :func:`dense_autoencoder`.

    ``kernel_size`` must be at least 2: with stride 2, a 1x1 kernel would
    read one pixel in four and write one pixel in four.

    Returns
    -------
    AutoEncoderModule
    """
    if kernel_size < 2:
        raise ValueError(
            f"kernel_size must be at least 2 for stride-2 convolutions to see "
            f"every pixel, got {kernel_size}."
        )
    n_channels, height, width = image_shape
    factor = 2 ** len(channels)
    padded = (math.ceil(height / factor) * factor, math.ceil(width / factor) * factor)
    small = (padded[0] // factor, padded[1] // factor)
    n_flat = channels[-1] * small[0] * small[1]
    # With this padding a stride-2 convolution maps an even size n to n / 2,
    # and the transposed one with this output padding maps n / 2 back to n,
    # whatever the kernel size.
    padding, output_padding = (kernel_size - 1) // 2, kernel_size % 2

    encoder = [ToImages(image_shape, padded)]
    for n_in, n_out in zip((n_channels, *channels[:-1]), channels, strict=True):
        encoder += [
            nn.Conv2d(n_in, n_out, kernel_size, stride=2, padding=padding),
            ACTIVATIONS[activation](),
        ]
    encoder += [nn.Flatten(), nn.Linear(n_flat, n_components)]

    decoder = [
        nn.Linear(n_components, n_flat),
        ACTIVATIONS[activation](),
        nn.Unflatten(1, (channels[-1], *small)),
    ]
    widths = (*channels[::-1], n_channels)
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        decoder.append(
            nn.ConvTranspose2d(
                n_in,
                n_out,
                kernel_size,
                stride=2,
                padding=padding,
                output_padding=output_padding,
            )
        )
        if i < len(channels) - 1:
            decoder.append(ACTIVATIONS[activation]())
    decoder.append(FromImages(image_shape, padded))
    return AutoEncoderModule(
        nn.Sequential(*encoder), nn.Sequential(*decoder), corruption
    )
